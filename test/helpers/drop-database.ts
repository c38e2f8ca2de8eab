import pg from 'pg';

/**
 * Drop a test database once the connections of a just-ended pool are gone. `pool.end()` resolves before
 * its sockets close; dropping WITH (FORCE) at that moment kills them, and the killed client's error
 * surfaces as an uncaught exception in the test process.
 */
export async function dropDatabaseWhenIdle(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (Number(rows[0]?.n ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
