import { describe, expect, it } from 'vitest';
import { initialMonitorState, judgeWindow } from '../../src/monitor/decisions';
import { DatasetSpecSchema, type MonitorPolicy } from '../../src/shared/spec';
import type { MonitorState, MonitorWindowFigures } from '../../src/shared/types';

/** The spec's defaults, with three windows in a row before an action. */
const policy: MonitorPolicy = DatasetSpecSchema.shape.monitor.parse(undefined);

function window(over: Partial<MonitorWindowFigures> = {}): MonitorWindowFigures {
  return {
    model: 'm',
    championVersion: 'mv-2',
    start: '2026-12-01T10:00:00.000Z',
    end: '2026-12-01T10:05:00.000Z',
    requests: 200,
    errors: 2,
    p95LatencyMs: 20,
    feedback: 100,
    correct: 85,
    offlineAccuracy: 0.88,
    predictionShift: 0.05,
    drift: [{ feature: 'channel', metric: 'linf', value: 0.05, limit: 0.2, breached: false }],
    ...over,
  };
}

const champion = { version: 'mv-2', promotedAt: '2026-12-01T08:00:00.000Z' };

/** Judge the same window n times in a row, returning every decision. */
function run(n: number, w: MonitorWindowFigures, p: MonitorPolicy = policy, state: MonitorState = initialMonitorState()) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const d = judgeWindow(w, p, state, champion);
    out.push(d);
    state = d.state;
  }
  return out;
}

