import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Deduper } from '../src/dedupe/dedupe';
import { ParquetRecordWriter } from '../src/datasets/parquet';
import { openRecordStream } from '../src/ingest/readers';
import { generateTickets } from '../src/samples/tickets/generate';
import { scanRecord } from '../src/pii/engine';
import { parseDatasetSpec, type DatasetSpec } from '../src/shared/spec';
import type { Bench } from './harness';

const MB = 1024 * 1024;

/** The tickets spec every data-path benchmark runs against. */
export function benchSpec(): DatasetSpec {
  return parseDatasetSpec(parseYaml(readFileSync(path.join(__dirname, '../specs/tickets.yaml'), 'utf8')));
}

/**
 * A generated JSONL file of at least `mb` MiB of sample tickets (bad lines and duplicates included), written
 * once under the temp dir and reused while it is there (generation takes ~4 s per 100 MiB).
 */
export function ensureTicketFile(mb: number): string {
  const dir = path.join(tmpdir(), 'trainset-bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `tickets-${mb}mb.jsonl`);
  if (existsSync(file) && statSync(file).size >= mb * MB) return file;
  const partial = `${file}.${process.pid}.tmp`;
  const fd = openSync(partial, 'w');
  let size = 0;
  for (let day = 0; size < mb * MB; day++) {
    const date = new Date(Date.UTC(2026, 0, 1) + (day % 365) * 86_400_000).toISOString().slice(0, 10);
    const text = `${generateTickets({ date, count: 20_000, seed: 1000 + day }).join('\n')}\n`;
    size += writeSync(fd, text);
  }
  closeSync(fd);
  renameSync(partial, file);
  return file;
}

/** Counts from one candidate run, so a benchmark can show what it did. */
export interface DataPathCounts {
  recordsIn: number;
  accepted: number;
  duplicates: number;
  written: number;
}

/** The candidate: file → reader → contract → PII scan + redaction → dedupe hash → Parquet written to `outFile`. */
export async function runDataPath(file: string, spec: DatasetSpec, outFile: string): Promise<DataPathCounts> {
  const skipFields = [spec.schema.idField, spec.schema.timeField, spec.schema.labelField];
  const fd = openSync(outFile, 'w');
  const writer = new ParquetRecordWriter(spec, { sink: (chunk) => void writeSync(fd, chunk) });
  const deduper = new Deduper(spec);
  const counts: DataPathCounts = { recordsIn: 0, accepted: 0, duplicates: 0, written: 0 };
  try {
    const source = createReadStream(file, { highWaterMark: MB });
    for await (const item of openRecordStream(source, { spec, fileName: path.basename(file) })) {
      counts.recordsIn += 1;
      if (item.kind !== 'accepted') continue;
      counts.accepted += 1;
      const scanned = scanRecord(item.record, spec.pii, { skipFields });
      if (scanned.action !== 'keep') continue;
      const { hash, duplicate } = deduper.check(scanned.record);
      if (duplicate) {
        counts.duplicates += 1;
        continue;
      }
      writer.write(scanned.record, hash);
      counts.written += 1;
    }
    writer.finish();
  } finally {
    deduper.close();
    closeSync(fd);
  }
  return counts;
}

/** The baseline: read the same file, split lines, JSON.parse each. Returns the number of lines. */
export async function runBareParse(file: string): Promise<number> {
  let lines = 0;
  let carry = '';
  for await (const chunk of createReadStream(file, { highWaterMark: MB, encoding: 'utf8' })) {
    const text = carry + (chunk as string);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      lines += 1;
      try {
        JSON.parse(text.slice(start, nl));
      } catch {
        // bad lines are part of the input
      }
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  return lines;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Issue 3's B1: throughput of ingest + contract + PII + dedupe + Parquet write over a generated JSONL file
 * (256 MiB; `B1_MB` shrinks it for quick checks) relative to a bare read + split + JSON.parse of the same
 * file, both streamed from disk. Median of interleaved rounds; MB/s of both go to stderr.
 */
export const bench: Bench = {
  id: 'B1',
  name: 'ingest_throughput_ratio',
  op: '>=',
  target: 0.33,
  async run() {
    const mb = Number(process.env.B1_MB ?? 256);
    const rounds = Number(process.env.B1_ROUNDS ?? 3);
    const spec = benchSpec();
    const file = ensureTicketFile(mb);
    const size = statSync(file).size / MB;
    const out = path.join(path.dirname(file), `b1-out-${process.pid}.parquet`);
    const ratios: number[] = [];
    let counts: DataPathCounts | undefined;
    for (let i = 0; i < rounds; i++) {
      const base = await seconds(() => runBareParse(file));
      const cand = await seconds(async () => {
        counts = await runDataPath(file, spec, out);
      });
      ratios.push(base / cand);
      console.error(
        `  B1 round ${i + 1}: ${size.toFixed(0)} MiB; baseline ${(size / base).toFixed(1)} MB/s, candidate ${(size / cand).toFixed(1)} MB/s`,
      );
    }
    const written = statSync(out).size / MB;
    rmSync(out, { force: true });
    console.error(
      `  B1 records in ${counts?.recordsIn}, accepted ${counts?.accepted}, duplicates ${counts?.duplicates}; Parquet ${written.toFixed(1)} MiB`,
    );
    ratios.sort((a, b) => a - b);
    return ratios[Math.floor(ratios.length / 2)] as number;
  },
};
