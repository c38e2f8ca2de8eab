/** Operations on stored dataset versions: verify, garbage collection, lineage. Used by `trainset datasets`. */
import { createHash } from 'node:crypto';
import type { Registry } from '../registry';
import type { DatasetVersion, LineageEdge } from '../registry/datasets';
import { shiftDate } from '../shared/ids';
import type { BlobStore } from '../storage/blob-store';
import { chunkKey, deltaKey, manifestObjects, type ManifestV3 } from './version-store';

/** One problem `verify` found. */
export interface VerifyProblem {
  key: string;
  problem: 'missing' | 'hash_mismatch' | 'size_mismatch' | 'manifest_missing' | 'unsupported_format' | 'partition_missing';
  expected?: string;
  actual?: string;
  /** partition_missing: the newest live version holding the partition (where a rebuild would take it from). */
  heldBy?: string;
}

/** What `verify` checked. */
export interface VerifyReport {
  versionId: string;
  objects: number;
  bytes: number;
  problems: VerifyProblem[];
}

/** Re-hash every object a version references (chunks, delta segments) and compare with the manifest. */
export async function verifyVersion(blobs: BlobStore, manifestKeyOf: string, versionId: string): Promise<VerifyReport> {
  const report: VerifyReport = { versionId, objects: 0, bytes: 0, problems: [] };
  if (!(await blobs.head(manifestKeyOf))) {
    report.problems.push({ key: manifestKeyOf, problem: 'manifest_missing' });
    return report;
  }
  const manifest = JSON.parse((await blobs.get(manifestKeyOf)).toString('utf8')) as ManifestV3 | { format: string };
  if (manifest.format !== 'trainset-manifest-v3') {
    report.problems.push({ key: manifestKeyOf, problem: 'unsupported_format', actual: manifest.format });
    return report;
  }
  for (const o of manifestObjects(manifest as ManifestV3)) {
    report.objects += 1;
    if (!(await blobs.head(o.key))) {
      report.problems.push({ key: o.key, problem: 'missing' });
      continue;
    }
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of await blobs.getStream(o.key)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    report.bytes += size;
    const actual = h.digest('hex');
    if (actual !== o.hash) report.problems.push({ key: o.key, problem: 'hash_mismatch', expected: o.hash, actual });
    else if (size !== o.bytes)
      report.problems.push({ key: o.key, problem: 'size_mismatch', expected: String(o.bytes), actual: String(size) });
  }
  return report;
}

/**
 * Partitions of a version's window (`[logical date - windowDays + 1, logical date]`) that a live version holds and
 * this one lacks, as `partition_missing` problems keyed by the raw partition (`<dataset>/<YYYY-MM-DD>`): days
 * processed after the version was built, or before it by code that chained manifests. Rebuilding the version's
 * day (a new run of its version stage) takes them in.
 */
export async function windowProblems(
  registry: Registry,
  version: Pick<DatasetVersion, 'id' | 'dataset' | 'logicalDate'>,
  windowDays: number,
): Promise<VerifyProblem[]> {
  const held = new Set(await registry.datasets.versionPartitions(version.id));
  const sources = await registry.datasets.partitionSources(
    version.dataset,
    shiftDate(version.logicalDate, windowDays - 1),
    version.logicalDate,
  );
  return sources
    .filter((s) => !held.has(s.partition))
    .map((s) => ({ key: `${version.dataset}/${s.partition}`, problem: 'partition_missing' as const, heldBy: s.versionId }));
}

/** Options of collectGarbage. */
export interface GcOptions {
  dataset: string;
  /** Keep the newest this many versions (default 10). */
  keepLast?: number;
  /** Keep versions created within this many days (default 30). */
  keepDays?: number;
  /**
   * Chunks touched by a commit within this long before the collection started are kept even when no
   * version references them yet (a commit still in flight). Must exceed the longest version commit.
   */
  graceMs?: number;
  /** Only report (the default in the CLI). */
  dryRun: boolean;
  actor: string;
  /** When the mark phase starts (tests pin it). */
  now?: Date;
}

/** What a collection did or would do. */
export interface GcReport {
  dataset: string;
  dryRun: boolean;
  retainedVersions: string[];
  collectedVersions: string[];
  deletedChunks: number;
  deletedBytes: number;
  /** Chunks found unreferenced but touched by a commit meanwhile: kept. */
  skippedChunks: number;
}

/**
 * Mark and sweep. Mark: the retained versions (tagged, trained on, newest N, recent) keep their chunks; the
 * rest are marked collected (their manifests deleted). Sweep: each chunk no live version references and no
 * commit touched within the grace period is deleted under a row lock (see registry sweepChunk), so a commit
 * running at the same time either keeps it alive or writes it again.
 */
