/** dedupeRecords against the real PostgreSQL registry: within a partition and across earlier partitions. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDedupeActivities } from '../../src/activities/dedupe';
import { createRegistry, migrate } from '../../src/registry';
import type { DedupeResult } from '../../src/shared/types';
import { freshDatabase } from '../helpers/e2e-stack';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await freshDatabase('dedupe');
  await migrate(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const ticket = (id: string, body: string): Record<string, unknown> => ({
  id,
  created_at: '2024-03-01T10:00:00.000Z',
  channel: 'email',
  subject: 'refund',
  body,
});

async function dedupe(blobs: MemoryBlobStore, partition: string, records: Array<Record<string, unknown>>): Promise<DedupeResult> {
  const cleanKey = `work/tickets/${partition}/clean-test.jsonl`;
  await blobs.put(cleanKey, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const { dedupeRecords } = createDedupeActivities(cpuDeps(blobs, { registry: createRegistry(pool) }));
  return new WorkerActivityEnvironment().run(dedupeRecords, { dataset: 'tickets', partition, specHash: 'x', cleanKey });
}

describe('dedupeRecords', () => {
  it('drops copies within the partition and copies of records an earlier partition kept, never the originals', async () => {
    const blobs = new MemoryBlobStore();
    const a = await dedupe(blobs, '2024-03-02', [
      ticket('A1', 'my order never came'),
      ticket('A2', 'my   ORDER never came '),
      ticket('A3', 'wrong size'),
    ]);
    expect(a).toMatchObject({ records: 2, duplicates: 1, crossPartitionDuplicates: 0 });

    // A later day re-sends A1's content under a new id: a cross-partition duplicate.
    const b = await dedupe(blobs, '2024-03-03', [ticket('B1', 'My order never came'), ticket('B2', 'new question')]);
    expect(b).toMatchObject({ records: 1, duplicates: 1, crossPartitionDuplicates: 1 });
    const kept = blobs
      .jsonl(b.dedupedKey)
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { record: { id: string } }).record.id);
    expect(kept).toEqual(['B2']);

    // A backfill of an EARLIER day holding the same content keeps it: it came first in time.
    const early = await dedupe(blobs, '2024-03-01', [ticket('E1', 'my order never came')]);
    expect(early).toMatchObject({ records: 1, crossPartitionDuplicates: 0 });

    // Recomputing a partition (its own rows are in the registry now) gives the same answer.
    await blobs.delete(`${b.dedupedKey}.summary.json`);
    const again = await dedupe(blobs, '2024-03-03', [ticket('B1', 'My order never came'), ticket('B2', 'new question')]);
    expect(again).toMatchObject({ records: 1, duplicates: 1, crossPartitionDuplicates: 1 });
  });
});
