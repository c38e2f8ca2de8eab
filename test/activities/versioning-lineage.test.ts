/**
 * Production lineage of a dataset version (src/datasets/manifest.ts): how many rows came from production and which
 * model versions served them, in the manifest (in all and per partition, the window's partitions carried from the
 * versions they come from), the registry's version stats and lineage edges, and the dataset card.
 */
import { describe, expect, it } from 'vitest';
import { createVersioningActivities } from '../../src/activities/versioning';
import { renderCardHtml, renderCardMarkdown } from '../../src/datasets/dataset-card';
import { manifestLineage, readManifest } from '../../src/datasets/manifest';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { recordHash } from '../../src/dedupe/dedupe';
import { LINEAGE_FIELD } from '../../src/ingest/feedback-lineage';
import type { PartitionSource } from '../../src/registry/datasets';
import type { LineageEdge, NewDatasetVersion } from '../../src/registry';
import { generateTickets } from '../../src/samples/tickets/generate';
import type { DatasetVersionRef } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const DAYS = ['2024-03-01', '2024-03-02'];
const MV_A = 'mv-aaaaaaaaaaaaaaaaaaaaaaaa';
const MV_B = 'mv-bbbbbbbbbbbbbbbbbbbbbbbb';

describe('production lineage of a dataset version', () => {
  it('counts production rows by serving model version, carries earlier partitions, and shows them on the card', async () => {
    const blobs = new MemoryBlobStore();
    const { spec } = await createDirSpecSource(SPECS_DIR).load('tickets');
    const inserted: NewDatasetVersion[] = [];
    const edges: LineageEdge[] = [];
    let sources: PartitionSource[] = [];
    const registry = {
      labels: { labelsFor: async (_ds: string, hashes: string[]) => new Map(hashes.map((h) => [h, { label: 'billing' }])) },
      datasets: {
        partitionSources: async () => sources,
        touchChunks: async () => undefined,
        ensureDataset: async () => undefined,
        insertVersion: async (v: NewDatasetVersion) => {
          inserted.push(v);
          return { created: true };
        },
        addLineage: async (e: LineageEdge[]) => {
          edges.push(...e);
          return e.length;
        },
        advanceTag: async () => ({ moved: true }),
        tagMoveBy: async () => ({}),
      },
    };
    const { createDatasetVersion } = createVersioningActivities(cpuDeps(blobs, { registry }));
    const build = async (day: string, seed: number, served: Array<string | undefined>): Promise<DatasetVersionRef> => {
      const records = generateTickets({ date: day, count: served.length, seed, badLineFraction: 0, duplicateFraction: 0 }).map(
        (l) => JSON.parse(l) as Record<string, unknown>,
      );
      const lines = records.map((record, i) => {
        const mv = served[i];
        if (mv !== undefined) {
          const predictionId = `00000000-0000-4000-8000-${String(seed * 1000 + i).padStart(12, '0')}`;
          record[LINEAGE_FIELD] = { source: 'feedback', predictionId, model: 'tickets-classifier', modelVersion: mv, margin: 0.3 };
        }
        return `${JSON.stringify({ hash: recordHash(record, spec), record })}\n`;
      });
      const dedupedKey = `work/tickets/${day}/deduped.jsonl`;
      await blobs.put(dedupedKey, lines.join(''));
      return (await new WorkerActivityEnvironment().run(createDatasetVersion, {
        dataset: 'tickets',
        partition: day,
        specHash: 'x',
        dedupedKey,
        workflowId: `wf-${day}`,
      })) as DatasetVersionRef;
    };

    const first = await build(DAYS[0]!, 1, [...Array<string>(5).fill(MV_A), ...Array<undefined>(20).fill(undefined)]);
    sources = [{ partition: DAYS[0]!, versionId: first.versionId, logicalDate: DAYS[0]!, createdAt: '' }];
    const second = await build(DAYS[1]!, 2, [...Array<string>(3).fill(MV_B), MV_A, ...Array<undefined>(10).fill(undefined)]);

    const manifest = await readManifest(blobs, 'tickets', second.versionId);
    expect(manifestLineage(manifest)).toEqual({
      production: { records: 9, servedBy: { [`tickets-classifier@${MV_A}`]: 6, [`tickets-classifier@${MV_B}`]: 3 } },
      byPartition: {
        [DAYS[0]!]: { records: 5, servedBy: { [`tickets-classifier@${MV_A}`]: 5 } },
        [DAYS[1]!]: { records: 4, servedBy: { [`tickets-classifier@${MV_A}`]: 1, [`tickets-classifier@${MV_B}`]: 3 } },
      },
    });
    expect((inserted[1]!.stats as { production?: unknown }).production).toEqual(manifestLineage(manifest)!.production);
    const modelEdges = edges.filter((e) => e.fromKind === 'model_version' && e.toId === second.versionId).map((e) => e.fromId);
    expect(modelEdges.sort()).toEqual([MV_A, MV_B]);

    const card = {
      dataset: 'tickets',
      versionId: second.versionId,
      logicalDate: DAYS[1]!,
      rows: manifest.rows,
      partitions: DAYS,
      stats: manifest.format === 'trainset-manifest-v3' ? (manifest.stats as never) : (undefined as never),
      production: manifestLineage(manifest)!.production,
    };
    const md = renderCardMarkdown(card);
    expect(md).toContain('## Production records');
    expect(md).toContain(`9 of 39 rows came from production`);
    expect(md).toContain(`| \`tickets-classifier@${MV_A}\` | 6 |`);
    expect(renderCardHtml(card)).toContain(`<td><code>tickets-classifier@${MV_B}</code></td><td>3</td>`);
  });
});
