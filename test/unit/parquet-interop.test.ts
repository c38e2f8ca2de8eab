import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_COLUMN, ParquetRecordWriter, parquetColumns, writeRecordsParquet } from '../../src/datasets/parquet';
import { richSpec, ticketsSpec } from './data-fixtures';

// DuckDB is an independent Parquet implementation (C++), so these tests prove the files are not only
// readable by the library that wrote them.
let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parquet-interop-'));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});

afterAll(() => {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function query(file: Buffer, sql: string): Promise<Array<Record<string, unknown>>> {
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}.parquet`);
  writeFileSync(path, file);
  const reader = await conn.runAndReadAll(sql.replace('$file', `read_parquet('${path}')`).replace('$path', `'${path}'`));
  return reader.getRowObjectsJS() as Array<Record<string, unknown>>;
}

const rich = richSpec({ unknownFields: 'keep' });
const records = [
  {
    id: 'T-1',
    created_at: '2024-03-01T10:00:00.123Z',
    channel: 'email',
    subject: 'héllo, "quoted"',
    body: 'line one\nline two',
    queue: 'billing',
    priority: 5,
    score: 0.25,
    vip: true,
    tags: ['ab', 'cd'],
    meta: { source: 'web', seen: '2024-02-29T23:59:59.000Z' },
    extra_field: 'kept',
  },
  { id: 'T-2', created_at: '1999-12-31T23:00:00.000Z', channel: 'chat', subject: 's', body: 'b' },
];

describe('Parquet output read back by DuckDB', () => {
  it('has one column per spec field plus the hash (and _extra when unknown fields are kept)', async () => {
    const file = writeRecordsParquet(
      records.map((record, i) => ({ record, hash: `hash-${i}` })),
      rich,
    );
    const cols = await query(file, 'SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM $file)');
    expect(cols.map((c) => c.column_name)).toEqual(parquetColumns(rich).map((c) => c.name));
    const types = Object.fromEntries(cols.map((c) => [c.column_name, c.column_type]));
    expect(types).toMatchObject({
      id: 'VARCHAR',
      created_at: 'TIMESTAMP WITH TIME ZONE',
      priority: 'BIGINT',
      score: 'DOUBLE',
      vip: 'BOOLEAN',
      tags: 'JSON',
      [HASH_COLUMN]: 'VARCHAR',
    });
  });

  it('round-trips values, nulls, timestamps and nested JSON', async () => {
    const file = writeRecordsParquet(
      records.map((record, i) => ({ record, hash: `hash-${i}` })),
      rich,
    );
    const rows = await query(
      file,
      `SELECT id, epoch_ms(created_at) AS t, subject, body, queue, priority, score, vip, tags::VARCHAR AS tags,
              json_extract_string(meta, '$.source') AS source, _extra::VARCHAR AS extra, ${HASH_COLUMN} AS h FROM $file ORDER BY id`,
    );
    expect(rows).toEqual([
      {
        id: 'T-1',
        t: BigInt(Date.parse('2024-03-01T10:00:00.123Z')),
        subject: 'héllo, "quoted"',
        body: 'line one\nline two',
        queue: 'billing',
        priority: 5n,
        score: 0.25,
        vip: true,
        tags: '["ab","cd"]',
        source: 'web',
        extra: '{"extra_field":"kept"}',
        h: 'hash-0',
      },
      {
        id: 'T-2',
        t: BigInt(Date.parse('1999-12-31T23:00:00.000Z')),
        subject: 's',
        body: 'b',
        queue: null,
        priority: null,
        score: null,
        vip: null,
        tags: null,
        source: null,
        extra: null,
        h: 'hash-1',
      },
    ]);
  });

  it('streams many row groups through a sink, and DuckDB counts every row', async () => {
    const chunks: Buffer[] = [];
    const writer = new ParquetRecordWriter(ticketsSpec, { sink: (c) => chunks.push(c), rowGroupSize: 1000 });
    for (let i = 0; i < 5500; i++) {
      writer.write(
        {
          id: `T-${i}`,
          created_at: '2024-03-01T00:00:00.000Z',
          channel: 'web',
          subject: `s${i}`,
          body: 'b',
          ...(i % 2 ? { queue: 'account' } : {}),
        },
        `h${i}`,
      );
    }
    expect(writer.finish()).toBeUndefined();
    expect(chunks.length).toBeGreaterThan(5);
    const [stats] = await query(
      Buffer.concat(chunks),
      `SELECT count(*) AS n, count(queue) AS labeled, count(DISTINCT ${HASH_COLUMN}) AS hashes, max(subject) AS maxs FROM $file`,
    );
    expect(stats).toEqual({ n: 5500n, labeled: 2750n, hashes: 5500n, maxs: 's999' });
    const groups = await query(Buffer.concat(chunks), 'SELECT count(DISTINCT row_group_id) AS g FROM parquet_metadata($path)');
    expect(Number(groups[0]?.g)).toBe(6);
  });

  it('writes a valid empty file when no record was accepted', async () => {
    const [stats] = await query(writeRecordsParquet([], ticketsSpec), 'SELECT count(*) AS n FROM $file');
    expect(stats).toEqual({ n: 0n });
  });
});
