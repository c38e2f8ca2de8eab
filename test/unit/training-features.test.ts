import { describe, expect, it } from 'vitest';
import { featurize, fnv1a32, recordTokens, textTokens, tokenize, type FeatureSpec } from '../../src/training/features';

const spec: FeatureSpec = { features: 4096, textFields: ['title', 'body'], categoricalFields: ['channel'] };

describe('tokenizer', () => {
  it('lowercases and splits on anything that is not a letter or digit, keeping non-ASCII letters', () => {
    expect(tokenize("Can't LOG-in: error #42, café!")).toEqual(['can', 't', 'log', 'in', 'error', '42', 'café']);
    expect(tokenize('  ...  ')).toEqual([]);
  });

  it('adds space-joined bigrams after the unigrams', () => {
    expect(textTokens('Refund my card')).toEqual(['refund', 'my', 'card', 'refund my', 'my card']);
  });

  it('turns categorical fields into field=value tokens and skips missing fields', () => {
    expect(recordTokens({ title: 'Hi there', channel: 'email', other: 'x' }, spec)).toEqual(['hi', 'there', 'hi there', 'channel=email']);
    expect(recordTokens({ body: 7, channel: true }, spec)).toEqual(['7', 'channel=true']);
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors over UTF-8 bytes', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes non-ASCII text as its UTF-8 bytes', () => {
    const bytesHash = (s: string): number => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    for (const s of ['café', 'naïve résumé', '東京', 'emoji 😀 ok']) expect(fnv1a32(s)).toBe(bytesHash(s));
  });
});

describe('featurize', () => {
  const record = { title: 'Refund my card', body: 'The card was charged twice', channel: 'email' };

  it('is deterministic: same record, same sparse vector', () => {
    const a = featurize(record, spec);
    const b = featurize({ ...record }, spec);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
  });

  it('returns sorted in-range indices and an L2-normalised vector', () => {
    const v = featurize(record, spec);
    expect(v.indices.length).toBeGreaterThan(5);
    const idx = Array.from(v.indices);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    expect(new Set(idx).size).toBe(idx.length);
    expect(idx.every((i) => i >= 0 && i < spec.features)).toBe(true);
    const norm = Math.sqrt(Array.from(v.values).reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 12);
  });

  it('gives an empty vector for a record with no usable fields', () => {
    const v = featurize({ unrelated: 'text' }, spec);
    expect(v.indices.length).toBe(0);
    expect(v.values.length).toBe(0);
  });

  it('distinguishes categorical values and word order (bigrams)', () => {
    const a = featurize({ title: 'card refund', channel: 'email' }, spec);
    const b = featurize({ title: 'card refund', channel: 'chat' }, spec);
    const c = featurize({ title: 'refund card', channel: 'email' }, spec);
    expect(Array.from(a.indices)).not.toEqual(Array.from(b.indices));
    expect(Array.from(a.indices)).not.toEqual(Array.from(c.indices));
  });
});
