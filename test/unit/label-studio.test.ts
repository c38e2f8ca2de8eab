/** Label Studio interchange: tasks out, a hand-written Label Studio export back in, the plain JSONL format, bad files. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { HashedRecord } from '../../src/datasets/work-files';
import {
  fromLabelStudioExport,
  fromSubmissionsJsonl,
  labelStudioConfig,
  LabelFileInvalid,
  LabelSpecUnsupported,
  toLabelStudioTasks,
  toSubmissionsJsonl,
  toTasksJsonl,
  type LabelSubmissionRecord,
} from '../../src/labeling/label-studio';
import { ErrorType } from '../../src/shared/errors';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';

const root = path.resolve(__dirname, '../..');
const loadSpec = (name: string): DatasetSpec => parseDatasetSpec(parse(readFileSync(path.join(root, 'specs', name), 'utf8')), name);
const tickets = loadSpec('tickets.yaml');
const reviews = loadSpec('reviews.yaml');
/** A Label Studio JSON export written by hand from the documented task format (labelstud.io/guide/task_format). */
const exportFile = (): unknown => JSON.parse(readFileSync(path.join(root, 'test/fixtures/label-studio-export.json'), 'utf8'));

const H1 = '3f1c9a0d5e7b2468ac13579bdf02468ace13579bdf02468ace13579bdf024681';
const H2 = '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807f6e5d4c3b2a19087f6e5d4c3';
const H3 = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';

/** PII-redacted ticket records (the dedupe output), with fields a task must not show. */
const ticketRecords: HashedRecord[] = [
  {
    hash: H1,
    record: {
      id: 'T-ID-7781',
      created_at: '2026-11-30T08:00:00Z',
      channel: 'email',
      subject: 'Charged twice this month',
      body: 'My card was charged twice, write to <EMAIL_ADDRESS>',
      customer_email: '<EMAIL_ADDRESS>-kept-out',
    },
  },
  {
    hash: H2,
    record: {
      id: 'T-ID-7782',
      created_at: '2026-11-30T09:00:00Z',
      channel: 'chat',
      subject: 'App crashes on login',
      body: 'Since the update the app closes when I sign in from <IP_ADDRESS>',
    },
  },
  { hash: H3, record: { id: 'T-ID-7783', created_at: '2026-11-30T10:00:00Z', channel: 'web', subject: 'Where is my parcel' } },
];

/** The `$name` references of a labeling config. */
const configVariables = (xml: string): string[] => [...xml.matchAll(/value="\$([A-Za-z0-9_]+)"/g)].map((m) => m[1]!);

/** The LabelFileInvalid a call throws (fails the test if it throws nothing or something else). */
function invalid(fn: () => unknown): LabelFileInvalid {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LabelFileInvalid);
    return err as LabelFileInvalid;
  }
  throw new Error('expected LabelFileInvalid, nothing was thrown');
}

/** The fixture's shape, as far as the tests edit it. */
interface ExportResult {
  type: string;
  from_name: string;
  value: Record<string, unknown>;
}
interface ExportAnnotation {
  id?: number;
  completed_by?: unknown;
  result: ExportResult[];
}
interface ExportTask {
  id: number;
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  annotations: ExportAnnotation[];
}

/** The fixture with one change applied to a copy. */
function editedExport(edit: (tasks: ExportTask[]) => void): unknown {
  const tasks = exportFile() as ExportTask[];
  edit(tasks);
  return tasks;
}

