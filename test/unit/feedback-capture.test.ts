/**
 * Feedback capture (src/serving/feedback-capture.ts): served inputs become raw production records of their dataset,
 * written in batches after the dataset's contract and PII policy, with lineage the contract keeps; nothing raw is
 * stored, nothing is lost without being counted, and a retried flush rewrites the same key.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkRecord } from '../../src/ingest/contract';
import { LINEAGE_FIELD, lineageOf, marginOf, piiSkipFields } from '../../src/ingest/feedback-lineage';
import {
  createFeedbackCapture,
  isPipelineReplay,
  type CapturedPrediction,
  type FeedbackCaptureOptions,
} from '../../src/serving/feedback-capture';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import type { Registry as TrainsetRegistry } from '../../src/registry';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { captureTargets } from '../../src/workers/gateway-wiring';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

const SPEC = parseDatasetSpec(parse(readFileSync(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')));
const VERSION = 'mv-0123456789abcdef01234567';
const EMAIL = 'jane.planted@example.org';
const CARD = '4111 1111 1111 1111';

function served(i: number, input: Record<string, unknown> = {}, at = new Date('2026-11-02T10:00:00Z')): CapturedPrediction {
  return {
    predictionId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    model: 'tickets-classifier',
    modelVersion: VERSION,
    margin: 0.5,
    input: { subject: `printer ${i}`, body: `my printer is broken, write to ${EMAIL}`, channel: 'email', ...input },
    createdAt: at,
  };
}

/** A blob store whose next `failures` puts fail; it remembers every put (key and body) in order. */
class FlakyBlobs extends MemoryBlobStore {
  failures = 0;
  readonly puts: Array<{ key: string; body: string }> = [];
  override async put(key: string, body: Buffer | string): Promise<void> {
    this.puts.push({ key, body: body.toString() });
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('blob store down');
    }
    await super.put(key, body);
  }
}

const open: Array<{ close(): Promise<void> } | Gateway> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await ('stop' in c ? c.stop() : c.close());
});

function capture(blobs: MemoryBlobStore, over: Partial<FeedbackCaptureOptions> = {}, spec: DatasetSpec = SPEC) {
  const registry = new Registry();
  const c = createFeedbackCapture({
    blobs,
    resolve: async () => ({ dataset: 'tickets', spec }),
    instanceId: 'gw1',
    flushMs: 60_000,
    registry,
    ...over,
  });
  open.push(c);
  const counted = async (outcome: string): Promise<number> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'gateway_feedback_capture_records_total');
    return (m?.values ?? []).filter((v) => v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);
  };
  return { c, registry, counted };
}

/** A key without the random part the capture adds to its instance id at each start. */
const plain = (key: string): string => key.replace(/(feedback-gw\d+)-[0-9a-f]{8}-/, '$1-');
/** The stored keys, without their random part. */
const keysOf = (blobs: MemoryBlobStore): string[] => blobs.keys().map(plain);

