/** `trainset ingest`: a dry run of contract + PII + dedupe over local files, without Temporal, for data owners. */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import * as path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { parse as parseYaml } from 'yaml';
import { processInputs, type DryRunReport, type InputFile } from '../ingest/partition-processor';
import { detectFormat } from '../ingest/readers';
import { parseDatasetSpec, type DatasetSpec } from '../shared/spec';
import { positiveIntArg } from './args';
import { ExitCode } from './exit-codes';

/** Options of `runIngestCommand`, as the command line gives them. */
export interface IngestCommandOptions {
  /** Dataset spec file (YAML or JSON). */
  spec?: string;
  /** An input file, or a folder whose readable files are all read, sorted by name. */
  input?: string;
  /** Output folder for accepted.jsonl, quarantine.jsonl and report.json (created when missing). */
  out?: string;
  /** Print the report as JSON on stdout instead of the human summary. */
  json?: boolean;
  /** Environment variable holding the tokenize key (default PII_TOKEN_KEY). */
  tokenKeyEnv?: string;
  /** Progress line on stderr every this many records (default 100 000). */
  progressEvery?: number;
}

/** Where the command writes and what environment it reads (tests pass their own). */
export interface IngestIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes of `trainset ingest` (the command's ExitCode values). */
export const IngestExit = { ok: ExitCode.ok, inputOrPolicyFailure: ExitCode.failure, badArguments: ExitCode.usage } as const;

class BadArgument extends Error {}

const processIo = (): IngestIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
});

/**
 * Run the dry run and return the exit code: 0 when every file was read and the PII policy did not say fail,
 * 1 when a file could not be read or the policy said fail (the report is written either way), 2 for bad
 * arguments (message on stderr, nothing written).
 */
