/** `trainset datasets list | show | verify | diff | lineage | tag | gc`: the dataset version registry. */
import type { Command } from '@commander-js/extra-typings';
import { readManifest, readVersionRows, versionStats } from '../datasets/manifest';
import { compareStats, figureName, formatFigure } from '../quality/drift';
import { HASH_COLUMN } from '../datasets/parquet';
import { diffRows } from '../datasets/version-diff';
import { collectGarbage, lineageGraph, lineageNodeOf, verifyVersion, windowProblems, type VerifyProblem } from '../datasets/ops';
import type { Registry } from '../registry';
import { nonNegativeIntArg, positiveIntArg } from './args';
import { withBackends } from './operator-commands';

/** A registered version, or an error naming what was asked for. */
async function versionOrThrow(registry: Registry, id: string) {
  const v = await registry.datasets.getVersion(id);
  if (!v) throw new Error(`no dataset version ${id} (see: npx trainset datasets list <dataset>)`);
  return v;
}

/** How to rebuild a version that lacks partitions of its window: run its day again (a new version is built). */
const rebuildHint = (dataset: string, logicalDate: string): string => `npx trainset run ${dataset} --date ${logicalDate}`;

/** One line per problem, for people. */
function problemLine(p: VerifyProblem): string {
  if (p.problem === 'partition_missing') return `  ${p.problem}  ${p.key}  (processed, held by ${p.heldBy ?? '?'})`;
  return `  ${p.problem}  ${p.key}${p.actual ? `  (got ${p.actual})` : ''}`;
}