describe('Label Studio tasks out', () => {
  it('shows the tickets spec text fields and its categorical field as context, never the id or other fields', () => {
    const tasks = toLabelStudioTasks(ticketRecords, tickets, { partition: '2026-11-30' });
    expect(tasks).toEqual([
      {
        data: { subject: 'Charged twice this month', body: 'My card was charged twice, write to <EMAIL_ADDRESS>', channel: 'email' },
        meta: { recordHash: H1, dataset: 'tickets', partition: '2026-11-30' },
      },
      {
        data: {
          subject: 'App crashes on login',
          body: 'Since the update the app closes when I sign in from <IP_ADDRESS>',
          channel: 'chat',
        },
        meta: { recordHash: H2, dataset: 'tickets', partition: '2026-11-30' },
      },
      {
        data: { subject: 'Where is my parcel', body: '', channel: 'web' },
        meta: { recordHash: H3, dataset: 'tickets', partition: '2026-11-30' },
      },
    ]);
    const text = JSON.stringify(tasks);
    expect(text).not.toContain('T-ID-');
    expect(text).not.toContain('kept-out');
    expect(text).not.toContain('2026-11-30T');
  });

  it('makes one task per record hash', () => {
    const twice = [...ticketRecords, { hash: H1, record: { ...ticketRecords[0]!.record, subject: 'a later copy' } }];
    const tasks = toLabelStudioTasks(twice, tickets, { partition: '2026-11-30' });
    expect(tasks.map((t) => t.meta.recordHash)).toEqual([H1, H2, H3]);
    expect(tasks[0]!.data.subject).toBe('Charged twice this month');
  });

  it('generates a tickets config whose $references are exactly the task data keys, with a single choice over the classes', () => {
    const xml = labelStudioConfig(tickets);
    const [task] = toLabelStudioTasks(ticketRecords, tickets, { partition: '2026-11-30' });
    expect(configVariables(xml).sort()).toEqual(Object.keys(task!.data).sort());
    expect(xml).toContain('<Choices name="queue" toName="subject" choice="single" required="true">');
    expect([...xml.matchAll(/<Choice value="([^"]+)"\/>/g)].map((m) => m[1])).toEqual(['billing', 'technical', 'account', 'shipping']);
    expect(xml.trim().startsWith('<View>') && xml.trim().endsWith('</View>')).toBe(true);
  });

  it('docs/label-studio.md shows the config the tickets spec generates', () => {
    const doc = readFileSync(path.join(root, 'docs/label-studio.md'), 'utf8');
    expect(doc).toContain(`\`\`\`xml\n${labelStudioConfig(tickets)}\`\`\``);
  });

  it('works for the reviews spec: its own fields and classes, numbers shown as text', () => {
    const records: HashedRecord[] = [
      {
        hash: 'r1',
        record: {
          id: 'REV-ID-1',
          created_at: '2026-11-30T08:00:00Z',
          product_category: 'books',
          language: 'de',
          rating: 4,
          title: 'Gut',
          text: 'Spannend bis zum Schluss',
        },
      },
    ];
    const tasks = toLabelStudioTasks(records, reviews, { partition: '2026-11-29' });
    expect(tasks).toEqual([
      {
        data: { title: 'Gut', text: 'Spannend bis zum Schluss', product_category: 'books', language: 'de', rating: '4' },
        meta: { recordHash: 'r1', dataset: 'reviews', partition: '2026-11-29' },
      },
    ]);
    const xml = labelStudioConfig(reviews);
    expect(configVariables(xml).sort()).toEqual(Object.keys(tasks[0]!.data).sort());
    expect(xml).toContain('<Choices name="sentiment" toName="title"');
    expect([...xml.matchAll(/<Choice value="([^"]+)"\/>/g)].map((m) => m[1])).toEqual(['positive', 'neutral', 'negative']);
  });

  it('never exports the id or label field even when a spec lists it as a text field', () => {
    const spec: DatasetSpec = {
      ...tickets,
      schema: { ...tickets.schema, textFields: ['id', 'subject'], categoricalFields: ['queue', 'channel'] },
    };
    const [task] = toLabelStudioTasks([{ hash: 'h', record: { id: 'T-ID-1', subject: 's', queue: 'billing', channel: 'web' } }], spec, {
      partition: '2026-11-30',
    });
    expect(task!.data).toEqual({ subject: 's', channel: 'web' });
    expect(configVariables(labelStudioConfig(spec))).toEqual(['channel', 'subject']);
  });

  it('escapes classes in the config and refuses field names a config cannot reference', () => {
    const spec: DatasetSpec = { ...tickets, labels: { ...tickets.labels, classes: ['R&D', 'say "hi"'] } };
    expect(labelStudioConfig(spec)).toContain('<Choice value="R&amp;D"/>');
    expect(labelStudioConfig(spec)).toContain('<Choice value="say &quot;hi&quot;"/>');
    const dashed: DatasetSpec = { ...tickets, schema: { ...tickets.schema, textFields: ['ticket-subject'] } };
    expect(() => labelStudioConfig(dashed)).toThrow(LabelSpecUnsupported);
    expect(() => toLabelStudioTasks([], dashed, { partition: '2026-11-30' })).toThrow(/ticket-subject cannot be referenced/);
  });
});

describe('Label Studio export back in', () => {
  const expected: LabelSubmissionRecord[] = [
    {
      recordHash: H1,
      partition: '2026-11-30',
      label: 'billing',
      annotator: 'ana@example.com',
      annotationId: '1001',
      leadTimeSeconds: 4.288,
      createdAt: '2026-12-01T09:14:02.512340Z',
    },
    {
      recordHash: H1,
      partition: '2026-11-30',
      label: 'billing',
      annotator: 'label-studio-user:11',
      annotationId: '1002',
      leadTimeSeconds: 12.5,
      createdAt: '2026-12-01T10:02:45.100000Z',
    },
    {
      recordHash: H2,
      partition: '2026-11-30',
      label: 'technical',
      annotator: 'bo@example.com',
      annotationId: '1005',
      leadTimeSeconds: 7,
      createdAt: '2026-12-01T11:30:00.000000Z',
    },
  ];

  it('round trip: the exported tasks are what the hand-written export holds; its annotations come back as submissions, results of other controls ignored', () => {
    const tasks = toLabelStudioTasks(ticketRecords, tickets, { partition: '2026-11-30' });
    const exported = exportFile() as Array<{ data: unknown; meta: unknown }>;
    expect(exported.map((t) => ({ data: t.data, meta: t.meta }))).toEqual(tasks);

    const got = fromLabelStudioExport(exported, tickets);
    expect(got.submissions).toEqual(expected);
    expect(got.cancelled).toBe(1);
    expect(got.skipped).toEqual([{ recordHash: H2, annotationId: '1004', reason: 'multiple choices' }]);
  });

  it('reads a single task object (one file per task, as target storage writes) and an annotation without choices', () => {
    const one = (exportFile() as ExportTask[])[0]!;
    one.annotations[1]!.result = [];
    const got = fromLabelStudioExport(one, tickets);
    expect(got.submissions.map((s) => s.annotationId)).toEqual(['1001']);
    expect(got.skipped).toEqual([{ recordHash: H1, annotationId: '1002', reason: 'no choice' }]);
  });

  it('a repeated annotation (two exports concatenated) is read once', () => {
    const tasks = exportFile() as unknown[];
    const got = fromLabelStudioExport([...tasks, tasks[0]], tickets);
    expect(got.submissions).toEqual(expected);
  });

  it('rejects a file that is not a JSON export', () => {
    const err = invalid(() => fromLabelStudioExport({ tasks: [] }, tickets));
    expect(err.type).toBe(ErrorType.InvalidInput);
    expect(err.problems).toEqual(['expected an array of tasks (Export → JSON in Label Studio)']);
    const min = invalid(() => fromLabelStudioExport([{ id: 41, subject: 'x', queue: 'billing' }], tickets));
    expect(min.problems).toEqual(['task[0] (id 41): not a task with "data" (was the project exported as JSON, not JSON_MIN or CSV?)']);
  });

  it('lists every problem of a bad export, with the task and annotation it is in, and imports nothing', () => {
    const notAnArray: unknown = { choices: ['billing'] };
    const bad = editedExport((t) => {
      delete t[0]!.meta.recordHash;
      t[1]!.annotations[2]!.result[0]!.value.choices = ['refund'];
      delete t[1]!.annotations[1]!.completed_by;
      t[2]!.annotations = [
        { completed_by: 10, result: [] },
        { id: 2001, completed_by: 10, result: notAnArray as ExportResult[] },
      ];
    });
    const err = invalid(() => fromLabelStudioExport(bad, tickets));
    expect(err.problems).toEqual([
      'task[0] (id 41): no meta.recordHash (only tasks exported by trainset can be imported)',
      'task[1] (id 42) annotation 1004: no completed_by user',
      'task[1] (id 42) annotation 1005: unknown class "refund" (classes: billing, technical, account, shipping)',
      'task[2] (id 43) annotation [0]: no annotation id',
      'task[2] (id 43) annotation 2001: "result" is not an array',
    ]);
    expect(err.message).toMatch(/^Label Studio export: 5 problem\(s\), nothing imported/);
    expect(err.message).toContain('unknown class "refund"');
  });

  it('rejects a choices result without a list of strings, tasks of another dataset and one annotation id with two contents', () => {
    const bad = editedExport((t) => {
      t[0]!.annotations[0]!.result[0]!.value = { choices: 'billing' };
      t[1]!.meta.dataset = 'reviews';
      const second = t[0]!.annotations[1]!;
      t[2]!.annotations = [{ ...second, result: [{ ...second.result[0]!, value: { choices: ['shipping'] } }] }];
    });
    const err = invalid(() => fromLabelStudioExport(bad, tickets));
    expect(err.problems).toEqual([
      'task[0] (id 41) annotation 1001: result of "queue" has no value.choices list of strings',
      'task[1] (id 42): task of dataset reviews, not tickets',
      'task[2] (id 43) annotation 1002: annotation id 1002 appears twice with different content',
    ]);
  });

  it('refuses the pre-1.0 "completions" format and annotations that are not a list', () => {
    const bad = editedExport((t) => {
      const old = t[0]! as ExportTask & { completions?: unknown };
      old.completions = old.annotations;
      delete (old as Partial<ExportTask>).annotations;
      (t[1] as unknown as { annotations: unknown }).annotations = { id: 1 };
    });
    const err = invalid(() => fromLabelStudioExport(bad, tickets));
    expect(err.problems).toEqual([
      'task[0] (id 41): "completions" (the format of Label Studio before 1.0); export from Label Studio 1.x, which writes "annotations"',
      'task[1] (id 42): "annotations" is not an array',
    ]);
  });

  it('reads labels against the spec it is given: the tickets export is refused for reviews', () => {
    const err = invalid(() => fromLabelStudioExport(exportFile(), reviews));
    expect(err.problems.length).toBe(3);
    expect(err.problems.every((p) => p.endsWith('task of dataset tickets, not reviews'))).toBe(true);
  });

  it('caps the listed problems and counts the rest', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ id: i, data: {}, meta: {} }));
    const err = invalid(() => fromLabelStudioExport(many, tickets));
    expect(err.problems).toHaveLength(25);
    expect(err.message).toContain('task[19] (id 19)');
    expect(err.message).not.toContain('task[20] (id 20)');
    expect(err.message).toContain('and 5 more');
  });
});

