/** Labeling stage: label tasks keyed by record hash; source, programmatic and human labels in the registry. */
import { ApplicationFailure } from '@temporalio/activity';
import { createLabelAudit } from '../labeling/label-audit';
import { labelingFunction } from '../labeling/labelers';
import { ErrorType } from '../shared/errors';
import type { LabelCoverage, LabelSubmission, SubmitLabelsResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import { readJsonl, type HashedRecord } from '../datasets/work-files';
import { lineageOf } from '../ingest/feedback-lineage';
import type { NewLabel, NewLabelTask } from '../registry/labels';
import { modelNameFor } from '../shared/ids';

const BATCH = 1000;

/** Labeling activities. */
export function createLabelingActivities({ blobs, specs, registry }: CpuActivityDeps) {
  async function inBatches<T>(items: T[], fn: (batch: T[]) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH) await fn(items.slice(i, i + BATCH));
  }

  return {
    /**
     * One task per record; labels the records already carry are recorded as source labels. A production record's
     * task keeps its prediction id and the serving champion's margin (pending tasks are listed lowest margin first),
     * and the trusted feedback its prediction has (canary.trustedFeedbackSources) becomes a `feedback` label, for
     * this partition's records and for earlier ones whose feedback arrived after their run.
     */
    async createLabelTasks(input: PartitionInput & { dedupedKey: string }): Promise<LabelCoverage> {
      const { spec } = await specs.load(input.dataset);
      const classes = new Set(spec.labels.classes);
      const tasks: NewLabelTask[] = [];
      const sourceLabels: NewLabel[] = [];
      for await (const { hash, record } of readJsonl<HashedRecord>(blobs, input.dedupedKey)) {
        const lineage = lineageOf(record);
        tasks.push(lineage ? { recordHash: hash, predictionId: lineage.predictionId, priority: lineage.margin } : { recordHash: hash });
        const label = record[spec.schema.labelField];
        if (typeof label === 'string' && classes.has(label))
          sourceLabels.push({ recordHash: hash, label, source: 'source', labeledBy: 'source' });
      }
      await inBatches(tasks, (b) => registry.labels.createTasks(input.dataset, input.partition, b));
      await inBatches(sourceLabels, (b) => registry.labels.recordLabels(input.dataset, b));
      const feedback = await registry.labels.pendingFeedbackLabels(input.dataset, modelNameFor(spec), spec.canary.trustedFeedbackSources);
      // A label outside the spec's classes (a client's typo) labels nothing.
      await inBatches(
        feedback.filter((l) => classes.has(l.label)),
        (b) => registry.labels.recordLabels(input.dataset, b),
      );
      return registry.labels.taskCounts(input.dataset, input.partition);
    },

    /**
     * Run the spec's labeling function over the still-unlabeled records of the source data (it may abstain).
     * Production records are left to feedback and humans: their labels are the ground truth the loop is for.
     */
    async runProgrammaticLabeler(input: PartitionInput & { dedupedKey: string }): Promise<LabelCoverage> {
      const { spec } = await specs.load(input.dataset);
      const fn = labelingFunction(spec.labels.labelingFunction);
      const pending = new Set(await registry.labels.pendingTasks(input.dataset, input.partition, 1_000_000));
      const labels: Array<{ recordHash: string; label: string; source: 'programmatic'; labeledBy: string }> = [];
      // Label accuracy (M1): the function is audited on the records that carry a source label (none of them pending).
      const audit = createLabelAudit({
        labeler: spec.labels.labelingFunction,
        label: fn,
        labelField: spec.schema.labelField,
        classes: spec.labels.classes,
      });
      for await (const { hash, record } of readJsonl<HashedRecord>(blobs, input.dedupedKey)) {
        audit.observe(record);
        if (!pending.has(hash) || lineageOf(record)) continue;
        const label = fn(record);
        if (label !== undefined) labels.push({ recordHash: hash, label, source: 'programmatic', labeledBy: spec.labels.labelingFunction });
      }
      await inBatches(labels, (b) => registry.labels.recordLabels(input.dataset, b));
      return { ...(await registry.labels.taskCounts(input.dataset, input.partition)), audit: audit.result() };
    },

    /** Record human labels for open tasks of the partition; unknown hashes or classes are rejected (counted). */
    async recordLabels(input: {
      dataset: string;
      partition: string;
      labels: LabelSubmission[];
      labeledBy: string;
    }): Promise<SubmitLabelsResult> {
      const { spec } = await specs.load(input.dataset);
      const classes = new Set(spec.labels.classes);
      const pending = new Set(await registry.labels.pendingTasks(input.dataset, input.partition, 1_000_000));
      const ok = input.labels.filter((l) => pending.has(l.recordHash) && classes.has(l.label));
      if (ok.length > 0) {
        await registry.labels.recordLabels(
          input.dataset,
          ok.map((l) => ({ recordHash: l.recordHash, label: l.label, source: 'human' as const, labeledBy: input.labeledBy.slice(0, 200) })),
        );
      }
      const coverage = await registry.labels.taskCounts(input.dataset, input.partition);
      return { accepted: ok.length, rejected: input.labels.length - ok.length, coverage };
    },

    /** Pending label tasks (record hashes) of a partition, for a human labeling tool. */
    async pendingLabelTasks(input: { dataset: string; partition: string; limit?: number }): Promise<string[]> {
      if (input.limit !== undefined && input.limit < 1) throw ApplicationFailure.nonRetryable('limit must be >= 1', ErrorType.InvalidInput);
      return registry.labels.pendingTasks(input.dataset, input.partition, input.limit ?? 1000);
    },
  };
}
