/** `npm run demo` on the embedded default (PGlite over the wire protocol, local blob folder): the main job. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddedEnv } from '../../src/workers/config';

const ROOT = path.resolve(__dirname, '../..');

/** Run the demo in a child process with only the embedded default available (no production settings). */
function runDemo(args: string[] = []): Promise<{ code: number | null; out: string }> {
  const env = embeddedEnv(process.env, { LOG_LEVEL: 'warn' });
  delete env.TRAINSET_HOME;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/trainset.js'), 'demo', ...args], { cwd: ROOT, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('npm run demo', () => {
  it('runs three days (first champion, a promotion through the canary, an automatic rollback) and, with --monitor, a fourth where the monitor rolls the decayed champion back; prints the summary', async () => {
    const { code, out } = await runDemo(['--monitor']);
    expect(code, out).toBe(0);
    expect(out).toContain('embedded PGlite');
    expect(out).toMatch(/run retrain-tickets-2026-11-01: FIRST_CHAMPION/);
    expect(out).toMatch(/run retrain-tickets-2026-11-02: PROMOTED/);
    expect(out).toMatch(/run retrain-tickets-2026-11-03: ROLLED_BACK \(canary breach at 20%/);
    const summary = out.slice(out.indexOf('=== summary ==='));
    for (const field of [
      'dataset version',
      'records            in',
      'PII findings',
      'candidate',
      'champion',
      'canary step 1',
      'champion now',
    ]) {
      expect(summary).toContain(field);
    }
    for (const entity of ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'IP_ADDRESS', 'SECRET']) {
      expect(summary).toMatch(new RegExp(`${entity}=[1-9]\\d*`));
    }
    // Day 4: the promoted champion (version 2) decays; the monitor rolls it back to version 1, once.
    expect(out).toMatch(/monitor: rolled mv-[0-9a-f]+ back to mv-[0-9a-f]+ \d+\.\d s after the traffic began \(\d+ requests\)/);
    expect(out.match(/ rollback \(accuracy\): started: rollback-tickets-classifier-mv-/g)).toHaveLength(1);
    expect(out).toMatch(/final champion: mv-[0-9a-f]+ \(version 1/);
    expect(out).toMatch(/Temporal UI: http:\/\/127\.0\.0\.1:\d+/);
    // No planted PII is ever printed.
    expect(out).not.toMatch(/@(mail\.)?example\.(com|org|net)/);
    for (const planted of ['536-22-8148', 'GB82 WEST', '203.0.113.42', '2001:db8::17', 'AKIAIOSFODNN7EXAMPLE'])
      expect(out).not.toContain(planted);
  }, 420_000);
});
