import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobNotFoundError, InvalidBlobKeyError, createBlobStore, createFsBlobStore } from '../../src/storage';
import type { FsBlobStore } from '../../src/storage';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('FsBlobStore', () => {
  let root: string;
  let store: FsBlobStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'trainset-fs-blob-'));
    store = createFsBlobStore(join(root, 'blobs'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('putStream commits a streamed object whole (multipart past 8 MiB) and commits nothing when the stream fails', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    async function* chunks(n: number, failAt?: number): AsyncGenerator<Buffer> {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error('producer failed');
        yield Buffer.concat([Buffer.from(`part ${i}\n`), chunk]);
      }
    }
    await store.putStream('stream/big.bin', chunks(20));
    const big = await store.get('stream/big.bin');
    expect(big.length).toBe(20 * (chunk.length + 'part 0\n'.length) + 10);
    expect(big.subarray(0, 7).toString()).toBe('part 0\n');
    await store.putStream('stream/small.bin', chunks(1));
    expect((await store.head('stream/small.bin'))?.size).toBe(chunk.length + 7);
    await expect(store.putStream('stream/failed.bin', chunks(12, 10))).rejects.toThrow('producer failed');
    expect(await store.head('stream/failed.bin')).toBeUndefined();
  }, 60_000);

  it('writes, reads, heads, streams and deletes an object', async () => {
    await store.put('raw/ds/p1/a.jsonl', 'hello');
    expect((await store.get('raw/ds/p1/a.jsonl')).toString()).toBe('hello');
    expect(await store.head('raw/ds/p1/a.jsonl')).toEqual({ key: 'raw/ds/p1/a.jsonl', size: 5 });
    expect(await readAll(await store.getStream('raw/ds/p1/a.jsonl'))).toBe('hello');
    await store.put('raw/ds/p1/a.jsonl', Buffer.from('replaced'));
    expect((await store.get('raw/ds/p1/a.jsonl')).toString()).toBe('replaced');
    await store.delete('raw/ds/p1/a.jsonl');
    expect(await store.head('raw/ds/p1/a.jsonl')).toBeUndefined();
    await expect(store.delete('raw/ds/p1/a.jsonl')).resolves.toBeUndefined();
  });

  it('reports a missing key as BlobNotFoundError from get and getStream, and undefined from head', async () => {
    await expect(store.get('nope/x')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.getStream('nope/x')).rejects.toBeInstanceOf(BlobNotFoundError);
    await store.put('dir/child', 'x');
    // A "folder" made by longer keys is not itself an object.
    await expect(store.get('dir')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.getStream('dir')).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.head('dir')).toBeUndefined();
  });

  it('lists every object under a prefix, sorted, including partial-segment prefixes', async () => {
    for (const key of ['b/2', 'a/z/1', 'a/b', 'ab/c', 'a/a/deep/x', 'c']) await store.put(key, key);
    expect((await store.list('a/')).map((b) => b.key)).toEqual(['a/a/deep/x', 'a/b', 'a/z/1']);
    expect((await store.list('a')).map((b) => b.key)).toEqual(['a/a/deep/x', 'a/b', 'a/z/1', 'ab/c']);
    expect((await store.list('')).map((b) => b.key)).toEqual(['a/a/deep/x', 'a/b', 'a/z/1', 'ab/c', 'b/2', 'c']);
    expect(await store.list('a/z/')).toEqual([{ key: 'a/z/1', size: 5 }]);
    expect(await store.list('missing/')).toEqual([]);
  });

  it('putIfAbsent writes once and then leaves the content unchanged', async () => {
    expect(await store.putIfAbsent('datasets/d/objects/h1', 'first')).toBe(true);
    expect(await store.putIfAbsent('datasets/d/objects/h1', 'second')).toBe(false);
    expect((await store.get('datasets/d/objects/h1')).toString()).toBe('first');
  });

  it('lets exactly one of 20 concurrent putIfAbsent calls win and leaves no temp files', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.putIfAbsent('datasets/d/manifests/v1.json', `writer-${i}`)),
    );
    expect(results.filter((r) => r)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect((await store.get('datasets/d/manifests/v1.json')).toString()).toBe(`writer-${winner}`);
    expect(await readdir(join(root, 'blobs', 'datasets', 'd', 'manifests'))).toEqual(['v1.json']);
  });

  it.each(['../escape', 'a/../../etc/passwd', '/etc/passwd', 'a//b', 'a/', '', './a', 'a\\..\\b', '.blob-tmp-x'])(
    'rejects the malformed key %j',
    async (key) => {
      await expect(store.put(key, 'x')).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.putIfAbsent(key, 'x')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    },
  );

  it('rejects list prefixes that climb out of the root', async () => {
    await expect(store.list('../')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.list('/etc/')).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });

  it('is what createBlobStore builds for kind fs, with a file:// uri', async () => {
    const built = createBlobStore({ kind: 'fs', dir: join(root, 'blobs') });
    expect(built.uri).toBe(`file://${join(root, 'blobs')}`);
    await built.put('k', 'v');
    expect((await store.get('k')).toString()).toBe('v');
  });
});
