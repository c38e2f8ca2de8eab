import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { piiScanSummaryLines, runPiiScan } from '../../src/cli/pii-command';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pii-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const readLines = (file: string): unknown[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

describe('trainset pii scan', () => {
  it('writes one finding line per finding with record index, path and offsets, and a redacted copy', async () => {
    const input = path.join(dir, 'in.jsonl');
    const lines = [
      { id: 1, body: 'mail jane@example.com', metadata: { ip: '10.0.0.1' } },
      { id: 2, tags: ['ok', 'SSN: 536221234'], note: 'clean' },
      { id: 3, key: 'AKIAIOSFODNN7EXAMPL3', iban: 'DE89 3704 0044 0532 0130 00' },
    ];
    writeFileSync(input, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const findings = path.join(dir, 'findings.jsonl');
    const redacted = path.join(dir, 'redacted.jsonl');

    const summary = await runPiiScan({ input, findings, redacted });

    expect(readLines(findings)).toEqual([
      { record: 0, field: 'body', entity: 'EMAIL_ADDRESS', start: 5, end: 21 },
      { record: 0, field: 'metadata.ip', entity: 'IP_ADDRESS', start: 0, end: 8 },
      { record: 1, field: 'tags.1', entity: 'US_SSN', start: 5, end: 14 },
      { record: 2, field: 'key', entity: 'SECRET', start: 0, end: 20 },
      { record: 2, field: 'iban', entity: 'IBAN_CODE', start: 0, end: 27 },
    ]);
    expect(readLines(redacted)).toEqual([
      { id: 1, body: 'mail <EMAIL_ADDRESS>', metadata: { ip: '<IP_ADDRESS>' } },
      { id: 2, tags: ['ok', 'SSN: <US_SSN>'], note: 'clean' },
      { id: 3, key: '<SECRET>', iban: '<IBAN_CODE>' },
    ]);
    expect(summary).toMatchObject({ records: 3, scanned: 3, skipped: [], findings: 5 });
    expect(summary.byEntity).toMatchObject({ EMAIL_ADDRESS: 1, IP_ADDRESS: 1, US_SSN: 1, SECRET: 1, IBAN_CODE: 1, PHONE_NUMBER: 0 });
    const text = piiScanSummaryLines(summary).join('\n');
    expect(text).toContain('EMAIL_ADDRESS');
    expect(text).not.toContain('jane@example.com');
  });

  it('rewrites keys holding PII in the redacted copy and names them as rewritten in the findings', async () => {
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, `${JSON.stringify({ id: 1, contacts: { 'jane.doe@example.com': '+1 (415) 555-0132' } })}\n`);
    const findings = path.join(dir, 'findings.jsonl');
    const redacted = path.join(dir, 'redacted.jsonl');
    await runPiiScan({ input, findings, redacted });
    expect(readLines(findings)).toEqual([
      { record: 0, field: 'contacts.<EMAIL_ADDRESS>', entity: 'EMAIL_ADDRESS', start: 0, end: 20, inKey: true },
      { record: 0, field: 'contacts.<EMAIL_ADDRESS>', entity: 'PHONE_NUMBER', start: 0, end: 17 },
    ]);
    expect(readLines(redacted)).toEqual([{ id: 1, contacts: { '<EMAIL_ADDRESS>': '<PHONE_NUMBER>' } }]);
    for (const file of [findings, redacted]) expect(readFileSync(file, 'utf8')).not.toContain('jane.doe@example.com');
  });

  it('reports lines that are not JSON objects as skipped by index, without their content', async () => {
    const input = path.join(dir, 'in.jsonl');
    writeFileSync(input, ['{"a":"x@example.com"}', '[1,2]', 'not json 4111 1111 1111 1111', '"str"', '{"b":"ok"}'].join('\r\n'));
    const findings = path.join(dir, 'f.jsonl');
    const redacted = path.join(dir, 'r.jsonl');

    const summary = await runPiiScan({ input, findings, redacted });

    expect(summary.skipped).toEqual([
      { record: 1, reason: 'not_a_json_object' },
      { record: 2, reason: 'invalid_json' },
      { record: 3, reason: 'not_a_json_object' },
    ]);
    expect(readLines(findings)).toEqual([{ record: 0, field: 'a', entity: 'EMAIL_ADDRESS', start: 0, end: 13 }]);
    expect(readLines(redacted)).toEqual([{ a: '<EMAIL_ADDRESS>' }, { b: 'ok' }]);
    const text = piiScanSummaryLines(summary).join('\n');
    expect(text).toContain('skipped line 2: invalid_json');
    expect(text).not.toContain('4111');
  });

  it('handles an empty file', async () => {
    const input = path.join(dir, 'empty.jsonl');
    writeFileSync(input, '');
    const summary = await runPiiScan({ input, findings: path.join(dir, 'f.jsonl'), redacted: path.join(dir, 'r.jsonl') });
    expect(summary).toMatchObject({ records: 0, scanned: 0, findings: 0 });
    expect(readFileSync(path.join(dir, 'f.jsonl'), 'utf8')).toBe('');
  });
});
