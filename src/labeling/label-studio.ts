/**
 * Label Studio interchange, and a plain JSONL equivalent: tasks out (the PII-clean records that need labels, showing
 * only the spec's text and categorical fields), annotations back in as submissions keyed by the tool's annotation id.
 * Pure: no I/O, no Temporal; the CLI reads and writes the files.
 */
import type { HashedRecord } from '../datasets/work-files';
import { ErrorType, TrainsetError } from '../shared/errors';
import type { DatasetSpec } from '../shared/spec';

/** Problems listed in an error message; the rest are counted. */
const MAX_LISTED_PROBLEMS = 20;

/** Field names the generated config can reference as `$name` (kept to word characters; others are refused). */
const DATA_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where a task came from: carried in the Label Studio task's `meta` (and each JSONL task line), read back on import. */
export interface TaskMeta {
  /** The record hash: the task id `labels submit` and the submitLabels update take. */
  recordHash: string;
  dataset: string;
  /** Partition date, YYYY-MM-DD. */
  partition: string;
}

/** A task in Label Studio's import JSON: `data` keys match the `$field` references of the generated config. */
export interface LabelStudioTask {
  data: Record<string, string>;
  meta: TaskMeta;
}

/** One task of the plain JSONL format: the same content without Label Studio's envelope. */
export interface JsonlTask extends TaskMeta {
  fields: Record<string, string>;
}

/** One human label read from a labeling tool's export or a JSONL file. */
export interface LabelSubmissionRecord {
  recordHash: string;
  /** The partition the task was exported from (its `meta`); absent in JSONL lines that do not say. */
  partition?: string;
  label: string;
  /** Who labeled: the annotator's email when the export carries it, else `label-studio-user:<id>`. */
  annotator: string;
  /** The tool's annotation id: the idempotency key of the submission (a re-import applies it once). */
  annotationId: string;
  /** Seconds the annotator spent (Label Studio's `lead_time`), when known. */
  leadTimeSeconds: number | null;
  /** When the annotation was made (ISO-8601, as the tool wrote it), when known. */
  createdAt: string | null;
}

/** Why an annotation was read but gave no submission. */
export interface SkippedAnnotation {
  recordHash: string;
  annotationId: string;
  reason: 'multiple choices' | 'no choice';
}

/** What an import read: the submissions, and what it left out and why. */
export interface LabelImport {
  submissions: LabelSubmissionRecord[];
  /** Annotations the annotator cancelled (skipped the task): never labels. */
  cancelled: number;
  /** Annotations without exactly one choice from the label control. */
  skipped: SkippedAnnotation[];
}

/** Options of a task export. */
export interface TaskExportOptions {
  /** Partition date, YYYY-MM-DD, written into each task's meta. */
  partition: string;
}

/**
 * A file that cannot be read as labels: each problem names where it is (task index and id, annotation id or JSONL
 * line). Type InvalidInput: the same file fails the same way.
 */
export class LabelFileInvalid extends TrainsetError {
  /** Every problem found, in file order. */
  readonly problems: readonly string[];

  constructor(what: string, problems: readonly string[]) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  - ${p}`);
    if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`  - and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    super(`${what}: ${problems.length} problem(s), nothing imported; fix the file and import it again:\n${listed.join('\n')}`, {
      type: ErrorType.InvalidInput,
    });
    this.name = 'LabelFileInvalid';
    this.problems = problems;
  }
}

/** A spec whose fields cannot be shown in Label Studio. Type InvalidSpec. */
export class LabelSpecUnsupported extends TrainsetError {
  constructor(message: string) {
    super(message, { type: ErrorType.InvalidSpec });
    this.name = 'LabelSpecUnsupported';
  }
}

/**
 * The fields a task shows: the spec's text fields, then its categorical fields as context, never the id or label
 * field (a spec that lists them there still does not export them).
 */
