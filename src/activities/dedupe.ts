/**
 * Dedupe stage: drop exact duplicates (normalized record hash) within the partition and against every
 * earlier partition of the dataset, asked of the registry in batches (memory does not grow with history).
 */
import { Context } from '@temporalio/activity';
import { Deduper } from '../dedupe/dedupe';
import type { DedupeResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import {
  PART_RECORDS,
  PartedJsonlWriter,
  keyHash,
  readCommitted,
  readJsonIfExists,
  readJsonl,
  resumeCheckpoint,
  withPartedWriters,
  workKey,
  DEDUPED_STAGE,
  type HashedRecord,
} from '../datasets/work-files';

const BATCH = 1000;

/** Where a retried dedupe resumes: input records consumed, counts so far, the committed output parts. */
interface DedupeCheckpoint {
  key: string;
  inputRecords: number;
  duplicates: number;
  crossPartition: number;
  outParts: number[];
}

/** Dedupe activities. */
export function createDedupeActivities({ blobs, specs, registry, partRecords = PART_RECORDS }: CpuActivityDeps) {
  return {
    /** Write the partition's distinct, never-seen-before records as {hash, record} lines. */
    async dedupeRecords(input: PartitionInput & { cleanKey: string }): Promise<DedupeResult> {
      const { spec } = await specs.load(input.dataset);
      const dedupedKey = workKey(input.dataset, input.partition, DEDUPED_STAGE, keyHash(input.cleanKey));
      const summaryKey = `${dedupedKey}.summary.json`;
      const done = await readJsonIfExists<DedupeResult>(blobs, summaryKey);
      if (done) return done;

      // A retry resumes after the last checkpoint: the committed parts' hashes seed the within-partition set.
      const resume = resumeCheckpoint<DedupeCheckpoint>(dedupedKey);
      const deduper = new Deduper(spec);
      let duplicates = resume?.duplicates ?? 0;
      let crossPartition = resume?.crossPartition ?? 0;
      let seen = resume?.inputRecords ?? 0;
      let checkpoint = resume;
      let batch: HashedRecord[] = [];
      const out = new PartedJsonlWriter(blobs, dedupedKey, resume?.outParts);
      const flush = async (): Promise<void> => {
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
        if (out.pending >= partRecords) {
          await out.commitPart();
          checkpoint = { key: dedupedKey, inputRecords: seen, duplicates, crossPartition, outParts: out.committed };
        }
        Context.current().heartbeat({ records: seen, checkpoint });
      };
      try {
        // Streamed into the set, so a resumed attempt's memory does not grow with what it already wrote.
        if (resume) for await (const { hash } of readCommitted<HashedRecord>(blobs, out)) deduper.remember(hash);
        await withPartedWriters([out], async () => {
          for await (const record of readJsonl<Record<string, unknown>>(blobs, input.cleanKey, { skip: seen })) {
            seen += 1;
            const { hash, duplicate } = deduper.check(record);
            if (duplicate) duplicates += 1;
            else batch.push({ hash, record });
            if (batch.length >= Math.min(BATCH, partRecords)) await flush();
          }
          if (batch.length > 0) await flush();
        });
      } finally {
        deduper.close();
      }
      const records = out.count;
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