export async function collectGarbage(blobs: BlobStore, registry: Registry, opts: GcOptions): Promise<GcReport> {
  const start = opts.now ?? new Date();
  const before = new Date(start.getTime() - (opts.graceMs ?? 24 * 3600_000));
  const retained = await registry.datasets.retainedVersions(opts.dataset, opts.keepLast ?? 10, opts.keepDays ?? 30);
  const report: GcReport = {
    dataset: opts.dataset,
    dryRun: opts.dryRun,
    retainedVersions: [...retained].sort(),
    collectedVersions: [],
    deletedChunks: 0,
    deletedBytes: 0,
    skippedChunks: 0,
  };
  const live = await registry.datasets.liveVersions(opts.dataset);
  const doomed = live.filter((v) => !retained.has(v.id));
  report.collectedVersions = doomed.map((v) => v.id);
  if (opts.dryRun) {
    // What would go: chunks unreferenced now, plus those only the doomed versions reference.
    const keep = new Set<string>();
    for (const v of live) if (retained.has(v.id)) for (const o of await registry.datasets.versionObjects(v.id)) keep.add(o.hash);
    const candidates = new Map<string, number>();
    for (const c of await registry.datasets.unreferencedChunks(opts.dataset, before)) candidates.set(c.hash, c.size);
    for (const v of doomed)
      for (const o of await registry.datasets.versionObjects(v.id)) if (!keep.has(o.hash)) candidates.set(o.hash, o.size);
    report.deletedChunks = candidates.size;
    report.deletedBytes = [...candidates.values()].reduce((a, b) => a + b, 0);
    return report;
  }
  for (const v of doomed) {
    if (await registry.datasets.collectVersion(v.id, opts.actor)) await blobs.delete(v.manifestKey);
  }
  for (const c of await registry.datasets.unreferencedChunks(opts.dataset, before)) {
    const deleted = await registry.datasets.sweepChunk(c.hash, before, async () => {
      for (const key of objectKeysOf(opts.dataset, c.hash)) await blobs.delete(key);
    });
    if (deleted) {
      report.deletedChunks += 1;
      report.deletedBytes += c.size;
    } else report.skippedChunks += 1;
  }
  return report;
}

/** Where an object with this hash may live: a base chunk or a delta segment. */
function objectKeysOf(dataset: string, hash: string): string[] {
  return [chunkKey(dataset, hash), deltaKey(dataset, hash)];
}

/** The lineage graph around one node, both ways, as edges reached by walking from it. */
export interface LineageGraph {
  node: { kind: string; id: string };
  /** Edges walked backwards: what this was derived from (raw partitions of a model, say). */
  upstream: LineageEdge[];
  /** Edges walked forwards: what was derived from this (models trained on a version, their deployments). */
  downstream: LineageEdge[];
}

/** Guess a node's kind from its id: `dv-…` dataset version, `<dataset>/<date>` raw partition, else model version. */
export function lineageNodeOf(id: string): { kind: string; id: string } {
  if (id.startsWith('dv-')) return { kind: 'dataset_version', id };
  if (/^[a-z][a-z0-9_-]*\/\d{4}-\d{2}-\d{2}$/.test(id)) return { kind: 'raw_partition', id };
  if (id.startsWith('deployment:')) return { kind: 'deployment', id: id.slice('deployment:'.length) };
  return { kind: 'model_version', id };
}

/** Walk lineage edges from a node in both directions (breadth-first, each edge once). */
export async function lineageGraph(registry: Registry, node: { kind: string; id: string }, maxEdges = 10_000): Promise<LineageGraph> {
  const walk = async (dir: 'up' | 'down'): Promise<LineageEdge[]> => {
    const seen = new Set<string>();
    const edges: LineageEdge[] = [];
    let frontier = [node];
    while (frontier.length > 0 && edges.length < maxEdges) {
      const next: Array<{ kind: string; id: string }> = [];
      for (const n of frontier) {
        const found = dir === 'up' ? await registry.datasets.lineageTo(n.kind, n.id) : await registry.datasets.lineageFrom(n.kind, n.id);
        for (const e of found) {
          const k = `${e.fromKind}:${e.fromId}>${e.toKind}:${e.toId}`;
          if (seen.has(k)) continue;
          seen.add(k);
          edges.push(e);
          next.push(dir === 'up' ? { kind: e.fromKind, id: e.fromId } : { kind: e.toKind, id: e.toId });
        }
      }
      frontier = next;
    }
    return edges;
  };
  return { node, upstream: await walk('up'), downstream: await walk('down') };
}
