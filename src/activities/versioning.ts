/** Version stage: content-addressed objects, immutable manifest, registry rows, lineage, tags. */
import { shiftDate } from '../shared/ids';
import type { DatasetVersionRef } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import { StatsBuilder } from '../quality/stats';
import {
  manifestObjects,
  rowOrder,
  versionIdV3,
  writeVersion,
  type ChunkRef,
  type ManifestV3,
  type PartitionRows,
  type Row,
} from '../datasets/version-store';
import type { PartitionSource } from '../registry/datasets';
import {
  HASH_FIELD,
  manifestKey,
  manifestLineage,
  manifestLineageOf,
  manifestPartitions,
  productionLineage,
  readManifest,
  readPartitionRows,
  type AnyManifest,
  type ProductionLineage,
} from '../datasets/manifest';
import { readJsonl, type HashedRecord } from '../datasets/work-files';

/** Versioning activities. */
export function createVersioningActivities({ blobs, specs, registry, logger }: CpuActivityDeps) {
  return {
    /**
     * Build the version spanning the spec's window up to this partition. Same input → same version id, and
     * create-only writes store nothing new on a re-run.
     */
    async createDatasetVersion(input: PartitionInput & { dedupedKey: string; workflowId: string }): Promise<DatasetVersionRef> {
      const { spec, specHash } = await specs.load(input.dataset);
      const { labelField } = spec.schema;
      const order = rowOrder(spec, HASH_FIELD);
      const withLabels = async (rows: HashedRecord[]): Promise<{ rows: Row[]; unlabeled: number }> => {
        const labels = await registry.labels.labelsFor(
          input.dataset,
          rows.map((r) => r.hash),
        );
        const out: Row[] = [];
        for (const { hash, record } of rows) {
          const label = labels.get(hash)?.label;
          // Unlabeled at the deadline: not part of the training set.
          if (label !== undefined) out.push({ ...record, [labelField]: label, [HASH_FIELD]: hash });
        }
        return { rows: out, unlabeled: rows.length - out.length };
      };

      // This partition's labeled records, in row order (one partition is held in memory to sort it).
      const fresh: HashedRecord[] = [];
      for await (const r of readJsonl<HashedRecord>(blobs, input.dedupedKey)) fresh.push(r);
      const current = await withLabels(fresh);
      current.rows.sort(order);

      // The window: every partition in [day - windowDays + 1, day - 1] that a live version holds, its rows taken
      // from the newest such version (the registry records which versions hold which partitions), labels
      // refreshed (a relabel is an in-place edit: it lands in the delta, not in new chunks). Never the previous
      // version's manifest chained: a day processed after a later one would be missing from every later version.
      const oldest = shiftDate(input.partition, spec.version.windowDays - 1);
      const sources = await registry.datasets.partitionSources(input.dataset, oldest, input.partition);
      const manifests = new Map<string, AnyManifest>();
      for (const { versionId } of sources) {
        if (!manifests.has(versionId)) manifests.set(versionId, await readManifest(blobs, input.dataset, versionId));
      }
      const sourceOf = (partition: string): AnyManifest | undefined => {
        const s = sources.find((x) => x.partition === partition);
        return s && manifests.get(s.versionId);
      };
      // Each partition merges against, and reuses, the chunks its source version stores for it (this day's too,
      // when a version already holds it: a rebuild of the day).
      const baseOf = (partition: string): ChunkRef[] => {
        const m = sourceOf(partition);
        return m?.format === 'trainset-manifest-v3' ? m.chunks.filter((c) => c.partition === partition) : [];
      };
      const partitions: PartitionRows[] = sources
        .filter((s) => s.partition < input.partition)
        .map(({ partition }) => ({
          partition,
          base: baseOf(partition),
          rows: async function* () {
            let batch: HashedRecord[] = [];
            const flush = async function* (): AsyncGenerator<Row> {
              const { rows } = await withLabels(batch);
              batch = [];
              yield* rows;
            };
            for await (const row of readPartitionRows(blobs, spec, sourceOf(partition)!, partition)) {
              const { [HASH_FIELD]: hash, [labelField]: _label, ...record } = row;
              batch.push({ hash: String(hash), record });
              if (batch.length >= 5000) yield* flush();
            }
            yield* flush();
          },
        }));
      partitions.push({ partition: input.partition, base: baseOf(input.partition), rows: () => current.rows });
      const previous = deltaCarrier(sources, manifests);

      const stats = new StatsBuilder(spec);
      const {
        manifest: body,
        written,
        reusedChunks,
        compacted,
      } = await writeVersion({
        blobs,
        spec,
        dataset: input.dataset,
        specHash,
        logicalDate: input.partition,
        previous,
        partitions,
        touch: (objects) => registry.datasets.touchChunks(input.dataset, objects),
        onRow: (row) => stats.add(row),
      });
      const versionId = versionIdV3(body);
      // Production records per partition (src/datasets/manifest.ts): this day's from its rows, the window's from the
      // versions they are taken from.
      const byPartition: Record<string, ProductionLineage> = { [input.partition]: productionLineage(current.rows) };
      for (const { partition } of sources.filter((s) => s.partition < input.partition)) {
        const carried = manifestLineage(sourceOf(partition)!)?.byPartition[partition];
        if (carried !== undefined) byPartition[partition] = carried;
      }
      const lineage = manifestLineageOf(byPartition);
      const manifest: ManifestV3 = { ...body, versionId, stats: stats.finish(), ...(lineage.production.records > 0 && { lineage }) };
      const mKey = manifestKey(input.dataset, versionId);
      const objectsWritten = written.objects + ((await blobs.putIfAbsent(mKey, JSON.stringify(manifest))) ? 1 : 0);
      // Readers get the manifest stored under the key, which an earlier build of the same rows may have written
      // with another layout (another base, delta or compaction: the version id covers the rows, not the layout).
      // The registry lists the objects of the stored manifest, and of this build's too, for a server whose
      // conditional write is not atomic (both builds may have stored theirs; the last one stays).
      const stored = await readManifest(blobs, input.dataset, versionId);
      if (stored.format !== 'trainset-manifest-v3') {
        throw new Error(`${mKey} holds a ${stored.format} manifest, not the chunked version ${versionId} this build made`);
      }
      const objects = [...manifestObjects(stored), ...manifestObjects(manifest)].map((o) => ({ hash: o.hash, size: o.bytes }));

      await registry.datasets.ensureDataset(input.dataset, specHash);
      const { created } = await registry.datasets.insertVersion({
        id: versionId,
        dataset: input.dataset,
        logicalDate: input.partition,
        manifestKey: mKey,
        rows: manifest.rows,
        specHash,
        stats: {
          labelDistribution: manifest.labelDistribution,
          unlabeledExcluded: current.unlabeled,
          ...(lineage.production.records > 0 && { production: lineage.production }),
        },
        objects,
        partitions: manifestPartitions(manifest),
      });
      await registry.datasets.addLineage([
        ...manifest.partitions.map((p) => ({
          fromKind: 'raw_partition',
          fromId: `${input.dataset}/${p.partition}`,
          toKind: 'dataset_version',
          toId: versionId,
        })),
        // The model versions that served the version's production records.
        ...Object.keys(lineage.production.servedBy).map((served) => ({
          fromKind: 'model_version',
          fromId: served.slice(served.lastIndexOf('@') + 1),
          toKind: 'dataset_version',
          toId: versionId,
        })),
      ]);
      // `latest` moves only forward in logical date (the same day rebuilt moves it): a day processed after a later
      // one (a re-run, a backfill behind the schedule) must not point it at the older window.
      const actor = `workflow:${input.workflowId}`;
      await registry.datasets.advanceTag(input.dataset, 'latest', versionId, actor);
      // What the compensation restores comes from the tag history row this workflow's move wrote: a retry after the
      // move committed reads the same row, where reading the tag first would find this very version.
      const move = await registry.datasets.tagMoveBy(input.dataset, 'latest', versionId, actor);
      logger.info(
        {
          dataset: input.dataset,
          versionId,
          rows: manifest.rows,
          created,
          objectsWritten,
          bytesWritten: written.bytes,
          reusedChunks,
          compacted,
        },
        'dataset version',
      );
      return {
        versionId,
        created,
        rows: manifest.rows,
        partitions: manifestPartitions(manifest),
        manifestKey: mKey,
        objectsWritten,
        bytesWritten: written.bytes,
        reusedChunks,
        previousLatest: move?.from,
      };
    },

    /**
     * Saga inverse of tagging: point the tag back where this workflow's move found it, only if it still points at
     * this version. Where it was comes from the tag history row of that move, so a run whose version stage was
     * retried after the move (and so got no previousLatest before the fix) is restored too; restoreTo stays in the
     * input for recorded histories and agrees with that row. A tag this workflow never moved here is left alone.
     */
    async untagDatasetVersion(input: {
      dataset: string;
      tag: string;
      versionId: string;
      restoreTo?: string;
      workflowId: string;
    }): Promise<void> {
      const actor = `workflow:${input.workflowId}`;
      const current = await registry.datasets.getTag(input.dataset, input.tag);
      if (current?.id !== input.versionId) return;
      const move = await registry.datasets.tagMoveBy(input.dataset, input.tag, input.versionId, actor);
      if (!move) return;
      const restoreTo = move.from;
      if (restoreTo) await registry.datasets.restoreTag(input.dataset, input.tag, input.versionId, restoreTo, actor);
      else await registry.datasets.removeTag(input.dataset, input.tag, input.versionId, actor);
    },
  };
}

/**
 * The source version whose delta segments a new version carries: the chunked one the window takes the most
 * partitions from (ties: the newest logical date, then the id), so the fewest carried entries need overriding.
 */
function deltaCarrier(sources: PartitionSource[], manifests: Map<string, AnyManifest>): ManifestV3 | undefined {
  const counts = new Map<string, { n: number; logicalDate: string }>();
  for (const s of sources) {
    const c = counts.get(s.versionId) ?? { n: 0, logicalDate: s.logicalDate };
    counts.set(s.versionId, { ...c, n: c.n + 1 });
  }
  let best: { id: string; n: number; logicalDate: string } | undefined;
  for (const [id, c] of counts) {
    if (manifests.get(id)?.format !== 'trainset-manifest-v3') continue;
    const better =
      !best ||
      c.n > best.n ||
      (c.n === best.n && (c.logicalDate > best.logicalDate || (c.logicalDate === best.logicalDate && id < best.id)));
    if (better) best = { id, ...c };
  }
  const m = best && manifests.get(best.id);
  return m?.format === 'trainset-manifest-v3' ? m : undefined;
}
