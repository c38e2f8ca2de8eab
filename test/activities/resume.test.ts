/**
 * The partition stages resume from their last heartbeat: an attempt that dies after committing some output
 * parts leaves a checkpoint in its heartbeat; the retry skips what those parts cover, rewrites nothing before
 * them, and ends with exactly the output and counts of an uninterrupted run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createDedupeActivities } from '../../src/activities/dedupe';
import { createIngestActivities } from '../../src/activities/ingest';
import { createPiiActivities } from '../../src/activities/pii';
import { generateTicketLines } from '../../src/samples/tickets/generate';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import type { Registry } from '../../src/registry';
import type { DedupeResult, IngestResult, PiiResult } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const partition = '2024-03-01';
const PART = 100;
let specHash: string;

beforeAll(async () => {
  specHash = (await createDirSpecSource(SPECS_DIR).load('tickets')).specHash;
});

/** A memory store whose n-th write of a key matching `pattern` throws (a worker dying mid-stage), and that counts writes. */
class FlakyStore extends MemoryBlobStore {
  readonly writes: string[] = [];
  private matched = 0;
  private failAt: { pattern: RegExp; nth: number } | undefined;

  /** Fail the n-th write of a key matching pattern from now on (undefined: never). */
  failOn(at: { pattern: RegExp; nth: number } | undefined): void {
    this.failAt = at;
    this.matched = 0;
  }

  override async putStream(key: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    this.writes.push(key);
    if (this.failAt?.pattern.test(key) && ++this.matched === this.failAt.nth) {
      for await (const _ of chunks) break; // the sink sees the failure as it writes
      throw new Error(`injected failure writing ${key}`);
    }
    await super.putStream(key, chunks);
  }
}

/** The record-hash registry the dedupe stage asks, in memory: rows per partition. */
function memoryRegistry(): Registry {
  const rows = new Map<string, string>();
  return {
    recordHashes: {
      async seenBefore(_dataset: string, p: string, hashes: string[]) {
        return new Set(hashes.filter((h) => rows.has(h) && (rows.get(h) as string) < p));
      },
      async record(_dataset: string, p: string, hashes: string[]) {
        for (const h of hashes) if (!rows.has(h)) rows.set(h, p);
      },
    },
    piiFindings: { async replaceForPartition() {} },
  } as unknown as Registry;
}

/** Raw input: 1,000 generated lines, 5 % bad, a few duplicates. */
function rawStore<S extends MemoryBlobStore>(store: S): S {
  const lines = generateTicketLines({ date: partition, count: 1000, seed: 5, badLineFraction: 0.05 });
  void store.put(`raw/tickets/${partition}/part-0000.jsonl`, `${lines.map((l) => l.line).join('\n')}\n`);
  return store;
}

/** Run `fn` to completion, failing once at the given write; return the result, the heartbeats and the writes of the retry. */
async function runInterrupted<T>(
  store: FlakyStore,
  pattern: RegExp,
  nth: number,
  fn: (env: WorkerActivityEnvironment) => Promise<T>,
): Promise<{ result: T; retryWrites: string[]; checkpoint: unknown }> {
  store.failOn({ pattern, nth });
  const first = new WorkerActivityEnvironment();
  let last: unknown;
  first.on('heartbeat', (d: unknown) => (last = d));
  await expect(fn(first)).rejects.toThrow(/injected failure/);
  store.failOn(undefined);
  const checkpoint = (last as { checkpoint?: unknown } | undefined)?.checkpoint;
  const before = store.writes.length;
  const result = await fn(new WorkerActivityEnvironment({ attempt: 2, heartbeatDetails: last }));
  return { result, retryWrites: store.writes.slice(before), checkpoint };
}

