/** `trainset pii scan`: the PII scanner on its own, over a JSONL file, writing findings and a redacted copy. */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from '@commander-js/extra-typings';
import { decodeUtf8Strict, splitLines } from '../ingest/line-framing';
import { scanRecord, type PiiPolicy } from '../pii/engine';
import { PiiEntitySchema, type PiiEntity } from '../shared/spec';
import { positiveIntArg } from './args';

/** Inputs of `runPiiScan`. */
export interface PiiScanOptions {
  /** JSONL file to scan. */
  input: string;
  /** Where findings go, one JSON object per line. */
  findings: string;
  /** Where the redacted records go, one per line (skipped and quarantined lines are not written). */
  redacted: string;
  /** Time budget per record (default 10 s: an offline scan can afford more than the pipeline). */
  timeoutMs?: number;
  /** Longest line read (default 16 MiB); longer lines are skipped. */
  maxLineBytes?: number;
}

/** A line that was not scanned: its 0-based index and why, never its content. */
export interface SkippedLine {
  record: number;
  reason: 'not_a_json_object' | 'invalid_json' | 'invalid_utf8' | 'record_too_large' | 'pii_scan_timeout' | 'pii_scan_error';
}

/** What `runPiiScan` did. */
export interface PiiScanSummary {
  records: number;
  scanned: number;
  skipped: SkippedLine[];
  findings: number;
  byEntity: Record<PiiEntity, number>;
}

/** Scan every string field of every record of a JSONL file (all entity types, redact), streaming line by line. */
export async function runPiiScan(options: PiiScanOptions): Promise<PiiScanSummary> {
  const entities = PiiEntitySchema.options;
  const policy: PiiPolicy = { entities, defaultAction: 'redact', fields: {} };
  const summary: PiiScanSummary = {
    records: 0,
    scanned: 0,
    skipped: [],
    findings: 0,
    byEntity: Object.fromEntries(entities.map((e) => [e, 0])) as Record<PiiEntity, number>,
  };
  const findingsOut = createWriteStream(options.findings);
  const redactedOut = createWriteStream(options.redacted);
  try {
    const lines = splitLines(createReadStream(options.input), { maxLineBytes: options.maxLineBytes ?? 16 * 1024 * 1024 });
    for await (const item of lines) {
      const index = item.lineNumber - 1;
      summary.records += 1;
      if (item.kind === 'error') {
        summary.skipped.push({ record: index, reason: item.reason });
        continue;
      }
      const record = parseObject(item.bytes);
      if (typeof record === 'string') {
        summary.skipped.push({ record: index, reason: record });
        continue;
      }
      const r = scanRecord(record, policy, { timeoutMs: options.timeoutMs ?? 10_000 });
      if (r.action === 'quarantine') {
        summary.skipped.push({ record: index, reason: r.reason ?? 'pii_scan_error' });
        continue;
      }
      summary.scanned += 1;
      let lines = '';
      for (const f of r.findings) {
        summary.findings += 1;
        summary.byEntity[f.entity] += 1;
        // Without a spec every key is named, as rewritten in the redacted copy; `inKey` marks offsets into a key.
        const finding = {
          record: index,
          field: f.field,
          entity: f.entity,
          start: f.start,
          end: f.end,
          ...(f.inKey ? { inKey: true } : {}),
        };
        lines += `${JSON.stringify(finding)}\n`;
      }
      if (lines) await write(findingsOut, lines);
      await write(redactedOut, `${JSON.stringify(r.record)}\n`);
    }
  } finally {
    await Promise.all([close(findingsOut), close(redactedOut)]);
  }
  return summary;
}

function parseObject(bytes: Buffer): Record<string, unknown> | 'not_a_json_object' | 'invalid_json' | 'invalid_utf8' {
  const text = decodeUtf8Strict(bytes);
  if (text === undefined) return 'invalid_utf8';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'invalid_json';
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : 'not_a_json_object';
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/** Human-readable lines for a scan summary: counts only, never values. */
export function piiScanSummaryLines(s: PiiScanSummary): string[] {
  const lines = [`records: ${s.records}, scanned: ${s.scanned}, skipped: ${s.skipped.length}, findings: ${s.findings}`];
  for (const [entity, n] of Object.entries(s.byEntity)) lines.push(`  ${entity.padEnd(14)} ${n}`);
  for (const k of s.skipped.slice(0, 20)) lines.push(`  skipped line ${k.record}: ${k.reason}`);
  if (s.skipped.length > 20) lines.push(`  … and ${s.skipped.length - 20} more skipped lines`);
  return lines;
}

/** Register `trainset pii scan`. */
export function registerPiiCommands(program: Command): void {
  const pii = program.command('pii').description('PII tools');
  pii
    .command('scan')
    .description('Scan every string field of a JSONL file for PII; write findings (offsets, never values) and a redacted copy')
    .argument('<input>', 'JSONL file to scan')
    .requiredOption('--findings <file>', 'findings output, one JSON line per finding')
    .requiredOption('--redacted <file>', 'redacted records output (JSONL)')
    .option('--timeout-ms <ms>', 'time budget per record; a record over it is skipped as pii_scan_timeout', positiveIntArg, 10_000)
    .action(async (input, opts) => {
      const summary = await runPiiScan({ input, findings: opts.findings, redacted: opts.redacted, timeoutMs: opts.timeoutMs });
      for (const line of piiScanSummaryLines(summary)) process.stdout.write(`${line}\n`);
    });
}
