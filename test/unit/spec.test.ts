/** Dataset specs: the committed specs, clear errors for bad specs, model and labeler names, and the directory spec source. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ensureApplicationFailure } from '@temporalio/common';
import { InvalidSpec, labelingFunction } from '../../src/labeling/labelers';
import { createDirSpecSource, specHashOf } from '../../src/datasets/spec-source';
import { ErrorType } from '../../src/shared/errors';
import { shufflesLabels } from '../../src/shared/trainer-spec';
import { withShuffledLabels } from '../../src/cli/demo';
import { modelNameFor } from '../../src/shared/ids';
import { NO_LABELING_FUNCTION, parseDatasetSpec, type DatasetSpecSchema } from '../../src/shared/spec';

/** A spec as written in a file (before defaults). */
type SpecInput = z.input<typeof DatasetSpecSchema>;

const specsDir = path.resolve(__dirname, '../../specs');
let raw: SpecInput;
let tmp: string;

beforeAll(async () => {
  raw = parseYaml(await readFile(path.join(specsDir, 'tickets.yaml'), 'utf8')) as SpecInput;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'trainset-spec-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A deep copy of the tickets spec with one change applied. */
function variant(change: (s: SpecInput) => void): SpecInput {
  const copy = structuredClone(raw);
  change(copy);
  return copy;
}

/** The same value with every object's keys in reverse order. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reverseKeys(x)]),
    );
  return v;
}

describe('parseDatasetSpec', () => {
  it('parses specs/tickets.yaml with its declared policies', () => {
    const spec = parseDatasetSpec(raw, 'tickets.yaml');
    expect(spec.dataset).toBe('tickets');
    expect(spec.schema.textFields).toEqual(['subject', 'body']);
    expect(spec.labels.classes).toEqual(['billing', 'technical', 'account', 'shipping']);
    expect(spec.canary.steps.length).toBeGreaterThan(0);
    expect(spec.trainer.kind).toBe('logreg-hashed'); // a default filled in
  });

  it('names a field the schema uses but does not declare', () => {
    const bad = variant((s) => {
      s.schema.textFields = ['subject', 'summary'];
    });
    expect(() => parseDatasetSpec(bad, 'tickets.yaml')).toThrow(
      /Invalid dataset spec tickets\.yaml: fields used but not declared in schema\.fields: summary/,
    );
  });

  it('names the path of an enum field without values', () => {
    const bad = variant((s) => {
      s.schema.fields.channel = { type: 'enum' };
    });
    expect(() => parseDatasetSpec(bad, 'tickets.yaml')).toThrow(/- schema\.fields\.channel: enum fields need a non-empty "values" list/);
  });

  it('rejects a dataset name that is not lowercase letters, digits, "-" or "_"', () => {
    const bad = variant((s) => {
      s.dataset = 'Support Tickets';
    });
    expect(() => parseDatasetSpec(bad, 'x.yaml')).toThrow(/- dataset: lowercase letters, digits/);
  });

  it('refuses a canary step at 100 % (all traffic to the candidate before any analysis)', () => {
    const bad = variant((s) => {
      (s.canary as { steps: Array<{ weight: number; bakeSeconds: number }> }).steps = [{ weight: 100, bakeSeconds: 60 }];
    });
    expect(() => parseDatasetSpec(bad, 'tickets.yaml')).toThrow(/canary\.steps\.0\.weight: a canary step weighs at most 99/);
  });

  it('reads trainer.hyperparameters.shuffleLabels (the demo bad-model knob) as a boolean, and refuses any other value', () => {
    expect(shufflesLabels(parseDatasetSpec(raw, 'tickets.yaml').trainer)).toBe(false);
    const on = parseDatasetSpec(withShuffledLabels(raw as Record<string, unknown>), 'tickets.yaml');
    expect(shufflesLabels(on.trainer)).toBe(true);
    const bad = variant((s) => {
      (s.trainer as { hyperparameters?: Record<string, unknown> }).hyperparameters = { shuffleLabels: 'yes' };
    });
    expect(() => parseDatasetSpec(bad, 'tickets.yaml')).toThrow(/trainer\.hyperparameters\.shuffleLabels: must be true or false/);
  });

  it('lists every problem, one line each', () => {
    const bad = variant((s) => {
      s.dataset = '1tickets';
      s.gates.minAccuracy = 2;
      s.canary.steps = [];
    });
    let message = '';
    try {
      parseDatasetSpec(bad, 'x.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines[0]).toBe('Invalid dataset spec x.yaml:');
    expect(lines.slice(1).map((l) => l.split(':')[0])).toEqual(['  - dataset', '  - gates.minAccuracy', '  - canary.steps']);
  });
});

describe('model and labeler names come from the spec', () => {
  it('names the model after the dataset unless the spec names one, and leaves no `model` key when it does not', () => {
    const tickets = parseDatasetSpec(raw, 'tickets.yaml');
    expect(Object.keys(tickets)).not.toContain('model'); // so the spec hash of a spec without one is unchanged
    expect(modelNameFor(tickets)).toBe('tickets-classifier');
    const named = parseDatasetSpec(variant((s) => (s.model = 'ticket-router')));
    expect(modelNameFor(named)).toBe('ticket-router');
    expect(specHashOf(named)).not.toBe(specHashOf(tickets));
    expect(() =>
      parseDatasetSpec(
        variant((s) => (s.model = 'Ticket Router/v2')),
        'x.yaml',
      ),
    ).toThrow(/- model: lowercase letters/);
  });

  it('labels with no function unless the spec names one: tickets names its keyword labeler explicitly', () => {
    expect(parseDatasetSpec(raw).labels.labelingFunction).toBe('ticket-keywords');
    const unnamed = parseDatasetSpec(variant((s) => delete s.labels.labelingFunction));
    expect(unnamed.labels.labelingFunction).toBe(NO_LABELING_FUNCTION);
    expect(labelingFunction('ticket-keywords')({ subject: 'refund for my invoice', body: '' })).toBe('billing');
  });

  it('fails a spec that must label records without naming a function with InvalidSpec, which the pipeline does not retry', () => {
    let thrown: unknown;
    try {
      labelingFunction(NO_LABELING_FUNCTION);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidSpec);
    expect((thrown as Error).message).toMatch(
      /records arrived without a label and the spec names no labeling function.*known: ticket-keywords/,
    );
    // What an activity throwing it reports to Temporal: the type the retry policies list as non-retryable.
    expect(ensureApplicationFailure(thrown as Error).type).toBe(ErrorType.InvalidSpec);
    expect(() => labelingFunction('sentiment-words')).toThrow(/Unknown labeling function "sentiment-words"; known: ticket-keywords/);
  });
});

describe('createDirSpecSource', () => {
  it('loads the committed tickets spec', async () => {
    const { spec, specHash } = await createDirSpecSource(specsDir).load('tickets');
    expect(spec.dataset).toBe('tickets');
    expect(specHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('loads the second example spec from the same folder, with its own fields, classes and model', async () => {
    const { spec } = await createDirSpecSource(specsDir).load('reviews');
    expect(spec.schema).toMatchObject({ labelField: 'sentiment', textFields: ['title', 'text'] });
    expect(spec.labels.classes).toEqual(['positive', 'neutral', 'negative']);
    expect(modelNameFor(spec)).toBe('reviews-sentiment');
  });

  it('says where it looked for an unknown dataset', async () => {
    await expect(createDirSpecSource(specsDir).load('invoices')).rejects.toThrow(
      `No spec for dataset "invoices" in ${specsDir} (looked for invoices.yaml, .yml, .json)`,
    );
  });

  it('refuses a dataset name that could escape the folder', async () => {
    await expect(createDirSpecSource(specsDir).load('../tickets')).rejects.toThrow(/Invalid dataset name/);
  });

  it('refuses a file whose spec declares another dataset', async () => {
    await writeFile(path.join(tmp, 'orders.json'), JSON.stringify(raw));
    await expect(createDirSpecSource(tmp).load('orders')).rejects.toThrow(/declares dataset "tickets", expected "orders"/);
  });

  it('gives the same spec hash whatever the key order, and a different one for a different value', async () => {
    const dir = await mkdtemp(path.join(tmp, 'reordered-'));
    await writeFile(path.join(dir, 'tickets.json'), JSON.stringify(reverseKeys(raw)));
    const original = await createDirSpecSource(specsDir).load('tickets');
    const reordered = await createDirSpecSource(dir).load('tickets');
    expect(reordered.specHash).toBe(original.specHash);
    // The hash itself ignores key order (not only the schema's normalised output).
    const shuffled = reverseKeys(original.spec) as typeof original.spec;
    expect(Object.keys(shuffled)[0]).not.toBe(Object.keys(original.spec)[0]);
    expect(specHashOf(shuffled)).toBe(original.specHash);
    const changed = parseDatasetSpec(variant((s) => (s.gates.minAccuracy = 0.61)));
    expect(specHashOf(changed)).not.toBe(original.specHash);
  });

  it('leaves the monitor policy out of the spec hash: it shapes no dataset version', () => {
    const tickets = parseDatasetSpec(raw);
    const watched = parseDatasetSpec(variant((s) => (s.monitor = { windowSeconds: 60, actions: { drift: 'alert' } })));
    expect(watched.monitor.windowSeconds).toBe(60);
    expect(specHashOf(watched)).toBe(specHashOf(tickets));
    // The hash a spec had before the section existed (a release without the monitor hashed the rest only).
    const { monitor: _monitor, ...before } = tickets;
    expect(specHashOf(before as typeof tickets)).toBe(specHashOf(tickets));
  });
});
