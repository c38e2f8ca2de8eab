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

/** Collects JSONL lines and writes them as one object. */
export class JsonlWriter {
  private readonly parts: string[] = [];
  count = 0;
  /** Append one value. */
  push(value: unknown): void {
    this.parts.push(`${JSON.stringify(value)}\n`);
    this.count += 1;
  }
  /** The file's content. */
  content(): string {
    return this.parts.join('');
  }
}

/** Read a small JSON object, or undefined when absent. */
export async function readJsonIfExists<T>(blobs: BlobStore, key: string): Promise<T | undefined> {
  if (!(await blobs.head(key))) return undefined;
  return JSON.parse((await blobs.get(key)).toString('utf8')) as T;
}
