import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ingestReportLines, runIngestCommand, type IngestIo } from '../../src/cli/ingest-command';
import { processInputs, type DryRunReport, type InputFile } from '../../src/ingest/partition-processor';
import { generateTicketLines, type GeneratedLine } from '../../src/samples/tickets/generate';
import { parseDatasetSpec } from '../../src/shared/spec';

const SPEC_FILE = path.join(__dirname, '../../specs/tickets.yaml');
const CSV_COLUMNS = ['id', 'created_at', 'channel', 'subject', 'body', 'customer_email', 'queue'] as const;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ingest-dry-run-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An io that captures stdout and stderr, with the environment given. */
function captureIo(env: Record<string, string | undefined> = {}): IngestIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env,
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
  };
  return io;
}

/** The tickets spec as plain data, for tests to patch. */
interface RawSpec {
  dataset: string;
  pii: Record<string, unknown>;
  ingest?: Record<string, unknown>;
}

const rawSpec = (): RawSpec => parseYaml(readFileSync(SPEC_FILE, 'utf8')) as RawSpec;

/** A variant of the tickets spec, written as a JSON file (the command reads YAML or JSON). */
function specFile(patch: (raw: RawSpec) => void): string {
  const raw = rawSpec();
  patch(raw);
  const file = path.join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

const readJsonl = (file: string): Array<Record<string, unknown>> =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function csvCell(v: unknown): string {
  return v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`;
}

/** The reason the contract gives a generated bad line (the generator breaks lines in four known ways). */
function badReason(line: string): string {
  if (line === '') return 'empty_line';
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return 'invalid_json';
  }
  if (!('subject' in t)) return 'missing_required_field:subject';
  if (t.channel === 'fax') return 'invalid_enum:channel';
  throw new Error('unexpected bad line');
}

/** Every PII value the generator planted in a line: customer_email, and the email, phone and card in the body. */
function plantedValues(line: string): string[] {
  const out: string[] = [];
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return out;
  }
  if (typeof t.customer_email === 'string') out.push(t.customer_email);
  const body = typeof t.body === 'string' ? t.body : '';
  for (const re of [/reach me at (\S+)\./, /Call me on (.+?) if needed/, /The card I used is (.+?)\./]) {
    const m = re.exec(body);
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

interface Fixture {
  folder: string;
  lines: Array<GeneratedLine & { file: string }>;
  expectedReasons: Record<string, number>;
  expectedDuplicates: number;
  planted: string[];
  expectedFindings: { EMAIL_ADDRESS: number; PHONE_NUMBER: number; CREDIT_CARD: number };
}

/**
 * A folder with a .jsonl, a .jsonl.gz and a .csv of generated tickets (bad lines and duplicates planted),
 * a CSV row repeating a JSONL ticket under a new id (a duplicate across files), and a stray README.
 */
function buildFolder(): Fixture {
  const folder = path.join(dir, 'in');
  mkdirSync(folder);
  const gen = (date: string, seed: number) =>
    generateTicketLines({ date, count: 400, seed, badLineFraction: 0.05, duplicateFraction: 0.03 });
  const a = gen('2024-03-01', 1);
  const b = gen('2024-03-02', 2);
  // CSV cannot hold a half JSON line or an empty record, so those bad kinds stay in the JSONL files.
  const c = gen('2024-03-03', 3).filter((g) => g.kind !== 'bad' || (g.line !== '' && badReason(g.line) !== 'invalid_json'));
  writeFileSync(path.join(folder, 'a.jsonl'), `${a.map((g) => g.line).join('\n')}\n`);
  writeFileSync(path.join(folder, 'b.jsonl.gz'), gzipSync(`${b.map((g) => g.line).join('\n')}\n`));
  const firstTicket = a.find((g) => g.kind === 'ticket') as GeneratedLine;
  const crossFile: GeneratedLine = {
    ...firstTicket,
    kind: 'duplicate',
    line: JSON.stringify({ ...(JSON.parse(firstTicket.line) as object), id: 'T-cross-file-copy' }),
  };
  const cRows = [...c, crossFile];
  const csv = [
    CSV_COLUMNS.join(','),
    ...cRows.map((g) => {
      const t = JSON.parse(g.line) as Record<string, unknown>;
      return CSV_COLUMNS.map((k) => csvCell(t[k])).join(',');
    }),
  ];
  writeFileSync(path.join(folder, 'c.csv'), `${csv.join('\r\n')}\r\n`);
  writeFileSync(path.join(folder, 'README.txt'), 'not an input file');

  const lines = [
    ...a.map((g) => ({ ...g, file: 'a.jsonl' })),
    ...b.map((g) => ({ ...g, file: 'b.jsonl.gz' })),
    ...cRows.map((g) => ({ ...g, file: 'c.csv' })),
  ];
  const expectedReasons: Record<string, number> = {};
  for (const g of lines.filter((l) => l.kind === 'bad')) {
    const r = badReason(g.line);
    expectedReasons[r] = (expectedReasons[r] ?? 0) + 1;
  }
  const good = lines.filter((l) => l.kind !== 'bad');
  const withCustomerEmail = good.filter((g) => 'customer_email' in (JSON.parse(g.line) as object)).length;
  return {
    folder,
    lines,
    expectedReasons,
    expectedDuplicates: lines.filter((l) => l.kind === 'duplicate').length,
    planted: lines.flatMap((g) => plantedValues(g.line)),
    expectedFindings: {
      EMAIL_ADDRESS: good.reduce((n, g) => n + g.planted.email, 0) + withCustomerEmail,
      PHONE_NUMBER: good.reduce((n, g) => n + g.planted.phone, 0),
      CREDIT_CARD: good.reduce((n, g) => n + g.planted.card, 0),
    },
  };
}

describe('trainset ingest (dry run)', () => {
  it('accounts for every record of a .jsonl, a .jsonl.gz and a .csv: quarantined by reason, PII by type, duplicates', async () => {
    const fx = buildFolder();
    const out = path.join(dir, 'out');
    const io = captureIo();

    const code = await runIngestCommand({ spec: SPEC_FILE, input: fx.folder, out, progressEvery: 500 }, io);

    expect(code).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as DryRunReport;
    const quarantined = Object.values(fx.expectedReasons).reduce((n, v) => n + v, 0);
    expect(report).toMatchObject({
      files: 3,
      recordsIn: fx.lines.length,
      quarantined,
      accepted: fx.lines.length - quarantined,
      quarantinedByReason: fx.expectedReasons,
      duplicates: fx.expectedDuplicates,
      piiDroppedRecords: 0,
      piiFailedRecords: 0,
      output: { records: fx.lines.length - quarantined - fx.expectedDuplicates },
      fileErrors: [],
    });
    expect(report.policyFailure).toBeUndefined();
    expect(Object.keys(fx.expectedReasons).sort()).toEqual([
      'empty_line',
      'invalid_enum:channel',
      'invalid_json',
      'missing_required_field:subject',
    ]);
    expect(fx.expectedDuplicates).toBeGreaterThan(10);
    expect(report.piiFindings.byEntity).toEqual(fx.expectedFindings);
    expect(report.piiFindings.byField.customer_email).toBeGreaterThan(0);
    expect(report.arithmetic).toEqual([
      `recordsIn = accepted + quarantined: ${report.recordsIn} = ${report.accepted} + ${report.quarantined}`,
      `accepted = output.records + piiDroppedRecords + piiFailedRecords + duplicates: ${report.accepted} = ${report.output.records} + 0 + 0 + ${report.duplicates}`,
    ]);

    // accepted.jsonl: one line per output record, no planted PII value left.
    const acceptedText = readFileSync(path.join(out, 'accepted.jsonl'), 'utf8');
    expect(readJsonl(path.join(out, 'accepted.jsonl'))).toHaveLength(report.output.records);
    expect(fx.planted.length).toBeGreaterThan(50);
    for (const v of fx.planted) expect(acceptedText).not.toContain(v);
    expect(acceptedText).toContain('<EMAIL_ADDRESS>');
    expect(acceptedText).not.toContain('T-cross-file-copy');

    // quarantine.jsonl: one line per quarantined record, naming file, line and reason, original bytes kept.
    const q = readJsonl(path.join(out, 'quarantine.jsonl'));
    expect(q).toHaveLength(quarantined);
    const expectedQ = fx.lines
      .map((g, i) => ({ g, i }))
      .filter(({ g }) => g.kind === 'bad')
      .map(({ g }) => ({ file: path.join(fx.folder, g.file), reason: badReason(g.line) }));
    expect(q.map((x) => ({ file: x.file, reason: x.reason }))).toEqual(expectedQ);
    const firstJsonl = q.find((x) => x.file === path.join(fx.folder, 'a.jsonl') && x.reason === 'invalid_json');
    const aLines = fx.lines.filter((g) => g.file === 'a.jsonl');
    expect(Buffer.from(String(firstJsonl?.rawBase64), 'base64').toString('utf8')).toBe(aLines[Number(firstJsonl?.line) - 1]?.line);

    // Human report on stdout, progress on stderr; neither carries a value.
    expect(io.out).toContain(`records in         ${String(report.recordsIn).padStart(10)}`);
    expect(io.out).toContain('invalid_enum:channel');
    expect(io.out).toContain('EMAIL_ADDRESS');
    expect(io.err).toMatch(/^ingest: 500 records \(/m);
    for (const v of fx.planted) expect(io.out + io.err).not.toContain(v);
  });

  it('prints the same report as JSON on stdout with --json, progress staying on stderr', async () => {
    const fx = buildFolder();
    const out = path.join(dir, 'out');
    const io = captureIo();

    const code = await runIngestCommand({ spec: SPEC_FILE, input: fx.folder, out, json: true, progressEvery: 100 }, io);

    expect(code).toBe(0);
    const printed = JSON.parse(io.out) as DryRunReport;
    expect(printed).toEqual(JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')));
    expect(printed.recordsIn).toBe(fx.lines.length);
    expect(io.err).toContain('ingest: 100 records');
  });

  it('names a truncated gzip file and a gzip bomb in fileErrors, reads the other files, and exits 1', async () => {
    const folder = path.join(dir, 'in');
    mkdirSync(folder);
    const lines = generateTicketLines({ date: '2024-03-01', count: 2000, seed: 4, badLineFraction: 0, duplicateFraction: 0 });
    const text = `${lines.map((g) => g.line).join('\n')}\n`;
    const gz = gzipSync(text);
    writeFileSync(path.join(folder, 'a-good.jsonl'), text);
    writeFileSync(path.join(folder, 'b-truncated.jsonl.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    writeFileSync(path.join(folder, 'c-bomb.jsonl.gz'), gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)));
    const spec = specFile((raw) => {
      raw.ingest = { ...raw.ingest, maxDecompressedBytes: 2 * 1024 * 1024 };
    });
    const out = path.join(dir, 'out');
    const io = captureIo();

    const code = await runIngestCommand({ spec, input: folder, out }, io);

    expect(code).toBe(1);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as DryRunReport;
    expect(report.fileErrors.map((e) => [e.file, e.problem])).toEqual([
      [path.join(folder, 'b-truncated.jsonl.gz'), 'truncated_gzip'],
      [path.join(folder, 'c-bomb.jsonl.gz'), 'decompressed_too_large'],
    ]);
    for (const e of report.fileErrors) expect(e.detail).toContain(e.file);
    const truncated = report.fileErrors[0];
    // Records read before the file broke are accounted for like any others.
    expect(report.recordsIn).toBe(lines.length + (truncated?.recordsRead ?? 0));
    expect(report.recordsIn).toBe(report.accepted + report.quarantined);
    expect(io.out).toContain(`FILE ERROR ${path.join(folder, 'b-truncated.jsonl.gz')}: truncated_gzip`);
  });

  it('reports a PII "fail" policy with field and entity, never the value, and exits 1 with the report written', async () => {
    const folder = path.join(dir, 'in');
    mkdirSync(folder);
    const lines = generateTicketLines({ date: '2024-03-05', count: 300, seed: 5, badLineFraction: 0, duplicateFraction: 0 });
    writeFileSync(path.join(folder, 'a.jsonl'), `${lines.map((g) => g.line).join('\n')}\n`);
    const spec = specFile((raw) => {
      raw.pii = { ...raw.pii, fields: { customer_email: 'fail' } };
    });
    const out = path.join(dir, 'out');
    const io = captureIo();

    const code = await runIngestCommand({ spec, input: folder, out, json: true }, io);

    expect(code).toBe(1);
    const reportText = readFileSync(path.join(out, 'report.json'), 'utf8');
    const report = JSON.parse(reportText) as DryRunReport;
    const firstWithEmail = lines.findIndex((g) => 'customer_email' in (JSON.parse(g.line) as object));
    const emails = lines.map((g) => (JSON.parse(g.line) as { customer_email?: string }).customer_email).filter((e) => e !== undefined);
    expect(report.policyFailure).toEqual({
      field: 'customer_email',
      entity: 'EMAIL_ADDRESS',
      file: path.join(folder, 'a.jsonl'),
      line: firstWithEmail + 1,
    });
    expect(report.piiFailedRecords).toBe(emails.length);
    expect(report.output.records).toBe(lines.length - emails.length);
    expect(emails.length).toBeGreaterThan(10);
    for (const e of emails) {
      expect(reportText).not.toContain(e);
      expect(io.out).not.toContain(e);
      expect(readFileSync(path.join(out, 'accepted.jsonl'), 'utf8')).not.toContain(e);
    }
    const human = ingestReportLines(report).join('\n');
    expect(human).toContain('PII POLICY FAIL: EMAIL_ADDRESS in field customer_email');
  });

  it('counts drop_record records and keeps the arithmetic balanced', async () => {
    const lines = generateTicketLines({ date: '2024-03-06', count: 300, seed: 6 });
    const raw = rawSpec();
    raw.pii = { ...raw.pii, fields: { customer_email: 'drop_record' } };
    const spec = parseDatasetSpec(raw, 'drop');
    async function* bytes(): AsyncGenerator<Buffer> {
      yield Buffer.from(lines.map((g) => g.line).join('\n'));
    }
    const file: InputFile = { name: 'mem.jsonl', open: async () => bytes() };
    const accepted: string[] = [];
    const progress: number[] = [];

    const report = await processInputs({
      spec,
      files: [file],
      progressEvery: 100,
      onAccepted: (_record, hash) => {
        accepted.push(hash);
      },
      onProgress: (p) => progress.push(p.recordsIn),
    });

    expect(report.piiDroppedRecords).toBeGreaterThan(10);
    expect(report.recordsIn).toBe(300);
    expect(report.accepted).toBe(report.output.records + report.piiDroppedRecords + report.piiFailedRecords + report.duplicates);
    expect(report.recordsIn).toBe(report.accepted + report.quarantined);
    expect(accepted).toHaveLength(report.output.records);
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(progress).toEqual([100, 200, 300]);
  });

  it('tokenizes with the key from --token-key-env, and refuses to start without it (exit 2)', async () => {
    const folder = path.join(dir, 'in');
    mkdirSync(folder);
    const lines = generateTicketLines({ date: '2024-03-07', count: 200, seed: 7, badLineFraction: 0 });
    writeFileSync(path.join(folder, 'a.jsonl'), lines.map((g) => g.line).join('\n'));
    const spec = specFile((raw) => {
      raw.pii = { ...raw.pii, defaultAction: 'tokenize' };
    });
    const out = path.join(dir, 'out');

    const missing = captureIo();
    expect(await runIngestCommand({ spec, input: folder, out, tokenKeyEnv: 'MY_KEY' }, missing)).toBe(2);
    expect(missing.err).toContain('set MY_KEY');

    const io = captureIo({ MY_KEY: 'k'.repeat(32) });
    expect(await runIngestCommand({ spec, input: folder, out, tokenKeyEnv: 'MY_KEY' }, io)).toBe(0);
    const text = readFileSync(path.join(out, 'accepted.jsonl'), 'utf8');
    const planted = lines.flatMap((g) => plantedValues(g.line));
    for (const v of planted) expect(text).not.toContain(v);
    expect(text).not.toContain('<EMAIL_ADDRESS>');
  });

  it.each([
    ['a missing --spec', { input: '.', out: 'x' }, 'missing --spec'],
    ['a spec file that does not exist', { spec: 'nope.yaml', input: '.', out: 'x' }, 'cannot read spec file nope.yaml (ENOENT)'],
    [
      'an input path that does not exist',
      { spec: SPEC_FILE, input: '/nonexistent/in', out: 'x' },
      'cannot read input /nonexistent/in (ENOENT)',
    ],
  ])('exits 2 with a clear message on %s', async (_name, opts, message) => {
    const io = captureIo();
    const code = await runIngestCommand({ ...opts, out: path.join(dir, opts.out) }, io);
    expect(code).toBe(2);
    expect(io.err).toContain(message);
    expect(io.out).toBe('');
  });

  it('exits 2 for an invalid spec and for a folder with no readable files', async () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'notes.txt'), 'x');
    const io = captureIo();
    expect(await runIngestCommand({ spec: SPEC_FILE, input: empty, out: path.join(dir, 'o') }, io)).toBe(2);
    expect(io.err).toContain(`no readable input files in ${empty}`);

    const bad = specFile((raw) => {
      raw.dataset = 'Not Valid';
    });
    const io2 = captureIo();
    expect(await runIngestCommand({ spec: bad, input: empty, out: path.join(dir, 'o') }, io2)).toBe(2);
    expect(io2.err).toContain('Invalid dataset spec');
    expect(io2.err).toContain('dataset');
  });
});
