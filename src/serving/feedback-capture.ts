/**
 * Feedback capture: the gateway writes each served request's input as a raw record of the dataset its model was
 * trained from, so the next pipeline run for that day ingests production data like any partition
 * (docs/feedback-loop.md). Inputs wait in memory only; a flush builds each record (the spec's declared fields, the
 * prediction id as id, the serving time, lineage), checks it against the dataset's contract, runs the same PII engine
 * and policy as the ingest's PII stage, and writes the records that pass as one JSONL file per dataset and day:
 * `raw/<dataset>/<date>/feedback-<instance>-<random>-<seq>.jsonl`. Nothing raw is ever stored: a record the contract would
 * quarantine or the PII policy would drop, quarantine or fail on is not written, only counted.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Counter, type Registry } from 'prom-client';
import { checkParsedRecord } from '../ingest/contract';
import { FEEDBACK_SOURCE, LINEAGE_FIELD, piiSkipFields, type FeedbackLineage } from '../ingest/feedback-lineage';
import { scanRecord } from '../pii/engine';
import { rawPartitionPrefix } from '../shared/ids';
import type { DatasetSpec } from '../shared/spec';
import type { BlobStore } from '../storage/blob-store';

/** One served prediction whose input may become a production record. */
export interface CapturedPrediction {
  predictionId: string;
  model: string;
  modelVersion: string;
  /** The champion's margin (top-1 minus top-2 probability); null when a candidate served it or none is known. */
  margin: number | null;
  /** The request's input as the client sent it: held in memory until the flush, never stored as is. */
  input: Readonly<Record<string, unknown>>;
  createdAt: Date;
}

/** The dataset a served model version's records go to, with its spec. */
export interface CaptureTarget {
  dataset: string;
  spec: DatasetSpec;
}

/** What became of a captured prediction (the `outcome` label of gateway_feedback_capture_records_total). */
export type CaptureOutcome = 'written' | 'contract_rejected' | 'pii_dropped' | 'no_dataset' | 'dropped' | 'error';

/** Options of a feedback capture. */
export interface FeedbackCaptureOptions {
  blobs: Pick<BlobStore, 'put'>;
  /** The dataset a model version's records belong to; undefined: the version's inputs are not captured. Rejects: retried. */
  resolve(model: string, modelVersion: string): Promise<CaptureTarget | undefined>;
  /** Names this gateway's files (default its start time); a random part is always added per start, so two gateways or a restarted one never share a key. */
  instanceId?: string;
  /** Longest an input waits before a flush; default 5 s. */
  flushMs?: number;
  /** Most records per file; reaching it also triggers a flush. Default 1000. */
  maxBatch?: number;
  /** Most inputs and built records held while the blob store fails (inputs are held whole, so this bounds memory); the oldest are dropped (and counted) beyond it. Default 10 000; at least maxBatch (else the capture refuses to start). */
  maxPending?: number;
  /** HMAC key of the PII `tokenize` action, as the workers' (a policy that tokenizes needs it). */
  piiTokenKey?: Buffer;
  /** Where the capture's metrics are registered (the gateway's registry). */
  registry: Registry;
  logger?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Tells the pipeline's own replayed traffic (the canary), which is never captured; default isPipelineReplay. */
  skip?: (requestKey: string | undefined, source: string) => boolean;
}

/** Buffers served inputs and writes them as production records, in batches, off the request path. */
export interface FeedbackCapture {
  /** Queues one served prediction (synchronous: no I/O on the request path). */
  add(p: CapturedPrediction, requestKey: string | undefined, source: string): void;
  /** Builds and writes everything queued (after any flush in flight); rejects when the blob store or the resolver fails. */
  flush(): Promise<void>;
  /** Inputs and built records not yet written. */
  pending(): number;
  /** Stops the timer and flushes once; what cannot be written then is counted as dropped. */
  close(): Promise<void>;
}

/** A file built from queued inputs and not yet written: a retry writes the same bytes under the same key. */
interface BuiltFile {
  key: string;
  body: string;
  records: number;
  model: string;
}

/**
 * True for the pipeline's own replayed requests: the canary sends the test split with keys
 * `<workflowId>/s<step>/a<attempt>/<i>` (src/activities/canary.ts), and the workers' token is named `pipeline`.
 * Capturing them would feed a test split back into training.
 */
export function isPipelineReplay(requestKey: string | undefined, source: string): boolean {
  return source === 'pipeline' || (requestKey !== undefined && /\/s\d+\/a\d+\/\d+$/.test(requestKey));
}

