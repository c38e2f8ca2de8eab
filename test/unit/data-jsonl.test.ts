import { describe, expect, it } from 'vitest';
import { canonicalJson, decodeUtf8Strict, splitLines, type SplitItem } from '../../src/ingest/line-framing';

async function collect(chunks: Array<Buffer | string>, maxLineBytes = 1024): Promise<SplitItem[]> {
  const out: SplitItem[] = [];
  for await (const item of splitLines(chunks, { maxLineBytes })) out.push(item);
  return out;
}

function texts(items: SplitItem[]): Array<string | { error: string; line: number }> {
  return items.map((i) => (i.kind === 'line' ? i.bytes.toString('utf8') : { error: i.reason, line: i.lineNumber }));
}

describe('splitLines', () => {
  it('splits LF and CRLF lines with 1-based line numbers and strips a leading BOM', async () => {
    const items = await collect(['\uFEFF{"a":1}\r\n{"b":2}\n{"c":3}']);
    expect(texts(items)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(items.map((i) => i.lineNumber)).toEqual([1, 2, 3]);
  });

  it('joins lines split across chunk boundaries, including a CR/LF pair and a multibyte character', async () => {
    const whole = Buffer.from('héllo\r\nwörld\n');
    const chunks = [whole.subarray(0, 2), whole.subarray(2, 6), whole.subarray(6, 7), whole.subarray(7)];
    expect(texts(await collect(chunks))).toEqual(['héllo', 'wörld']);
  });

  it('yields blank lines (so they can be accounted for) but no phantom line after a final newline', async () => {
    expect(texts(await collect(['a\n\nb\n']))).toEqual(['a', '', 'b']);
  });

  it('reports an over-long line as record_too_large and keeps going with the next line', async () => {
    const big = 'x'.repeat(5000);
    const items = await collect(['ok\n', big.slice(0, 2500), big.slice(2500), '\nafter\n'], 100);
    expect(texts(items)).toEqual(['ok', { error: 'record_too_large', line: 2 }, 'after']);
    const err = items[1];
    expect(err?.kind === 'error' && err.byteLength).toBe(5000);
  });

  it('does not hold an over-long line in memory while skipping it', async () => {
    async function* endless(): AsyncGenerator<Buffer> {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < 400; i += 1) yield chunk; // 25 MiB without a newline
      yield Buffer.from('\n{"ok":true}\n');
    }
    const before = process.memoryUsage().arrayBuffers;
    const items: SplitItem[] = [];
    for await (const item of splitLines(endless(), { maxLineBytes: 1024 })) items.push(item);
    expect(items[0]).toMatchObject({ kind: 'error', reason: 'record_too_large', byteLength: 400 * 64 * 1024 });
    expect(texts(items.slice(1))).toEqual(['{"ok":true}']);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(10 * 1024 * 1024);
  });

  it('accepts a line of exactly the limit, with or without CR', async () => {
    const line = 'y'.repeat(10);
    expect(texts(await collect([`${line}\r\n${line}\n`], 10))).toEqual([line, line]);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level so equal objects serialize identically', () => {
    const a = canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } });
    const b = canonicalJson({ a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('follows JSON.stringify for undefined, non-finite numbers and dates', () => {
    expect(canonicalJson({ u: undefined, n: Number.NaN, arr: [undefined], d: new Date(0) })).toBe(
      '{"arr":[null],"d":"1970-01-01T00:00:00.000Z","n":null}',
    );
  });
});

describe('decodeUtf8Strict', () => {
  it('decodes ASCII and multi-byte UTF-8, keeps a BOM, and refuses invalid or overlong bytes', () => {
    expect(decodeUtf8Strict(Buffer.from('{"a":"plain"}'))).toBe('{"a":"plain"}');
    expect(decodeUtf8Strict(Buffer.from('{"a":"café ✓ 😀"}'))).toBe('{"a":"café ✓ 😀"}');
    expect(decodeUtf8Strict(Buffer.from([0xef, 0xbb, 0xbf, 0x41]))).toBe('\uFEFFA');
    expect(decodeUtf8Strict(Buffer.from([0x41, 0xff, 0x42]))).toBeUndefined();
    expect(decodeUtf8Strict(Buffer.from([0xc0, 0xaf]))).toBeUndefined();
    expect(decodeUtf8Strict(Buffer.from([0xed, 0xa0, 0x80]))).toBeUndefined();
    expect(decodeUtf8Strict(Buffer.from([0xe2, 0x82]))).toBeUndefined();
  });
});
