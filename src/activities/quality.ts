/** Quality stage: split checks, completeness, drift against the previous version and production; the dataset card. */
import { ApplicationFailure } from '@temporalio/activity';
import { renderCardHtml, renderCardMarkdown } from '../datasets/dataset-card';
import { manifestLineage, manifestPartitions, readManifest, readVersionRows, versionStats } from '../datasets/manifest';
import { compareStats, driftFailureMessage, type DriftReport } from '../quality/drift';
import { checkLeakage, splitByTime } from '../quality/split';
import { StatsBuilder } from '../quality/stats';
import { ErrorType } from '../shared/errors';
import { modelNameFor } from '../shared/ids';
import type { QualityResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';

/**
 * The five drift figures largest relative to their limits, values as measured, and the largest gated one after them
 * when it is not among the five (timestamps, recorded but not gated, can fill the top: the summary still shows the
 * largest figure that gates).
 */
export function topDriftFigures(
  figures: ReadonlyArray<{ feature: string; metric: string; value: number | null; limit: number; gated: boolean }>,
): Array<{ feature: string; metric: string; value: number; limit: number; gated: boolean }> {
  const sorted = figures.filter((f) => f.value !== null).sort((a, b) => (b.value as number) / b.limit - (a.value as number) / a.limit);
  const top = sorted.slice(0, 5);
  const gated = sorted.find((f) => f.gated);
  if (gated && !top.includes(gated)) top.push(gated);
  return top.map((f) => ({ feature: f.feature, metric: f.metric, value: f.value as number, limit: f.limit, gated: f.gated }));
}

/** Quality activities. */
export function createQualityActivities({ blobs, specs, registry }: CpuActivityDeps) {
  return {
    /**
     * Quality gates: enough rows, every class present in training, no time or entity leakage, completeness
     * per field, drift against the previous version within the spec's limits. Every drift figure is recorded
     * (in the dataset card and drift report next to the manifest), gated or not.
     */
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
        const min = f.required ? 1 : (spec.quality.minCompleteness[field] ?? 0);
        if (completeness[field]! < min)
          problems.push(
            `field ${field} is only ${(completeness[field]! * 100).toFixed(1)}% complete, spec needs ${(min * 100).toFixed(1)}%`,
          );
      }

      // Drift against the previous version (statistics from its manifest, or computed for older layouts).
      const stats = await versionStats(blobs, spec, manifest, rows);
      const prev = await registry.datasets.previousVersion(input.dataset, manifest.logicalDate);
      let drift: DriftReport | undefined;
      if (prev) {
        const prevManifest = await readManifest(blobs, input.dataset, prev.id);
        const prevStats = await versionStats(blobs, spec, prevManifest);
        drift = compareStats(prevStats, stats, spec.quality.drift);
        const breach = driftFailureMessage(drift, prev.id);
        if (breach) problems.push(breach);
      }
      // Drift against production: the gateway's recent input profiles (lengths and category codes, no text).
      // Gated like the previous-version figures once the sample has spec.quality.drift.minRows requests.
      const since = new Date(Date.now() - spec.quality.production.windowDays * 86_400_000);
      const profiles = await registry.predictions.recentProfiles(modelNameFor(spec), since, spec.quality.production.sampleSize);
      let production: DriftReport | undefined;
      if (profiles.length > 0) {
        const prodStats = new StatsBuilder(spec);
        for (const p of profiles) prodStats.addProfile(p);
        production = compareStats(prodStats.finish(), stats, spec.quality.drift);
        const breach = driftFailureMessage(production, 'production sample');
        if (breach) problems.push(breach);
      }
      const card = {
        dataset: input.dataset,
        versionId: input.versionId,
        logicalDate: manifest.logicalDate,
        rows: rows.length,
        partitions: manifestPartitions(manifest),
        stats,
        drift: drift || production ? { previous: drift, production } : undefined,
        split: { train: split.train.length, validation: split.validation.length, test: split.test.length },
        production: manifestLineage(manifest)?.production,
      };
      const cardKey = `datasets/${input.dataset}/cards/${input.versionId}`;
      await blobs.put(`${cardKey}.md`, renderCardMarkdown(card));
      await blobs.put(`${cardKey}.html`, renderCardHtml(card));
      if (drift)
        await blobs.put(`datasets/${input.dataset}/drift/${input.versionId}.json`, JSON.stringify({ against: prev?.id, ...drift }));

      if (problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `quality gate failed for ${input.versionId}: ${problems.join('; ')} (dataset card: ${blobs.uri}/${cardKey}.html)`,
          ErrorType.QualityGateFailed,
        );
      }
      const figures = drift?.figures.filter((f) => f.value !== null) ?? [];
      return {
        trainRows: split.train.length,
        validationRows: split.validation.length,
        testRows: split.test.length,
        labelDistribution: manifest.labelDistribution,
        completeness,
        cardKey: `${cardKey}.html`,
        ...(production
          ? {
              productionDrift: {
                requests: profiles.length,
                figures: production.figures.filter((f) => f.value !== null).length,
                gated: production.figures.filter((f) => f.gated).length,
              },
            }
          : {}),
        ...(drift
          ? {
              drift: {
                against: prev!.id,
                figures: figures.length,
                gated: figures.filter((f) => f.gated).length,
                top: topDriftFigures(figures),
              },
            }
          : {}),
      };
    },
  };
}