/** The production record of a served input under a dataset's spec: declared fields only, id, time and lineage set. */
export function productionRecord(p: CapturedPrediction, spec: DatasetSpec): Record<string, unknown> {
  const { idField, timeField, labelField, fields } = spec.schema;
  const record: Record<string, unknown> = {};
  for (const name of Object.keys(fields)) {
    // A label a client sends is not ground truth; the gateway's id and time replace the client's.
    if (name === idField || name === timeField || name === labelField) continue;
    if (Object.hasOwn(p.input, name)) record[name] = p.input[name];
  }
  record[idField] = p.predictionId;
  record[timeField] = p.createdAt.toISOString();
  const lineage: FeedbackLineage = {
    source: FEEDBACK_SOURCE,
    predictionId: p.predictionId,
    model: p.model,
    modelVersion: p.modelVersion,
    margin: p.margin,
  };
  record[LINEAGE_FIELD] = lineage;
  return record;
}

/**
 * The JSONL line the capture writes for a served input, or why none is: the contract the ingest applies, then the
 * PII engine with the spec's policy and the same skipped fields as the PII stage.
 */
export function cleanProductionLine(
  p: CapturedPrediction,
  spec: DatasetSpec,
  tokenKey?: Buffer,
): { line: string } | { outcome: 'contract_rejected' | 'pii_dropped' } {
  const checked = checkParsedRecord(productionRecord(p, spec), spec);
  if (!checked.ok) return { outcome: 'contract_rejected' };
  let scanned;
  try {
    scanned = scanRecord(checked.record, spec.pii, { skipFields: piiSkipFields(spec), declaredFields: spec.schema.fields, tokenKey });
  } catch {
    // A policy that cannot be applied here (tokenize without a key): nothing is written.
    return { outcome: 'pii_dropped' };
  }
  if (scanned.action !== 'keep') return { outcome: 'pii_dropped' };
  return { line: JSON.stringify(scanned.record) };
}

/** Records built between two yields to the event loop: a build of maxBatch records never holds up requests long. */
const YIELD_EVERY = 50;