/** The records of a file, named by its key with or without the random part. */
const lines = (blobs: MemoryBlobStore, key: string): Array<Record<string, unknown>> =>
  blobs
    .text(blobs.keys().find((k) => plain(k) === key) ?? key)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('feedback capture', () => {
  it('writes one JSONL file per flush under the day partition, PII redacted, and records the contract accepts with their lineage', async () => {
    const blobs = new MemoryBlobStore();
    const { c, counted } = capture(blobs);
    for (let i = 0; i < 3; i++) c.add(served(i, { customer_email: EMAIL, queue: 'billing', stray: CARD }), `k${i}`, 'anonymous');
    expect(blobs.keys()).toEqual([]);
    await c.flush();
    expect(keysOf(blobs)).toEqual(['raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl']);
    const key = blobs.keys()[0]!;
    const text = blobs.text(key);
    expect(text).not.toContain(EMAIL);
    expect(text).not.toContain('4111');
    const records = lines(blobs, key);
    expect(records).toHaveLength(3);
    const first = records[0]!;
    // The gateway's id and time; the client's label and undeclared fields are not kept.
    expect(first.id).toBe(served(0).predictionId);
    expect(first.created_at).toBe('2026-11-02T10:00:00.000Z');
    expect(first.queue).toBeUndefined();
    expect(first.stray).toBeUndefined();
    expect(first[LINEAGE_FIELD]).toEqual({
      source: 'feedback',
      predictionId: served(0).predictionId,
      model: 'tickets-classifier',
      modelVersion: VERSION,
      margin: 0.5,
    });
    // The ingest's contract accepts the line and keeps the lineage (the tickets spec drops unknown fields).
    for (const line of text.split('\n').filter((l) => l !== '')) {
      const r = checkRecord(line, SPEC);
      expect(r.ok).toBe(true);
      if (r.ok) expect(lineageOf(r.record)?.modelVersion).toBe(VERSION);
    }
    expect(await counted('written')).toBe(3);
  });

  it('does not write a record the contract would quarantine or the PII policy would drop, and counts each', async () => {
    const blobs = new MemoryBlobStore();
    const dropEmails: DatasetSpec = { ...SPEC, pii: { ...SPEC.pii, fields: { customer_email: 'drop_record' } } };
    const { c, counted } = capture(blobs, {}, dropEmails);
    c.add(served(1, { channel: 'carrier-pigeon' }), undefined, 'anonymous');
    c.add(served(2, { customer_email: EMAIL }), undefined, 'anonymous');
    c.add(served(3), undefined, 'anonymous');
    await c.flush();
    expect(await counted('contract_rejected')).toBe(1);
    expect(await counted('pii_dropped')).toBe(1);
    expect(await counted('written')).toBe(1);
    const all = blobs
      .keys()
      .map((k) => blobs.text(k))
      .join('');
    expect(all).not.toContain(EMAIL);
    expect(all).not.toContain('carrier-pigeon');
  });

  it('rewrites the same key with the same bytes when a flush is retried after a failed write', async () => {
    const blobs = new FlakyBlobs();
    blobs.failures = 1;
    const { c, counted } = capture(blobs);
    c.add(served(1), undefined, 'anonymous');
    await expect(c.flush()).rejects.toThrow('blob store down');
    expect(c.pending()).toBe(1);
    c.add(served(2), undefined, 'anonymous');
    await c.flush();
    expect(blobs.puts.map((p) => plain(p.key))).toEqual([
      'raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl',
      'raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl',
      'raw/tickets/2026-11-02/feedback-gw1-00000002.jsonl',
    ]);
    expect(blobs.puts[1]!.body).toBe(blobs.puts[0]!.body);
    expect(await counted('written')).toBe(2);
    expect(c.pending()).toBe(0);
  });

  it("never overwrites an earlier start's files with the same instanceId (seq restarts at 1)", async () => {
    const blobs = new MemoryBlobStore();
    const first = capture(blobs).c;
    first.add(served(1), undefined, 'anonymous');
    await first.close();
    const restarted = capture(blobs).c;
    restarted.add(served(2), undefined, 'anonymous');
    await restarted.close();
    expect(blobs.keys()).toHaveLength(2);
    expect(keysOf(blobs)).toEqual([
      'raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl',
      'raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl',
    ]);
  });

  it('flushes by size in files of at most maxBatch records, one file per day', async () => {
    const blobs = new MemoryBlobStore();
    const { c } = capture(blobs, { maxBatch: 4 });
    for (let i = 0; i < 3; i++) c.add(served(i, {}, new Date('2026-11-02T23:59:00Z')), undefined, 'anonymous');
    c.add(served(3, {}, new Date('2026-11-03T00:01:00Z')), undefined, 'anonymous');
    await c.flush();
    expect(keysOf(blobs)).toEqual([
      'raw/tickets/2026-11-02/feedback-gw1-00000001.jsonl',
      'raw/tickets/2026-11-03/feedback-gw1-00000002.jsonl',
    ]);
    for (let i = 0; i < 9; i++) c.add(served(10 + i), undefined, 'anonymous');
    await c.flush();
    expect(blobs.keys().filter((k) => k.startsWith('raw/tickets/2026-11-02/'))).toHaveLength(4);
    expect(lines(blobs, 'raw/tickets/2026-11-02/feedback-gw1-00000005.jsonl')).toHaveLength(1);
  });

  it('counts what it drops when the blob store stays down beyond maxPending, and on close', async () => {
    const blobs = new FlakyBlobs();
    blobs.failures = 1_000;
    const { c, counted } = capture(blobs, { maxPending: 5, maxBatch: 5 });
    for (let i = 0; i < 8; i++) c.add(served(i), undefined, 'anonymous');
    expect(await counted('dropped')).toBe(3);
    await c.close();
    expect(await counted('dropped')).toBe(8);
    expect(blobs.keys()).toEqual([]);
  });

  it('counts each record once when the resolver fails part-way through a batch and the batch is retried', async () => {
    const blobs = new MemoryBlobStore();
    let failures = 1;
    const { c, counted } = capture(blobs, {
      resolve: async (_model, modelVersion) => {
        if (modelVersion === VERSION) return undefined;
        if (failures > 0) {
          failures -= 1;
          throw new Error('registry down');
        }
        return { dataset: 'tickets', spec: SPEC };
      },
    });
    c.add(served(1), undefined, 'anonymous');
    c.add({ ...served(2), modelVersion: 'mv-ffffffffffffffffffffffff' }, undefined, 'anonymous');
    await expect(c.flush()).rejects.toThrow('registry down');
    expect(await counted('no_dataset')).toBe(0);
    await c.flush();
    expect(await counted('no_dataset')).toBe(1);
    expect(await counted('written')).toBe(1);
  });

  it('counts a record whose building throws as error and writes the rest of the batch', async () => {
    const blobs = new MemoryBlobStore();
    const { c, counted } = capture(blobs);
    c.add(served(1, {}, new Date(Number.NaN)), undefined, 'anonymous');
    c.add(served(2), undefined, 'anonymous');
    await c.flush();
    expect(await counted('error')).toBe(1);
    expect(await counted('written')).toBe(1);
    expect(c.pending()).toBe(0);
  });

  it('refuses a maxPending below maxBatch (bounding would drop the file being written)', () => {
    const blobs = new MemoryBlobStore();
    expect(() => capture(blobs, { maxPending: 5, maxBatch: 10 })).toThrow('maxPending (5) must be at least maxBatch (10)');
    expect(() => capture(blobs, { maxPending: 10, maxBatch: 10 })).not.toThrow();
  });

  it('yields to the event loop while it builds a large batch, so requests are not held up', async () => {
    const blobs = new MemoryBlobStore();
    const { c, counted } = capture(blobs);
    let builtRecords = 0;
    for (let i = 0; i < 120; i++) {
      const p = served(i);
      const input: Record<string, unknown> = { ...p.input };
      Object.defineProperty(input, 'subject', {
        enumerable: true,
        get: () => {
          builtRecords += 1;
          return `printer ${i}`;
        },
      });
      c.add({ ...p, input }, undefined, 'anonymous');
    }
    let builtWhenARequestRan = -1;
    setImmediate(() => {
      builtWhenARequestRan = builtRecords;
    });
    await c.flush();
    expect(builtWhenARequestRan).toBeGreaterThan(0);
    expect(builtWhenARequestRan).toBeLessThan(120);
    expect(await counted('written')).toBe(120);
  });

  it("never captures the pipeline's own replayed canary traffic", async () => {
    expect(isPipelineReplay('retrain-tickets-2026-11-02-canary/s1/a1/17', 'anonymous')).toBe(true);
    expect(isPipelineReplay('anything', 'pipeline')).toBe(true);
    expect(isPipelineReplay('order-8812', 'anonymous')).toBe(false);
    expect(isPipelineReplay(undefined, 'support-app')).toBe(false);
    const blobs = new MemoryBlobStore();
    const { c } = capture(blobs);
    c.add(served(1), 'retrain-tickets-2026-11-02-canary/s0/a1/3', 'anonymous');
    expect(c.pending()).toBe(0);
  });

  it('takes the margin as top-1 minus top-2 probability', () => {
    expect(marginOf([0.1, 0.6, 0.3])).toBeCloseTo(0.3);
    expect(marginOf([0.5, 0.5])).toBe(0);
    expect(marginOf([1])).toBe(1);
    expect(marginOf([])).toBeNull();
  });
});

