import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { assertValidBlobKey, assertValidBlobPrefix, compareKeys } from './blob-key';
import { BlobNotFoundError, type BlobInfo, type BlobStore } from './blob-store';

/** Settings of the S3 (or S3-compatible) blob store. */
export interface S3BlobStoreConfig {
  /** Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:7070`; omit for AWS S3. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Static credentials; give both or neither (neither: the SDK's default credential chain). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style URLs (`endpoint/bucket/key`); most self-hosted servers need it. Default: true when endpoint is set. */
  forcePathStyle?: boolean;
  /** Key namespace inside the bucket, e.g. `trainset/prod`; keys are stored under `<prefix>/`. */
  prefix?: string;
  /** A ready client (tests, custom middleware); the connection settings above are then ignored. */
  client?: S3Client;
  /** CA bundle (PEM) an https endpoint's certificate is checked against, e.g. a private CA; default: Node's roots. */
  tlsCa?: string | Buffer;
  /** Milliseconds to establish a TCP connection. Default 5000. */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may sit idle mid-request before it is dropped. Default 60000. */
  socketTimeoutMs?: number;
  /** Keys per ListObjectsV2 page; default: the server's (1000 on AWS). */
  listPageSize?: number;
  /** Receives rare operational notes (e.g. the conditional-write fallback). */
  log?: (message: string) => void;
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function s3Error(err: unknown): { name: string; status: number | undefined } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as S3ErrorShape;
  return { name: e.name ?? e.Code ?? '', status: e.$metadata?.httpStatusCode };
}

function isMissingKey(err: unknown): boolean {
  const { name, status } = s3Error(err);
  // NoSuchBucket is also a 404, but it is a configuration error, not a missing object.
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404;
}

function isPreconditionFailed(err: unknown): boolean {
  const { name, status } = s3Error(err);
  return name === 'PreconditionFailed' || status === 412;
}

function isConditionalConflict(err: unknown): boolean {
  const { name, status } = s3Error(err);
  return name === 'ConditionalRequestConflict' || status === 409;
}

function isNotImplemented(err: unknown): boolean {
  const { name, status } = s3Error(err);
  return name === 'NotImplemented' || status === 501;
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  assertValidBlobKey(trimmed);
  return `${trimmed}/`;
}

const CONFLICT_RETRIES = 3;

/** A blob store over an S3 bucket (AWS S3 or any S3-compatible server such as versitygw or MinIO). */
export class S3BlobStore implements BlobStore {
  readonly uri: string;
  /** The underlying client (shared by all operations). */
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly log: (message: string) => void;
  private readonly listPageSize: number | undefined;
  private conditionalWrites: 'unknown' | 'supported' | 'unsupported' = 'unknown';
  /** The putIfAbsent in flight per key in this process; a second call for the key waits for it. */
  private readonly conditionalInFlight = new Map<string, Promise<unknown>>();

