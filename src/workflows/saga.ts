/**
 * A saga's compensations: after each side effect the workflow registers its inverse; on failure compensate() runs
 * them newest first. As in samples-typescript `saga/`, a compensation that fails is logged and the others still run.
 */
import { CancellationScope, log } from '@temporalio/workflow';

/** The inverse of one side effect; `name` is what the log says when it fails. */
export interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

/** The compensations a run has registered and not yet run or cleared. */
export class Saga {
  private readonly compensations: Compensation[] = [];

  /** Whether nothing is registered (nothing to undo). */
  get isEmpty(): boolean {
    return this.compensations.length === 0;
  }

  /** Register the inverse of a side effect that has just happened. */
  add(name: string, run: () => Promise<unknown>): void {
    this.compensations.push({ name, run });
  }

  /** Forget every registered compensation: what the run did stands (or the run has undone it itself). */
  clear(): void {
    this.compensations.length = 0;
  }

  /**
   * Run the compensations newest first, then clear them. In a non-cancellable scope: a cancelled run still undoes
   * what it did, and its compensations' activities are not cancelled with it.
   */
  async compensate(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      for (const c of [...this.compensations].reverse()) {
        try {
          await c.run();
        } catch (err) {
          log.error('compensation failed', { compensation: c.name, error: String(err) });
        }
      }
      this.clear();
    });
  }
}
