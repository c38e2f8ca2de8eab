import type {
  FeedbackInput,
  FeedbackOutcome,
  ModelLoader,
  PredictionLog,
  PredictionRow,
  Predictor,
  RoutingSource,
  RoutingState,
} from '../../src/serving/ports';

/** In-memory routing source of any number of models (a deployments table), whose states tests change directly. */
export class FakeRouting implements RoutingSource {
  readonly states = new Map<string, RoutingState>();
  failing = false;
  /** Reads served: listRouting and getRouting calls. */
  reads = { list: 0, get: 0 };
  /** Model `m`'s state (tests of one model); setting it replaces that model's row, undefined removes it. */
  get state(): RoutingState | undefined {
    return this.states.get('m');
  }
  set state(state: RoutingState | undefined) {
    if (state === undefined) this.states.delete('m');
    else this.states.set(state.model, state);
  }
  /** Deploys or changes one model's routing. */
  set(state: RoutingState): void {
    this.states.set(state.model, state);
  }
  async getRouting(model: string): Promise<RoutingState | undefined> {
    this.reads.get += 1;
    if (this.failing) throw new Error('registry unreachable');
    const state = this.states.get(model);
    return state && { ...state };
  }
  async listRouting(): Promise<RoutingState[]> {
    this.reads.list += 1;
    if (this.failing) throw new Error('registry unreachable');
    return [...this.states.values()].map((s) => ({ ...s }));
  }
  /** The same source without listRouting (a source that cannot list its models). */
  withoutList(): RoutingSource {
    return { getRouting: (model) => this.getRouting(model) };
  }
}

/** In-memory inference log. */
export class MemoryLog implements PredictionLog {
  readonly rows: PredictionRow[] = [];
  readonly batches: number[] = [];
  readonly feedback = new Map<string, string>();
  /** Source of each recorded label. */
  readonly sources = new Map<string, string>();
  /** Refused submissions, in order. */
  readonly refusals: Array<{ predictionId: string; source: string; reason: 'duplicate' | 'expired' }> = [];
  /** Predictions treated as older than any age limit. */
  readonly old = new Set<string>();
  async insertPredictions(rows: PredictionRow[]): Promise<void> {
    this.batches.push(rows.length);
    this.rows.push(...rows.map((r) => ({ ...r })));
  }
  async recordFeedback({ predictionId, label, model, source }: FeedbackInput): Promise<FeedbackOutcome> {
    if (!this.rows.some((r) => r.id === predictionId && r.model === model)) return 'not_found';
    const reason = this.old.has(predictionId) ? 'expired' : this.feedback.has(predictionId) ? 'duplicate' : undefined;
    if (reason !== undefined) {
      this.refusals.push({ predictionId, source, reason });
      return reason;
    }
    this.feedback.set(predictionId, label);
    this.sources.set(predictionId, source);
    return 'recorded';
  }
}

/** A predictor that labels every record `<version>:yes`, or rejects when the record has `explode`; `onRelease` sees release(). */
export function fakePredictor(version: string, onRelease: () => void = () => undefined): Predictor {
  let released = false;
  const score = (record: Record<string, unknown>) => {
    if (released) throw new Error(`predictor of ${version} used after release`);
    if (record.explode !== undefined) throw new TypeError(`cannot score ${String(record.explode)}`);
    return { label: `${version}:yes`, probabilities: [0.25, 0.75] };
  };
  return {
    classes: [`${version}:no`, `${version}:yes`],
    featureSpec: { features: 16, textFields: ['text'], categoricalFields: [] },
    predict: async (record) => score(record),
    predictBatch: async (records) => records.map(score),
    async release() {
      if (!released) onRelease();
      released = true;
    },
  };
}

/** Model loader that records loads and can hold chosen versions until released. */
export class FakeLoader implements ModelLoader {
  readonly loads: string[] = [];
  /** Versions whose predictor was released, in order (once per load). */
  readonly releases: string[] = [];
  readonly failing = new Set<string>();
  private readonly gates = new Map<string, { promise: Promise<void>; release: () => void }>();

  /** Makes loads of `version` wait until the returned function is called. */
  hold(version: string): () => void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.gates.set(version, { promise, release });
    return () => {
      this.gates.delete(version);
      release();
    };
  }

  async load(version: string): Promise<Predictor> {
    this.loads.push(version);
    const gate = this.gates.get(version);
    if (gate !== undefined) await gate.promise;
    if (this.failing.has(version)) throw new Error(`artifact for ${version} missing`);
    return fakePredictor(version, () => this.releases.push(version));
  }
}

/** A routing state for model `m` with defaults. */
export function routingState(over: Partial<RoutingState> = {}): RoutingState {
  return { model: 'm', championVersion: 'v1', candidateVersion: null, candidateWeight: 0, generation: 1, ...over };
}