describe('partition stages resume from their last heartbeat', () => {
  it('ingest, PII and dedupe each carry on after their committed parts and match an uninterrupted run', async () => {
    // The uninterrupted reference run.
    const clean = rawStore(new FlakyStore());
    const deps = (blobs: MemoryBlobStore) => cpuDeps(blobs, { registry: memoryRegistry() });
    const ref = { dataset: 'tickets', partition, specHash };
    const cleanIngest: IngestResult = await new WorkerActivityEnvironment().run(
      createIngestActivities({ ...deps(clean), partRecords: PART }).ingestPartition,
      ref,
    );
    const stagedText = clean.jsonl(cleanIngest.stagedKey);
    const cleanPii: PiiResult = await new WorkerActivityEnvironment().run(
      createPiiActivities({ ...deps(clean), partRecords: PART }).scanPii,
      {
        ...ref,
        stagedKey: cleanIngest.stagedKey,
      },
    );
    const cleanDedupe: DedupeResult = await new WorkerActivityEnvironment().run(
      createDedupeActivities({ ...deps(clean), partRecords: PART }).dedupeRecords,
      { ...ref, cleanKey: cleanPii.cleanKey },
    );
    expect(cleanIngest.accepted).toBeGreaterThan(5 * PART);

    const store = rawStore(new FlakyStore());
    const d = { ...deps(store), partRecords: PART };

    // Ingest dies writing its 4th accepted part: parts 0–2 are committed and named in the checkpoint.
    const ingest = await runInterrupted<IngestResult>(store, /ingested-.*\.part-/, 4, (env) =>
      env.run(createIngestActivities(d).ingestPartition, ref),
    );
    expect(ingest.checkpoint).toMatchObject({ acceptedParts: [expect.any(Number), expect.any(Number), expect.any(Number)] });
    expect(ingest.retryWrites.filter((k) => /ingested-.*\.part-0000[0-2]/.test(k))).toEqual([]);
    expect(ingest.result).toEqual(cleanIngest);
    expect(store.jsonl(ingest.result.stagedKey)).toBe(stagedText);
    expect(store.jsonl(ingest.result.quarantineKey!)).toBe(clean.jsonl(cleanIngest.quarantineKey!));

    const pii = await runInterrupted<PiiResult>(store, /clean-.*\.part-/, 3, (env) =>
      env.run(createPiiActivities(d).scanPii, { ...ref, stagedKey: ingest.result.stagedKey }),
    );
    expect(pii.checkpoint).toMatchObject({ outParts: [expect.any(Number), expect.any(Number)] });
    expect(pii.retryWrites.filter((k) => /clean-.*\.part-0000[01]/.test(k))).toEqual([]);
    expect(pii.result).toEqual(cleanPii);
    expect(store.jsonl(pii.result.cleanKey)).toBe(clean.jsonl(cleanPii.cleanKey));

    const dedupe = await runInterrupted<DedupeResult>(store, /deduped-.*\.part-/, 3, (env) =>
      env.run(createDedupeActivities(d).dedupeRecords, { ...ref, cleanKey: pii.result.cleanKey }),
    );
    expect(dedupe.checkpoint).toMatchObject({ outParts: [PART, PART] });
    expect(dedupe.retryWrites.filter((k) => /deduped-.*\.part-0000[01]/.test(k))).toEqual([]);
    expect(dedupe.result).toEqual(cleanDedupe);
    expect(store.jsonl(dedupe.result.dedupedKey)).toBe(clean.jsonl(cleanDedupe.dedupedKey));
  });

  it('a heartbeat checkpoint of another output is ignored (the stage starts over)', async () => {
    const store = rawStore(new FlakyStore());
    const env = new WorkerActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { checkpoint: { key: 'work/tickets/other.jsonl', file: 0, itemsInFile: 999 } },
    });
    const r: IngestResult = await env.run(createIngestActivities({ ...cpuDeps(store), partRecords: PART }).ingestPartition, {
      dataset: 'tickets',
      partition,
      specHash,
    });
    expect(r.recordsIn).toBe(1000);
  });
});
