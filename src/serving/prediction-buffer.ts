import type { PredictionLog, PredictionRow } from './ports';

/** Options of a prediction buffer. */
export interface PredictionBufferOptions {
  log: PredictionLog;
  /** Longest a row waits before a flush is attempted. */
  flushMs: number;
  /** Most rows per insertPredictions call; reaching it also triggers a flush. */
  maxBatch: number;
  /** Most rows held while the log is failing; the oldest are dropped beyond it. */
  maxPending: number;
  /** Called when a background flush fails (rows stay buffered and are retried). */
  onFlushError(err: unknown): void;
  /** Called with the number of rows dropped because the buffer was full. */
  onDropped(count: number): void;
}

/** Buffers prediction rows and writes them to the log in batches. */
export interface PredictionBuffer {
  add(row: PredictionRow): void;
  /** Writes every buffered row (after any flush in flight); rejects when the log fails. */
  flush(): Promise<void>;
  /** Rows not yet written. */
  size(): number;
  /** Stops the background timer (flush() still works). */
  close(): void;
}

/** Creates a buffer whose flushes are serialized, so rows reach the log in order and feedback can wait on them. */
export function createPredictionBuffer(opts: PredictionBufferOptions): PredictionBuffer {
  const pending: PredictionRow[] = [];
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let sizeFlushQueued = false;
  let closed = false;

  function schedule(): void {
    if (timer !== undefined || closed || pending.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush().catch(opts.onFlushError);
    }, opts.flushMs);
    // A pending flush must not keep the process alive; stop() flushes what is left.
    timer.unref();
  }

  async function drain(): Promise<void> {
    sizeFlushQueued = false;
    while (pending.length > 0) {
      const batch = pending.splice(0, opts.maxBatch);
      try {
        await opts.log.insertPredictions(batch);
      } catch (err) {
        pending.unshift(...batch);
        schedule();
        throw err;
      }
    }
  }

  function flush(): Promise<void> {
    const run = chain.then(drain);
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    add(row) {
      pending.push(row);
      if (pending.length > opts.maxPending) {
        const excess = pending.length - opts.maxPending;
        pending.splice(0, excess);
        opts.onDropped(excess);
      }
      if (pending.length >= opts.maxBatch && !sizeFlushQueued) {
        sizeFlushQueued = true;
        flush().catch(opts.onFlushError);
      } else {
        schedule();
      }
    },
    flush,
    size: () => pending.length,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
