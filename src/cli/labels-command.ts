/** `trainset labels pending | submit`: human labeling of the records a run waits on. */
import type { Command } from '@commander-js/extra-typings';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import { readDedupedRecords } from '../datasets/work-files';
import { retrainWorkflowId } from '../shared/ids';
import type { DatasetSpec } from '../shared/spec';
import type { SubmitLabelsInput } from '../shared/types';
import type { BlobStore } from '../storage/blob-store';
import { submitLabelsUpdate } from '../workflows/messages';
import { dateArg, positiveIntArg } from './args';
import { partitionRunOf, withBackends, withClient } from './operator-commands';

/** Characters of a record's text shown to a labeler. */
const PREVIEW_CHARS = 100;

/** A record waiting for a label: its hash (what `labels submit` takes) and the start of its text fields. */
export interface PendingLabel {
  recordHash: string;
  text: string;
  /** A production record's serving champion margin (lower: less sure, labeled first); null for other records. */
  margin?: number | null;
}

/** The start of a record's text: the spec's text fields that hold a value, in the spec's order, joined by " | ". */
export function recordPreview(record: Record<string, unknown>, spec: DatasetSpec, chars = PREVIEW_CHARS): string {
  return spec.schema.textFields
    .map((f) => record[f])
    .filter((v) => v !== undefined && v !== null && v !== '')
    .map(String)
    .join(' | ')
    .slice(0, chars);
}

/**
 * The pending records with their text, from the partition's PII-clean records (the dedupe output), in the order of
 * `hashes`; a record no longer in the work area (swept) has an empty text.
 */
export async function pendingLabels(
  blobs: BlobStore,
  spec: DatasetSpec,
  partition: string,
  hashes: readonly string[],
): Promise<PendingLabel[]> {
  const wanted = new Set(hashes);
  const texts = new Map<string, string>();
  for await (const { hash, record } of readDedupedRecords(blobs, spec.dataset, partition)) {
    if (wanted.has(hash)) texts.set(hash, recordPreview(record, spec));
  }
  return hashes.map((h) => ({ recordHash: h, text: texts.get(h) ?? '' }));
}

/** Register the labels commands. */
export function registerLabelsCommands(program: Command): void {
  const labels = program.command('labels').description('Human labeling: list open tasks, submit labels');
  labels
    .command('pending')
    .description(
      "List unlabeled records of a partition, the champion's least certain production records first (lowest margin): record hash and the start of its PII-redacted text fields",
    )
    .argument('<dataset>')
    .argument('<date>', 'partition, YYYY-MM-DD', dateArg)
    .option('--limit <n>', 'at most this many', positiveIntArg, 50)
    .option('--json', 'print JSON: [{"recordHash","text","margin"}]')
    .action(async (dataset, date, opts) => {
      await withBackends(async (b) => {
        const tasks = await b.registry.labels.pendingTasksWithPriority(dataset, date, opts.limit);
        const { spec } = await b.specs.load(dataset);
        const pending = (
          await pendingLabels(
            b.blobs,
            spec,
            date,
            tasks.map((t) => t.recordHash),
          )
        ).map((p, i) => ({ ...p, margin: tasks[i]?.priority ?? null }));
        if (opts.json) return void console.log(JSON.stringify(pending, null, 2));
        for (const p of pending) console.log(`${p.recordHash}\t${p.text}`);
        console.error(
          `${pending.length} pending task(s); submit with: npx trainset labels submit ${retrainWorkflowId(dataset, date)} --file labels.json`,
        );
      });
    });
  labels
    .command('submit')
    .description('Send labels to a waiting run (the `submitLabels` update); file: {"labels":[{"recordHash":"…","label":"…"}]}')
    .argument('<workflowId>')
    .requiredOption('--file <path>', 'JSON file with the labels')
    .option('--by <name>', 'who labeled', process.env.USER ?? 'cli')
    .action(async (workflowId, opts) => {
      const body = JSON.parse(await readFile(opts.file, 'utf8')) as SubmitLabelsInput;
      await withClient(async (client) => {
        try {
          const r = await client.workflow
            .getHandle(await partitionRunOf(client, workflowId))
            .executeUpdate(submitLabelsUpdate, { args: [{ labels: body.labels, labeledBy: opts.by }] });
          console.log(`accepted ${r.accepted}, rejected ${r.rejected}; coverage ${r.coverage.labeled}/${r.coverage.total}`);
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) throw new Error(`labels refused: ${err.cause?.message ?? err.message}`);
          throw err;
        }
      });
    });
}
