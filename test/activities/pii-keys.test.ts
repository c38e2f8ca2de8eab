/**
 * PII in record keys, ingest then scanPii, under each unknown-field policy: no planted key reaches a result, a
 * findings row, a quarantine reason, an error message or any stored blob outside raw/.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { createIngestActivities } from '../../src/activities/ingest';
import { createPiiActivities } from '../../src/activities/pii';
import type { SpecSource } from '../../src/datasets/spec-source';
import { ErrorType } from '../../src/shared/errors';
import type { DatasetSpec } from '../../src/shared/spec';
import type { IngestResult, PiiResult } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, specsWith, WorkerActivityEnvironment } from './activity-fixtures';

const partition = '2024-03-01';
const rawKey = `raw/tickets/${partition}/part-0000.jsonl`;
/** Keys planted in records: an address, a phone number, a safe-looking name, and an address inside a free-form object. */
const KEYS = { email: 'jane.doe@example.com', phone: '+1 (415) 555-0132', name: 'jane_doe', nested: 'j.smith@example.net' };
/** The planted keys that are PII by the detectors: they must not survive anywhere, clean output included. */
const PII_KEYS = [KEYS.email, KEYS.phone, KEYS.nested];

type Policy = DatasetSpec['schema']['unknownFields'];

/** The tickets spec with the given unknown-field policy and a free-form `meta` object (its keys are the record's). */
function specsFor(unknownFields: Policy, pii: Partial<DatasetSpec['pii']> = {}): Promise<SpecSource> {
  return specsWith((s) => ({
    ...s,
    schema: { ...s.schema, unknownFields, fields: { ...s.schema.fields, meta: { type: 'object', required: false } } },
    pii: { ...s.pii, ...pii },
  }));
}

function ticket(i: number, extra: Record<string, unknown> = {}): string {
  const base = {
    id: `T-${i}`,
    created_at: `${partition}T10:00:00.000Z`,
    channel: 'email',
    subject: 'Refund please',
    body: 'I was charged twice.',
    queue: 'billing',
  };
  return JSON.stringify({ ...base, ...extra });
}

/** `withKeys` records carry every planted key (top level and in `meta`); the others only the nested one. */
async function rawStore(count: number, withKeys: number): Promise<MemoryBlobStore> {
  const lines = Array.from({ length: count }, (_, i) =>
    i < withKeys
      ? ticket(i, { [KEYS.email]: 'subscribed', [KEYS.phone]: 'call back', [KEYS.name]: 'vip', meta: { [KEYS.nested]: 'cc' } })
      : ticket(i, { meta: { [KEYS.nested]: 'cc' } }),
  );
  const blobs = new MemoryBlobStore();
  await blobs.put(rawKey, `${lines.join('\n')}\n`);
  return blobs;
}

/** ingestPartition then scanPii, as the pipeline runs them; the findings rows the registry was given. */
async function runStages(blobs: MemoryBlobStore, specs: SpecSource) {
  const rows: unknown[] = [];
  const registry = { piiFindings: { replaceForPartition: async (...args: unknown[]) => void rows.push(args) } };
  const deps = cpuDeps(blobs, { specs, registry });
  const { specHash } = await specs.load('tickets');
  const input = { dataset: 'tickets', partition, specHash };
  const ingested: IngestResult = await new WorkerActivityEnvironment().run(createIngestActivities(deps).ingestPartition, input);
  const { scanPii } = createPiiActivities(deps);
  const scanInput = { ...input, stagedKey: ingested.stagedKey };
  const scanned: PiiResult = await new WorkerActivityEnvironment().run(scanPii, scanInput);
  const again: PiiResult = await new WorkerActivityEnvironment({ attempt: 2 }).run(scanPii, scanInput);
  return { ingested, scanned, again, rows };
}

/** Nothing the pipeline stored outside raw/ (clean output, summaries, quarantine reasons) holds a planted key. */
function expectNoPlantedKeyStored(blobs: MemoryBlobStore, planted: readonly string[]): void {
  const stored = blobs.keys().filter((k) => !k.startsWith('raw/'));
  expect(stored.length).toBeGreaterThan(0);
  for (const key of stored) for (const value of planted) expect(blobs.text(key), key).not.toContain(value);
}

