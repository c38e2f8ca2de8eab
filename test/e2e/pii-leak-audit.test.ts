/**
 * PII leak audit (R14). The pipeline runs end to end on the production adapters over partitions whose records
 * carry a fresh value of every PII entity type the tickets spec handles: in text fields (redacted, masked,
 * tokenized), in a declared free-form object, and as object keys (top level, kept under `unknownFields: keep`, and
 * nested). Gateway predictions carry planted values too (text, categorical field, input keys, request keys). The
 * runs cover a first champion, a canary promotion, and a canary rolled back by the rollback Update (plus an
 * ignored rollback signal); the status query is asked of every run.
 *
 * Then every place data rests or travels is searched for every planted value in every normalized form: decoded
 * histories of every workflow in the namespace, workflow and run ids, search attributes and memos, status query
 * answers, the worker's, Temporal runtime's and gateway's log lines, every column of every registry table, every
 * blob key, and every blob outside raw/ (Parquet rows decoded). Zero hits. Raw input (raw/) holds the values by
 * definition; a quarantined record keeps its original bytes base64 in the quarantine object, a restricted area
 * like raw/ (its reason is searched as text).
 *
 * The stack runs with the AES-256-GCM payload codec on, as production does, under a keyring that has been rotated
 * (k2 current, k1 kept for reading); the audit decodes histories through the codec, as an operator does with the
 * codec server. Raw histories (as the server stores them) are searched too: a probe workflow's input carries
 * planted values that the decoded history shows and the raw one must not, and every payload outside the search
 * attributes is `binary/encrypted` under the current key id.
 *
 * A control plants values where the audit must find them (a history input written under the older key, a registry
 * row, a blob key, a Parquet chunk, a log line) and asserts the audit reports exactly those, so the audit itself
 * can fail.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { Logger as TemporalLogger } from '@temporalio/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPii } from '../../src/pii/engine';
import { writeRecordsParquet } from '../../src/datasets/parquet';
import { createGatewayClient } from '../../src/serving/http-client';
import { writeSamplePartitions } from '../../src/samples/index';
import { AesGcmPayloadCodec, ENCODING_ENCRYPTED, METADATA_ENCRYPTION_KEY_ID } from '../../src/security/codec';
import { CodecKeyring } from '../../src/security/keys';
import { trainsetDataConverter } from '../../src/security/temporal-options';
import { rawPartitionPrefix } from '../../src/shared/ids';
import { createRng, type Rng } from '../../src/shared/prng';
import type { DatasetSpec, PiiEntity } from '../../src/shared/spec';
import { CPU_TASK_QUEUE } from '../../src/shared/task-queues';
import type { RetrainResult } from '../../src/shared/types';
import { retrainPipelineWorkflow } from '../../src/workflows';
import { rollbackSignal, rollbackUpdate, statusQuery } from '../../src/workflows/messages';
import { startE2eStack, type E2eStack } from '../helpers/e2e-stack';
import { decodeHistoryPayloads } from '../helpers/history-payloads';
import {
  auditBlobs,
  auditRawHistories,
  auditRegistry,
  auditWorkflows,
  LeakAudit,
  toSearchableJson,
  type PlantedValue,
} from '../helpers/leak-audit';
import { ENTITIES, plantValue } from '../helpers/pii-corpus';
import { copySpecs, type SpecCopy } from '../helpers/spec-copy';

const MODEL = 'tickets-classifier';
const DAYS = ['2026-11-02', '2026-11-03', '2026-11-04'];
const seed = randomInt(1, 2 ** 31);
const rng = createRng(seed);
const planted: PlantedValue[] = [];
/** Every log line of the run: activities and gateway (pino), Temporal runtime, workflows' and activities' `log`. */
const logLines: string[] = [];

const oldKey = randomBytes(32);
const currentKey = randomBytes(32);
/** The workers' and client's keyring after a rotation: k2 encrypts, k1 still decrypts what it wrote. */
const rotatedKeys = new CodecKeyring(
  new Map([
    ['k1', oldKey],
    ['k2', currentKey],
  ]),
  'k2',
);
/** The keyring before the rotation (k1 current): the control's history input is written under it. */
const oldKeys = new CodecKeyring(new Map([['k1', oldKey]]), 'k1');
/** The codec an operator decodes histories with (the codec server's): both keys, loaded on its own. */
const operatorCodecs = [
  new AesGcmPayloadCodec(
    new CodecKeyring(
      new Map([
        ['k1', Buffer.from(oldKey)],
        ['k2', Buffer.from(currentKey)],
      ]),
      'k2',
    ),
  ),
];

