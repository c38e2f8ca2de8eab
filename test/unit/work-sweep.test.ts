/** sweepWorkFiles and `trainset work sweep`: old work areas go, recent and in-use ones stay, nothing outside work/ is touched. */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sweepWorkFiles, touchWorkArea, workKey, workStampKey } from '../../src/datasets/work-files';
import { buildProgram } from '../../src/cli/program';
import { parseRetention } from '../../src/cli/work-command';
import { shiftDate } from '../../src/shared/ids';
import { createBlobStore, type BlobStore } from '../../src/storage';
import { loadConfig } from '../../src/workers/config';
import { MemoryBlobStore } from '../helpers/memory-blob-store';

const NOW = new Date('2026-03-20T12:00:00.000Z');
const WEEK = parseRetention('7d');
const OLD = '2026-03-01';
const RECENT = '2026-03-18';

/** Work files of a partition as the stages leave them, plus the same day's keys outside work/. */
async function seedPartition(blobs: BlobStore, dataset: string, day: string): Promise<{ work: string[]; other: string[] }> {
  const work = [
    workKey(dataset, day, 'ingested', 'a1'),
    `${workKey(dataset, day, 'ingested', 'a1')}.summary.json`,
    workKey(dataset, day, 'clean', 'b2').replace(/\.jsonl$/, '.part-00000.jsonl'),
    workKey(dataset, day, 'clean', 'b2').replace(/\.jsonl$/, '.parts.json'),
    `${workKey(dataset, day, 'clean', 'b2')}.summary.json`,
  ];
  const other = [
    `raw/${dataset}/${day}/part-0000.jsonl`,
    `quarantine/${dataset}/${day}/q.part-00000.jsonl`,
    `datasets/${dataset}/manifests/dv-${day}.json`,
    `datasets/${dataset}/chunks/${day}.parquet`,
    `models/${dataset}-classifier/${day}/model.onnx`,
  ];
  for (const key of [...work, ...other]) await blobs.put(key, '{}\n');
  return { work, other };
}

describe('sweepWorkFiles', () => {
  it('removes work areas older than the retention, keeps recent ones, and never touches raw/, datasets/ or models/', async () => {
    const blobs = new MemoryBlobStore();
    const old = await seedPartition(blobs, 'tickets', OLD);
    const recent = await seedPartition(blobs, 'tickets', RECENT);
    const sweep = await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW });
    expect(sweep.removed).toEqual([{ dataset: 'tickets', partition: OLD, lastActive: '2026-03-02T00:00:00.000Z', objects: 5, bytes: 15 }]);
    expect(sweep.kept.map((a) => a.partition)).toEqual([RECENT]);
    for (const key of old.work) expect(await blobs.head(key), key).toBeUndefined();
    for (const key of [...old.other, ...recent.work, ...recent.other]) expect(await blobs.head(key), key).toBeDefined();
    // A second sweep finds nothing more to do.
    expect((await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW })).removed).toEqual([]);
  });

  it('keeps an old day whose run started recently (a backfill), by its stamp; removes the stamp with the area later', async () => {
    const blobs = new MemoryBlobStore();
    const old = await seedPartition(blobs, 'tickets', OLD);
    await touchWorkArea(blobs, 'tickets', OLD, new Date('2026-03-19T08:00:00.000Z'));
    const sweep = await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW });
    expect(sweep.removed).toEqual([]);
    expect(sweep.kept).toMatchObject([{ partition: OLD, lastActive: '2026-03-19T08:00:00.000Z', objects: 6 }]);

    const later = await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: new Date('2026-03-27T08:00:01.000Z') });
    expect(later.removed.map((a) => a.partition)).toEqual([OLD]);
    expect(blobs.keys().filter((k) => k.startsWith('work/'))).toEqual([]);
    for (const key of old.other) expect(await blobs.head(key), key).toBeDefined();
  });

  it('removes nothing in a dry run, and only the named dataset otherwise', async () => {
    const blobs = new MemoryBlobStore();
    await seedPartition(blobs, 'tickets', OLD);
    await seedPartition(blobs, 'reviews', OLD);
    const before = blobs.keys();
    const dry = await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW, dryRun: true });
    expect(dry.removed.map((a) => `${a.dataset}/${a.partition}`)).toEqual([`reviews/${OLD}`, `tickets/${OLD}`]);
    expect(blobs.keys()).toEqual(before);

    const one = await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW, dataset: 'reviews' });
    expect(one.removed.map((a) => a.dataset)).toEqual(['reviews']);
    expect(blobs.keys().filter((k) => k.startsWith('work/reviews/'))).toEqual([]);
    expect(blobs.keys().filter((k) => k.startsWith('work/tickets/'))).toHaveLength(5);
  });

  it('keeps a work area it cannot age (a partition that is not a date, without a stamp)', async () => {
    const blobs = new MemoryBlobStore();
    await blobs.put('work/tickets/adhoc/clean-x.jsonl', '{}\n');
    const sweep = await sweepWorkFiles(blobs, { olderThanMs: 0, now: NOW });
    expect(sweep.removed).toEqual([]);
    expect(sweep.kept).toEqual([{ dataset: 'tickets', partition: 'adhoc', objects: 1, bytes: 3 }]);
    expect(await blobs.head('work/tickets/adhoc/clean-x.jsonl')).toBeDefined();
  });

  it('leaves the stamp of a run that started while the area was being removed', async () => {
    const blobs = new MemoryBlobStore();
    await seedPartition(blobs, 'tickets', OLD);
    const stampKey = workStampKey('tickets', OLD);
    await touchWorkArea(blobs, 'tickets', OLD, new Date('2026-03-02T00:00:00.000Z'));
    const remove = blobs.delete.bind(blobs);
    let restamped = false;
    blobs.delete = async (key: string) => {
      if (!restamped && key !== stampKey) {
        restamped = true;
        await touchWorkArea(blobs, 'tickets', OLD, NOW);
      }
      return remove(key);
    };
    await sweepWorkFiles(blobs, { olderThanMs: WEEK, now: NOW });
    expect(JSON.parse(blobs.text(stampKey))).toEqual({ at: NOW.toISOString() });
  });
});

