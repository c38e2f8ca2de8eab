/** The second example dataset: its spec parses, its sample records pass its contract, carry labels, and can be learned. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { writeSamplePartitions, sampleKindFor } from '../../src/samples/index';
import { checkRecord } from '../../src/ingest/contract';
import { generateReviewLines, generateReviews, REVIEW_SENTIMENTS } from '../../src/samples/reviews/generate';
import { modelNameFor } from '../../src/shared/ids';
import { NO_LABELING_FUNCTION, parseDatasetSpec } from '../../src/shared/spec';
import { featurize, type FeatureSpec } from '../../src/training/features';
import { accuracyOf, train, type Example } from '../../src/training/logreg';
import { MemoryBlobStore } from '../helpers/memory-blob-store';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/reviews.yaml'), 'utf8')), 'reviews.yaml');

describe('specs/reviews.yaml', () => {
  it('names its own model and no labeling function: its records carry their labels', () => {
    expect(spec.dataset).toBe('reviews');
    expect(modelNameFor(spec)).toBe('reviews-sentiment');
    expect(spec.labels.labelingFunction).toBe(NO_LABELING_FUNCTION);
    expect(spec.labels.classes).toEqual([...REVIEW_SENTIMENTS]);
  });
});

describe('generateReviews', () => {
  const day = generateReviewLines({ date: '2026-10-05', count: 1500, seed: 3 });
  const good = day.filter((g) => g.kind !== 'bad');

  it('is deterministic per seed and date', () => {
    const a = generateReviews({ date: '2026-10-05', count: 200, seed: 7 });
    expect(generateReviews({ date: '2026-10-05', count: 200, seed: 7 })).toEqual(a);
    expect(generateReviews({ date: '2026-10-06', count: 200, seed: 7 })).not.toEqual(a);
  });

  it("writes reviews that pass the spec's contract, each labeled with one of its classes, and bad lines that do not", () => {
    for (const g of good) {
      const r = checkRecord(g.line, spec);
      expect(r.ok, g.line).toBe(true);
      if (r.ok) expect(spec.labels.classes).toContain(r.record.sentiment);
    }
    const bad = day.filter((g) => g.kind === 'bad');
    expect(bad.length).toBeGreaterThan(3);
    expect(bad.every((g) => !checkRecord(g.line, spec).ok)).toBe(true);
  });

  it('has enough signal in its text and categorical fields for a hashed logistic regression', () => {
    const features: FeatureSpec = {
      features: spec.trainer.features,
      textFields: spec.schema.textFields,
      categoricalFields: spec.schema.categoricalFields,
    };
    const examples: Example[] = good.map((g) => {
      const record = JSON.parse(g.line) as Record<string, unknown>;
      return { x: featurize(record, features), y: spec.labels.classes.indexOf(String(record.sentiment)) };
    });
    const model = train(examples.slice(0, 1000), {
      numClasses: spec.labels.classes.length,
      features: spec.trainer.features,
      epochs: spec.trainer.epochs,
      learningRate: spec.trainer.learningRate,
      l2: spec.trainer.l2,
      seed: spec.trainer.seed,
    });
    expect(accuracyOf(model.weights, model.bias, spec.trainer.features, examples.slice(1000))).toBeGreaterThan(
      spec.gates.minAccuracy + 0.1,
    );
  });
});

describe('writeSamplePartitions', () => {
  it("writes each example dataset's own records (other names get tickets, the CLI's default)", async () => {
    expect(sampleKindFor('reviews')).toBe('reviews');
    expect(sampleKindFor('support')).toBe('tickets');
    const blobs = new MemoryBlobStore();
    const [key] = await writeSamplePartitions(blobs, { dataset: 'reviews', dates: ['2026-10-05'], count: 20 });
    expect(key).toBe('raw/reviews/2026-10-05/part-0000.jsonl');
    const first = JSON.parse((await blobs.get(key!)).toString('utf8').split('\n')[0]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(['title', 'text', 'rating', 'product_category', 'language', 'sentiment']));
  });
});
