/** What a trainer backend's run fails with (see TrainerBackend in backend.ts). */
import { ErrorType, TrainsetError } from '../shared/errors';

/** Training cannot succeed however often it is retried (TrainingFailed, not retried); the message reads "training failed: <reason>". */
export class TrainingFailedError extends TrainsetError {
  constructor(reason: string) {
    super(`training failed: ${reason}`, { type: ErrorType.TrainingFailed });
    this.name = 'TrainingFailedError';
  }
}

/**
 * The trainer failed; `permanent` (exit code 2: bad input) means a retry would fail the same way. A plain Error:
 * a transient one (any other exit) is retried under its class name, so trainModel turns only a permanent one into a
 * TrainingFailedError.
 */
export class TrainerProcessError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    /** Last lines of the trainer's stderr (for the operator; trainers must not print records there). */
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'TrainerProcessError';
  }

  /** Exit code 2 is the contract's "bad input" code. */
  get permanent(): boolean {
    return this.exitCode === 2;
  }
}

/** The trainer printed nothing for `progressTimeoutSeconds` and was stopped as hung (a retry may succeed). */
export class TrainerHungError extends Error {
  constructor(readonly silentSeconds: number) {
    super(`the trainer printed nothing for ${silentSeconds} s (trainer.progressTimeoutSeconds) and was stopped as hung`);
    this.name = 'TrainerHungError';
  }
}

/** The run was aborted through its signal and the trainer is gone. */
export class TrainerAbortedError extends Error {
  constructor(cause?: unknown) {
    super('training aborted', { cause });
    this.name = 'TrainerAbortedError';
  }
}

/** The trainer broke the contract (a malformed JSON line, exit 0 without its model): a retry would do the same. */
export class TrainerProtocolError extends TrainingFailedError {
  constructor(reason: string) {
    super(reason);
    this.name = 'TrainerProtocolError';
  }
}
