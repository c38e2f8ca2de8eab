/** Version and quality stages: content-addressed objects, immutable manifest, registry rows, lineage, tags, split checks. */
import { ApplicationFailure } from '@temporalio/activity';
import { writeRecordsParquet } from '../data/parquet';
import { checkLeakage, splitByTime } from '../data/split';
import { ErrorType } from '../shared/errors';
import { shiftDate } from '../shared/ids';
import type { DatasetVersionRef, QualityResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import {
  HASH_FIELD,
  manifestKey,
  objectKey,
  readManifest,
  readVersionRows,
  sha256,
  versionIdOf,
  type Manifest,
  type ManifestPartition,
} from './manifest';
import { readJsonl, type HashedRecord } from './work-files';

/** Versioning activities. */
export function createVersioningActivities({ blobs, specs, registry, logger }: CpuActivityDeps) {
  return {
    /**
     * Build the version spanning the spec's window up to this partition. Same input → same version id, and
     * create-only writes store nothing new on a re-run.
     */
    async createDatasetVersion(input: PartitionInput & { dedupedKey: string; workflowId: string }): Promise<DatasetVersionRef> {
      const { spec, specHash } = await specs.load(input.dataset);
      const { labelField, timeField, idField } = spec.schema;
      const records: HashedRecord[] = [];
      for await (const r of readJsonl<HashedRecord>(blobs, input.dedupedKey)) records.push(r);
      const labels = await registry.labels.labelsFor(
        input.dataset,
        records.map((r) => r.hash),
      );
      const rows: Array<Record<string, unknown>> = [];
      for (const { hash, record } of records) {
        const label = labels.get(hash)?.label;
        if (label === undefined) continue; // unlabeled at the deadline: not part of the training set
        rows.push({ ...record, [labelField]: label, [HASH_FIELD]: hash });
      }
      const t = (r: Record<string, unknown>): string => String(r[timeField] ?? '');
      const id = (r: Record<string, unknown>): string => String(r[idField] ?? '');
      rows.sort((a, b) => (t(a) < t(b) ? -1 : t(a) > t(b) ? 1 : id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
      // Parquet (readable by DuckDB, pyarrow, pandas); the writer is deterministic, so the bytes' hash is a content address.
      const content = writeRecordsParquet(
        rows.map((r) => {
          const { [HASH_FIELD]: h, ...record } = r;
          return { record, hash: String(h) };
        }),
        spec,
      );
      const hash = sha256(content);
      let objectsWritten = (await blobs.putIfAbsent(objectKey(input.dataset, hash), content)) ? 1 : 0;

      const prev = await registry.datasets.previousVersion(input.dataset, input.partition);
      const partitions: ManifestPartition[] = [];
      if (prev) {
        const oldest = shiftDate(input.partition, spec.version.windowDays - 1);
        const prevManifest = await readManifest(blobs, input.dataset, prev.id);
        if (prevManifest.format !== 'trainset-manifest-v2') {
          // Objects of a JSONL-era version are not carried over: the window restarts with Parquet objects.
          logger.warn({ dataset: input.dataset, previous: prev.id }, 'previous version has JSONL objects; not carried into the window');
        } else {
          partitions.push(...prevManifest.partitions.filter((p) => p.partition >= oldest && p.partition < input.partition));
        }
      }
      partitions.push({ partition: input.partition, object: hash, rows: rows.length, bytes: content.length });
      const versionId = versionIdOf(specHash, input.partition, partitions);
      const labelDistribution: Record<string, number> = {};
      const manifest: Manifest = {
        format: 'trainset-manifest-v2',
        versionId,
        dataset: input.dataset,
        specHash,
        logicalDate: input.partition,
        partitions,
        rows: partitions.reduce((s, p) => s + p.rows, 0),
        labelDistribution,
      };
      for (const r of await readVersionRows(blobs, spec, { ...manifest, partitions: partitions.slice(0, -1) })) {
        const l = String(r[labelField]);
        labelDistribution[l] = (labelDistribution[l] ?? 0) + 1;
      }
      for (const r of rows) {
        const l = String(r[labelField]);
        labelDistribution[l] = (labelDistribution[l] ?? 0) + 1;
      }
      const mKey = manifestKey(input.dataset, versionId);
      if (await blobs.putIfAbsent(mKey, JSON.stringify(manifest, null, 2))) objectsWritten += 1;

      await registry.datasets.ensureDataset(input.dataset, specHash);
      const { created } = await registry.datasets.insertVersion({
        id: versionId,
        dataset: input.dataset,
        logicalDate: input.partition,
        manifestKey: mKey,
        rows: manifest.rows,
        specHash,
        stats: { labelDistribution, unlabeledExcluded: records.length - rows.length },
        objects: partitions.map((p) => ({ hash: p.object, size: p.bytes })),
      });
      await registry.datasets.addLineage(
        partitions.map((p) => ({
          fromKind: 'raw_partition',
          fromId: `${input.dataset}/${p.partition}`,
          toKind: 'dataset_version',
          toId: versionId,
        })),
      );
      const before = await registry.datasets.getTag(input.dataset, 'latest');
      await registry.datasets.setTag(input.dataset, 'latest', versionId, `workflow:${input.workflowId}`);
      logger.info({ dataset: input.dataset, versionId, rows: manifest.rows, created, objectsWritten }, 'dataset version');
      return {
        versionId,
        created,
        rows: manifest.rows,
        partitions: partitions.map((p) => p.partition),
        manifestKey: mKey,
        objectsWritten,
        previousLatest: before && before.id !== versionId ? before.id : undefined,
      };
    },

    /** Saga inverse of tagging: point the tag back where it was, only if it still points at this version. */
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
      if (input.restoreTo) await registry.datasets.setTag(input.dataset, input.tag, input.restoreTo, actor);
      else await registry.datasets.removeTag(input.dataset, input.tag, input.versionId, actor);
    },

    /** Quality gates: enough rows, every class present in training, no time leakage, completeness per field. */
    async checkQuality(input: { dataset: string; versionId: string }): Promise<QualityResult> {
      const { spec } = await specs.load(input.dataset);
      const manifest = await readManifest(blobs, input.dataset, input.versionId);
      const rows = await readVersionRows(blobs, spec, manifest);
      const split = splitByTime(rows, spec);
      const problems: string[] = [];
      const leak = checkLeakage(split, spec);
      if (leak) problems.push(leak);
      if (split.train.length < spec.split.minTrainRows)
        problems.push(`only ${split.train.length} training rows, spec needs ${spec.split.minTrainRows}`);
      const trainLabels = new Set(split.train.map((r) => String(r[spec.schema.labelField])));
      const missing = spec.labels.classes.filter((c) => !trainLabels.has(c));
      if (missing.length > 0) problems.push(`classes missing from the training split: ${missing.join(', ')}`);
      const completeness: Record<string, number> = {};
      for (const [field, f] of Object.entries(spec.schema.fields)) {
        const present = rows.filter((r) => r[field] !== undefined && r[field] !== null && r[field] !== '').length;
        completeness[field] = rows.length === 0 ? 0 : present / rows.length;
        if (f.required && completeness[field]! < 1)
          problems.push(`required field ${field} is only ${(completeness[field]! * 100).toFixed(1)}% complete`);
      }
      if (problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `quality gate failed for ${input.versionId}: ${problems.join('; ')}`,
          ErrorType.QualityGateFailed,
        );
      }
      return {
        trainRows: split.train.length,
        validationRows: split.validation.length,
        testRows: split.test.length,
        labelDistribution: manifest.labelDistribution,
        completeness,
      };
    },
  };
}
