import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blobStoreContract } from '../helpers/blob-store-contract';
import { BlobNotFoundError, InvalidBlobKeyError, S3BlobStore, createBlobStore } from '../../src/storage';

const REQUIRED = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

function s3Settings() {
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `S3 integration test needs ${missing.join(', ')}: start the S3 server with \`bash scripts/services.sh up\` ` +
        'and export its settings (`bash scripts/services.sh env`), or run through vitest, whose global setup does both.',
    );
  }
  const env = process.env as Record<(typeof REQUIRED)[number], string>;
  return {
    endpoint: env.S3_ENDPOINT,
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE !== 'false',
  };
}

describe('S3BlobStore against a real S3-compatible server', () => {
  const runPrefix = `test-runs/${Date.now()}-${randomBytes(4).toString('hex')}`;
  const logs: string[] = [];
  let store: S3BlobStore;
  let setupError: unknown;

  beforeAll(() => {
    try {
      store = new S3BlobStore({ ...s3Settings(), prefix: runPrefix, log: (m) => logs.push(m) });
    } catch (err) {
      setupError = err;
    }
  });
  // Rethrown per test so each one fails (vitest would report a beforeAll failure as skipped tests).
  beforeEach(() => {
    if (setupError) throw setupError;
  });
  afterAll(async () => {
    if (!store) return;
    for (const blob of await store.list('')) await store.delete(blob.key);
    store.close();
  });

  it('reports a missing key as BlobNotFoundError from get and getStream, and undefined from head', async () => {
    await expect(store.get('nope/x')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.getStream('nope/x')).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.head('nope/x')).toBeUndefined();
  });

  it('lists every object under a prefix, sorted, relative to the store prefix, across pages', async () => {
    for (const key of ['l/b/2', 'l/a/z/1', 'l/a/b', 'l/ab/c', 'l/c']) await store.put(key, key);
    expect((await store.list('l/a/')).map((b) => b.key)).toEqual(['l/a/b', 'l/a/z/1']);
    expect((await store.list('l/a')).map((b) => b.key)).toEqual(['l/a/b', 'l/a/z/1', 'l/ab/c']);
    expect(await store.list('l/a/z/')).toEqual([{ key: 'l/a/z/1', size: 7 }]);
    expect(await store.list('missing/')).toEqual([]);
    // Pages of 2 keys make the 5 keys under l/ span three ListObjectsV2 calls.
    const paged = new S3BlobStore({ ...s3Settings(), prefix: runPrefix, listPageSize: 2 });
    expect((await paged.list('l/')).map((b) => b.key)).toEqual(['l/a/b', 'l/a/z/1', 'l/ab/c', 'l/b/2', 'l/c']);
    paged.close();
  });

  blobStoreContract(() => store);

  it('putIfAbsent writes once and then leaves the content unchanged', async () => {
    expect(await store.putIfAbsent('datasets/d/objects/h1', 'first')).toBe(true);
    expect(await store.putIfAbsent('datasets/d/objects/h1', 'second')).toBe(false);
    expect((await store.get('datasets/d/objects/h1')).toString()).toBe('first');
    expect(logs).toEqual([]); // no fallback to the racy HEAD-then-PUT
  });

  it('lets exactly one of 20 concurrent putIfAbsent calls win', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.putIfAbsent('datasets/d/manifests/v1.json', `writer-${i}`)),
    );
    expect(results.filter((r) => r)).toHaveLength(1);
    expect((await store.get('datasets/d/manifests/v1.json')).toString()).toBe(`writer-${results.indexOf(true)}`);
  });

  // versitygw checks If-None-Match before it stores the upload, not atomically with it, so writers in two
  // processes can both succeed (AWS S3 lets only one win). Every key the project writes conditionally is
  // content-addressed; what must hold is that each writer gets an answer, not an error, and the object is whole.
  it('gives every writer an answer and keeps the object whole when separate clients race on one key', async () => {
    const stores = Array.from({ length: 4 }, () => new S3BlobStore({ ...s3Settings(), prefix: runPrefix }));
    const body = randomBytes(256 * 1024);
    const results = await Promise.all(
      stores.flatMap((s) => Array.from({ length: 5 }, () => s.putIfAbsent('datasets/d/chunks/race', body))),
    );
    expect(results.filter((r) => r).length).toBeGreaterThanOrEqual(1);
    // Within one client the calls for a key run one at a time, so at most one per client can win.
    for (let i = 0; i < stores.length; i++) expect(results.slice(i * 5, i * 5 + 5).filter((r) => r).length).toBeLessThanOrEqual(1);
    expect((await store.get('datasets/d/chunks/race')).equals(body)).toBe(true);
    for (const s of stores) s.close();
  });

  it('talks to a server that honours If-None-Match: * (answers 412 on an existing key)', async () => {
    const key = `${runPrefix}/raw-conditional`;
    const { bucket } = s3Settings();
    await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a', IfNoneMatch: '*' }));
    const second = store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'b', IfNoneMatch: '*' }));
    await expect(second).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
  });

  it('aborts the multipart upload a killed writer left open on the key it writes again (and only on that key)', async () => {
    const { bucket } = s3Settings();
    const key = 'work/t/2026-01-01/ingested-abc.part-0.jsonl';
    const other = 'work/t/2026-01-01/ingested-abc.part-0.jsonl.other';
    // A writer killed after its first part: the upload stays open, as S3 keeps it until someone aborts it.
    for (const k of [key, other]) {
      const created = await store.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${runPrefix}/${k}` }));
      await store.client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: `${runPrefix}/${k}`,
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: randomBytes(5 * 1024 * 1024),
        }),
      );
    }
    const open = async (): Promise<string[]> =>
      ((await store.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${runPrefix}/work/` }))).Uploads ?? [])
        .map((u) => u.Key!.slice(runPrefix.length + 1))
        .sort();
    expect(await open()).toEqual([key, other]);
    // The retried step writes the key again, big enough for a multipart upload of its own (two 8 MiB parts and a rest).
    const body = randomBytes(17 * 1024 * 1024);
    await store.putStream(
      key,
      (async function* () {
        for (let i = 0; i < body.length; i += 1024 * 1024) yield body.subarray(i, i + 1024 * 1024);
      })(),
    );
    expect((await store.get(key)).equals(body)).toBe(true);
    expect(await open()).toEqual([other]);
    expect(logs.some((l) => l.includes(`aborted a multipart upload left open on ${runPrefix}/${key}`))).toBe(true);
  });

  it.each(['../escape', '/abs', 'a//b', 'a/', ''])('rejects the malformed key %j', async (key) => {
    await expect(store.put(key, 'x')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it('is what createBlobStore builds for kind s3, with an s3:// uri', async () => {
    const built = createBlobStore({ kind: 's3', ...s3Settings(), prefix: runPrefix });
    expect(built.uri).toBe(`s3://${s3Settings().bucket}/${runPrefix}/`);
    await built.put('via-factory', 'v');
    expect((await store.get('via-factory')).toString()).toBe('v');
    (built as S3BlobStore).close();
  });
});

describe('S3BlobStore error mapping (scripted client)', () => {
  function scripted(responses: Array<(input: unknown) => unknown>) {
    const calls: string[] = [];
    const client = {
      send: async (command: { constructor: { name: string }; input: unknown }) => {
        calls.push(command.constructor.name);
        const next = responses.shift();
        if (!next) throw new Error('unexpected call');
        return next(command.input);
      },
    } as unknown as S3Client;
    return { client, calls };
  }
  const fail = (name: string, status: number) => () => {
    throw Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  };

  it('falls back to HEAD-then-PUT once the server answers 501 to If-None-Match, and says so', async () => {
    const logs: string[] = [];
    const { client, calls } = scripted([fail('NotImplemented', 501), fail('NotFound', 404), () => ({}), () => ({ ContentLength: 1 })]);
    const store = new S3BlobStore({ bucket: 'b', region: 'r', client, log: (m) => logs.push(m) });
    expect(await store.putIfAbsent('k', 'v')).toBe(true);
    expect(await store.putIfAbsent('k', 'v')).toBe(false);
    expect(calls).toEqual(['PutObjectCommand', 'HeadObjectCommand', 'PutObjectCommand', 'HeadObjectCommand']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/not safe against concurrent writers/);
  });

  it('retries a 409 ConditionalRequestConflict and returns false when the retry gets 412', async () => {
    const { client, calls } = scripted([fail('ConditionalRequestConflict', 409), fail('PreconditionFailed', 412)]);
    const store = new S3BlobStore({ bucket: 'b', region: 'r', client });
    expect(await store.putIfAbsent('k', 'v')).toBe(false);
    expect(calls).toEqual(['PutObjectCommand', 'PutObjectCommand']);
  });

  it('sends a second putIfAbsent for a key only after the first one has its answer', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { client, calls } = scripted([() => gate.then(() => ({})), fail('PreconditionFailed', 412), fail('PreconditionFailed', 412)]);
    const store = new S3BlobStore({ bucket: 'b', region: 'r', client });
    const first = store.putIfAbsent('k', 'a');
    const second = store.putIfAbsent('k', 'b');
    const other = store.putIfAbsent('other', 'c'); // another key does not wait
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(['PutObjectCommand', 'PutObjectCommand']);
    release();
    expect(await Promise.all([first, second, other])).toEqual([true, false, false]);
    expect(calls).toHaveLength(3);
  });

  it('lets the next writer of a key try when the one before it failed', async () => {
    const { client } = scripted([fail('InternalError', 500), () => ({})]);
    const store = new S3BlobStore({ bucket: 'b', region: 'r', client });
    const [first, second] = await Promise.allSettled([store.putIfAbsent('k', 'a'), store.putIfAbsent('k', 'b')]);
    expect(first).toMatchObject({ status: 'rejected', reason: { name: 'InternalError' } });
    expect(second).toEqual({ status: 'fulfilled', value: true });
  });

  it('does not mistake a missing bucket for a missing key', async () => {
    const { client } = scripted([fail('NoSuchBucket', 404)]);
    const store = new S3BlobStore({ bucket: 'b', region: 'r', client });
    await expect(store.get('k')).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});
