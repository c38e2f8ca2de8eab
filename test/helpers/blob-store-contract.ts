/** Behaviour every BlobStore implementation shares; each store's test file runs these against its store. */
import { expect, it } from 'vitest';
import type { BlobStore } from '../../src/storage/blob-store';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Register the shared cases; `store()` returns the store under test (set up in the caller's beforeEach/beforeAll). */
export function blobStoreContract(store: () => BlobStore): void {
  it('writes, reads, heads, streams and deletes an object', async () => {
    const s = store();
    await s.put('raw/ds/p1/a.jsonl', 'hello');
    expect((await s.get('raw/ds/p1/a.jsonl')).toString()).toBe('hello');
    expect(await s.head('raw/ds/p1/a.jsonl')).toEqual({ key: 'raw/ds/p1/a.jsonl', size: 5 });
    expect(await readAll(await s.getStream('raw/ds/p1/a.jsonl'))).toBe('hello');
    await s.put('raw/ds/p1/a.jsonl', Buffer.from('replaced'));
    expect((await s.get('raw/ds/p1/a.jsonl')).toString()).toBe('replaced');
    await s.delete('raw/ds/p1/a.jsonl');
    expect(await s.head('raw/ds/p1/a.jsonl')).toBeUndefined();
    await expect(s.delete('raw/ds/p1/a.jsonl')).resolves.toBeUndefined();
  });

  it('putStream commits a streamed object whole (multipart past 8 MiB on S3) and commits nothing when the stream fails', async () => {
    const s = store();
    const chunk = Buffer.alloc(1024 * 1024, 7);
    async function* chunks(n: number, failAt?: number): AsyncGenerator<Buffer> {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error('producer failed');
        yield Buffer.concat([Buffer.from(`part ${i}\n`), chunk]);
      }
    }
    await s.putStream('stream/big.bin', chunks(20));
    const big = await s.get('stream/big.bin');
    expect(big.length).toBe(20 * (chunk.length + 'part 0\n'.length) + 10);
    expect(big.subarray(0, 7).toString()).toBe('part 0\n');
    await s.putStream('stream/small.bin', chunks(1));
    expect((await s.head('stream/small.bin'))?.size).toBe(chunk.length + 7);
    await expect(s.putStream('stream/failed.bin', chunks(12, 10))).rejects.toThrow('producer failed');
    expect(await s.head('stream/failed.bin')).toBeUndefined();
  }, 60_000);
}