describe('the record contract and lineage', () => {
  const line = (over: Record<string, unknown>): string =>
    JSON.stringify({
      id: served(1).predictionId,
      created_at: '2026-11-02T10:00:00Z',
      channel: 'web',
      subject: 's',
      body: 'b',
      _lineage: {
        source: 'feedback',
        predictionId: served(1).predictionId,
        model: 'tickets-classifier',
        modelVersion: VERSION,
        margin: 0.2,
      },
      ...over,
    });

  it('keeps a well-formed lineage whatever the unknown-field policy', () => {
    for (const unknownFields of ['drop', 'reject', 'keep'] as const) {
      const spec = { ...SPEC, schema: { ...SPEC.schema, unknownFields } };
      const r = checkRecord(line({}), spec);
      expect(r.ok).toBe(true);
      if (r.ok) expect(lineageOf(r.record)).toMatchObject({ model: 'tickets-classifier', margin: 0.2 });
    }
  });

  it('quarantines a lineage that is not exactly ids (so nothing unscanned can hide in it)', () => {
    const bad = [
      { source: 'upstream', predictionId: served(1).predictionId, model: 'tickets-classifier', modelVersion: VERSION, margin: 0.2 },
      { source: 'feedback', predictionId: EMAIL, model: 'tickets-classifier', modelVersion: VERSION, margin: 0.2 },
      { source: 'feedback', predictionId: served(1).predictionId, model: 'tickets-classifier', modelVersion: CARD, margin: 0.2 },
      {
        source: 'feedback',
        predictionId: served(1).predictionId,
        model: 'tickets-classifier',
        modelVersion: VERSION,
        margin: 0.2,
        note: EMAIL,
      },
      'feedback',
    ];
    for (const lineage of bad) expect(checkRecord(line({ _lineage: lineage }), SPEC)).toEqual({ ok: false, reason: 'wrong_type:_lineage' });
  });

  it("quarantines a lineage that names another model or another record's prediction", () => {
    const good = {
      source: 'feedback',
      predictionId: served(1).predictionId,
      model: 'tickets-classifier',
      modelVersion: VERSION,
      margin: 0.2,
    };
    expect(checkRecord(line({ _lineage: { ...good, model: 'call.me.5551234567' } }), SPEC)).toEqual({
      ok: false,
      reason: 'lineage_mismatch:_lineage.model',
    });
    expect(checkRecord(line({ _lineage: { ...good, predictionId: served(2).predictionId } }), SPEC)).toEqual({
      ok: false,
      reason: 'lineage_mismatch:_lineage.predictionId',
    });
  });

  it('scans a field the spec itself declares as _lineage like any other', () => {
    const declared = {
      ...SPEC,
      schema: { ...SPEC.schema, fields: { ...SPEC.schema.fields, _lineage: { type: 'string' as const, required: false } } },
    };
    expect(piiSkipFields(declared)).not.toContain('_lineage');
    expect(piiSkipFields(SPEC)).toContain('_lineage');
  });
});