export function taskFields(spec: DatasetSpec): { text: string[]; context: string[] } {
  const hidden = new Set([spec.schema.idField, spec.schema.labelField]);
  const text = spec.schema.textFields.filter((f) => !hidden.has(f));
  const context = spec.schema.categoricalFields.filter((f) => !hidden.has(f) && !text.includes(f));
  if (text.length === 0) throw new LabelSpecUnsupported(`spec ${spec.dataset}: no text field to show besides the id and label fields`);
  const bad = [...text, ...context].filter((f) => !DATA_KEY.test(f));
  if (bad.length > 0) {
    throw new LabelSpecUnsupported(
      `spec ${spec.dataset}: field name(s) ${bad.join(', ')} cannot be referenced as $name in a Label Studio config; use letters, digits and "_"`,
    );
  }
  return { text, context };
}

/** Name of the Choices control in the generated config: the spec's label field. */
export function labelControlName(spec: DatasetSpec): string {
  return spec.schema.labelField;
}

function xmlAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The labeling config XML for a project that labels this spec's tasks: a header and a Text per text field, the
 * categorical fields as context, one single-choice Choices over `labels.classes`, required.
 */
export function labelStudioConfig(spec: DatasetSpec): string {
  const { text, context } = taskFields(spec);
  const control = labelControlName(spec);
  const lines = ['<View>'];
  for (const f of context) lines.push(`  <Header value="${xmlAttr(f)}" size="6"/>`, `  <Text name="${f}" value="$${f}"/>`);
  for (const f of text) lines.push(`  <Header value="${xmlAttr(f)}" size="5"/>`, `  <Text name="${f}" value="$${f}"/>`);
  lines.push(`  <Choices name="${xmlAttr(control)}" toName="${text[0]}" choice="single" required="true">`);
  for (const c of spec.labels.classes) lines.push(`    <Choice value="${xmlAttr(c)}"/>`);
  lines.push('  </Choices>', '</View>');
  return `${lines.join('\n')}\n`;
}

function fieldText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The shown fields of one record, as strings (a missing value is ""; Label Studio shows nothing rather than failing). */
function shownFields(record: Record<string, unknown>, fields: readonly string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, fieldText(record[f])]));
}

/** Records once each, by hash (the first wins): one task per record. */
function uniqueByHash(records: Iterable<HashedRecord>): HashedRecord[] {
  const seen = new Set<string>();
  return [...records].filter((r) => !seen.has(r.hash) && seen.add(r.hash));
}

/**
 * Label Studio import JSON for records that need labels (pass the PII-clean dedupe output, already filtered to the
 * pending hashes): `data` holds only the fields `taskFields` names, `meta` the record hash, dataset and partition.
 */
export function toLabelStudioTasks(records: Iterable<HashedRecord>, spec: DatasetSpec, opts: TaskExportOptions): LabelStudioTask[] {
  const { text, context } = taskFields(spec);
  return uniqueByHash(records).map(({ hash, record }) => ({
    data: shownFields(record, [...text, ...context]),
    meta: { recordHash: hash, dataset: spec.dataset, partition: opts.partition },
  }));
}

