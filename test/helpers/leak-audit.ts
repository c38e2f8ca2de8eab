/**
 * The PII leak audit's search: planted values, the forms each may take once normalized (case, digits only,
 * compact, JSON- and URL-escaped, one line of a multi-line secret), and collectors that feed it every place data
 * rests or travels: workflow ids, search attributes, memos and decoded histories; every column of every registry
 * table; every blob key and blob (Parquet decoded, gzip inflated); log lines. auditRawHistories searches histories
 * as the server stores them (payloads undecoded), to show the payload codec keeps values out of them.
 */
import { gunzipSync } from 'node:zlib';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type pg from 'pg';
import type { BlobStore } from '../../src/storage/blob-store';
import { decodeHistoryPayloads, rawHistoryPayloads, type RawHistoryPayload } from './history-payloads';

/** A value planted in the pipeline's input, and where it was planted (for the report). */
export interface PlantedValue {
  entity: string;
  value: string;
  /** e.g. `record text, day 1` or `gateway input key`. */
  origin: string;
}

/** One occurrence of a planted value (in some form) at a place. */
export interface LeakHit {
  place: string;
  entity: string;
  value: string;
  origin: string;
  form: string;
  excerpt: string;
}

const DIGIT_ENTITIES = new Set(['CREDIT_CARD', 'PHONE_NUMBER', 'US_SSN']);

/** The lower-cased forms a planted value can take once stored: each is searched case-insensitively. */
export function needlesFor(p: PlantedValue): Array<{ form: string; needle: string }> {
  const out = new Map<string, string>();
  const add = (form: string, needle: string): void => {
    const n = needle.toLowerCase();
    if (n.length >= 6 && ![...out.values()].includes(n)) out.set(form, n);
  };
  add('exact', p.value);
  add('json-escaped', JSON.stringify(p.value).slice(1, -1));
  add('url-encoded', encodeURIComponent(p.value));
  add('compact', p.value.replace(/\s+/g, ''));
  if (DIGIT_ENTITIES.has(p.entity)) add('digits', p.value.replace(/\D/g, ''));
  // A multi-line secret (a private key) may be stored one line at a time.
  const lines = p.value.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));
  if (lines.length > 1) lines.forEach((l, i) => add(`line ${i + 1}`, l));
  return [...out].map(([form, needle]) => ({ form, needle }));
}

/** Searches places for planted values; collects every hit, one per place, value and form. */
export class LeakAudit {
  readonly hits: LeakHit[] = [];
  /** How many places, and how many characters, were searched (to show the audit looked somewhere). */
  readonly searched = { places: 0, chars: 0 };
  private readonly needles: Array<PlantedValue & { form: string; needle: string }>;

  constructor(planted: readonly PlantedValue[]) {
    this.needles = planted.flatMap((p) => needlesFor(p).map((n) => ({ ...p, ...n })));
  }

  /** Search one place's text. */
  searchText(place: string, text: string): void {
    this.searched.places += 1;
    this.searched.chars += text.length;
    const hay = text.toLowerCase();
    for (const n of this.needles) {
      const at = hay.indexOf(n.needle);
      if (at < 0) continue;
      const excerpt = text.slice(Math.max(0, at - 40), at + n.needle.length + 40).replace(/\s+/g, ' ');
      this.hits.push({ place, entity: n.entity, value: n.value, origin: n.origin, form: n.form, excerpt });
    }
  }

  /** Search bytes: as UTF-8 and, when gzip, inflated too. */
  searchBytes(place: string, bytes: Buffer): void {
    this.searchText(place, bytes.toString('utf8'));
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) this.searchText(`${place} (gunzipped)`, gunzipSync(bytes).toString('utf8'));
  }

  /** The hits, one line each, for an assertion message. */
  report(): string {
    return this.hits.map((h) => `${h.place}: ${h.entity} (${h.origin}) as ${h.form}: …${h.excerpt}…`).join('\n');
  }
}

/** JSON that survives BigInt (Parquet INT64) and typed arrays. */
export function toSearchableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v,
  );
}

