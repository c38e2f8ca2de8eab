/** scanPii in MockActivityEnvironment: redaction, deletion of the raw work file, and the 'fail' policy. */
import { ApplicationFailure } from '@temporalio/activity';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPiiActivities } from '../../src/activities/pii';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { ErrorType } from '../../src/shared/errors';
import type { PiiResult } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, cpuDeps, specsWith, WorkerActivityEnvironment } from './activity-fixtures';

const partition = '2024-03-01';
const stagedKey = `work/tickets/${partition}/ingested-test.jsonl`;
const PII = { email: 'jane.doe@example.com', phone: '(415) 555-0132', card: '4111 1111 1111 1111', contact: 'j.smith@example.net' };

const records = [
  {
    id: 'T-1',
    created_at: '2024-03-01T10:00:00.000Z',
    channel: 'email',
    subject: 'Refund please',
    body: `Reach me at ${PII.email} or ${PII.phone}; my card ${PII.card} was charged twice.`,
    customer_email: PII.contact,
    queue: 'billing',
  },
  {
    id: 'T-2',
    created_at: '2024-03-01T11:00:00.000Z',
    channel: 'chat',
    subject: 'App crashes',
    body: 'The app crashes on start.',
    queue: 'technical',
  },
];

let specHash: string;
beforeAll(async () => {
  specHash = (await createDirSpecSource(SPECS_DIR).load('tickets')).specHash;
});

/** A registry fake that accepts the findings counts and keeps nothing. */
const noopRegistry = { piiFindings: { replaceForPartition: async () => undefined } };

