/**
 * Dedupe stage: drop exact duplicates (normalized record hash) within the partition and against every
 * earlier partition of the dataset, asked of the registry in batches (memory does not grow with history).
 */
import { Context } from '@temporalio/activity';
import { Deduper } from '../data/dedupe';
import type { DedupeResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import { type JsonlSink, keyHash, readJsonIfExists, readJsonl, withJsonlSink, workKey, type HashedRecord } from './work-files';

const BATCH = 1000;

/** Dedupe activities. */
export function createDedupeActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /** Write the partition's distinct, never-seen-before records as {hash, record} lines. */
    async dedupeRecords(input: PartitionInput & { cleanKey: string }): Promise<DedupeResult> {
      const { spec } = await specs.load(input.dataset);
      const dedupedKey = workKey(input.dataset, input.partition, 'deduped', keyHash(input.cleanKey));
      const summaryKey = `${dedupedKey}.summary.json`;
      const done = await readJsonIfExists<DedupeResult>(blobs, summaryKey);
      if (done) return done;

      const deduper = new Deduper(spec);
      let duplicates = 0;
      let crossPartition = 0;
      let seen = 0;
      let batch: HashedRecord[] = [];
      const flush = async (out: JsonlSink): Promise<void> => {
        const earlier = await registry.recordHashes.seenBefore(
          input.dataset,
          input.partition,
          batch.map((b) => b.hash),
        );
        const kept = batch.filter((b) => !earlier.has(b.hash));
        crossPartition += batch.length - kept.length;
        for (const k of kept) await out.push(k);
        // Recorded as we go: a retry finds its own partition's rows, which never count as earlier ones.
        await registry.recordHashes.record(
          input.dataset,
          input.partition,
          kept.map((k) => k.hash),
        );
        batch = [];
        Context.current().heartbeat({ records: seen });
      };
      const records = await withJsonlSink(blobs, dedupedKey, async (out) => {
        for await (const record of readJsonl<Record<string, unknown>>(blobs, input.cleanKey)) {
          seen += 1;
          const { hash, duplicate } = deduper.check(record);
          if (duplicate) duplicates += 1;
          else batch.push({ hash, record });
          if (batch.length >= BATCH) await flush(out);
        }
        if (batch.length > 0) await flush(out);
        return out.count;
      });
      const result: DedupeResult = {
        records,
        duplicates: duplicates + crossPartition,
        crossPartitionDuplicates: crossPartition,
        dedupedKey,
      };
      await blobs.put(summaryKey, JSON.stringify(result));
      return result;
    },
  };
}
