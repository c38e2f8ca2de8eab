/** Dedupe stage: drop exact duplicates (normalized record hash) within the partition and against the window's earlier partitions. */
import { Context } from '@temporalio/activity';
import { Deduper } from '../data/dedupe';
import { shiftDate } from '../shared/ids';
import type { DedupeResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import { HASH_FIELD, readManifest, readObjectRows } from './manifest';
import { JsonlWriter, keyHash, readJsonIfExists, readJsonl, workKey, type HashedRecord } from './work-files';

/** Dedupe activities. */
export function createDedupeActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /** Write the partition's distinct records as {hash, record} lines. */
    async dedupeRecords(input: PartitionInput & { cleanKey: string }): Promise<DedupeResult> {
      const { spec } = await specs.load(input.dataset);
      const prev = await registry.datasets.previousVersion(input.dataset, input.partition);
      const h = keyHash(input.cleanKey, prev?.id ?? 'none');
      const dedupedKey = workKey(input.dataset, input.partition, 'deduped', h);
      const summaryKey = `${dedupedKey}.summary.json`;
      const done = await readJsonIfExists<DedupeResult>(blobs, summaryKey);
      if (done) return done;

      // Seed with the hashes of earlier partitions inside the version window.
      const known: string[] = [];
      if (prev) {
        const oldest = shiftDate(input.partition, spec.version.windowDays - 1);
        const manifest = await readManifest(blobs, input.dataset, prev.id);
        for (const p of manifest.partitions) {
          if (p.partition >= oldest && p.partition < input.partition) {
            for (const row of await readObjectRows(blobs, spec, input.dataset, p.object, manifest.format))
              known.push(String(row[HASH_FIELD]));
          }
        }
      }
      const deduper = new Deduper(spec, known);
      const out = new JsonlWriter();
      let duplicates = 0;
      let seen = 0;
      for await (const record of readJsonl<Record<string, unknown>>(blobs, input.cleanKey)) {
        const { hash, duplicate } = deduper.check(record);
        if (duplicate) duplicates += 1;
        else out.push({ hash, record } satisfies HashedRecord);
        if (++seen % 1000 === 0) Context.current().heartbeat({ records: seen });
      }
      await blobs.put(dedupedKey, out.content());
      const result: DedupeResult = { records: out.count, duplicates, dedupedKey };
      await blobs.put(summaryKey, JSON.stringify(result));
      return result;
    },
  };
}