describe('trainset work sweep', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('parses retentions in days, hours and minutes and refuses anything else', () => {
    expect(parseRetention('7d')).toBe(7 * 86_400_000);
    expect(parseRetention('36h')).toBe(36 * 3_600_000);
    expect(parseRetention('90m')).toBe(90 * 60_000);
    for (const bad of ['7', '7w', '-1d', '1.5d', 'd']) expect(() => parseRetention(bad)).toThrow(/7d, 36h or 90m/);
  });

  it('dry-runs, then removes old work files from the configured S3 store, leaving raw/, datasets/ and models/', async () => {
    // Production settings over the test S3 server (services.env); the sweep reaches neither Temporal nor the gateway.
    vi.stubEnv('S3_PREFIX', `work-sweep-${randomUUID()}`);
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    vi.stubEnv('GATEWAY_URL', 'http://127.0.0.1:1');
    const config = loadConfig(process.env);
    expect(config.blob.kind).toBe('s3');
    const blobs = createBlobStore(config.blob.kind === 'fs' ? { kind: 'fs', dir: config.blob.dir } : { ...config.blob });
    const today = new Date().toISOString().slice(0, 10);
    const old = await seedPartition(blobs, 'tickets', shiftDate(today, 30));
    const recent = await seedPartition(blobs, 'tickets', shiftDate(today, 1));
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));

    await buildProgram().exitOverride().parseAsync(['work', 'sweep', 'tickets', '--older-than', '7d', '--dry-run'], { from: 'user' });
    expect(printed.at(-1)).toBe('would remove 1 work area(s), 5 objects, 0.00 MiB; kept 1');
    for (const key of old.work) expect(await blobs.head(key), key).toBeDefined();

    await buildProgram().exitOverride().parseAsync(['work', 'sweep', '--older-than', '7d'], { from: 'user' });
    expect(printed.at(-1)).toBe('removed 1 work area(s), 5 objects, 0.00 MiB; kept 1');
    for (const key of old.work) expect(await blobs.head(key), key).toBeUndefined();
    for (const key of [...old.other, ...recent.work, ...recent.other]) expect(await blobs.head(key), key).toBeDefined();
    for (const o of await blobs.list('')) await blobs.delete(o.key);
  });
});