/** What Temporal Core's patch and local-activity markers hold, unencrypted by design. */
const CORE_MARKER_KEYS = [
  'id',
  'deprecated',
  'seq',
  'attempt',
  'activity_id',
  'activity_type',
  'complete_time',
  'backoff',
  'original_schedule_time',
];

let stack: E2eStack;
let specs: SpecCopy;
let runtimeLogger: TemporalLogger | undefined;
const results: RetrainResult[] = [];

/** A value of `entity` the detectors find whole, in its sentence (text) or bare (a key or a categorical value). */
function freshValue(entity: PiiEntity, origin: string, bare = false): { value: string; text: string } {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { value, template } = plantValue(rng, entity);
    if (value.length > 200) continue; // long private keys would overflow the subject's maxLength
    const text = bare ? value : template.replace('{}', value);
    const at = text.indexOf(value);
    if (findPii(text, ENTITIES).some((s) => s.entity === entity && s.start <= at && s.end >= at + value.length)) {
      planted.push({ entity, value, origin });
      return { value, text };
    }
  }
  throw new Error(`no ${entity} value the detectors accept in 200 tries (seed ${seed})`);
}

/** Plant a given value: the detectors must find it whole, bare. */
function exactValue(entity: PiiEntity, value: string, origin: string): string {
  const spans = findPii(value, ENTITIES);
  if (!spans.some((s) => s.entity === entity && s.start === 0 && s.end === value.length)) {
    throw new Error(`the detectors do not find ${entity} ${value}`);
  }
  planted.push({ entity, value, origin });
  return value;
}

const pickFrom = (r: Rng, alphabet: string, n: number): string =>
  Array.from({ length: n }, () => alphabet.charAt(Math.floor(r() * alphabet.length))).join('');

/**
 * Short values shaped like category codes (at most 32 letters, digits, `_ . -`, few digits), which a sampled
 * value of the type is only sometimes: an AWS key id, a live Stripe key, an IPv4 address of one-digit octets.
 */
function codeShapedValues(origin: string): string[] {
  const octet = (): string => String(1 + Math.floor(rng() * 9));
  return [
    exactValue('SECRET', `AKIA${pickFrom(rng, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 16)}`, origin),
    exactValue('SECRET', `sk_live_${pickFrom(rng, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 24)}`, origin),
    exactValue('IP_ADDRESS', [octet(), octet(), octet(), octet()].join('.'), origin),
  ];
}

/** Records of one day carrying every entity: in each text field, the free-form object, and as keys. */
function plantedRecords(day: string): string[] {
  return ENTITIES.map((entity, i) => {
    const text = freshValue(entity, `record text, ${day}`);
    const key = freshValue(entity, `record key, ${day}`, true);
    const nestedKey = freshValue(entity, `nested record key, ${day}`, true);
    return JSON.stringify({
      id: `leak-${day}-${i}`,
      created_at: `${day}T12:0${i}:00.000Z`,
      channel: 'email',
      subject: `Re: ${text.text}`,
      body: `My invoice was charged twice. ${text.text} Please refund the billing error.`,
      customer_email: text.value,
      queue: 'billing',
      meta: { [nestedKey.value]: 'cc', note: text.text },
      [key.value]: 'subscribed',
    });
  });
}

/** The tickets spec with a free-form `meta` object, undeclared keys kept, and each rewrite action in use. */
function leakAuditSpec(s: Record<string, unknown>): Record<string, unknown> {
  const spec = s as unknown as DatasetSpec;
  return {
    ...s,
    schema: { ...spec.schema, unknownFields: 'keep', fields: { ...spec.schema.fields, meta: { type: 'object', required: false } } },
    pii: { ...spec.pii, defaultAction: 'redact', fields: { customer_email: 'tokenize', subject: 'mask' } },
  };
}

