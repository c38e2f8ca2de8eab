/** The monitor's window figures and decisions (monitorWorkflow ↔ activities): counts and scores, never records. */

/** What one window of served traffic looked like for the champion, from the gateway's prediction log. */
export interface MonitorWindowFigures {
  model: string;
  /** The champion version the window judged (the routed champion at the window's end). */
  championVersion: string;
  /** [start, end) of the window, ISO timestamps. */
  start: string;
  end: string;
  requests: number;
  errors: number;
  /** p95 latency in milliseconds over the window's requests (0 without requests). */
  p95LatencyMs: number;
  /** Feedback from trusted sources on the champion's predictions, and how many of them were right. */
  feedback: number;
  correct: number;
  /** The champion's accuracy on its test split when it was evaluated (the reference for live accuracy). */
  offlineAccuracy?: number;
  /** L∞ distance between the window's predicted-label shares and the training set's label shares. */
  predictionShift?: number;
  /** Input drift figures against the champion's training dataset version, gated ones only (per-field policy). */
  drift: Array<{ feature: string; metric: string; value: number; limit: number; breached: boolean }>;
  /** Train/serve skew of each field the model reads (src/monitor/skew.ts); empty without served profiles. */
  skew?: MonitorSkewFigure[];
  /**
   * Data freshness (SLI M4): seconds from the end of the newest partition day in the champion's training dataset
   * version to the window's end.
   */
  dataFreshnessSeconds?: number;
}

/** Train/serve skew of one field: how differently served requests carry it than the training rows did. */
export interface MonitorSkewFigure {
  feature: string;
  /** |training completeness − served completeness| (share of rows / requests with the field present). */
  completenessGap: number;
  /** Categorical fields: share of served values never seen in training (absent when it cannot be told). */
  unseenCategoryRate?: number;
  /** The larger of the two: what `monitor.limits.maxSkew` bounds. */
  value: number;
}

/** A kind of live breach the monitor watches. */
export type MonitorBreachKind = 'accuracy' | 'errors' | 'latency' | 'prediction_shift' | 'drift' | 'skew' | 'no_traffic';

/** What the monitor does about a kind of breach that persists. */
export type MonitorAction = 'alert' | 'retrain' | 'rollback';

/** Counters the monitor carries from window to window (and across continue-as-new). */
export interface MonitorState {
  /** Consecutive breached windows per kind (a judged healthy window resets its kind; a window short of samples leaves it). */
  consecutive: Partial<Record<MonitorBreachKind, number>>;
  /** Champion versions this monitor has already rolled back (each at most once). */
  rolledBack: string[];
  /** Windows judged since the monitor started. */
  windows: number;
}

/** One window's verdict: what breached, what was short of samples, and the actions due. */
export interface MonitorDecision {
  breaches: Array<{ kind: MonitorBreachKind; reason: string }>;
  /** Kinds not judged this window (too few requests or feedback), with why. */
  notJudged: Array<{ kind: MonitorBreachKind; reason: string }>;
  /** Actions to take now; each kind's action fires once, when its streak reaches the spec's consecutive windows. */
  actions: Array<{ action: MonitorAction; kind: MonitorBreachKind; reason: string }>;
  state: MonitorState;
}
