import type { Readable } from 'node:stream';

/** Metadata of a stored object. */
export interface BlobInfo {
  key: string;
  size: number;
}

/** The blob store port: a flat key space of immutable-by-convention objects (local folder or S3). */
export interface BlobStore {
  /** Human-readable location, e.g. `file:///data/blobs` or `s3://bucket/prefix`. */
  readonly uri: string;
  /** Full object content; throws BlobNotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  /** Object content as a stream; throws BlobNotFoundError when absent. */
  getStream(key: string): Promise<Readable>;
  /** Write (or overwrite) an object. */
  put(key: string, body: Buffer | string): Promise<void>;
  /**
   * Write (or overwrite) an object from a stream of chunks without holding it whole in memory; readers see
   * the old object or the complete new one, never a part.
   */
  putStream(key: string, chunks: AsyncIterable<Buffer>): Promise<void>;
  /** Write only if absent; returns false (and writes nothing) when the key already exists. */
  putIfAbsent(key: string, body: Buffer | string): Promise<boolean>;
  /** Size of an object, or undefined when absent. */
  head(key: string): Promise<BlobInfo | undefined>;
  /** Every object under a prefix, sorted by key. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Delete an object; absent keys are not an error. */
  delete(key: string): Promise<void>;
}

/** Thrown by get/getStream when the key does not exist. */
export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`Blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
  }
}
