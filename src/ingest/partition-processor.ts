/**
 * Contract + PII + dedupe over a set of input files, streaming, without Temporal: the dry run data owners
 * use (`trainset ingest`), built from the same pieces as the pipeline's ingest, PII and dedupe activities.
 */
import { summarizeFindings, scanRecord, type FindingsSummary, type PiiFinding, type PiiPolicy } from '../pii/engine';
import type { DatasetSpec, PiiAction, PiiEntity } from '../shared/spec';
import { Deduper } from '../dedupe/dedupe';
import { InputFileError, openRecordStream, type IngestItem, type InputFileProblem } from './readers';

/** One input file: a name (used in reports and errors) and a way to stream its bytes. */
export interface InputFile {
  name: string;
  open(): Promise<AsyncIterable<Buffer>>;
}

/** One quarantined record, as a quarantine file line: where it came from, why, and its original bytes. */
export interface DryRunQuarantined {
  file: string;
  /** 1-based record number in the file (JSONL line, CSV data record, Parquet row). */
  line: number;
  reason: string;
  /** Size of the original record in bytes. */
  bytes: number;
  /** Original bytes, base64 (for a PII-scan quarantine: the contract-checked record as JSON); empty when too large to keep. */
  rawBase64: string;
}

/** A file that could not be read as a whole; records read from it before the problem are counted as usual. */
export interface DryRunFileError {
  file: string;
  problem: InputFileProblem | 'unreadable';
  /** What went wrong, naming the file, never its content. */
  detail: string;
  recordsRead: number;
}

/** The first record the PII policy `fail` tripped on: field and type, never the value. */
export interface DryRunPolicyFailure {
  field: string;
  entity: PiiEntity;
  file: string;
  line: number;
}

/** Running counts handed to `onProgress`. */
export interface DryRunProgress {
  file: string;
  filesDone: number;
  recordsIn: number;
  accepted: number;
  quarantined: number;
  duplicates: number;
}

/**
 * The accounting of a dry run. Every record read lands in exactly one bucket:
 * recordsIn = accepted + quarantined, and
 * accepted = output.records + piiDroppedRecords + piiFailedRecords + duplicates.
 */
export interface DryRunReport {
  files: number;
  recordsIn: number;
  /** Records that passed the contract and whose PII scan finished. */
  accepted: number;
  /** Contract failures plus PII scans that could not finish (pii_scan_timeout, pii_scan_error: fail closed). */
  quarantined: number;
  quarantinedByReason: Record<string, number>;
  /** Findings in accepted records (duplicates included, since the scan runs before dedupe, as in the pipeline). */
  piiFindings: FindingsSummary;
  /** Accepted records left out because a finding sat in a `drop_record` field. */
  piiDroppedRecords: number;
  /** Accepted records left out because a finding sat in a `fail` field (the pipeline would fail the run). */
  piiFailedRecords: number;
  /** Accepted, PII-clean records whose normalized hash was seen earlier in this run. */
  duplicates: number;
  /** What would go on to labeling: PII-clean, distinct records. */
  output: { records: number };
  fileErrors: DryRunFileError[];
  policyFailure?: DryRunPolicyFailure;
  /** The two balance equations with this run's numbers, so a reader can check them. */
  arithmetic: string[];
}

/** Inputs of `processInputs`. */
export interface ProcessInputsOptions {
  spec: DatasetSpec;
  /** Read in the order given. */
  files: readonly InputFile[];
  /** HMAC key for the tokenize action; required when the spec's PII policy tokenizes. */
  tokenKey?: Buffer;
  /** Called for each PII-clean, distinct record, in order; awaited (so a writer can apply backpressure). */
  onAccepted?(record: Record<string, unknown>, hash: string): void | Promise<void>;
  /** Called for each quarantined record; awaited. */
  onQuarantined?(item: DryRunQuarantined): void | Promise<void>;
  /** Called every `progressEvery` records. */
  onProgress?(progress: DryRunProgress): void;
  /** Default 10 000. */
  progressEvery?: number;
  /** Seed hashes (e.g. earlier partitions') to dedupe against. */
  knownHashes?: Iterable<string>;
  /** Folder for Parquet spool and dedupe spill files; default os.tmpdir(). */
  tmpDir?: string;
}

/**
 * Stream every file through the contract, the PII scan and dedupe, calling back per record; memory holds one
 * record at a time plus the dedupe hashes. A file that cannot be read is reported in `fileErrors` and the
 * next file is read; a PII `fail` is reported in `policyFailure` and the run goes on, so the report is complete.
 * Throws `PiiConfigError` when the policy tokenizes and no `tokenKey` was given.
 */
