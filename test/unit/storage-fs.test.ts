import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blobStoreContract } from '../helpers/blob-store-contract';
import { BlobNotFoundError, InvalidBlobKeyError, createBlobStore, createFsBlobStore } from '../../src/storage';
import type { FsBlobStore } from '../../src/storage';

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

  blobStoreContract(() => store);

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