beforeAll(async () => {
  // The runtime logger every worker created from now on writes to (workflow and activity `log`, SDK messages).
  const runtime = Runtime.instance() as unknown as { logger: TemporalLogger };
  runtimeLogger = runtime.logger;
  runtime.logger = new DefaultLogger('TRACE', (entry: LogEntry) => {
    logLines.push(`${entry.level} ${entry.message} ${safeJson(entry.meta)}`);
  });
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  specs = await copySpecs();
  await specs.write('tickets', leakAuditSpec);
  stack = await startE2eStack({
    specsDir: specs.dir,
    logger,
    piiTokenKey: Buffer.from('leak-audit-token-key-0123456789ab'),
    dataConverter: trainsetDataConverter(rotatedKeys),
  });
  await writeSamplePartitions(stack.blobs, { dataset: 'tickets', dates: DAYS, count: 400 });
  for (const day of DAYS) {
    const key = `${rawPartitionPrefix('tickets', day)}part-0000.jsonl`;
    const lines = (await stack.blobs.get(key)).toString('utf8').trimEnd().split('\n');
    // One more record whose enum field holds a value: the contract quarantines it, with a content-free reason.
    const quarantined = freshValue('EMAIL_ADDRESS', `enum field (quarantined), ${day}`, true);
    const bad = { id: `leak-${day}-bad`, created_at: `${day}T13:00:00.000Z`, channel: quarantined.value, subject: 'x', body: 'y' };
    await stack.blobs.put(key, `${[...lines, ...plantedRecords(day), JSON.stringify(bad)].join('\n')}\n`);
  }
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await specs?.remove();
  if (runtimeLogger) (Runtime.instance() as unknown as { logger: TemporalLogger }).logger = runtimeLogger;
});

function safeJson(v: unknown): string {
  try {
    return toSearchableJson(v) ?? '';
  } catch {
    return String(v);
  }
}

/** Predictions whose inputs carry planted values in text fields, the categorical field, input keys and request keys. */
async function sendPlantedPredictions(origin: string): Promise<void> {
  const gateway = createGatewayClient(stack.gatewayUrl);
  for (const entity of ENTITIES) {
    const text = freshValue(entity, `gateway text, ${origin}`);
    const key = freshValue(entity, `gateway input key, ${origin}`, true);
    const categorical = freshValue(entity, `gateway categorical, ${origin}`, true);
    const requestKey = freshValue(entity, `gateway request key, ${origin}`, true);
    const a = await gateway.predict(MODEL, requestKey.value, { subject: text.text, body: text.text, channel: 'email', [key.value]: 'x' });
    await gateway.predict(MODEL, `leak-${origin}-${entity}`, { subject: 'refund', body: 'charged twice', channel: categorical.value });
    expect(await gateway.feedback(MODEL, a.predictionId, 'billing')).toBe(true);
  }
  for (const [i, value] of codeShapedValues(`gateway categorical, ${origin}`).entries()) {
    await gateway.predict(MODEL, `leak-${origin}-code-${i}`, { subject: 'refund', body: 'charged twice', channel: value });
  }
}

async function run(workflowId: string, day: string): Promise<RetrainResult> {
  return stack.env.client.workflow.execute(retrainPipelineWorkflow, {
    taskQueue: CPU_TASK_QUEUE,
    workflowId,
    args: [{ dataset: 'tickets', logicalDate: day }],
  });
}

