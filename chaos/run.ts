/**
 * `npm run chaos [-- <scenario> ...]`: runs the chaos scenarios against real services (scripts/services.sh up)
 * and a Temporal dev server with a database file, prints scenario | outcome | invariants | wall time, and exits
 * non-zero when a scenario throws or an invariant fails. See docs/operations.md, "Chaos suite".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadServicesEnv, startTemporal } from './harness';
import { scenarios, type Scenario } from './scenarios';

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const chosen: Scenario[] = wanted.length ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;
  const svc = loadServicesEnv();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trainset-chaos-temporal-'));
  let server = await startTemporal(svc, dir);
  const port = Number(server.address.split(':').pop());
  /** kill -9 of the dev server, then the same server again on its port and database file (as a supervisor would). */
  const restartTemporal = async (): Promise<void> => {
    await server.kill();
    server = await startTemporal(svc, dir, port);
  };
  const rows: Array<[string, string, string, string]> = [];
  let failures = 0;
  try {
    for (const sc of chosen) {
      const t0 = Date.now();
      console.log(`\n== ${sc.name}: ${sc.description}`);
      let outcome: string;
      let invariants: string;
      try {
        const r = await sc.run({
          svc,
          temporalAddress: server.address,
          restartTemporal,
          log: (m) => console.log(`   ${sc.name}: ${m}`),
        });
        outcome = r.outcome;
        invariants = r.failed.length ? `✗ ${r.failed.join('; ')}` : '✓';
        if (r.failed.length) failures++;
      } catch (err) {
        outcome = `error: ${err instanceof Error ? err.message : String(err)}`;
        invariants = '✗ not checked';
        failures++;
      }
      rows.push([sc.name, outcome, invariants, `${Math.round((Date.now() - t0) / 1000)} s`]);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const header: [string, string, string, string] = ['scenario', 'outcome', 'invariants held', 'wall time'];
  console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
