import { describe, expect, it } from 'vitest';
import { measurePiiAccuracy } from '../../bench/b3-pii-accuracy';
import { PiiEntitySchema } from '../../src/shared/spec';
import { generatePiiCorpus } from '../helpers/pii-corpus';

const get = (record: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], record);

describe('labeled PII corpus', () => {
  it('is the same corpus for the same seed and a different one for another seed', () => {
    expect(generatePiiCorpus({ seed: 5, count: 20 })).toEqual(generatePiiCorpus({ seed: 5, count: 20 }));
    expect(generatePiiCorpus({ seed: 6, count: 20 })).not.toEqual(generatePiiCorpus({ seed: 5, count: 20 }));
  });

  it('labels every planted value at its exact span, with every entity type planted in nested fields', () => {
    const corpus = generatePiiCorpus({ seed: 5, count: 50 });
    const types = new Set<string>();
    const fields = new Set<string>();
    for (const { record, planted } of corpus) {
      for (const p of planted) {
        expect((get(record, p.field) as string).slice(p.start, p.end)).toBe(p.value);
        types.add(p.entity);
        fields.add(p.field);
      }
    }
    expect([...types].sort()).toEqual([...PiiEntitySchema.options].sort());
    expect(fields).toContain('metadata.contact.phones.0');
    expect(fields).toContain('notes.0.text');
  });
});

describe('PII engine accuracy on the corpus', () => {
  it('reaches recall >= 0.99 and precision >= 0.98 for every type and leaves no planted value in the output', () => {
    const { perType, leaks } = measurePiiAccuracy({ seed: 11, count: 300 });
    for (const [entity, m] of Object.entries(perType)) {
      expect(m.planted, entity).toBeGreaterThan(50);
      expect(m.recall, entity).toBeGreaterThanOrEqual(0.99);
      expect(m.precision, entity).toBeGreaterThanOrEqual(0.98);
    }
    expect(leaks).toBe(0);
  });
});