describe('the gateway with feedback capture', () => {
  it('queues served inputs on the request path and writes them only at a flush, with the champion margin and lineage', async () => {
    const routing = new FakeRouting();
    routing.state = routingState({ model: 'tickets-classifier', championVersion: VERSION });
    const blobs = new FlakyBlobs();
    const gw = createGateway({
      routing,
      log: new MemoryLog(),
      models: new FakeLoader(),
      defaultModel: 'tickets-classifier',
      flushMs: 10_000,
      feedbackCapture: { blobs, resolve: async () => ({ dataset: 'tickets', spec: SPEC }), instanceId: 'gw9', flushMs: 60_000 },
    });
    open.push(gw);
    await gw.refresh();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: { input: { subject: 'refund', body: `card ${CARD} charged twice`, channel: 'web' } },
      });
      expect(res.statusCode).toBe(200);
      ids.push((res.json() as { predictionId: string }).predictionId);
    }
    expect(blobs.puts).toHaveLength(0);
    await gw.flushCapture();
    expect(blobs.puts).toHaveLength(1);
    const key = blobs.keys()[0]!;
    expect(key).toMatch(/^raw\/tickets\/\d{4}-\d{2}-\d{2}\/feedback-gw9-[0-9a-f]{8}-00000001\.jsonl$/);
    expect(blobs.text(key)).not.toContain('4111');
    const records = lines(blobs, key);
    expect(records.map((r) => r.id)).toEqual(ids);
    // The fake predictor answers [0.25, 0.75]: margin 0.5.
    expect(records.map((r) => lineageOf(r)?.margin)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
    const metrics = await gw.app.inject({ url: '/metrics' });
    expect(metrics.body).toContain('gateway_feedback_capture_records_total{model="tickets-classifier",outcome="written"} 5');
  });

  it('writes what is still queued when the gateway stops', async () => {
    const routing = new FakeRouting();
    routing.state = routingState({ model: 'tickets-classifier', championVersion: VERSION });
    const blobs = new MemoryBlobStore();
    const gw = createGateway({
      routing,
      log: new MemoryLog(),
      models: new FakeLoader(),
      defaultModel: 'tickets-classifier',
      feedbackCapture: { blobs, resolve: async () => ({ dataset: 'tickets', spec: SPEC }), instanceId: 'gw8', flushMs: 60_000 },
    });
    await gw.refresh();
    await gw.app.inject({ method: 'POST', url: '/v1/predict', payload: { input: { subject: 'a', body: 'b', channel: 'web' } } });
    expect(blobs.keys()).toEqual([]);
    await gw.stop();
    expect(blobs.keys()).toHaveLength(1);
  });
});