/** Creates a capture whose flushes are serialized, so a file's key and bytes are fixed before its first write. */
export function createFeedbackCapture(opts: FeedbackCaptureOptions): FeedbackCapture {
  // A random part per start, even with a configured id: seq restarts at 1, so a restarted gateway must not reuse a key.
  const instanceId = `${opts.instanceId ?? Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const flushMs = opts.flushMs ?? 5000;
  const maxBatch = opts.maxBatch ?? 1000;
  const maxPending = opts.maxPending ?? 10_000;
  if (maxPending < maxBatch) {
    // A file of maxBatch records must fit in what is held, or bounding would drop the file being written.
    throw new Error(`feedback capture: maxPending (${maxPending}) must be at least maxBatch (${maxBatch})`);
  }
  const skip = opts.skip ?? isPipelineReplay;
  const logger = opts.logger;
  const registers = [opts.registry];
  const records = new Counter({
    name: 'gateway_feedback_capture_records_total',
    help: 'Served inputs the feedback capture handled, by model and outcome (written; contract_rejected and pii_dropped: not written, as the ingest would quarantine or drop them; no_dataset: the model version has no capturable dataset; dropped: lost while the blob store stayed unavailable; error: a record that could not be built, not written).',
    labelNames: ['model', 'outcome'] as const,
    registers,
  });
  const flushFailures = new Counter({
    name: 'gateway_feedback_capture_flush_failures_total',
    help: 'Feedback capture flushes that failed (the files are kept and written again under the same keys).',
    registers,
  });
  const queue: CapturedPrediction[] = [];
  const built: BuiltFile[] = [];
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let sizeFlushQueued = false;
  /** The file whose put is in flight: bound() never drops it, and it is removed by identity once written. */
  let writing: BuiltFile | undefined;
  let closed = false;

  /** Inputs taken from the queue by the build in progress. */
  let building = 0;

  const held = (): number => queue.length + building + built.reduce((n, f) => n + f.records, 0);
  const count = (model: string, outcome: CaptureOutcome, n = 1): void => {
    if (n > 0) records.inc({ model, outcome }, n);
  };

  /** Drops the oldest inputs, then the oldest built files, until at most maxPending are held. */
  function bound(): void {
    while (held() > maxPending && queue.length > 0) count(queue.shift()!.model, 'dropped');
    while (held() > maxPending) {
      const i = built.findIndex((f) => f !== writing);
      if (i < 0) break;
      const f = built.splice(i, 1)[0]!;
      count(f.model, 'dropped', f.records);
      logger?.error({ key: f.key, records: f.records }, 'feedback capture: blob store unavailable; dropped a buffered file');
    }
  }

  function schedule(): void {
    if (timer !== undefined || closed || held() === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush().catch(onError);
    }, flushMs);
    // A pending flush must not keep the process alive; close() flushes what is left.
    timer.unref();
  }

  function onError(err: unknown): void {
    logger?.error({ err: err instanceof Error ? err.name : 'Error' }, 'feedback capture flush failed; will retry');
  }

  /**
   * Turns up to maxBatch queued inputs into files (one per dataset and day), each with its key fixed now. Every target
   * is resolved first: a resolver failure puts the whole batch back, before any of it is counted. A record whose
   * cleaning throws unexpectedly is counted as `error`, so one bad input never stalls the batch.
   */
  async function build(): Promise<void> {
    const batch = queue.splice(0, maxBatch);
    building = batch.length;
    try {
      await buildBatch(batch);
    } finally {
      building = 0;
    }
  }

  async function buildBatch(batch: CapturedPrediction[]): Promise<void> {
    const targets = new Map<string, CaptureTarget | undefined>();
    try {
      for (const p of batch) {
        const k = `${p.model}\0${p.modelVersion}`;
        if (!targets.has(k)) targets.set(k, await opts.resolve(p.model, p.modelVersion));
      }
    } catch (err) {
      // The resolver failed (a registry or spec store outage): the inputs go back, in order, and are built on the next try.
      building = 0;
      queue.unshift(...batch);
      throw err;
    }
    const groups = new Map<string, { dataset: string; date: string; lines: string[]; model: string }>();
    for (const [i, p] of batch.entries()) {
      // Contract checks and PII scans are synchronous: let requests through between slices of the batch.
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
      const target = targets.get(`${p.model}\0${p.modelVersion}`);
      if (target === undefined) {
        count(p.model, 'no_dataset');
        continue;
      }
      let line: string;
      let date: string;
      try {
        const r = cleanProductionLine(p, target.spec, opts.piiTokenKey);
        if ('outcome' in r) {
          count(p.model, r.outcome);
          continue;
        }
        line = r.line;
        date = p.createdAt.toISOString().slice(0, 10);
      } catch (err) {
        count(p.model, 'error');
        logger?.error(
          { err: err instanceof Error ? err.name : 'Error', model: p.model },
          'feedback capture: a record could not be built; not written',
        );
        continue;
      }
      const k = `${target.dataset}\0${date}`;
      const g = groups.get(k) ?? { dataset: target.dataset, date, lines: [], model: p.model };
      g.lines.push(line);
      groups.set(k, g);
    }
    for (const g of groups.values()) {
      seq += 1;
      built.push({
        key: `${rawPartitionPrefix(g.dataset, g.date)}feedback-${instanceId}-${String(seq).padStart(8, '0')}.jsonl`,
        body: `${g.lines.join('\n')}\n`,
        records: g.lines.length,
        model: g.model,
      });
    }
  }

  async function drain(): Promise<void> {
    sizeFlushQueued = false;
    try {
      while (queue.length > 0 || built.length > 0) {
        if (built.length === 0) await build();
        while (built.length > 0) {
          const f = built[0]!;
          writing = f;
          try {
            await opts.blobs.put(f.key, f.body);
          } finally {
            writing = undefined;
          }
          const i = built.indexOf(f);
          if (i >= 0) built.splice(i, 1);
          count(f.model, 'written', f.records);
        }
      }
    } catch (err) {
      flushFailures.inc();
      schedule();
      throw err;
    }
  }

  function flush(): Promise<void> {
    const run = chain.then(drain);
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    add(p, requestKey, source) {
      if (closed || skip(requestKey, source)) return;
      queue.push(p);
      bound();
      if (queue.length >= maxBatch && !sizeFlushQueued) {
        sizeFlushQueued = true;
        flush().catch(onError);
      } else schedule();
    },
    flush,
    pending: held,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      try {
        await flush();
      } catch (err) {
        onError(err);
        for (const p of queue.splice(0)) count(p.model, 'dropped');
        for (const f of built.splice(0)) count(f.model, 'dropped', f.records);
      }
    },
  };
}
