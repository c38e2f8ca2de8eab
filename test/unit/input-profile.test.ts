/** The gateway's input profile (for drift against production): lengths and category codes, never content. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compareStats } from '../../src/quality/drift';
import { StatsBuilder } from '../../src/quality/stats';
import { inputProfile } from '../../src/serving/input-profile';
import { parseDatasetSpec } from '../../src/shared/spec';

const spec = parseDatasetSpec(parseYaml(readFileSync(path.resolve(__dirname, '../../specs/tickets.yaml'), 'utf8')));
const fields = { textFields: ['subject', 'body'], categoricalFields: ['channel'] };

describe('input profile', () => {
  it('keeps text lengths and category codes; anything that is not a code is __other__', () => {
    expect(inputProfile({ subject: 'Refund', body: 'my card was charged twice', channel: 'email', extra: 'x' }, fields)).toEqual({
      'subject.length': 6,
      'body.length': 25,
      channel: 'email',
    });
    for (const leaky of [
      'jane.doe@example.com',
      '+1 415 555 0132',
      '4155550132',
      'a value with spaces',
      'x'.repeat(40),
      // Shaped like codes, found by the PII detectors: an AWS key id, a live Stripe key, an IPv4 address.
      'AKIAQWERTYUIOPASDFGH',
      'sk_live_abcdefghijklmnopqrstuvwx',
      '1.2.3.4',
    ]) {
      expect(inputProfile({ channel: leaky }, fields)).toEqual({ channel: '__other__' });
    }
    expect(inputProfile({ channel: null, body: 42 }, fields)).toEqual({});
    const json = JSON.stringify(inputProfile({ subject: 'call me at 415 555 0132', body: 'jane@example.com', channel: 'chat' }, fields));
    expect(json).not.toMatch(/415|jane|example/);
  });

  it('profiles build statistics that drift compares with a version: channel and text lengths, labels not computable', () => {
    const version = new StatsBuilder(spec);
    const production = new StatsBuilder(spec);
    for (let i = 0; i < 600; i++) {
      const row = {
        id: `T-${i}`,
        created_at: '2026-01-01T00:00:00Z',
        channel: ['email', 'chat'][i % 2],
        subject: 's'.repeat(10 + (i % 5)),
        body: 'b'.repeat(100 + (i % 50)),
        queue: 'billing',
      };
      version.add(row);
      // Production: all chat, much longer bodies.
      production.addProfile(inputProfile({ ...row, channel: 'chat', body: 'b'.repeat(400 + (i % 50)) }, fields));
    }
    const report = compareStats(production.finish(), version.finish(), spec.quality.drift);
    const fig = (feature: string, metric: string) => report.figures.find((f) => f.feature === feature && f.metric === metric);
    expect(fig('channel', 'linf')).toMatchObject({ gated: true, breached: true });
    expect(fig('channel', 'linf')!.value).toBeCloseTo(0.5, 5);
    expect(fig('body', 'psi')).toMatchObject({ gated: true, breached: true });
    expect(fig('subject', 'psi')?.breached).toBe(false);
    expect(report.figures.filter((f) => f.kind === 'label').every((f) => f.value === null && !f.gated)).toBe(true);
  });
});