describe('the dataset a served model version is captured into (gateway wiring)', () => {
  function targets(over: { format?: string; model?: string; failModels?: number } = {}) {
    let modelReads = 0;
    let specReads = 0;
    let failures = over.failModels ?? 0;
    let clock = 0;
    const registry = {
      models: {
        getVersion: async (id: string) => {
          modelReads += 1;
          if (failures > 0) {
            failures -= 1;
            throw new Error('registry down');
          }
          return id === VERSION ? { id, datasetVersion: 'dv-1' } : undefined;
        },
      },
      datasets: { getVersion: async (id: string) => (id === 'dv-1' ? { id, dataset: 'tickets' } : undefined) },
    } as unknown as TrainsetRegistry;
    const state = {
      spec: {
        ...SPEC,
        ...(over.model !== undefined && { model: over.model }),
        ingest: { ...SPEC.ingest, format: (over.format ?? 'auto') as DatasetSpec['ingest']['format'] },
      } as DatasetSpec,
      specFailures: 0,
    };
    const resolve = captureTargets(
      registry,
      {
        load: async () => {
          specReads += 1;
          if (state.specFailures > 0) {
            state.specFailures -= 1;
            throw new Error('spec store down');
          }
          return { spec: state.spec, specHash: 'x' };
        },
      },
      { now: () => clock },
    );
    return { resolve, reads: () => modelReads, specReads: () => specReads, state, advance: (ms: number) => (clock += ms) };
  }

  it('is the dataset of the version the model was trained on, when its spec names the model and reads JSONL', async () => {
    const t = targets();
    expect((await t.resolve('tickets-classifier', VERSION))?.dataset).toBe('tickets');
    expect(await t.resolve('tickets-classifier', 'mv-ffff')).toBeUndefined();
    expect(await t.resolve('other-model', VERSION)).toBeUndefined();
    expect(await targets({ format: 'csv' }).resolve('tickets-classifier', VERSION)).toBeUndefined();
    expect(await targets({ model: 'renamed' }).resolve('tickets-classifier', VERSION)).toBeUndefined();
  });

  it('is cached per version, and a failed lookup is tried again', async () => {
    const t = targets({ failModels: 1 });
    await expect(t.resolve('tickets-classifier', VERSION)).rejects.toThrow('registry down');
    expect((await t.resolve('tickets-classifier', VERSION))?.dataset).toBe('tickets');
    await t.resolve('tickets-classifier', VERSION);
    expect(t.reads()).toBe(2);
  });

  it('reads the spec again after 30 s, so a tightened PII policy applies without a restart', async () => {
    const t = targets();
    expect((await t.resolve('tickets-classifier', VERSION))?.spec.pii.fields.customer_email).not.toBe('drop_record');
    t.state.spec = { ...t.state.spec, pii: { ...t.state.spec.pii, fields: { customer_email: 'drop_record' } } };
    t.advance(10_000);
    expect((await t.resolve('tickets-classifier', VERSION))?.spec.pii.fields.customer_email).not.toBe('drop_record');
    t.advance(20_000);
    expect((await t.resolve('tickets-classifier', VERSION))?.spec.pii.fields.customer_email).toBe('drop_record');
    // The model version → dataset lookup is read once.
    expect(t.reads()).toBe(1);
    expect(t.specReads()).toBe(2);
  });

  it('rejects when the spec cannot be read (the capture retries) and does not remember the failure', async () => {
    const t = targets();
    t.state.specFailures = 1;
    await expect(t.resolve('tickets-classifier', VERSION)).rejects.toThrow('spec store down');
    expect((await t.resolve('tickets-classifier', VERSION))?.dataset).toBe('tickets');
  });

  it('keeps the inputs of a failed spec read and writes them on the next flush', async () => {
    const t = targets();
    t.state.specFailures = 1;
    const blobs = new MemoryBlobStore();
    const { c, counted } = capture(blobs, { resolve: t.resolve });
    c.add(served(1), undefined, 'anonymous');
    await expect(c.flush()).rejects.toThrow('spec store down');
    await c.flush();
    expect(await counted('no_dataset')).toBe(0);
    expect(await counted('written')).toBe(1);
  });
});