export async function runIngestCommand(options: IngestCommandOptions, io: IngestIo = processIo()): Promise<number> {
  let prepared: Prepared;
  try {
    prepared = await prepare(options, io.env);
  } catch (err) {
    if (!(err instanceof BadArgument)) throw err;
    io.stderr(`trainset ingest: ${err.message}\n`);
    return IngestExit.badArguments;
  }
  const { spec, files, out, tokenKey } = prepared;
  const acceptedFile = path.join(out, 'accepted.jsonl');
  const quarantineFile = path.join(out, 'quarantine.jsonl');
  const accepted = createWriteStream(acceptedFile);
  const quarantine = createWriteStream(quarantineFile);
  let report: DryRunReport;
  try {
    report = await processInputs({
      spec,
      files,
      tokenKey,
      progressEvery: options.progressEvery ?? 100_000,
      onAccepted: (record) => write(accepted, `${JSON.stringify(record)}\n`),
      onQuarantined: (item) => write(quarantine, `${JSON.stringify(item)}\n`),
      onProgress: (p) =>
        io.stderr(
          `ingest: ${p.recordsIn} records (${p.accepted} accepted, ${p.quarantined} quarantined, ${p.duplicates} duplicates), file ${p.filesDone + 1}/${files.length}: ${p.file}\n`,
        ),
    });
  } finally {
    await Promise.all([close(accepted), close(quarantine)]);
  }
  await writeFile(path.join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (options.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout(`${ingestReportLines(report, { accepted: acceptedFile, quarantine: quarantineFile }).join('\n')}\n`);
  return report.fileErrors.length > 0 || report.policyFailure ? IngestExit.inputOrPolicyFailure : IngestExit.ok;
}

interface Prepared {
  spec: DatasetSpec;
  files: InputFile[];
  out: string;
  tokenKey?: Buffer;
}

async function prepare(options: IngestCommandOptions, env: IngestIo['env']): Promise<Prepared> {
  const missing = (['spec', 'input', 'out'] as const).filter((k) => !options[k]);
  if (missing.length > 0) throw new BadArgument(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
  const spec = await loadSpecFile(options.spec as string);
  const files = await listInputs(options.input as string, spec);
  const keyEnv = options.tokenKeyEnv ?? 'PII_TOKEN_KEY';
  const key = env[keyEnv];
  const tokenizes = spec.pii.defaultAction === 'tokenize' || Object.values(spec.pii.fields).includes('tokenize');
  if (tokenizes && !key) {
    throw new BadArgument(
      `the spec's PII policy tokenizes values; set ${keyEnv} to the token key (or name another variable with --token-key-env)`,
    );
  }
  const out = options.out as string;
  try {
    await mkdir(out, { recursive: true });
  } catch (err) {
    throw new BadArgument(`cannot create output folder ${out} (${codeOf(err)})`);
  }
  return { spec, files, out, tokenKey: key ? Buffer.from(key, 'utf8') : undefined };
}

/** Read and validate a dataset spec file (YAML, or JSON, which YAML reads too). */
export async function loadSpecFile(file: string): Promise<DatasetSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BadArgument(`cannot read spec file ${file} (${codeOf(err)})`);
  }
  try {
    return parseDatasetSpec(parseYaml(text), file);
  } catch (err) {
    throw new BadArgument(err instanceof Error ? err.message : `invalid spec file ${file}`);
  }
}

/** The input files: the one named, or every file in the folder whose format is known, sorted by name. */
async function listInputs(input: string, spec: DatasetSpec): Promise<InputFile[]> {
  let info;
  try {
    info = await stat(input);
  } catch (err) {
    throw new BadArgument(`cannot read input ${input} (${codeOf(err)})`);
  }
  const formatHint = 'expected .jsonl, .csv or .parquet files, optionally .gz, or set ingest.format in the spec';
  if (info.isFile()) {
    if (detectFormat(input, spec.ingest.format) === undefined) throw new BadArgument(`unknown input format of ${input}; ${formatHint}`);
    return [fileInput(input)];
  }
  if (!info.isDirectory()) throw new BadArgument(`input ${input} is neither a file nor a folder`);
  let entries;
  try {
    entries = await readdir(input, { withFileTypes: true });
  } catch (err) {
    throw new BadArgument(`cannot list input folder ${input} (${codeOf(err)})`);
  }
  const names = entries
    .filter((e) => e.isFile() && detectFormat(e.name, spec.ingest.format) !== undefined)
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new BadArgument(`no readable input files in ${input}; ${formatHint}`);
  return names.map((n) => fileInput(path.join(input, n)));
}

function fileInput(name: string): InputFile {
  return {
    name,
    async open() {
      const stream = createReadStream(name);
      // Surface open errors (EACCES, ENOENT after listing) here, where they are reported against the file.
      await once(stream, 'open');
      return stream as AsyncIterable<Buffer>;
    },
  };
}

/** The human report: counts, reasons and types, never record content. */
export function ingestReportLines(r: DryRunReport, outputs?: { accepted: string; quarantine: string }): string[] {
  const n = (v: number): string => String(v).padStart(10);
  const lines = [
    `trainset ingest (dry run): ${r.files} file${r.files === 1 ? '' : 's'}`,
    `  records in         ${n(r.recordsIn)}`,
    `  accepted           ${n(r.accepted)}   passed the contract and the PII scan`,
    `  quarantined        ${n(r.quarantined)}${outputs && r.quarantined > 0 ? `   → ${outputs.quarantine}` : ''}`,
  ];
  for (const [reason, count] of Object.entries(r.quarantinedByReason)) lines.push(`    ${reason.padEnd(40)} ${count}`);
  lines.push(`  PII findings       ${n(r.piiFindings.total)}`);
  for (const [entity, count] of Object.entries(r.piiFindings.byEntity)) lines.push(`    ${entity.padEnd(40)} ${count}`);
  lines.push(
    `  PII dropped        ${n(r.piiDroppedRecords)}   records with a finding in a drop_record field`,
    `  PII policy fail    ${n(r.piiFailedRecords)}   records with a finding in a fail field`,
    `  duplicates         ${n(r.duplicates)}`,
    `  output records     ${n(r.output.records)}${outputs ? `   → ${outputs.accepted}` : ''}`,
  );
  for (const a of r.arithmetic) lines.push(`  check: ${a}`);
  for (const e of r.fileErrors) {
    lines.push(`  FILE ERROR ${e.file}: ${e.problem} (${e.recordsRead} records read before it): ${e.detail}`);
  }
  if (r.policyFailure) {
    const f = r.policyFailure;
    lines.push(`  PII POLICY FAIL: ${f.entity} in field ${f.field} (${f.file}, record ${f.line}); the pipeline would fail this partition`);
  }
  return lines;
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      resolve();
      return;
    }
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : 'unknown error';
}

/** Register `trainset ingest`. */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description(
      'Dry run for data owners: contract + PII + dedupe over local files, without Temporal; writes accepted.jsonl, quarantine.jsonl and report.json',
    )
    .option('--spec <file>', 'dataset spec file, YAML or JSON (required)')
    .option('--input <path>', 'input file, or a folder: every .jsonl/.csv/.parquet (optionally .gz) file in it, sorted (required)')
    .option('--out <dir>', 'output folder (required)')
    .option('--json', 'print the report as JSON instead of the summary')
    .option('--token-key-env <name>', 'environment variable holding the PII tokenize key', 'PII_TOKEN_KEY')
    .option('--progress-every <n>', 'progress line on stderr every n records', positiveIntArg, 100_000)
    .action(async (opts) => {
      process.exitCode = await runIngestCommand(opts);
    });
}
