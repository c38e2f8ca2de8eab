/** Run report stage: the HTML report and Markdown summary of a run, stored with its artifacts and listed in the registry. */
import type { DriftReport } from '../quality/drift';
import type { LabelLatencyStats } from '../registry';
import { renderRunReportHtml, renderRunReportMarkdown } from '../reports/run-report';
import type { PipelineStatus } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import { readJsonIfExists } from '../datasets/work-files';

/** Where a run's report and summary live. */
export const runReportKeys = (dataset: string, workflowId: string, runId: string): { report: string; summary: string } => {
  const base = `runs/${dataset}/${workflowId}/${runId}`;
  return { report: `${base}/report.html`, summary: `${base}/summary.md` };
};

/** Input of writeRunReport: references and the status the workflow already holds (counts only, no records). */
export interface RunReportRequest {
  workflowId: string;
  runId: string;
  status: PipelineStatus;
  startedAt?: string;
}

/** Result of writeRunReport: where the report is, and the label latency of the run's own label tasks (M13). */
export interface RunReportResult {
  reportKey: string;
  summaryKey: string;
  /** Created → labeled per label source, for the tasks this run created (absent when the run reached no labeling). */
  labelLatency?: LabelLatencyStats[];
}

/** Report activities. */
export function createReportActivities({ blobs, registry, logger }: CpuActivityDeps) {
  return {
    /** Write the run's report and summary (idempotent: same keys for the same run) and record the run. */
    async writeRunReport(input: RunReportRequest): Promise<RunReportResult> {
      const s = input.status;
      const keys = runReportKeys(s.dataset, input.workflowId, input.runId);
      const versionId = s.datasetVersion?.versionId;
      const drift = versionId ? await readJsonIfExists<DriftReport>(blobs, `datasets/${s.dataset}/drift/${versionId}.json`) : undefined;
      const finishedAt = new Date().toISOString();
      // The loss curve of the run's model version (absent for versions trained before experiments were recorded).
      const trained = s.modelVersion ? await registry.models.getVersion(s.modelVersion.modelVersionId) : undefined;
      // Only the tasks this run created: a rerun of the partition re-records its source labels, which would read as days late.
      const labelLatency =
        s.labeling && s.logicalDate
          ? await registry.labelStats.labelLatency({ dataset: s.dataset, partition: s.logicalDate, createdSince: input.startedAt })
          : undefined;
      const report = {
        workflowId: input.workflowId,
        runId: input.runId,
        status: s,
        startedAt: input.startedAt,
        finishedAt,
        drift,
        cardKey: s.quality?.cardKey ? `${blobs.uri}/${s.quality.cardKey}` : undefined,
        experiment: trained?.experiment ?? null,
        labelLatency,
      };
      await blobs.put(keys.report, renderRunReportHtml(report));
      await blobs.put(keys.summary, renderRunReportMarkdown(report));
      await registry.runs.record({
        runId: input.runId,
        workflowId: input.workflowId,
        dataset: s.dataset,
        logicalDate: s.logicalDate,
        outcome: s.outcome ?? (s.error ? 'failed' : 'unfinished'),
        reportKey: keys.report,
        summaryKey: keys.summary,
        summary: {
          recordsIn: s.ingest?.recordsIn,
          accepted: s.ingest?.accepted,
          quarantined: s.ingest?.quarantined,
          datasetVersion: versionId,
          modelVersion: s.modelVersion?.modelVersionId,
          error: s.error,
        },
        startedAt: input.startedAt,
        finishedAt,
      });
      logger.info({ workflowId: input.workflowId, report: keys.report }, 'run report written');
      return { reportKey: keys.report, summaryKey: keys.summary, labelLatency };
    },
  };
}
