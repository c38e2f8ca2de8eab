/**
 * createDatasetVersion's commit: the registry lists the objects of the manifest stored under the version's key,
 * which another build of the same rows may have written first with another layout.
 */
import { describe, expect, it } from 'vitest';
import { createVersioningActivities } from '../../src/activities/versioning';
import { recordHash } from '../../src/dedupe/dedupe';
import { createDirSpecSource } from '../../src/datasets/spec-source';
import { generateTickets } from '../../src/samples/tickets/generate';
import type { ManifestV3 } from '../../src/datasets/version-store';
import type { NewDatasetVersion } from '../../src/registry';
import type { DatasetVersionRef } from '../../src/shared/types';
import { MemoryBlobStore } from '../helpers/memory-blob-store';
import { SPECS_DIR, cpuDeps, WorkerActivityEnvironment } from './activity-fixtures';

const PARTITION = '2024-03-01';

/** The registry calls createDatasetVersion makes: every hash labeled, no earlier version; inserts are kept. */
function fakeRegistry() {
  const inserted: NewDatasetVersion[] = [];
  const registry = {
    labels: { labelsFor: async (_ds: string, hashes: string[]) => new Map(hashes.map((h) => [h, { label: 'billing' }])) },
    datasets: {
      partitionSources: async () => [],
      touchChunks: async () => undefined,
      ensureDataset: async () => undefined,
      insertVersion: async (v: NewDatasetVersion) => {
        inserted.push(v);
        return { created: inserted.length === 1 };
      },
      addLineage: async () => undefined,
      advanceTag: async () => ({ moved: true }),
      tagMoveBy: async () => ({}),
    },
  };
  return { registry, inserted };
}

describe('createDatasetVersion', () => {
  it("lists the stored manifest's objects in the registry when another build stored the version first", async () => {
    const blobs = new MemoryBlobStore();
    const { spec } = await createDirSpecSource(SPECS_DIR).load('tickets');
    const records = generateTickets({ date: PARTITION, count: 300, seed: 3, badLineFraction: 0, duplicateFraction: 0 }).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    const dedupedKey = `work/tickets/${PARTITION}/deduped.jsonl`;
    await blobs.put(dedupedKey, records.map((record) => `${JSON.stringify({ hash: recordHash(record, spec), record })}\n`).join(''));
    const { registry, inserted } = fakeRegistry();
    const { createDatasetVersion } = createVersioningActivities(cpuDeps(blobs, { registry }));
    const input = { dataset: 'tickets', partition: PARTITION, specHash: 'x', dedupedKey, workflowId: 'wf-1' };

    const first = (await new WorkerActivityEnvironment().run(createDatasetVersion, input)) as DatasetVersionRef;
    const ownHashes = inserted[0]!.objects.map((o) => o.hash);
    expect(ownHashes.length).toBeGreaterThan(0);

    // Another build of the same rows stored its manifest first, with one more object (another layout).
    const stored = JSON.parse((await blobs.get(first.manifestKey)).toString()) as ManifestV3;
    const other = { ...stored.chunks[0]!, hash: 'f'.repeat(64), bytes: 7 };
    await blobs.delete(first.manifestKey);
    await blobs.put(first.manifestKey, JSON.stringify({ ...stored, chunks: [...stored.chunks, other] }));

    const second = (await new WorkerActivityEnvironment().run(createDatasetVersion, { ...input, workflowId: 'wf-2' })) as DatasetVersionRef;
    expect(second.versionId).toBe(first.versionId);
    expect(second.objectsWritten).toBe(0); // create-only: nothing rewritten, the stored manifest kept
    const listed = inserted[1]!.objects.map((o) => o.hash);
    expect(listed).toContain('f'.repeat(64));
    expect(new Set(listed)).toEqual(new Set([...ownHashes, 'f'.repeat(64)]));
  });
});