describe('judgeWindow', () => {
  it('finds nothing in a healthy window and counts it', () => {
    const d = judgeWindow(window(), policy, initialMonitorState(), champion);
    expect(d.breaches).toEqual([]);
    expect(d.notJudged).toEqual([]);
    expect(d.actions).toEqual([]);
    expect(d.state).toEqual({ consecutive: {}, rolledBack: [], windows: 1 });
  });

  it('has the documented defaults', () => {
    expect(policy).toMatchObject({ windowSeconds: 300, minRequests: 50, minFeedback: 30, consecutiveWindows: 3, probationHours: 72 });
    expect(policy.actions).toEqual({
      accuracy: 'rollback',
      errors: 'rollback',
      latency: 'alert',
      prediction_shift: 'alert',
      drift: 'retrain',
      skew: 'alert',
      no_traffic: 'alert',
    });
    expect(policy.limits.maxSkew).toBe(0.2);
  });

  it('breaches live accuracy below the floor, and below the offline accuracy by more than the allowed drop', () => {
    const floor = judgeWindow(window({ correct: 40, offlineAccuracy: undefined }), policy, initialMonitorState(), champion);
    expect(floor.breaches).toEqual([{ kind: 'accuracy', reason: 'live accuracy 0.400 below 0.500 (100 labels)' }]);
    const drop = judgeWindow(window({ correct: 70 }), policy, initialMonitorState(), champion);
    expect(drop.breaches).toEqual([{ kind: 'accuracy', reason: 'live accuracy 0.700 is 0.180 below the offline 0.880 (100 labels)' }]);
    // 0.88 - 0.74 = 0.14: within the 0.15 drop.
    expect(judgeWindow(window({ correct: 74 }), policy, initialMonitorState(), champion).breaches).toEqual([]);
    // Exactly at the floor is no breach.
    expect(judgeWindow(window({ correct: 50, offlineAccuracy: undefined }), policy, initialMonitorState(), champion).breaches).toEqual([]);
  });

  it('does not judge accuracy on too little feedback, and leaves its streak as it was', () => {
    const [first] = run(1, window({ correct: 40 }));
    expect(first!.state.consecutive).toEqual({ accuracy: 1 });
    const short = judgeWindow(window({ feedback: 29, correct: 0 }), policy, first!.state, champion);
    expect(short.breaches).toEqual([]);
    expect(short.notJudged).toEqual([{ kind: 'accuracy', reason: '29 trusted feedback labels, fewer than 30' }]);
    expect(short.state.consecutive).toEqual({ accuracy: 1 });
    // Exactly minFeedback is judged.
    expect(judgeWindow(window({ feedback: 30, correct: 0 }), policy, initialMonitorState(), champion).breaches.map((b) => b.kind)).toEqual([
      'accuracy',
    ]);
  });

  it('breaches the error rate, the p95 latency and the prediction shift above their limits only', () => {
    const d = judgeWindow(window({ errors: 11, p95LatencyMs: 1000.5, predictionShift: 0.3 }), policy, initialMonitorState(), champion);
    expect(d.breaches).toEqual([
      { kind: 'errors', reason: 'error rate 0.055 above 0.050' },
      { kind: 'latency', reason: 'p95 latency 1000.5 ms above 1000 ms' },
      { kind: 'prediction_shift', reason: 'predicted labels shifted by 0.300 (L∞) from the training set, above 0.250' },
    ]);
    const atLimits = judgeWindow(
      window({ errors: 10, p95LatencyMs: 1000, predictionShift: 0.25 }),
      policy,
      initialMonitorState(),
      champion,
    );
    expect(atLimits.breaches).toEqual([]);
  });

  it('reports each breached drift figure, and ignores figures within their limit', () => {
    const d = judgeWindow(
      window({
        drift: [
          { feature: 'channel', metric: 'linf', value: 0.31, limit: 0.2, breached: true },
          { feature: 'subject', metric: 'psi', value: 0.1, limit: 0.25, breached: false },
          { feature: 'body', metric: 'ks', value: 0.4, limit: 0.2, breached: true },
        ],
      }),
      policy,
      initialMonitorState(),
      champion,
    );
    expect(d.breaches).toEqual([{ kind: 'drift', reason: 'input drift: channel linf=0.310 (limit 0.200), body ks=0.400 (limit 0.200)' }]);
  });

  it('judges nothing but traffic below minRequests, and calls zero requests no traffic', () => {
    const few = judgeWindow(window({ requests: 49, errors: 49, feedback: 0, correct: 0 }), policy, initialMonitorState(), champion);
    expect(few.breaches).toEqual([]);
    expect(few.notJudged.map((n) => n.kind)).toEqual(['errors', 'latency', 'prediction_shift', 'drift', 'skew', 'accuracy']);
    expect(few.notJudged[0]!.reason).toBe('49 requests, fewer than 50');
    const none = judgeWindow(window({ requests: 0, errors: 0, feedback: 0, correct: 0 }), policy, initialMonitorState(), champion);
    expect(none.breaches).toEqual([
      { kind: 'no_traffic', reason: 'no requests between 2026-12-01T10:00:00.000Z and 2026-12-01T10:05:00.000Z' },
    ]);
    // Exactly minRequests is judged.
    expect(judgeWindow(window({ requests: 50, errors: 10 }), policy, initialMonitorState(), champion).breaches.map((b) => b.kind)).toEqual([
      'errors',
    ]);
  });

  it('says why the prediction shift is not judged without training label shares', () => {
    const d = judgeWindow(window({ predictionShift: undefined }), policy, initialMonitorState(), champion);
    expect(d.notJudged).toEqual([{ kind: 'prediction_shift', reason: 'no training label shares to compare with' }]);
  });

  it('takes an action once, at the window its streak reaches consecutiveWindows', () => {
    const ds = run(5, window({ drift: [{ feature: 'channel', metric: 'linf', value: 0.5, limit: 0.2, breached: true }] }));
    expect(ds.map((d) => d.actions.map((a) => a.action))).toEqual([[], [], ['retrain'], [], []]);
    expect(ds[2]!.actions[0]).toEqual({
      action: 'retrain',
      kind: 'drift',
      reason: 'input drift: channel linf=0.500 (limit 0.200), 3 window(s) in a row',
    });
    expect(ds[4]!.state.consecutive).toEqual({ drift: 5 });
    expect(ds[4]!.state.windows).toBe(5);
  });

  it('restarts a streak after a healthy window, so a new streak acts again', () => {
    const bad = window({ p95LatencyMs: 2000 });
    let state = initialMonitorState();
    const actions: string[][] = [];
    for (const w of [bad, bad, window(), bad, bad, bad]) {
      const d = judgeWindow(w, policy, state, champion);
      actions.push(d.actions.map((a) => `${a.action}:${a.kind}`));
      state = d.state;
    }
    expect(actions).toEqual([[], [], [], [], [], ['alert:latency']]);
  });

  it('rolls back a champion in probation once; a second streak only alerts', () => {
    const bad = window({ correct: 40, offlineAccuracy: undefined });
    const one = { ...policy, consecutiveWindows: 1 };
    const first = judgeWindow(bad, one, initialMonitorState(), champion);
    expect(first.actions).toEqual([
      { action: 'rollback', kind: 'accuracy', reason: 'live accuracy 0.400 below 0.500 (100 labels), 1 window(s) in a row' },
    ]);
    expect(first.state.rolledBack).toEqual(['mv-2']);
    const healthy = judgeWindow(window(), one, first.state, champion);
    const again = judgeWindow(bad, one, healthy.state, champion);
    expect(again.actions).toEqual([
      {
        action: 'alert',
        kind: 'accuracy',
        reason:
          'live accuracy 0.400 below 0.500 (100 labels), 1 window(s) in a row; not rolled back: this monitor already rolled mv-2 back once',
      },
    ]);
    expect(again.state.rolledBack).toEqual(['mv-2']);
  });

  it('alerts instead of rolling back a champion past its probation, or one whose promotion time is unknown', () => {
    const one = { ...policy, consecutiveWindows: 1 };
    const bad = window({ errors: 50 });
    const old = judgeWindow(bad, one, initialMonitorState(), { version: 'mv-2', promotedAt: '2026-11-28T10:00:00.000Z' });
    expect(old.actions).toEqual([
      {
        action: 'alert',
        kind: 'errors',
        reason:
          'error rate 0.250 above 0.050, 1 window(s) in a row; not rolled back: mv-2 was promoted 72.1 h ago, past its 72 h probation',
      },
    ]);
    expect(old.state.rolledBack).toEqual([]);
    // 72 h exactly is still in probation.
    const edge = judgeWindow(bad, one, initialMonitorState(), { version: 'mv-2', promotedAt: '2026-11-28T10:05:00.000Z' });
    expect(edge.actions.map((a) => a.action)).toEqual(['rollback']);
    const unknown = judgeWindow(bad, one, initialMonitorState(), { version: 'mv-2' });
    expect(unknown.actions[0]!.reason).toMatch(/not rolled back: when mv-2 was promoted is unknown$/);
  });

  it('does not change the state it is given', () => {
    const state: MonitorState = { consecutive: { errors: 2 }, rolledBack: ['mv-1'], windows: 7 };
    const copy = structuredClone(state);
    judgeWindow(window({ errors: 100 }), policy, state, champion);
    expect(state).toEqual(copy);
  });
  it('breaches skew above maxSkew, naming the larger figure per field, and alerts by default', () => {
    const skew = [
      { feature: 'subject', completenessGap: 0.5, value: 0.5 },
      { feature: 'channel', completenessGap: 0.01, unseenCategoryRate: 0.3, value: 0.3 },
      { feature: 'body', completenessGap: 0.2, value: 0.2 },
    ];
    const d = judgeWindow(window({ skew }), { ...policy, consecutiveWindows: 1 }, initialMonitorState(), champion);
    expect(d.breaches).toEqual([
      {
        kind: 'skew',
        reason: 'train/serve skew: subject completeness gap 0.500, channel unseen categories 0.300 (limit 0.200)',
      },
    ]);
    expect(d.actions).toEqual([{ action: 'alert', kind: 'skew', reason: `${d.breaches[0]!.reason}, 1 window(s) in a row` }]);
    // At the limit is healthy, and a healthy window ends the streak.
    const atLimit = judgeWindow(window({ skew: [skew[2]!] }), policy, { ...initialMonitorState(), consecutive: { skew: 2 } }, champion);
    expect(atLimit.breaches).toEqual([]);
    expect(atLimit.state.consecutive).toEqual({});
    // No skew figures (no profiles) is healthy too; too few requests leaves it unjudged.
    expect(judgeWindow(window({ skew: undefined }), policy, initialMonitorState(), champion).breaches).toEqual([]);
    const few = judgeWindow(
      window({ requests: 10, errors: 0, skew }),
      policy,
      { ...initialMonitorState(), consecutive: { skew: 1 } },
      champion,
    );
    expect(few.state.consecutive).toEqual({ skew: 1 });
  });
});
