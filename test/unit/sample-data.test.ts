import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkRecord } from '../../src/ingest/contract';
import { Deduper } from '../../src/dedupe/dedupe';
import { generateTicketLines, generateTickets, mulberry32, programmaticLabel } from '../../src/samples/tickets/generate';
import { QUEUE_KEYWORDS, TICKET_QUEUES } from '../../src/samples/tickets/vocabulary';
import { scanRecord } from '../../src/pii/engine';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')), 'tickets.yaml');
const day = generateTicketLines({ date: '2024-03-01', count: 2000, seed: 42 });
const parsed = day.filter((g) => g.kind !== 'bad').map((g) => ({ g, record: JSON.parse(g.line) as Record<string, unknown> }));

function tokens(r: Record<string, unknown>): string[] {
  return `${String(r.subject)} ${String(r.body)}`
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

describe('generateTickets', () => {
  it('gives identical lines for the same seed and date, different lines otherwise', () => {
    const a = generateTickets({ date: '2024-03-01', count: 300, seed: 7 });
    expect(generateTickets({ date: '2024-03-01', count: 300, seed: 7 })).toEqual(a);
    expect(generateTickets({ date: '2024-03-01', count: 300, seed: 8 })).not.toEqual(a);
    expect(generateTickets({ date: '2024-03-02', count: 300, seed: 7 })).not.toEqual(a);
  });

  it('is driven by mulberry32, which is itself deterministic', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('writes tickets that pass the contract, created within the UTC day, with ids per date', () => {
    for (const { g } of parsed) {
      const r = checkRecord(g.line, spec);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(String(r.record.created_at).startsWith('2024-03-01T')).toBe(true);
      expect(String(r.record.id)).toMatch(/^T-2024-03-01-\d{5}$/);
    }
  });

  it('plants about 15% unlabeled tickets, about 2% bad lines and a few duplicates', () => {
    const unlabeled = parsed.filter(({ record }) => record.queue === undefined).length / parsed.length;
    expect(unlabeled).toBeGreaterThan(0.11);
    expect(unlabeled).toBeLessThan(0.19);
    const bad = day.filter((g) => g.kind === 'bad');
    expect(bad.length / day.length).toBeGreaterThan(0.01);
    expect(bad.length / day.length).toBeLessThan(0.035);
    expect(bad.every((g) => !checkRecord(g.line, spec).ok)).toBe(true);
    const dedupe = new Deduper(spec);
    const dupes = parsed.filter(({ record }) => dedupe.check(record).duplicate).length;
    expect(dupes).toBe(day.filter((g) => g.kind === 'duplicate').length);
    expect(dupes).toBeGreaterThan(5);
  });

  it('plants PII the engine finds, and order numbers it does not flag', () => {
    const planted = { email: 0, phone: 0, card: 0, orderNumber: 0 };
    for (const { g, record } of parsed) {
      const body = scanRecord({ body: record.body }, spec.pii).findings;
      const count = (e: string): number => body.filter((f) => f.entity === e).length;
      expect([count('EMAIL_ADDRESS'), count('PHONE_NUMBER'), count('CREDIT_CARD')]).toEqual([
        g.planted.email,
        g.planted.phone,
        g.planted.card,
      ]);
      for (const k of Object.keys(planted) as Array<keyof typeof planted>) planted[k] += g.planted[k];
    }
    const stray = parsed.flatMap(({ record }) => scanRecord(record, spec.pii).findings).filter((f) => f.field !== 'body');
    expect(new Set(stray.map((f) => `${f.field}:${f.entity}`))).toEqual(new Set(['customer_email:EMAIL_ADDRESS']));
    expect(planted.email).toBeGreaterThan(50);
    expect(planted.phone).toBeGreaterThan(50);
    expect(planted.card).toBeGreaterThan(20);
    expect(planted.orderNumber).toBeGreaterThan(20);
  });
});

describe('programmaticLabel', () => {
  it('agrees with the given label on at least 80% of labeled tickets', () => {
    const labeled = parsed.filter(({ record }) => record.queue !== undefined);
    const agree = labeled.filter(({ record }) => programmaticLabel(record) === record.queue).length;
    expect(agree / labeled.length).toBeGreaterThanOrEqual(0.8);
  });

  it('labels most unlabeled tickets with their true queue, abstaining on some', () => {
    const unlabeled = parsed.filter(({ record }) => record.queue === undefined);
    const labels = unlabeled.map(({ g, record }) => ({ got: programmaticLabel(record), want: g.trueQueue }));
    const correct = labels.filter((l) => l.got === l.want).length / labels.length;
    expect(correct).toBeGreaterThanOrEqual(0.8);
    expect(labels.some((l) => l.got === undefined)).toBe(true);
  });

  it('abstains on no keywords and on ties', () => {
    expect(programmaticLabel({ subject: 'hello', body: 'help please' })).toBeUndefined();
    expect(programmaticLabel({ subject: '', body: 'refund and password' })).toBeUndefined();
    expect(programmaticLabel({ subject: 'refund', body: 'password' })).toBe('billing');
  });

  it('uses keyword lists that do not overlap between queues', () => {
    const all = TICKET_QUEUES.flatMap((q) => QUEUE_KEYWORDS[q]);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('sample data difficulty', () => {
  it('is learnable by bag-of-words but not perfectly (roughly 80-92% accuracy)', () => {
    const labeled = parsed.filter(({ record }) => typeof record.queue === 'string').map(({ record }) => record);
    const train = labeled.slice(0, Math.floor(labeled.length * 0.7));
    const test = labeled.slice(train.length);
    // Multinomial naive Bayes with add-one smoothing.
    const counts = new Map<string, Map<string, number>>();
    const totals = new Map<string, number>();
    const vocab = new Set<string>();
    for (const r of train) {
      const q = String(r.queue);
      const m = counts.get(q) ?? new Map<string, number>();
      counts.set(q, m);
      for (const t of tokens(r)) {
        m.set(t, (m.get(t) ?? 0) + 1);
        totals.set(q, (totals.get(q) ?? 0) + 1);
        vocab.add(t);
      }
    }
    let correct = 0;
    for (const r of test) {
      let best = '';
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const [q, m] of counts) {
        let s = 0;
        for (const t of tokens(r)) s += Math.log(((m.get(t) ?? 0) + 1) / ((totals.get(q) ?? 0) + vocab.size));
        if (s > bestScore) [best, bestScore] = [q, s];
      }
      if (best === r.queue) correct += 1;
    }
    const accuracy = correct / test.length;
    expect(accuracy).toBeGreaterThan(0.78);
    expect(accuracy).toBeLessThan(0.94);
  });
});