async function stagedStore(): Promise<MemoryBlobStore> {
  const blobs = new MemoryBlobStore();
  await blobs.put(stagedKey, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return blobs;
}

describe('scanPii', () => {
  it('redacts every finding, counts them by type and field (also in the registry), and deletes the ingested file', async () => {
    const blobs = await stagedStore();
    const recorded: unknown[] = [];
    const registry = { piiFindings: { replaceForPartition: async (...args: unknown[]) => void recorded.push(args) } };
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { registry }));
    const r: PiiResult = await new WorkerActivityEnvironment().run(scanPii, { dataset: 'tickets', partition, specHash, stagedKey });
    expect(recorded).toEqual([
      [
        'tickets',
        partition,
        expect.arrayContaining([
          { field: 'body', entity: 'EMAIL_ADDRESS', count: 1 },
          { field: 'body', entity: 'PHONE_NUMBER', count: 1 },
          { field: 'body', entity: 'CREDIT_CARD', count: 1 },
          { field: 'customer_email', entity: 'EMAIL_ADDRESS', count: 1 },
        ]),
      ],
    ]);

    expect(r.records).toBe(2);
    expect(r.droppedRecords).toBe(0);
    expect(r.findings).toEqual({ EMAIL_ADDRESS: 2, PHONE_NUMBER: 1, CREDIT_CARD: 1 });
    expect(r.findingsByField).toEqual({
      'body:EMAIL_ADDRESS': 1,
      'body:PHONE_NUMBER': 1,
      'body:CREDIT_CARD': 1,
      'customer_email:EMAIL_ADDRESS': 1,
    });

    const clean = blobs.jsonl(r.cleanKey);
    const resultJson = JSON.stringify(r);
    for (const value of Object.values(PII)) {
      expect(clean).not.toContain(value);
      expect(resultJson).not.toContain(value);
    }
    const first = JSON.parse(clean.split('\n')[0]!) as Record<string, string>;
    expect(first.body).toBe('Reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>; my card <CREDIT_CARD> was charged twice.');
    expect(first.customer_email).toBe('<EMAIL_ADDRESS>');
    expect(first.id).toBe('T-1'); // id, time and label fields are not scanned
    // The raw-PII work file is gone; nothing left in the store holds a PII value.
    expect(await blobs.head(stagedKey)).toBeUndefined();
    for (const key of blobs.keys()) for (const value of Object.values(PII)) expect(blobs.text(key)).not.toContain(value);
  });

  it('returns the stored result on a retry after the ingested file is already deleted', async () => {
    const blobs = await stagedStore();
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { registry: noopRegistry }));
    const input = { dataset: 'tickets', partition, specHash, stagedKey };
    const first = await new WorkerActivityEnvironment().run(scanPii, input);
    const again = await new WorkerActivityEnvironment({ attempt: 2 }).run(scanPii, input);
    expect(again).toEqual(first);
  });

  it('deletes the raw-PII file on a retry after its delete failed, and returns the same result', async () => {
    const clean = await stagedStore();
    const input = { dataset: 'tickets', partition, specHash, stagedKey };
    const expected = await new WorkerActivityEnvironment().run(
      createPiiActivities(cpuDeps(clean, { registry: noopRegistry })).scanPii,
      input,
    );

    const blobs = await stagedStore();
    let failures = 0;
    const failingDelete = blobs.delete.bind(blobs);
    blobs.delete = async (key: string) => {
      if (key === stagedKey && failures++ === 0) throw new Error('store unavailable');
      return failingDelete(key);
    };
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { registry: noopRegistry }));
    await expect(new WorkerActivityEnvironment().run(scanPii, input)).rejects.toThrow('store unavailable');
    expect(await blobs.head(stagedKey)).toBeDefined();
    const retried = await new WorkerActivityEnvironment({ attempt: 2 }).run(scanPii, input);
    expect(await blobs.head(stagedKey)).toBeUndefined();
    expect(retried).toEqual(expected);
    expect(blobs.keys()).toEqual(clean.keys());
    for (const key of blobs.keys()) for (const value of Object.values(PII)) expect(blobs.text(key)).not.toContain(value);
  });

  it('quarantines a production record whose lineage names a model version the registry never made', async () => {
    const blobs = new MemoryBlobStore();
    const lineage = (id: string, modelVersion: string) => ({
      id,
      created_at: '2024-03-01T12:00:00.000Z',
      channel: 'chat',
      subject: 'Where is my parcel',
      body: 'Not here yet.',
      _lineage: { source: 'feedback', predictionId: id, model: 'tickets-classifier', modelVersion, margin: 0.1 },
    });
    const known = lineage('00000000-0000-4000-8000-000000000001', 'mv-00aa');
    // A version id made of a card number's digits: the scan skips the lineage, so only registry ids may pass.
    const forged = lineage('00000000-0000-4000-8000-000000000002', 'mv-4111111111111111');
    await blobs.put(stagedKey, [records[1], known, forged].map((r) => `${JSON.stringify(r)}\n`).join(''));
    const asked: string[] = [];
    const registry = {
      ...noopRegistry,
      models: { listVersions: async (model: string) => (asked.push(model), [{ id: 'mv-00aa' }]) },
    };
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { registry }));
    const r: PiiResult = await new WorkerActivityEnvironment().run(scanPii, { dataset: 'tickets', partition, specHash, stagedKey });
    expect(r).toMatchObject({ records: 2, quarantined: 1, quarantineByReason: { 'unknown_model_version:_lineage': 1 } });
    expect(blobs.jsonl(r.cleanKey)).toContain('mv-00aa');
    expect(blobs.jsonl(r.cleanKey)).not.toContain('4111111111111111');
    // Read once, for the spec's model.
    expect(asked).toEqual(['tickets-classifier']);
  });

  it("drops records under a field's drop_record policy and counts them", async () => {
    const blobs = await stagedStore();
    const specs = await specsWith((s) => ({ ...s, pii: { ...s.pii, fields: { body: 'drop_record' } } }));
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { specs, registry: noopRegistry }));
    const r: PiiResult = await new WorkerActivityEnvironment().run(scanPii, { dataset: 'tickets', partition, specHash, stagedKey });
    expect(r).toMatchObject({ records: 1, droppedRecords: 1 });
    expect(blobs.jsonl(r.cleanKey)).toContain('"T-2"');
    expect(blobs.jsonl(r.cleanKey)).not.toContain('"T-1"');
  });

  it("fails non-retryably with PiiPolicyViolation under the 'fail' policy, naming type and field but no value", async () => {
    const blobs = await stagedStore();
    const specs = await specsWith((s) => ({ ...s, pii: { ...s.pii, defaultAction: 'fail' } }));
    const { scanPii } = createPiiActivities(cpuDeps(blobs, { specs, registry: noopRegistry }));
    const err = (await new WorkerActivityEnvironment()
      .run(scanPii, { dataset: 'tickets', partition, specHash, stagedKey })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.PiiPolicyViolation);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/PII policy "fail" triggered in tickets\/2024-03-01: \w+ in field \w+/);
    for (const value of Object.values(PII)) expect(err.message).not.toContain(value);
    expect(blobs.keys()).toEqual([stagedKey]); // no clean file, no summary
  });
});
