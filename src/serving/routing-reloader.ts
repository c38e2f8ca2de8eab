import type { ModelLoader, Predictor, RoutingSource, RoutingState } from './ports';

/** A routing state whose models are loaded and ready to serve. */
export interface ActiveRouting {
  readonly state: RoutingState;
  readonly champion: Predictor;
  readonly candidate: Predictor | null;
}

/** Dependencies of a routing reloader. */
export interface RoutingReloaderDeps {
  routing: RoutingSource;
  models: ModelLoader;
  model: string;
  /** Called after a new state is active. */
  onSwitch?(state: RoutingState): void;
}

/** Holds the active routing and swaps it only once the new state's models are loaded. */
export interface RoutingReloader {
  active(): ActiveRouting | undefined;
  /** Re-reads the routing now (after any refresh in flight); rejects, keeping the last good state, on failure. */
  refresh(): Promise<void>;
  /** True while a refresh is running or queued. */
  busy(): boolean;
}

/** Creates a reloader; refreshes are serialized, so an older read can never overwrite a newer one. */
export function createRoutingReloader(deps: RoutingReloaderDeps): RoutingReloader {
  let current: ActiveRouting | undefined;
  const cache = new Map<string, Promise<Predictor>>();
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;

  function load(version: string): Promise<Predictor> {
    const cached = cache.get(version);
    if (cached !== undefined) return cached;
    const loading = deps.models.load(version);
    cache.set(version, loading);
    // A failed load must be retried on the next refresh, not served from the cache.
    loading.catch(() => {
      if (cache.get(version) === loading) cache.delete(version);
    });
    return loading;
  }

  async function reload(): Promise<void> {
    const state = await deps.routing.getRouting(deps.model);
    if (state === undefined) {
      if (current === undefined) return;
      throw new Error(`routing for model ${deps.model} disappeared; keeping generation ${current.state.generation}`);
    }
    checkState(state, deps.model);
    if (current !== undefined && sameState(current.state, state)) return;
    const [champion, candidate] = await Promise.all([
      load(state.championVersion),
      state.candidateVersion === null ? Promise.resolve(null) : load(state.candidateVersion),
    ]);
    current = { state: { ...state }, champion, candidate };
    for (const version of cache.keys()) {
      if (version !== state.championVersion && version !== state.candidateVersion) cache.delete(version);
    }
    deps.onSwitch?.(current.state);
  }

  return {
    active: () => current,
    busy: () => queued > 0,
    refresh() {
      queued += 1;
      const run = chain.then(reload).finally(() => {
        queued -= 1;
      });
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

function sameState(a: RoutingState, b: RoutingState): boolean {
  return (
    a.generation === b.generation &&
    a.championVersion === b.championVersion &&
    a.candidateVersion === b.candidateVersion &&
    a.candidateWeight === b.candidateWeight
  );
}

function checkState(state: RoutingState, model: string): void {
  if (state.model !== model) {
    throw new Error(`routing source returned model ${state.model} when asked for ${model}`);
  }
  if (!Number.isFinite(state.candidateWeight) || state.candidateWeight < 0 || state.candidateWeight > 100) {
    throw new Error(`routing for ${model} has candidateWeight ${state.candidateWeight}; expected 0..100`);
  }
  if (state.championVersion === '') throw new Error(`routing for ${model} has no champion version`);
}