/** Every workflow execution of the namespace: ids, search attributes, memo and decoded history. Returns them. */
export async function auditWorkflows(
  audit: LeakAudit,
  client: Client,
  options: { payloadCodecs?: readonly PayloadCodec[] } = {},
): Promise<WorkflowExecutionInfo[]> {
  const executions: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list()) executions.push(info);
  for (const info of executions) {
    const id = `${info.workflowId}/${info.runId}`;
    audit.searchText(`workflow id and run id ${id}`, `${info.workflowId}\n${info.runId}\n${info.type}\n${info.taskQueue}`);
    audit.searchText(`search attributes of ${id}`, toSearchableJson([info.searchAttributes, info.typedSearchAttributes]));
    audit.searchText(`memo of ${id}`, toSearchableJson(info.memo ?? {}));
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    const decoded = await decodeHistoryPayloads(history, { payloadCodecs: options.payloadCodecs });
    audit.searchText(`history of ${id}`, toSearchableJson(decoded.tree));
  }
  return executions;
}

/**
 * The histories of `executions` as the server stores them: each history's proto JSON and every payload's bytes
 * (undecoded) are searched. Returns every payload, with its execution, for assertions on its metadata.
 */
export async function auditRawHistories(
  audit: LeakAudit,
  client: Client,
  executions: readonly WorkflowExecutionInfo[],
): Promise<Array<RawHistoryPayload & { execution: string }>> {
  const out: Array<RawHistoryPayload & { execution: string }> = [];
  for (const info of executions) {
    const id = `${info.workflowId}/${info.runId}`;
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    audit.searchText(`raw history of ${id}`, historyToJSON(history));
    for (const p of rawHistoryPayloads(history)) {
      audit.searchText(`raw payload ${p.path} of ${id}`, `${toSearchableJson(p.metadata)}\n${p.data.toString('utf8')}`);
      out.push({ ...p, execution: id });
    }
  }
  return out;
}

/** Every column of every table of the database's own schemas: text as text, bytea as bytes. Returns the tables. */
export async function auditRegistry(audit: LeakAudit, db: pg.Pool): Promise<string[]> {
  const { rows: columns } = await db.query<{ table_schema: string; table_name: string; column_name: string; data_type: string }>(
    `SELECT c.table_schema, c.table_name, c.column_name, c.data_type
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1, 2, c.ordinal_position`,
  );
  const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;
  for (const c of columns) {
    const table = `${q(c.table_schema)}.${q(c.table_name)}`;
    const place = `registry ${c.table_name}.${c.column_name}`;
    if (c.data_type === 'bytea') {
      const { rows } = await db.query<{ v: Buffer }>(`SELECT ${q(c.column_name)} AS v FROM ${table} WHERE ${q(c.column_name)} IS NOT NULL`);
      rows.forEach((r, i) => audit.searchBytes(`${place} row ${i}`, r.v));
    } else {
      const { rows } = await db.query<{ v: string }>(
        `SELECT ${q(c.column_name)}::text AS v FROM ${table} WHERE ${q(c.column_name)} IS NOT NULL`,
      );
      audit.searchText(place, rows.map((r) => r.v).join('\n'));
    }
  }
  return [...new Set(columns.map((c) => c.table_name))];
}

/** What auditBlobs looked at. */
export interface BlobAuditSummary {
  keys: string[];
  /** Blobs whose content was searched (every key outside the raw-input prefixes). */
  searched: string[];
  /** Parquet objects whose rows were decoded and searched. */
  parquet: string[];
}

/**
 * Every blob key; the content of every blob outside `rawPrefixes` (raw input is PII by definition): its bytes, and
 * for Parquet its decoded rows (values in compressed pages are not visible in the bytes), for gzip its inflated text.
 */
export async function auditBlobs(
  audit: LeakAudit,
  blobs: BlobStore,
  options: { rawPrefixes: readonly string[] },
): Promise<BlobAuditSummary> {
  const keys = (await blobs.list('')).map((b) => b.key).sort();
  const summary: BlobAuditSummary = { keys, searched: [], parquet: [] };
  audit.searchText('blob keys', keys.join('\n'));
  for (const key of keys) {
    if (options.rawPrefixes.some((p) => key.startsWith(p))) continue;
    const bytes = await blobs.get(key);
    summary.searched.push(key);
    audit.searchBytes(`blob ${key}`, bytes);
    if (bytes.length >= 8 && bytes.subarray(0, 4).toString('latin1') === 'PAR1') {
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const rows = await parquetReadObjects({ file, compressors });
      audit.searchText(`blob ${key} (Parquet rows)`, rows.map((r) => toSearchableJson(r)).join('\n'));
      summary.parquet.push(key);
    }
  }
  return summary;
}
