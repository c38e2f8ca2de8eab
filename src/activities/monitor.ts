/**
 * The monitor's window (monitorWorkflow): figures of the served champion's traffic over one window from the gateway's
 * prediction log, judged against the spec's monitor policy, and recorded in the registry once per window.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { manifestPartitions, readManifest, versionStats } from '../datasets/manifest';
import { judgeWindow } from '../monitor/decisions';
import { trainServeSkew } from '../monitor/skew';
import { compareStats, linf } from '../quality/drift';
import { StatsBuilder } from '../quality/stats';
import { ErrorType } from '../shared/errors';
import { isLogicalDate, modelNameFor } from '../shared/ids';
import type { MonitorDecision, MonitorState, MonitorWindowFigures } from '../shared/types';
import type { MonitorWindowRow } from '../registry';
import type { CpuActivityDeps } from './deps';

/** Most input profiles one window compares with the training set. */
export const MONITOR_PROFILE_SAMPLE = 5000;

/** Input of monitorWindow: the dataset whose model is watched, the window, and the monitor's counters so far. */
export interface MonitorWindowInput {
  dataset: string;
  /** [start, end) of the window, ISO timestamps. */
  start: string;
  end: string;
  state: MonitorState;
}

/** What one window found: nothing served (no deployment yet), or its figures and the judgement. */
export type MonitorWindowResult = { served: false } | { served: true; figures: MonitorWindowFigures; decision: MonitorDecision };

/** A window's answer as the registry recorded it (what was not judged is not kept). */
function asRecorded({ figures, breaches, actions, state }: MonitorWindowRow): MonitorWindowResult {
  return { served: true, figures, decision: { breaches, actions, notJudged: [], state } };
}

/** Shares of each class (in the spec's class order) in label counts. */
function shares(counts: Readonly<Record<string, number>>, classes: readonly string[]): number[] {
  const total = classes.reduce((a, c) => a + (counts[c] ?? 0), 0);
  return classes.map((c) => (total === 0 ? 0 : (counts[c] ?? 0) / total));
}

/**
 * Data freshness (SLI M4) at `at`: seconds since the end of the newest partition day a version holds (partitions
 * named by logical date only; undefined when it holds none).
 */
export function dataFreshnessSeconds(partitions: readonly string[], at: Date): number | undefined {
  const days = partitions.filter(isLogicalDate).sort();
  const newest = days[days.length - 1];
  if (newest === undefined) return undefined;
  const endOfDay = Date.parse(`${newest}T00:00:00Z`) + 86_400_000;
  return Math.max(0, (at.getTime() - endOfDay) / 1000);
}

/** Monitor activities. */
export function createMonitorActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /** The watched model and the window length (read every window, so a spec change applies at the next one). */
    async monitorPlan(input: { dataset: string }): Promise<{ model: string; windowSeconds: number }> {
      const { spec } = await specs.load(input.dataset);
      return { model: modelNameFor(spec), windowSeconds: spec.monitor.windowSeconds };
    },

    /**
     * The newest finished partition (logical date before today, UTC) with raw input in the blob store, or undefined
     * when there is none. Today's partition is still being written (the gateway's feedback capture appends to it
     * all day), and the nightly run takes it once the day is over.
     */
    async newestRawPartition(input: { dataset: string }): Promise<string | undefined> {
      const today = new Date().toISOString().slice(0, 10);
      let newest: string | undefined;
      for (const b of await blobs.list(`raw/${input.dataset}/`)) {
        const date = b.key.slice(`raw/${input.dataset}/`.length).split('/')[0] ?? '';
        if (isLogicalDate(date) && date < today && (newest === undefined || date > newest)) newest = date;
      }
      return newest;
    },

    /**
     * Judge one window of the champion's served traffic: requests, errors and p95 of the requests made in it, the
     * trusted feedback that arrived in it (live accuracy, against the version's validation accuracy), predicted-label
     * shares against the training set's label shares (L∞), and input drift of the window's request profiles against
     * the champion's training dataset version (quality.drift's limits and per-feature policy; gated figures only),
     * train/serve skew of the fields the model reads, and the age of the newest day it was trained on (M4).
     * Recorded once per model and window: a retry answers with what the first attempt recorded.
     */
    async monitorWindow(input: MonitorWindowInput): Promise<MonitorWindowResult> {
      const { spec } = await specs.load(input.dataset);
      const model = modelNameFor(spec);
      const recorded = await registry.monitor.window(model, input.start);
      if (recorded) return asRecorded(recorded);
      const deployment = await registry.deployments.getDeployment(model);
      if (!deployment) return { served: false };
      const version = await registry.models.getVersion(deployment.championVersion);
      if (!version) {
        throw ApplicationFailure.nonRetryable(
          `model ${model} routes to champion ${deployment.championVersion}, which is not a registered version`,
          ErrorType.InvalidInput,
        );
      }
      const start = new Date(input.start);
      const end = new Date(input.end);
      const served = await registry.predictions.servedWindow(model, version.id, start, end, spec.canary.trustedFeedbackSources);

      // The training set the champion learned from: its label shares and its per-field statistics.
      const manifest = await readManifest(blobs, input.dataset, version.datasetVersion);
      const trained = await versionStats(blobs, spec, manifest);
      const classes = spec.labels.classes;
      const predicted = Object.values(served.predictedLabels).reduce((a, b) => a + b, 0);
      const predictionShift =
        predicted === 0 ? undefined : linf(shares(manifest.labelDistribution, classes), shares(served.predictedLabels, classes));
      const profiles = await registry.predictions.profilesBetween(model, start, end, MONITOR_PROFILE_SAMPLE);
      const live = new StatsBuilder(spec);
      for (const p of profiles) live.addProfile(p);
      const liveStats = live.finish();
      const drift = profiles.length === 0 ? [] : compareStats(trained, liveStats, spec.quality.drift).figures;
      const skew = trainServeSkew(trained, liveStats, spec.schema);
      const freshness = dataFreshnessSeconds(manifestPartitions(manifest), end);
      const validation = (version.metrics as { validation?: { accuracy?: unknown } }).validation?.accuracy;

      const figures: MonitorWindowFigures = {
        model,
        championVersion: version.id,
        start: input.start,
        end: input.end,
        requests: served.requests,
        errors: served.errors,
        p95LatencyMs: served.p95LatencyMs,
        feedback: served.feedback,
        correct: served.correct,
        ...(typeof validation === 'number' ? { offlineAccuracy: validation } : {}),
        ...(predictionShift === undefined ? {} : { predictionShift }),
        drift: drift
          .filter((f) => f.gated && f.value !== null)
          .map((f) => ({ feature: f.feature, metric: f.metric, value: f.value!, limit: f.limit, breached: f.breached })),
        skew,
        ...(freshness === undefined ? {} : { dataFreshnessSeconds: freshness }),
      };
      const promotion = (await registry.models.aliasHistory(model))
        .filter((h) => h.alias === 'champion' && h.toVersion === version.id)
        .pop();
      const decision = judgeWindow(figures, spec.monitor, input.state, {
        version: version.id,
        ...(promotion ? { promotedAt: promotion.at } : {}),
      });
      const written = await registry.monitor.recordWindow({
        figures,
        breaches: decision.breaches,
        actions: decision.actions,
        state: decision.state,
      });
      if (!written) {
        // Another attempt recorded this window meanwhile: answer as it did.
        return asRecorded((await registry.monitor.window(model, input.start))!);
      }
      return { served: true, figures, decision };
    },
  };
}
