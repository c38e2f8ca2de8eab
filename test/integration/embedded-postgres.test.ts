import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/registry/embedded-postgres';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('embedded Postgres (PGlite over the wire protocol)', () => {
  let root: string;
  let dataDir: string;
  let server: EmbeddedPostgres | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'trainset-embedded-pg-'));
    dataDir = join(root, 'pgdata');
    server = await startEmbeddedPostgres({ dataDir, log: (m) => logs.push(m) });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers a plain pg.Client on a 127.0.0.1 url with sslmode=disable', async () => {
    expect(server?.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?sslmode=disable$/);
    const client = new pg.Client(server?.url);
    await client.connect();
    try {
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.query('CREATE TABLE datasets (name text PRIMARY KEY, rows int NOT NULL)');
      await client.query('INSERT INTO datasets VALUES ($1, $2), ($3, $4)', ['fraud', 10, 'churn', 20]);
      await client.query('INSERT INTO datasets VALUES ($1, $2) ON CONFLICT DO NOTHING', ['fraud', 99]);
      const { rows } = await client.query('SELECT name, rows FROM datasets ORDER BY name');
      expect(rows).toEqual([
        { name: 'churn', rows: 20 },
        { name: 'fraud', rows: 10 },
      ]);
    } finally {
      await client.end();
    }
  });

  it('serves a pg.Pool sized to maxConnections running 20 concurrent parameterized queries', async () => {
    const maxConnections = server?.maxConnections ?? 0;
    expect(maxConnections).toBeGreaterThan(1);
    const pool = new pg.Pool({ connectionString: server?.url, max: maxConnections, query_timeout: 10_000 });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.query(`SELECT $1::int * 2 + ${i} AS n`, [i])));
      expect(results.map((r) => r.rows[0].n)).toEqual(Array.from({ length: 20 }, (_, i) => 3 * i));
      expect(pool.totalCount).toBe(maxConnections);
    } finally {
      await pool.end();
    }
  });

  it('makes other connections wait while one holds a transaction (so pool code must not nest them)', async () => {
    const pool = new pg.Pool({ connectionString: server?.url, max: 2 });
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1');
      let otherDone = false;
      const other = pool.query('SELECT 2 AS two').then((r) => {
        otherDone = true;
        return r.rows[0].two as number;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(otherDone).toBe(false);
      await holder.query('COMMIT');
      expect(await other).toBe(2);
    } finally {
      holder.release();
      await pool.end();
    }
  });

  it('refuses a second server on the same data folder', async () => {
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/in use by process/);
  });

  it("keeps the data across a stop and a restart on the same folder, taking over a dead process's lock", async () => {
    await server?.stop();
    await writeFile(`${dataDir}.lock`, '999999999'); // as if a crashed process had left it
    server = await startEmbeddedPostgres({ dataDir, log: (m) => logs.push(m) });
    const client = new pg.Client(server.url);
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name FROM datasets ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(['churn', 'fraud']);
    } finally {
      await client.end();
    }
    expect(logs.filter((m) => /opened .* in \d+ ms/.test(m))).toHaveLength(2);
  });

  it('runs in memory on a chosen port', async () => {
    const port = await freePort();
    const mem = await startEmbeddedPostgres({ port, maxConnections: 1 });
    try {
      expect(new URL(mem.url).port).toBe(String(port));
      expect(mem.maxConnections).toBe(1);
      const client = new pg.Client(mem.url);
      await client.connect();
      expect((await client.query('SELECT to_regclass($1) AS t', ['datasets'])).rows).toEqual([{ t: null }]);
      await client.end();
    } finally {
      await mem.stop();
    }
  });
});