  constructor(config: S3BlobStoreConfig) {
    if (!config.bucket) throw new Error('S3 blob store: bucket is required');
    if (!config.region) throw new Error('S3 blob store: region is required');
    if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
      throw new Error('S3 blob store: give both accessKeyId and secretAccessKey, or neither');
    }
    this.bucket = config.bucket;
    this.prefix = normalizePrefix(config.prefix);
    this.uri = `s3://${this.bucket}/${this.prefix}`;
    this.log = config.log ?? (() => undefined);
    this.listPageSize = config.listPageSize;
    this.ownsClient = config.client === undefined;
    this.client = config.client ?? new S3Client(clientConfig(config));
  }

  private objectKey(key: string): string {
    assertValidBlobKey(key);
    return this.prefix + key;
  }

  async get(key: string): Promise<Buffer> {
    const body = await this.getBody(key);
    return Buffer.from(await body.transformToByteArray());
  }

  async getStream(key: string): Promise<Readable> {
    const body = await this.getBody(key);
    if (body instanceof Readable) return body;
    throw new Error('S3 blob store: the SDK returned a non-Node body stream; is this running outside Node?');
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: data, ContentLength: data.length }));
  }

  async putStream(key: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    // Parts of 8 MiB (S3's minimum is 5 MiB, the last part excepted); a small object is one plain PUT.
    const PART = 8 * 1024 * 1024;
    const Key = this.objectKey(key);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: string | undefined;
    const parts: Array<{ ETag: string | undefined; PartNumber: number }> = [];
    const sendPart = async (body: Buffer): Promise<void> => {
      if (uploadId === undefined) {
        await this.abortLeftoverUploads(Key);
        const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
        if (!created.UploadId) throw new Error(`S3 blob store: no upload id for ${key}`);
        uploadId = created.UploadId;
      }
      const PartNumber = parts.length + 1;
      const out = await this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.length }),
      );
      parts.push({ ETag: out.ETag, PartNumber });
    };
    try {
      for await (const chunk of chunks) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= PART) {
          const body = Buffer.concat(pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
          await sendPart(body);
        }
      }
      const rest = Buffer.concat(pending, pendingBytes);
      if (uploadId === undefined) {
        await this.put(key, rest);
        return;
      }
      if (rest.length > 0) await sendPart(rest);
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      if (uploadId !== undefined) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * Abort the multipart uploads still open on this exact key: a writer killed mid-upload (kill -9, a lost node)
   * never sends its abort, and S3 keeps the parts, billed and listed, until something does. Keys of work files
   * and checkpoints are fixed per step, so the retried step that writes the key again is the one that cleans up
   * after its predecessor. A writer of the same key still running is a superseded attempt: its upload fails.
   */
  private async abortLeftoverUploads(Key: string): Promise<void> {
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key, KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) {
        if (u.Key !== Key || !u.UploadId) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: u.UploadId }));
        this.log(`S3 blob store: aborted a multipart upload left open on ${Key} (started ${u.Initiated?.toISOString() ?? '?'})`);
      }
      if (!page.IsTruncated) return;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /**
   * Writes only if the key is absent (If-None-Match: *). Calls for one key from this process run one at a
   * time, so exactly one of them can win even on a server that checks the condition before it stores the
   * upload instead of atomically with it (versitygw's posix backend does; writers in different processes can
   * then both succeed, the last to finish winning, as for a plain PUT). Chunks and delta segments are named by
   * their bytes; for manifests, createDatasetVersion reads the stored one back and links both builds' objects.
   */
  async putIfAbsent(key: string, body: Buffer | string): Promise<boolean> {
    const previous = this.conditionalInFlight.get(key);
    const mine = (previous ?? Promise.resolve()).catch(() => undefined).then(() => this.conditionalPut(key, body));
    this.conditionalInFlight.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.conditionalInFlight.get(key) === mine) this.conditionalInFlight.delete(key);
    }
  }

  private async conditionalPut(key: string, body: Buffer | string): Promise<boolean> {
    const objectKey = this.objectKey(key);
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (this.conditionalWrites === 'unsupported') return await this.headThenPut(key, data);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: objectKey,
            Body: data,
            ContentLength: data.length,
            IfNoneMatch: '*',
          }),
        );
        this.conditionalWrites = 'supported';
        return true;
      } catch (err) {
        if (isPreconditionFailed(err)) return false;
        // 409: a concurrent write to the key was in flight; AWS says retry, and the retry gets 412 or 200.
        if (isConditionalConflict(err) && attempt < CONFLICT_RETRIES) {
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
          continue;
        }
        if (isConditionalConflict(err)) {
          if (await this.head(key)) return false;
          throw new Error(`S3 blob store: conditional write of ${key} kept conflicting with concurrent writers`);
        }
        if (isNotImplemented(err)) {
          this.conditionalWrites = 'unsupported';
          this.log(
            `S3 server at ${this.uri} does not support conditional writes (If-None-Match); ` +
              'putIfAbsent falls back to HEAD-then-PUT, which is not safe against concurrent writers',
          );
          return await this.headThenPut(key, data);
        }
        throw err;
      }
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    assertValidBlobPrefix(prefix);
    const found: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          ContinuationToken: token,
          MaxKeys: this.listPageSize,
        }),
      );
      for (const object of out.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(this.prefix)) continue;
        // Folder markers some tools create ("a/b/") are not objects of this store.
        if (object.Key.endsWith('/')) continue;
        found.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (isMissingKey(err)) return;
      throw err;
    }
  }

  /** Closes the client's sockets if this store created the client. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  private async getBody(key: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      if (!out.Body) throw new Error(`S3 blob store: GetObject returned no body for ${key}`);
      return out.Body;
    } catch (err) {
      if (isMissingKey(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  /** Fallback for servers without conditional writes: racy between the HEAD and the PUT. */
  private async headThenPut(key: string, data: Buffer): Promise<boolean> {
    if (await this.head(key)) return false;
    await this.put(key, data);
    return true;
  }
}

function clientConfig(config: S3BlobStoreConfig): S3ClientConfig {
  return {
    region: config.region,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
            ...(config.sessionToken !== undefined ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : {}),
    maxAttempts: 3,
    // An options object (not a NodeHttpHandler instance) so we need not import @smithy/* directly.
    // No total request timeout: it would cut off long streamed downloads; an idle-socket timeout catches hangs.
    requestHandler: {
      connectionTimeout: config.connectionTimeoutMs ?? 5_000,
      socketTimeout: config.socketTimeoutMs ?? 60_000,
      ...(config.tlsCa !== undefined ? { httpsAgent: new https.Agent({ ca: config.tlsCa, keepAlive: true }) } : {}),
    },
  };
}

/** Creates a blob store over an S3 bucket (optionally under a key prefix). */
export function createS3BlobStore(config: S3BlobStoreConfig): S3BlobStore {
  return new S3BlobStore(config);
}
