import { describe, expect, it } from 'vitest';
import { trainServeSkew } from '../../src/monitor/skew';
import { StatsBuilder, type VersionStats } from '../../src/quality/stats';
import { ticketsSpec } from './data-fixtures';

const fields = ticketsSpec.schema;
const channels = ['email', 'chat', 'phone'];

/** Training statistics of `n` tickets: every text field present, channels cycling through three codes. */
function trained(n = 300): VersionStats {
  const b = new StatsBuilder(ticketsSpec);
  for (let i = 0; i < n; i++) b.add({ subject: `subject ${i}`, body: `body of ticket ${i}`, channel: channels[i % 3] });
  return b.finish();
}

/** Statistics of served request profiles as the gateway logs them. */
function served(profiles: Array<Record<string, string | number>>): VersionStats {
  const b = new StatsBuilder(ticketsSpec);
  for (const p of profiles) b.addProfile(p);
  return b.finish();
}

const healthy = (i: number) => ({ 'subject.length': 12, 'body.length': 40 + i, channel: channels[i % 3]! });

describe('trainServeSkew', () => {
  it('finds no skew when requests carry the fields as training did', () => {
    const figures = trainServeSkew(trained(), served(Array.from({ length: 90 }, (_, i) => healthy(i))), fields);
    expect(figures.map((f) => f.feature)).toEqual(['subject', 'body', 'channel']);
    for (const f of figures) expect(f.value).toBe(0);
    expect(figures.find((f) => f.feature === 'channel')?.unseenCategoryRate).toBe(0);
  });

  it('shows a field the client stopped sending as a completeness gap', () => {
    // A third of the requests lack a body: training had it on every row.
    const profiles = Array.from({ length: 90 }, (_, i) => (i % 3 === 0 ? { 'subject.length': 12, channel: 'chat' } : healthy(i)));
    const body = trainServeSkew(trained(), served(profiles), fields).find((f) => f.feature === 'body')!;
    expect(body.completenessGap).toBeCloseTo(1 / 3, 10);
    expect(body.value).toBeCloseTo(1 / 3, 10);
    expect(body.unseenCategoryRate).toBeUndefined();
  });

  it('shows a changed category encoding as unseen categories, __other__ included', () => {
    const profiles = Array.from({ length: 100 }, (_, i) => ({
      ...healthy(i),
      channel: i < 40 ? 'EMAIL' : i < 50 ? '__other__' : 'chat',
    }));
    const channel = trainServeSkew(trained(), served(profiles), fields).find((f) => f.feature === 'channel')!;
    expect(channel.completenessGap).toBe(0);
    expect(channel.unseenCategoryRate).toBeCloseTo(0.5, 10);
    expect(channel.value).toBeCloseTo(0.5, 10);
  });

  it('does not judge unseen categories when training counts are not complete', () => {
    // 60 distinct channels in training: more than the sketch names, so a served value may simply have been rare.
    const b = new StatsBuilder(ticketsSpec);
    for (let i = 0; i < 300; i++) b.add({ subject: 's', body: 'b', channel: `c${i % 60}` });
    const channel = trainServeSkew(b.finish(), served([{ 'subject.length': 1, 'body.length': 1, channel: 'new' }]), fields).find(
      (f) => f.feature === 'channel',
    )!;
    expect(channel.unseenCategoryRate).toBeUndefined();
    expect(channel.value).toBe(0);
  });

  it('has no figures without served requests', () => {
    expect(trainServeSkew(trained(), served([]), fields)).toEqual([]);
  });
  it('leaves out served values outside the window’s named top categories, and fields no statistics know', () => {
    // 100 known requests and 60 distinct new codes once each: the window's sketch names 50 values (email and 49 new).
    const profiles = [
      ...Array.from({ length: 100 }, (_, i) => ({ ...healthy(i), channel: 'email' })),
      ...Array.from({ length: 60 }, (_, i) => ({ ...healthy(i), channel: `new${String(i).padStart(2, '0')}` })),
    ];
    const figures = trainServeSkew(trained(), served(profiles), { textFields: ['subject', 'nope'], categoricalFields: ['channel'] });
    expect(figures.map((f) => f.feature)).toEqual(['subject', 'channel']);
    expect(figures[1]!.unseenCategoryRate).toBeCloseTo(49 / 149, 10);
  });

  it('has no unseen-category figure when no request carried the field', () => {
    const channel = trainServeSkew(trained(), served([{ 'subject.length': 3, 'body.length': 9 }]), fields).find(
      (f) => f.feature === 'channel',
    )!;
    expect(channel.unseenCategoryRate).toBeUndefined();
    expect(channel.completenessGap).toBe(1);
    expect(channel.value).toBe(1);
  });
});