export async function processInputs(options: ProcessInputsOptions): Promise<DryRunReport> {
  const { spec, files, tokenKey, onAccepted, onQuarantined, onProgress } = options;
  const progressEvery = options.progressEvery ?? 10_000;
  const deduper = new Deduper(spec, options.knownHashes ?? [], { tmpDir: options.tmpDir });
  const skipFields = [spec.schema.idField, spec.schema.timeField, spec.schema.labelField];
  const report = emptyReport(files.length);
  const reasons = new Map<string, number>();

  const quarantine = async (item: DryRunQuarantined): Promise<void> => {
    report.quarantined += 1;
    reasons.set(item.reason, (reasons.get(item.reason) ?? 0) + 1);
    await onQuarantined?.(item);
  };

  const handle = async (file: string, item: IngestItem): Promise<void> => {
    if (item.kind === 'quarantined') {
      await quarantine({ file, line: item.lineNumber, reason: item.reason, bytes: item.byteLength, rawBase64: item.rawBase64 });
      return;
    }
    const scan = scanRecord(item.record, spec.pii, { skipFields, declaredFields: spec.schema.fields, tokenKey });
    if (scan.action === 'quarantine') {
      const raw = Buffer.from(JSON.stringify(item.record));
      await quarantine({
        file,
        line: item.lineNumber,
        reason: scan.reason ?? 'pii_scan_error',
        bytes: raw.length,
        rawBase64: raw.toString('base64'),
      });
      return;
    }
    report.accepted += 1;
    summarizeFindings(scan.findings, report.piiFindings);
    if (scan.action === 'fail') {
      report.piiFailedRecords += 1;
      if (!report.policyFailure) {
        const f = failingFinding(scan.findings, spec.pii);
        if (f) report.policyFailure = { field: f.field, entity: f.entity, file, line: item.lineNumber };
      }
      return;
    }
    if (scan.action === 'drop_record') {
      report.piiDroppedRecords += 1;
      return;
    }
    const { hash, duplicate } = deduper.check(scan.record);
    if (duplicate) {
      report.duplicates += 1;
      return;
    }
    report.output.records += 1;
    await onAccepted?.(scan.record, hash);
  };

  try {
    for (const [index, file] of files.entries()) {
      let recordsRead = 0;
      let items: AsyncIterator<IngestItem> | undefined;
      try {
        for (;;) {
          let next: IteratorResult<IngestItem>;
          // Only reading the input is guarded: a failing callback (a full disk) is not the input file's fault.
          try {
            items ??= openRecordStream(await file.open(), { spec, fileName: file.name, tmpDir: options.tmpDir })[Symbol.asyncIterator]();
            next = await items.next();
          } catch (err) {
            const fileError = asFileError(err, file.name, recordsRead);
            if (!fileError) throw err;
            report.fileErrors.push(fileError);
            break;
          }
          if (next.done) break;
          recordsRead += 1;
          report.recordsIn += 1;
          await handle(file.name, next.value);
          if (onProgress && report.recordsIn % progressEvery === 0) {
            onProgress({
              file: file.name,
              filesDone: index,
              recordsIn: report.recordsIn,
              accepted: report.accepted,
              quarantined: report.quarantined,
              duplicates: report.duplicates,
            });
          }
        }
      } finally {
        await items?.return?.(undefined);
      }
    }
  } finally {
    deduper.close();
  }

  for (const k of [...reasons.keys()].sort()) report.quarantinedByReason[k] = reasons.get(k) ?? 0;
  report.arithmetic = arithmeticLines(report);
  return report;
}

/** The balance equations of a report, with its numbers filled in. */
export function arithmeticLines(r: Omit<DryRunReport, 'arithmetic'>): string[] {
  return [
    `recordsIn = accepted + quarantined: ${r.recordsIn} = ${r.accepted} + ${r.quarantined}`,
    `accepted = output.records + piiDroppedRecords + piiFailedRecords + duplicates: ${r.accepted} = ${r.output.records} + ${r.piiDroppedRecords} + ${r.piiFailedRecords} + ${r.duplicates}`,
  ];
}

function emptyReport(files: number): DryRunReport {
  return {
    files,
    recordsIn: 0,
    accepted: 0,
    quarantined: 0,
    quarantinedByReason: {},
    piiFindings: { total: 0, byEntity: {}, byField: {} },
    piiDroppedRecords: 0,
    piiFailedRecords: 0,
    duplicates: 0,
    output: { records: 0 },
    fileErrors: [],
    arithmetic: [],
  };
}

function asFileError(err: unknown, file: string, recordsRead: number): DryRunFileError | undefined {
  if (err instanceof InputFileError) return { file, problem: err.problem, detail: err.message, recordsRead };
  const code = (err as { code?: unknown } | null)?.code;
  // A system error (ENOENT, EACCES, EISDIR, EIO…): the message would only repeat the path, so keep the code.
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return { file, problem: 'unreadable', detail: `input file ${file}: cannot be read (${code})`, recordsRead };
  }
  return undefined;
}

/** The finding whose field action is `fail` (the nearest policy entry up the path, else the default). */
function failingFinding(findings: readonly PiiFinding[], policy: PiiPolicy): PiiFinding | undefined {
  return findings.find((f) => actionFor(f.field, policy) === 'fail') ?? findings[0];
}

function actionFor(path: string, policy: PiiPolicy): PiiAction {
  let p = path;
  for (;;) {
    if (Object.hasOwn(policy.fields, p)) return policy.fields[p] as PiiAction;
    const dot = p.lastIndexOf('.');
    if (dot === -1) return policy.defaultAction;
    p = p.slice(0, dot);
  }
}
