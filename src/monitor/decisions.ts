/**
 * Pure monitor decisions: what one window of the champion's served traffic breached, and what the monitor does
 * about breaches that last. No I/O, no clock (the caller passes the window's end), no Temporal.
 */
import type { MonitorPolicy } from '../shared/spec';
import type { MonitorAction, MonitorBreachKind, MonitorDecision, MonitorState, MonitorWindowFigures } from '../shared/types';

const fmt = (x: number): string => x.toFixed(3);

/** A monitor that has judged nothing yet. */
export function initialMonitorState(): MonitorState {
  return { consecutive: {}, rolledBack: [], windows: 0 };
}

/** The champion being judged: its version and when it was promoted (ISO), if known. */
export interface JudgedChampion {
  version: string;
  promotedAt?: string;
}

/**
 * Judge one window. Each kind is judged only with enough samples (requests for errors, latency, prediction shift,
 * drift and skew; trusted feedback for accuracy); a window short of them leaves that kind's streak as it was. A kind
 * breached `consecutiveWindows` windows in a row takes its action once, at the window the streak reaches that
 * length (a later streak, after a healthy window, may take it again). A rollback is taken only for a champion
 * promoted within `probationHours` of the window's end and never twice for one version; otherwise it is an alert,
 * and the reason says why.
 */
export function judgeWindow(
  w: MonitorWindowFigures,
  policy: MonitorPolicy,
  state: MonitorState,
  champion: JudgedChampion,
): MonitorDecision {
  const breaches: MonitorDecision['breaches'] = [];
  const notJudged: MonitorDecision['notJudged'] = [];
  const healthy: MonitorBreachKind[] = [];
  const judge = (kind: MonitorBreachKind, reason: string | undefined): void => {
    if (reason === undefined) healthy.push(kind);
    else breaches.push({ kind, reason });
  };
  const L = policy.limits;

  judge('no_traffic', w.requests === 0 ? `no requests between ${w.start} and ${w.end}` : undefined);
  if (w.requests < policy.minRequests) {
    const why = `${w.requests} requests, fewer than ${policy.minRequests}`;
    for (const kind of ['errors', 'latency', 'prediction_shift', 'drift', 'skew'] as const) notJudged.push({ kind, reason: why });
  } else {
    const errorRate = w.errors / w.requests;
    judge('errors', errorRate > L.maxErrorRate ? `error rate ${fmt(errorRate)} above ${fmt(L.maxErrorRate)}` : undefined);
    judge(
      'latency',
      w.p95LatencyMs > L.maxP95LatencyMs ? `p95 latency ${w.p95LatencyMs.toFixed(1)} ms above ${L.maxP95LatencyMs} ms` : undefined,
    );
    if (w.predictionShift === undefined) notJudged.push({ kind: 'prediction_shift', reason: 'no training label shares to compare with' });
    else
      judge(
        'prediction_shift',
        w.predictionShift > L.maxPredictionShift
          ? `predicted labels shifted by ${fmt(w.predictionShift)} (L∞) from the training set, above ${fmt(L.maxPredictionShift)}`
          : undefined,
      );
    const drifted = w.drift.filter((d) => d.breached);
    judge(
      'drift',
      drifted.length > 0
        ? `input drift: ${drifted.map((d) => `${d.feature} ${d.metric}=${fmt(d.value)} (limit ${fmt(d.limit)})`).join(', ')}`
        : undefined,
    );
    const skewed = (w.skew ?? []).filter((k) => k.value > L.maxSkew);
    judge(
      'skew',
      skewed.length > 0
        ? `train/serve skew: ${skewed.map((k) => `${k.feature} ${skewFigure(k)}`).join(', ')} (limit ${fmt(L.maxSkew)})`
        : undefined,
    );
  }
  if (w.feedback < policy.minFeedback) {
    notJudged.push({ kind: 'accuracy', reason: `${w.feedback} trusted feedback labels, fewer than ${policy.minFeedback}` });
  } else {
    const accuracy = w.correct / w.feedback;
    const reasons: string[] = [];
    if (accuracy < L.minAccuracy) reasons.push(`live accuracy ${fmt(accuracy)} below ${fmt(L.minAccuracy)}`);
    if (w.offlineAccuracy !== undefined && w.offlineAccuracy - accuracy > L.maxAccuracyDrop) {
      reasons.push(`live accuracy ${fmt(accuracy)} is ${fmt(w.offlineAccuracy - accuracy)} below the offline ${fmt(w.offlineAccuracy)}`);
    }
    judge('accuracy', reasons.length ? `${reasons.join('; ')} (${w.feedback} labels)` : undefined);
  }

  const consecutive = { ...state.consecutive };
  for (const kind of healthy) delete consecutive[kind];
  const actions: MonitorDecision['actions'] = [];
  const rolledBack = [...state.rolledBack];
  for (const b of breaches) {
    const streak = (consecutive[b.kind] ?? 0) + 1;
    consecutive[b.kind] = streak;
    if (streak !== policy.consecutiveWindows) continue;
    const wanted: MonitorAction = policy.actions[b.kind];
    const reason = `${b.reason}, ${streak} window(s) in a row`;
    if (wanted !== 'rollback') {
      actions.push({ action: wanted, kind: b.kind, reason });
      continue;
    }
    const refused = rollbackRefusal(champion, w.end, policy.probationHours, rolledBack);
    if (refused) {
      actions.push({ action: 'alert', kind: b.kind, reason: `${reason}; not rolled back: ${refused}` });
    } else {
      actions.push({ action: 'rollback', kind: b.kind, reason });
      rolledBack.push(champion.version);
    }
  }
  return { breaches, notJudged, actions, state: { consecutive, rolledBack, windows: state.windows + 1 } };
}

/** One field's skew in words: the figure that is the larger. */
function skewFigure(k: NonNullable<MonitorWindowFigures['skew']>[number]): string {
  if (k.unseenCategoryRate !== undefined && k.unseenCategoryRate > k.completenessGap)
    return `unseen categories ${fmt(k.unseenCategoryRate)}`;
  return `completeness gap ${fmt(k.completenessGap)}`;
}

/** Why the monitor may not roll this champion back, or undefined when it may. */
function rollbackRefusal(champion: JudgedChampion, at: string, probationHours: number, rolledBack: readonly string[]): string | undefined {
  if (rolledBack.includes(champion.version)) return `this monitor already rolled ${champion.version} back once`;
  if (champion.promotedAt === undefined) return `when ${champion.version} was promoted is unknown`;
  const hours = (Date.parse(at) - Date.parse(champion.promotedAt)) / 3_600_000;
  if (hours > probationHours) {
    return `${champion.version} was promoted ${hours.toFixed(1)} h ago, past its ${probationHours} h probation`;
  }
  return undefined;
}