/** The same tasks as plain JSONL, one task per line. */
export function toTasksJsonl(records: Iterable<HashedRecord>, spec: DatasetSpec, opts: TaskExportOptions): string {
  return toLabelStudioTasks(records, spec, opts)
    .map((t): JsonlTask => ({ ...t.meta, fields: t.data }))
    .map((t) => `${JSON.stringify(t)}\n`)
    .join('');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idString(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return undefined;
}

/** The annotator of an annotation: `completed_by` is a user id, or (JSON export) a user object with id and email. */
function annotatorOf(completedBy: unknown): string | undefined {
  if (isObject(completedBy) && typeof completedBy.email === 'string' && completedBy.email.trim() !== '') return completedBy.email.trim();
  const id = idString(isObject(completedBy) ? completedBy.id : completedBy);
  return id === undefined ? undefined : `label-studio-user:${id}`;
}

/** The choices of the label control in an annotation's result, or a problem. */
function choicesOf(result: unknown, control: string): string[] | string {
  if (!Array.isArray(result)) return '"result" is not an array';
  const choices: string[] = [];
  for (const r of result) {
    if (!isObject(r)) return 'a result entry is not an object';
    // Results of other controls (a comment box a team added) are not labels.
    if (r.type !== 'choices' || r.from_name !== control) continue;
    const value = r.value;
    if (!isObject(value) || !Array.isArray(value.choices) || !value.choices.every((c) => typeof c === 'string')) {
      return `result of "${control}" has no value.choices list of strings`;
    }
    choices.push(...value.choices);
  }
  return choices;
}

/**
 * Submissions from a Label Studio JSON export (Export → JSON: an array of tasks with `data`, `meta` and
 * `annotations`; a single task object is read as one). Cancelled annotations are counted, not labels; annotations
 * with several or no choices are listed in `skipped`. Throws LabelFileInvalid listing every problem: not an export,
 * a task without `meta.recordHash` or of another dataset, pre-1.0 `completions`, an annotation without id or
 * annotator, a class the spec does not have, an annotation id seen twice with different content.
 */
export function fromLabelStudioExport(json: unknown, spec: DatasetSpec): LabelImport {
  const tasks = Array.isArray(json) ? json : isObject(json) && 'data' in json ? [json] : undefined;
  if (tasks === undefined) {
    throw new LabelFileInvalid('not a Label Studio JSON export', ['expected an array of tasks (Export → JSON in Label Studio)']);
  }
  const control = labelControlName(spec);
  const classes = new Set(spec.labels.classes);
  const problems: string[] = [];
  const out: LabelImport = { submissions: [], cancelled: 0, skipped: [] };
  const seen = new Map<string, string>();
  tasks.forEach((task, i) => {
    const at = isObject(task) && idString(task.id) !== undefined ? `task[${i}] (id ${idString(task.id)})` : `task[${i}]`;
    if (!isObject(task) || !isObject(task.data)) {
      problems.push(`${at}: not a task with "data" (was the project exported as JSON, not JSON_MIN or CSV?)`);
      return;
    }
    const meta = task.meta;
    const recordHash = isObject(meta) && typeof meta.recordHash === 'string' && meta.recordHash !== '' ? meta.recordHash : undefined;
    if (recordHash === undefined) {
      problems.push(`${at}: no meta.recordHash (only tasks exported by trainset can be imported)`);
      return;
    }
    if (isObject(meta) && meta.dataset !== undefined && meta.dataset !== spec.dataset) {
      problems.push(`${at}: task of dataset ${String(meta.dataset)}, not ${spec.dataset}`);
      return;
    }
    const partition = isObject(meta) && typeof meta.partition === 'string' ? meta.partition : undefined;
    if (task.annotations === undefined && task.completions !== undefined) {
      problems.push(
        `${at}: "completions" (the format of Label Studio before 1.0); export from Label Studio 1.x, which writes "annotations"`,
      );
      return;
    }
    const annotations = task.annotations ?? [];
    if (!Array.isArray(annotations)) {
      problems.push(`${at}: "annotations" is not an array`);
      return;
    }
    annotations.forEach((a, j) => {
      const annotationId = isObject(a) ? idString(a.id) : undefined;
      const where = `${at} annotation ${annotationId ?? `[${j}]`}`;
      if (!isObject(a) || annotationId === undefined) return void problems.push(`${where}: no annotation id`);
      if (a.was_cancelled === true) return void out.cancelled++;
      const annotator = annotatorOf(a.completed_by);
      if (annotator === undefined) return void problems.push(`${where}: no completed_by user`);
      const choices = choicesOf(a.result, control);
      if (typeof choices === 'string') return void problems.push(`${where}: ${choices}`);
      const unknown = choices.filter((c) => !classes.has(c));
      if (unknown.length > 0) {
        return void problems.push(
          `${where}: unknown class ${unknown.map((c) => `"${c}"`).join(', ')} (classes: ${spec.labels.classes.join(', ')})`,
        );
      }
      if (choices.length !== 1) {
        return void out.skipped.push({ recordHash, annotationId, reason: choices.length === 0 ? 'no choice' : 'multiple choices' });
      }
      const sub: LabelSubmissionRecord = {
        recordHash,
        ...(partition === undefined ? {} : { partition }),
        label: choices[0]!,
        annotator,
        annotationId,
        leadTimeSeconds: typeof a.lead_time === 'number' && Number.isFinite(a.lead_time) ? a.lead_time : null,
        createdAt: typeof a.created_at === 'string' ? a.created_at : null,
      };
      addOnce(out.submissions, seen, sub, where, problems);
    });
  });
  if (problems.length > 0) throw new LabelFileInvalid('Label Studio export', problems);
  return out;
}

/** Keep a submission once per annotation id; the same id with other content is a problem. */
function addOnce(
  into: LabelSubmissionRecord[],
  seen: Map<string, string>,
  sub: LabelSubmissionRecord,
  where: string,
  problems: string[],
): void {
  const content = JSON.stringify(sub);
  const before = seen.get(sub.annotationId);
  if (before === undefined) {
    seen.set(sub.annotationId, content);
    into.push(sub);
  } else if (before !== content) {
    problems.push(`${where}: annotation id ${sub.annotationId} appears twice with different content`);
  }
}

/** Submissions as plain JSONL, one per line (what `fromSubmissionsJsonl` reads back). */
export function toSubmissionsJsonl(submissions: readonly LabelSubmissionRecord[]): string {
  return submissions.map((s) => `${JSON.stringify(s)}\n`).join('');
}

/**
 * Submissions from plain JSONL, one per line: `recordHash`, `label` and `annotator` are required; `annotationId`
 * (default `jsonl:<annotator>:<recordHash>:<label>`, so re-importing a line applies it once), `partition`,
 * `leadTimeSeconds` and `createdAt` are optional. Blank lines are ignored. Throws LabelFileInvalid listing every
 * problem by line number.
 */
export function fromSubmissionsJsonl(text: string, spec: DatasetSpec): LabelImport {
  const classes = new Set(spec.labels.classes);
  const problems: string[] = [];
  const out: LabelImport = { submissions: [], cancelled: 0, skipped: [] };
  const seen = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return void problems.push(`${where}: not JSON`);
    }
    if (!isObject(v)) return void problems.push(`${where}: not a JSON object`);
    const missing = (['recordHash', 'label', 'annotator'] as const).filter((k) => typeof v[k] !== 'string' || v[k] === '');
    if (missing.length > 0) return void problems.push(`${where}: missing ${missing.join(', ')} (strings)`);
    const { recordHash, label, annotator } = v as Record<'recordHash' | 'label' | 'annotator', string>;
    if (!classes.has(label)) return void problems.push(`${where}: unknown class "${label}" (classes: ${spec.labels.classes.join(', ')})`);
    if (v.leadTimeSeconds !== undefined && v.leadTimeSeconds !== null && typeof v.leadTimeSeconds !== 'number') {
      return void problems.push(`${where}: leadTimeSeconds is not a number`);
    }
    const sub: LabelSubmissionRecord = {
      recordHash,
      ...(typeof v.partition === 'string' ? { partition: v.partition } : {}),
      label,
      annotator,
      annotationId: idString(v.annotationId) ?? `jsonl:${annotator}:${recordHash}:${label}`,
      leadTimeSeconds: typeof v.leadTimeSeconds === 'number' ? v.leadTimeSeconds : null,
      createdAt: typeof v.createdAt === 'string' ? v.createdAt : null,
    };
    addOnce(out.submissions, seen, sub, where, problems);
  });
  if (problems.length > 0) throw new LabelFileInvalid('JSONL labels', problems);
  return out;
}