function cleanRecords(blobs: MemoryBlobStore, r: PiiResult): Array<Record<string, unknown>> {
  return blobs
    .jsonl(r.cleanKey)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('PII in record keys', () => {
  it("keep: rewrites keys holding PII in the clean output and counts them under '<unknown>', naming no key", async () => {
    const blobs = await rawStore(4, 2);
    const { ingested, scanned, again, rows } = await runStages(blobs, await specsFor('keep'));
    expect(scanned.findingsByField).toEqual({
      '<unknown>:EMAIL_ADDRESS': 2,
      '<unknown>:PHONE_NUMBER': 2,
      'meta.<unknown>:EMAIL_ADDRESS': 4,
    });
    expect(rows).toEqual([
      [
        'tickets',
        partition,
        expect.arrayContaining([
          { field: '<unknown>', entity: 'EMAIL_ADDRESS', count: 2 },
          { field: '<unknown>', entity: 'PHONE_NUMBER', count: 2 },
          { field: 'meta.<unknown>', entity: 'EMAIL_ADDRESS', count: 4 },
        ]),
      ],
    ]);
    const statusFacing = JSON.stringify([ingested, scanned, again, rows]);
    for (const planted of Object.values(KEYS)) expect(statusFacing).not.toContain(planted);
    expect(again).toEqual(scanned);

    // The values under rewritten keys are kept; a key the detectors do not see as PII stays as it was.
    const [first] = cleanRecords(blobs, scanned);
    expect(first).toMatchObject({ '<EMAIL_ADDRESS>': 'subscribed', '<PHONE_NUMBER>': 'call back', [KEYS.name]: 'vip' });
    expect(first?.meta).toEqual({ '<EMAIL_ADDRESS>': 'cc' });
    expect(await blobs.head(ingested.stagedKey)).toBeUndefined();
    expectNoPlantedKeyStored(blobs, PII_KEYS);
  });

  it('drop: unknown keys go at ingest; keys of a free-form declared object are rewritten and counted as <unknown>', async () => {
    const blobs = await rawStore(4, 2);
    const { ingested, scanned, again, rows } = await runStages(blobs, await specsFor('drop'));
    expect(scanned.findingsByField).toEqual({ 'meta.<unknown>:EMAIL_ADDRESS': 4 });
    const statusFacing = JSON.stringify([ingested, scanned, again, rows]);
    for (const planted of Object.values(KEYS)) expect(statusFacing).not.toContain(planted);
    const clean = cleanRecords(blobs, scanned);
    expect(clean).toHaveLength(4);
    for (const r of clean) {
      expect(Object.keys(r)).not.toContain(KEYS.name);
      expect(r.meta).toEqual({ '<EMAIL_ADDRESS>': 'cc' });
    }
    expectNoPlantedKeyStored(blobs, Object.values(KEYS));
  });

  it("reject: quarantines with the content-free reason 'unknown_field:<unknown>', counted, never naming the key", async () => {
    const blobs = await rawStore(10, 1);
    const { ingested, scanned, again, rows } = await runStages(blobs, await specsFor('reject'));
    expect(ingested.byReason).toEqual({ 'unknown_field:<unknown>': 1 });
    const reasons = blobs
      .jsonl(ingested.quarantineKey!)
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { reason: string }).reason);
    expect(reasons).toEqual(['unknown_field:<unknown>']);
    const statusFacing = JSON.stringify([ingested, scanned, again, rows]);
    for (const planted of Object.values(KEYS)) expect(statusFacing).not.toContain(planted);
    // The quarantine keeps the original bytes (base64, a restricted area like raw/); nothing else names a key.
    expectNoPlantedKeyStored(blobs, Object.values(KEYS));
  });

  it('reject: QuarantineRateExceeded names the reason and its count, never a key', async () => {
    const blobs = await rawStore(10, 6);
    const specs = await specsFor('reject');
    const { specHash } = await specs.load('tickets');
    const { ingestPartition } = createIngestActivities(cpuDeps(blobs, { specs }));
    const err = (await new WorkerActivityEnvironment()
      .run(ingestPartition, { dataset: 'tickets', partition, specHash })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.QuarantineRateExceeded);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('top reasons: unknown_field:<unknown> (6)');
    for (const planted of Object.values(KEYS)) expect(err.message).not.toContain(planted);
  });

  it("keep under a 'fail' policy: PiiPolicyViolation names the declared path and '<unknown>', not the key", async () => {
    const blobs = await rawStore(2, 1);
    const specs = await specsFor('keep', { defaultAction: 'fail' });
    const { specHash } = await specs.load('tickets');
    const deps = cpuDeps(blobs, { specs, registry: { piiFindings: { replaceForPartition: async () => undefined } } });
    const ingested: IngestResult = await new WorkerActivityEnvironment().run(createIngestActivities(deps).ingestPartition, {
      dataset: 'tickets',
      partition,
      specHash,
    });
    const err = (await new WorkerActivityEnvironment()
      .run(createPiiActivities(deps).scanPii, { dataset: 'tickets', partition, specHash, stagedKey: ingested.stagedKey })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.PiiPolicyViolation);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/: EMAIL_ADDRESS in field meta\.<unknown>$/);
    for (const planted of Object.values(KEYS)) expect(err.message).not.toContain(planted);
  });
});