describe('plain JSONL', () => {
  it('writes one task per line with the same fields as the Label Studio tasks', () => {
    const lines = toTasksJsonl(ticketRecords, tickets, { partition: '2026-11-30' }).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!)).toEqual({
      recordHash: H3,
      dataset: 'tickets',
      partition: '2026-11-30',
      fields: { subject: 'Where is my parcel', body: '', channel: 'web' },
    });
    expect(lines.join('\n')).not.toContain('T-ID-');
  });

  it('submissions round trip through JSONL, and a hand-written line gets a stable annotation id', () => {
    const fromExport = fromLabelStudioExport(exportFile(), tickets).submissions;
    const text = `${toSubmissionsJsonl(fromExport)}\n{"recordHash":"${H3}","label":"shipping","annotator":"cy"}\n`;
    const got = fromSubmissionsJsonl(text, tickets);
    expect(got.submissions.slice(0, 3)).toEqual(fromExport);
    expect(got.submissions[3]).toEqual({
      recordHash: H3,
      label: 'shipping',
      annotator: 'cy',
      annotationId: `jsonl:cy:${H3}:shipping`,
      leadTimeSeconds: null,
      createdAt: null,
    });
    const again = fromSubmissionsJsonl(`${text}{"recordHash":"${H3}","label":"shipping","annotator":"cy"}\n`, tickets);
    expect(again.submissions).toHaveLength(4);
  });

  it('lists bad lines by number', () => {
    const text = [
      '{"recordHash":"h1","label":"billing","annotator":"a"}',
      'not json',
      '[1]',
      '{"recordHash":"h2","label":"refund","annotator":"a"}',
      '{"recordHash":"h3","label":"billing"}',
      '{"recordHash":"h4","label":"billing","annotator":"a","leadTimeSeconds":"3s"}',
      '{"recordHash":"h5","label":"billing","annotator":"a","annotationId":"x"}',
      '{"recordHash":"h6","label":"account","annotator":"a","annotationId":"x"}',
    ].join('\n');
    const err = invalid(() => fromSubmissionsJsonl(text, tickets));
    expect(err.problems).toEqual([
      'line 2: not JSON',
      'line 3: not a JSON object',
      'line 4: unknown class "refund" (classes: billing, technical, account, shipping)',
      'line 5: missing annotator (strings)',
      'line 6: leadTimeSeconds is not a number',
      'line 8: annotation id x appears twice with different content',
    ]);
    expect(err.message).toMatch(/^JSONL labels: 6 problem\(s\)/);
  });
});