/** Register the dataset commands. */
export function registerDatasetCommands(program: Command): void {
  const datasets = program
    .command('datasets')
    .description('Dataset versions: list, inspect, verify, diff, lineage, tags, garbage collection');

  datasets
    .command('list')
    .description('Versions of a dataset, newest first, with their tags')
    .argument('<dataset>')
    .option('--limit <n>', 'at most this many', positiveIntArg, 50)
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      await withBackends(async (b) => {
        const versions = await b.registry.datasets.listVersions(dataset, opts.limit);
        if (opts.json) return void console.log(JSON.stringify(versions, null, 2));
        if (versions.length === 0) return void console.log(`no versions of ${dataset}`);
        for (const v of versions) {
          const state = v.collectedAt ? `collected ${v.collectedAt}` : v.tags.length > 0 ? `tags: ${v.tags.join(', ')}` : '';
          console.log(`${v.id}  ${v.logicalDate}  ${String(v.rows).padStart(8)} rows  ${v.createdAt}  ${state}`);
        }
      });
    });

  datasets
    .command('show')
    .description('A version: partitions, chunks, delta, rows, labels')
    .argument('<version>')
    .option('--json', 'print the manifest as JSON')
    .action(async (id, opts) => {
      await withBackends(async (b) => {
        const v = await versionOrThrow(b.registry, id);
        const m = await readManifest(b.blobs, v.dataset, id);
        if (opts.json) return void console.log(JSON.stringify(m, null, 2));
        console.log(`${id}  dataset ${v.dataset}  logical date ${v.logicalDate}  ${m.rows} rows  format ${m.format}`);
        console.log(`partitions: ${m.partitions.map((p) => p.partition).join(', ')}`);
        const { spec } = await b.specs.load(v.dataset);
        const gaps = await windowProblems(b.registry, v, spec.version.windowDays);
        if (gaps.length > 0) {
          console.log(
            `missing from its window (processed, not in this version): ${gaps.map((g) => g.key.slice(v.dataset.length + 1)).join(', ')}; rebuild: ${rebuildHint(v.dataset, v.logicalDate)}`,
          );
        }
        if (m.format === 'trainset-manifest-v3') {
          const bytes = m.chunks.reduce((a, c) => a + c.bytes, 0);
          console.log(`chunks: ${m.chunks.length} (${(bytes / 2 ** 20).toFixed(2)} MiB Parquet); delta segments: ${m.delta.length}`);
          for (const d of m.delta) console.log(`  delta ${d.hash.slice(0, 16)}…  ${d.upserts} upserts, ${d.tombstones} tombstones`);
        }
        console.log(
          `labels: ${Object.entries(m.labelDistribution)
            .map(([l, n]) => `${l}=${n}`)
            .join(', ')}`,
        );
        console.log(`card: ${b.blobs.uri}/datasets/${v.dataset}/cards/${id}.html`);
      });
    });

  datasets
    .command('verify')
    .description(
      'Re-hash every chunk and delta segment of a version and check its window holds every processed partition; exit 1 on any problem',
    )
    .argument('<version>')
    .option('--json', 'print JSON')
    .action(async (id, opts) => {
      await withBackends(async (b) => {
        const v = await versionOrThrow(b.registry, id);
        const report = await verifyVersion(b.blobs, v.manifestKey, id);
        const { spec } = await b.specs.load(v.dataset);
        // The window is the current spec's (a spec change since the version was built shifts what is expected).
        report.problems.push(...(await windowProblems(b.registry, v, spec.version.windowDays)));
        if (opts.json) console.log(JSON.stringify(report, null, 2));
        else {
          console.log(
            `${id}: ${report.objects} objects, ${(report.bytes / 2 ** 20).toFixed(2)} MiB re-hashed, ${report.problems.length} problem(s)`,
          );
          for (const p of report.problems) console.log(problemLine(p));
          if (report.problems.some((p) => p.problem === 'partition_missing'))
            console.log(`  rebuild with every processed partition: ${rebuildHint(v.dataset, v.logicalDate)}`);
        }
        if (report.problems.length > 0) process.exitCode = 1;
      });
    });

  datasets
    .command('diff')
    .description('Records added / removed / changed between two versions (by record key), and per-feature statistics deltas')
    .argument('<a>', 'older version')
    .argument('<b>', 'newer version')
    .option('--key <field>', 'field identifying a record (default: the content hash)')
    .option('--json', 'print JSON')
    .action(async (aId, bId, opts) => {
      await withBackends(async (b) => {
        const va = await versionOrThrow(b.registry, aId);
        const vb = await versionOrThrow(b.registry, bId);
        if (va.dataset !== vb.dataset) throw new Error(`${aId} is a version of ${va.dataset}, ${bId} of ${vb.dataset}`);
        const { spec } = await b.specs.load(va.dataset);
        const [ma, mb] = [await readManifest(b.blobs, va.dataset, aId), await readManifest(b.blobs, vb.dataset, bId)];
        const rows = await diffRows(await readVersionRows(b.blobs, spec, ma), await readVersionRows(b.blobs, spec, mb), {
          keyField: opts.key ?? HASH_COLUMN,
        });
        const drift = compareStats(await versionStats(b.blobs, spec, ma), await versionStats(b.blobs, spec, mb), spec.quality.drift);
        if (opts.json) return void console.log(JSON.stringify({ a: aId, b: bId, rows, drift }, null, 2));
        console.log(`${aId} → ${bId}`);
        console.log(`records: +${rows.added} added, -${rows.removed} removed, ~${rows.changed} changed, ${rows.unchanged} unchanged`);
        const fields = Object.entries(rows.changedFields).sort((x, y) => y[1] - x[1]);
        if (fields.length > 0) console.log(`changed fields: ${fields.map(([f, n]) => `${f} (${n})`).join(', ')}`);
        if (rows.duplicateKeys.a + rows.duplicateKeys.b > 0)
          console.log(`duplicate keys: a ${rows.duplicateKeys.a}, b ${rows.duplicateKeys.b}`);
        console.log('feature statistics (drift of b against a):');
        for (const f of drift.figures) {
          console.log(
            `  ${figureName(f).padEnd(28)} ${f.metric.padEnd(14)} ${f.value === null ? 'n/a' : formatFigure(f.value)}${f.breached ? `  over ${f.limit}` : ''}`,
          );
        }
      });
    });

  datasets
    .command('lineage')
    .description('Lineage both ways: raw partitions → dataset version → model versions → deployments')
    .argument('<id>', 'a dataset version (dv-…), a raw partition (<dataset>/<YYYY-MM-DD>), a model version id, or deployment:<model>')
    .option('--json', 'print JSON')
    .action(async (id, opts) => {
      await withBackends(async (b) => {
        const graph = await lineageGraph(b.registry, lineageNodeOf(id));
        if (opts.json) return void console.log(JSON.stringify(graph, null, 2));
        console.log(`${graph.node.kind} ${graph.node.id}`);
        console.log(`derived from (${graph.upstream.length} edges):`);
        for (const e of graph.upstream) console.log(`  ${e.fromKind} ${e.fromId}  →  ${e.toKind} ${e.toId}`);
        console.log(`used by (${graph.downstream.length} edges):`);
        for (const e of graph.downstream) console.log(`  ${e.fromKind} ${e.fromId}  →  ${e.toKind} ${e.toId}`);
      });
    });

  datasets
    .command('tag')
    .description('Point a tag (latest, prod, or your own) at a version; atomic, recorded in the tag history and audit log')
    .argument('<dataset>')
    .argument('<tag>')
    .argument('<version>')
    .option('--by <name>', 'who moves it', process.env.USER ?? 'cli')
    .action(async (dataset, tag, id, opts) => {
      await withBackends(async (b) => {
        const move = await b.registry.datasets.setTag(dataset, tag, id, `user:${opts.by}`);
        console.log(
          move.moved ? `${dataset}:${tag} → ${id}${move.from ? ` (was ${move.from})` : ''}` : `${dataset}:${tag} already at ${id}`,
        );
      });
    });

  datasets
    .command('gc')
    .description('Delete chunks no retained version references (mark and sweep); a dry run unless --apply')
    .argument('<dataset>')
    .option('--apply', 'delete (default: only report)')
    .option('--keep-last <n>', 'keep the newest n versions', nonNegativeIntArg, 10)
    .option('--keep-days <n>', 'keep versions created within n days', nonNegativeIntArg, 30)
    .option('--grace-hours <n>', 'keep chunks a commit touched within n hours (commits in flight)', nonNegativeIntArg, 24)
    .option('--by <name>', 'who runs it', process.env.USER ?? 'cli')
    .option('--json', 'print JSON')
    .action(async (dataset, opts) => {
      await withBackends(async (b) => {
        const report = await collectGarbage(b.blobs, b.registry, {
          dataset,
          keepLast: opts.keepLast,
          keepDays: opts.keepDays,
          graceMs: opts.graceHours * 3600_000,
          dryRun: !opts.apply,
          actor: `user:${opts.by}`,
        });
        if (opts.json) return void console.log(JSON.stringify(report, null, 2));
        const verb = report.dryRun ? 'would delete' : 'deleted';
        console.log(
          `${dataset}: ${report.retainedVersions.length} version(s) retained, ${report.collectedVersions.length} ${report.dryRun ? 'to collect' : 'collected'}; ${verb} ${report.deletedChunks} chunk(s), ${(report.deletedBytes / 2 ** 20).toFixed(2)} MiB${report.skippedChunks > 0 ? `; ${report.skippedChunks} kept (touched by a commit meanwhile)` : ''}`,
        );
        if (report.dryRun) console.log('dry run: nothing deleted; add --apply to delete');
      });
    });
}
