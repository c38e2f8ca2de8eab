/** Work-area JSONL files between stages: keyed by their inputs, so a retried stage finds its own output. */
import { createHash } from 'node:crypto';
import type { BlobStore } from '../storage/blob-store';
import { splitLines } from '../data/jsonl';

/** A record as it moves from dedupe onwards: content hash + record. */
export interface HashedRecord {
  hash: string;
  record: Record<string, unknown>;
}

/** Short stable hash of some strings, for deriving keys. */
export function keyHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 24);
}

/** Key of a work file of a partition. */
export function workKey(dataset: string, partition: string, stage: string, hash: string): string {
  return `work/${dataset}/${partition}/${stage}-${hash}.jsonl`;
}

/** Read a JSONL object as parsed values, streaming. */
export async function* readJsonl<T>(blobs: BlobStore, key: string): AsyncGenerator<T> {
  const stream = await blobs.getStream(key);
  // Work files are written by us; a 64 MiB line limit only guards against corruption.
  for await (const item of splitLines(stream, { maxLineBytes: 64 * 1024 * 1024 })) {
    if (item.kind !== 'line' || item.bytes.length === 0) continue;
    yield JSON.parse(item.bytes.toString('utf8')) as T;
  }
}

/**
 * Streams JSONL lines into one blob as they are produced (batched into ~1 MiB chunks, at most two chunks
 * queued), so a stage's memory does not grow with the partition. Use through `withJsonlSink`.
 */
export class JsonlSink {
  /** Lines written so far. */
  count = 0;
  private lines: string[] = [];
  private lineBytes = 0;
  private readonly queue: Buffer[] = [];
  private closed = false;
  private abortedWith: Error | undefined;
  private failed: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(
    blobs: BlobStore,
    readonly key: string,
    private readonly chunkBytes = 1024 * 1024,
  ) {
    this.done = blobs.putStream(key, this.chunks());
    this.done.catch((err: unknown) => {
      this.failed = err;
      this.wakeProducer?.();
    });
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        this.wakeProducer?.();
        yield next;
        continue;
      }
      // An aborted sink must not commit: throwing makes the store discard what it received.
      if (this.abortedWith) throw this.abortedWith;
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** Append one value as a JSON line. */
  async push(value: unknown): Promise<void> {
    if (this.failed) throw this.failed;
    const line = `${JSON.stringify(value)}\n`;
    this.lines.push(line);
    this.lineBytes += line.length;
    this.count += 1;
    if (this.lineBytes >= this.chunkBytes) await this.emit();
  }

  private async emit(): Promise<void> {
    if (this.lines.length > 0) {
      this.queue.push(Buffer.from(this.lines.join(''), 'utf8'));
      this.lines = [];
      this.lineBytes = 0;
      this.wakeConsumer?.();
    }
    while (this.queue.length > 2 && !this.failed) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
      this.wakeProducer = undefined;
    }
    if (this.failed) throw this.failed;
  }

  /** Flush and commit the object. */
  async close(): Promise<void> {
    await this.emit();
    this.closed = true;
    this.wakeConsumer?.();
    await this.done;
  }

  /** Discard: nothing is committed. */
  async abort(reason: Error): Promise<void> {
    this.abortedWith = reason;
    this.wakeConsumer?.();
    await this.done.catch(() => undefined);
  }
}

/** Run fn with a sink on key: committed when fn succeeds, discarded when it throws. */
export async function withJsonlSink<T>(blobs: BlobStore, key: string, fn: (sink: JsonlSink) => Promise<T>): Promise<T> {
  const sink = new JsonlSink(blobs, key);
  let result: T;
  try {
    result = await fn(sink);
  } catch (err) {
    await sink.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  await sink.close();
  return result;
}

/** Read a small JSON object, or undefined when absent. */
export async function readJsonIfExists<T>(blobs: BlobStore, key: string): Promise<T | undefined> {
  if (!(await blobs.head(key))) return undefined;
  return JSON.parse((await blobs.get(key)).toString('utf8')) as T;
}