async function waitForStage(handle: { query: (q: typeof statusQuery) => Promise<{ stage: string }> }, stage: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await handle.query(statusQuery)).stage === stage) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run never reached stage ${stage}`);
}

/** Search every place; returns the audit with its hits. */
async function audit(): Promise<LeakAudit> {
  const a = new LeakAudit(planted);
  const executions = await auditWorkflows(a, stack.env.client, { payloadCodecs: operatorCodecs });
  for (const e of executions.filter((x) => x.type === 'retrainPipelineWorkflow')) {
    const answer = await stack.env.client.workflow.getHandle(e.workflowId, e.runId).query(statusQuery);
    a.searchText(`status query answer of ${e.workflowId}`, toSearchableJson(answer));
  }
  const tables = await auditRegistry(a, stack.pool);
  const blobs = await auditBlobs(a, stack.blobs, { rawPrefixes: ['raw/'] });
  // The stack's gateway buffers prediction rows; those above were flushed before their feedback was recorded.
  logLines.forEach((line, i) => a.searchText(`log line ${i}`, line));
  // The audit looked where the data is: every run, the tables that hold it, dataset chunks and run reports.
  expect(executions.length).toBeGreaterThanOrEqual(3);
  expect(tables).toEqual(expect.arrayContaining(['predictions', 'audit_log', 'dataset_versions', 'pii_findings']));
  expect(blobs.parquet.length).toBeGreaterThan(0);
  expect(blobs.searched.some((k) => k.startsWith('runs/'))).toBe(true);
  expect(logLines.length).toBeGreaterThan(0);
  return a;
}

describe('PII leak audit', () => {
  it('runs the pipeline on planted PII: first champion, a promotion through the canary, a rollback by Update', async () => {
    const day1 = await run('leak-audit-day1', DAYS[0]!);
    expect(day1.outcome, JSON.stringify(day1.status.gate)).toBe('first_champion');
    // The planted records passed the contract (one per entity and day) and their PII was found.
    expect(day1.status.ingest!.byReason).toBeDefined();
    for (const entity of ENTITIES) expect(day1.status.pii!.findings[entity], entity).toBeGreaterThan(0);
    await sendPlantedPredictions('champion');

    const day2 = stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'leak-audit-day2',
      args: [{ dataset: 'tickets', logicalDate: DAYS[1]! }],
    });
    const handle2 = await day2;
    await waitForStage(handle2, 'canary');
    await sendPlantedPredictions('canary');
    const promoted = await handle2.result();
    expect(promoted.outcome).toBe('promoted');

    const handle3 = await stack.env.client.workflow.start(retrainPipelineWorkflow, {
      taskQueue: CPU_TASK_QUEUE,
      workflowId: 'leak-audit-day3',
      args: [{ dataset: 'tickets', logicalDate: DAYS[2]! }],
    });
    await waitForStage(handle3, 'canary');
    const answer = await handle3.executeUpdate(rollbackUpdate, {
      args: [{ reason: 'leak audit: exercise the Update', actor: 'leak-audit' }],
    });
    expect(answer).toMatchObject({ outcome: 'rolled_back' });
    await handle3.signal(rollbackSignal, { reason: 'second request is ignored' });
    const rolledBack = await handle3.result();
    expect(rolledBack.outcome).toBe('rolled_back');
    results.push(day1, promoted, rolledBack);
  }, 240_000);

  it('finds no planted value in histories, ids, search attributes, memos, queries, logs, registry tables or blobs', async () => {
    expect(results).toHaveLength(3);
    const a = await audit();
    expect(a.searched.chars).toBeGreaterThan(100_000);
    expect(a.hits, `seed ${seed}; leaks:\n${a.report()}`).toEqual([]);
  }, 120_000);

  it('stores only ciphertext in histories: planted values and plaintext encodings are absent from raw payloads', async () => {
    // A probe whose input carries a planted value of every entity: its decoded history shows them, its raw one must not.
    const probeValues = ENTITIES.map((e) => freshValue(e, 'ciphertext probe', true).value);
    const probe = await stack.env.client.workflow.start('leakAuditProbeWorkflow', {
      taskQueue: 'leak-audit-probe',
      workflowId: 'leak-audit-probe',
      args: [{ notes: probeValues }],
    });
    await probe.terminate('probe done');
    const decoded = new LeakAudit(planted.filter((p) => p.origin === 'ciphertext probe'));
    const probeHistory = await decodeHistoryPayloads(await probe.fetchHistory(), { payloadCodecs: operatorCodecs });
    decoded.searchText('decoded probe history', toSearchableJson(probeHistory.tree));
    expect(new Set(decoded.hits.map((h) => h.entity))).toEqual(new Set(ENTITIES));

    const executions: WorkflowExecutionInfo[] = [];
    for await (const info of stack.env.client.workflow.list()) executions.push(info);
    expect(executions.length).toBeGreaterThanOrEqual(4);
    const raw = new LeakAudit(planted);
    const payloads = await auditRawHistories(raw, stack.env.client, executions);
    expect(raw.hits, `seed ${seed}; plaintext in raw histories:\n${raw.report()}`).toEqual([]);
    // Search attributes stay readable by design (they hold no PII). Temporal Core writes marker bookkeeping itself,
    // bypassing the data converter: a patch's id, a local activity's seq, attempt, type and times (its result goes
    // through the codec). Those were searched above, and may hold nothing else; every other payload is ciphertext.
    const coreMarker = /^events\[\d+\]\.markerRecordedEventAttributes\.details\.(patch-data|data)\.payloads\[\d+\]$/;
    const bookkeeping = payloads.filter((p) => coreMarker.test(p.path));
    const bookkeepingKeys = new Set(bookkeeping.flatMap((p) => Object.keys(JSON.parse(p.data.toString('utf8')) as object)));
    expect([...bookkeepingKeys].filter((k) => !CORE_MARKER_KEYS.includes(k))).toEqual([]);
    const coded = payloads.filter((p) => !/searchAttributes/i.test(p.path) && !coreMarker.test(p.path));
    expect(coded.length).toBeGreaterThan(50);
    const plain = coded
      .filter((p) => p.metadata.encoding !== ENCODING_ENCRYPTED || p.metadata[METADATA_ENCRYPTION_KEY_ID] !== 'k2')
      .map((p) => `${p.execution} ${p.path} ${JSON.stringify(p.metadata)}`);
    expect(plain, plain.slice(0, 20).join('\n')).toEqual([]);
  }, 120_000);

  it('control: finds exactly the values planted where it must look', async () => {
    const [email, card, ssn, ip, secret] = (['EMAIL_ADDRESS', 'CREDIT_CARD', 'US_SSN', 'IP_ADDRESS', 'SECRET'] as const).map((e) =>
      freshValue(e, 'control', true),
    );
    // A workflow input no worker picks up (a history payload, encrypted under the older key: the operator's codec
    // still reads it), a registry row (normalized: digits only), a blob key, a dataset Parquet chunk (compressed
    // pages), a log line.
    const oldKeyClient = new Client({ connection: stack.env.connection, dataConverter: trainsetDataConverter(oldKeys) });
    const control = await oldKeyClient.workflow.start('leakAuditControlWorkflow', {
      taskQueue: 'leak-audit-control',
      workflowId: 'leak-audit-control',
      args: [{ note: email!.value }],
    });
    await control.terminate('control done');
    await stack.pool.query(`INSERT INTO audit_log (actor, action, subject, details) VALUES ('leak-audit', 'control', 'control', $1)`, [
      JSON.stringify({ note: card!.value.replace(/\D/g, '') }),
    ]);
    await stack.blobs.put(`runs/control/${ssn!.value}.txt`, 'control');
    const spec = (await stack.specs.load('tickets')).spec;
    const chunk = writeRecordsParquet([{ record: { id: 'c', body: `seen at ${ip!.value}` }, hash: 'c' }], spec);
    await stack.blobs.put('datasets/tickets/chunks/control.parquet', chunk);
    const logLine = logLines.push(JSON.stringify({ msg: 'control', key: secret!.value })) - 1;

    const a = await audit();
    const controlHits = a.hits.filter((h) => h.origin === 'control');
    // A value in a Parquet page may also show in the file's bytes (a short literal); the decoded rows must show it.
    expect(controlHits.map((h) => h.place)).toContain('blob datasets/tickets/chunks/control.parquet (Parquet rows)');
    const places = controlHits.map((h) => `${h.entity} @ ${h.place.replace(/ row \d+$/, '').replace(/ \(Parquet rows\)$/, '')}`);
    expect([...new Set(places)].sort(), a.report()).toEqual(
      [
        `CREDIT_CARD @ registry audit_log.details`,
        `EMAIL_ADDRESS @ history of leak-audit-control/${control.firstExecutionRunId}`,
        `IP_ADDRESS @ blob datasets/tickets/chunks/control.parquet`,
        `SECRET @ log line ${logLine}`,
        `US_SSN @ blob keys`,
      ].sort(),
    );
  }, 120_000);
});
