import type { ModelLoader, PendingRouting, Predictor, RoutingSource, RoutingState, ServedRouting } from './ports';

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
  /** Called when the model's deployment is gone (a first promotion undone) and nothing of it is served any more. */
  onRemove?(generation: number): void;
  /** Called when freeing a model version's predictor failed (the reloader goes on). */
  onReleaseError?(version: string, err: unknown): void;
}

/**
 * The newest routing state of a model was read but cannot be served (a model version failed to load, or the state
 * is malformed); the last good state keeps serving and the reloader reports the new one as pending.
 */
export class RoutingLoadError extends Error {
  constructor(
    readonly model: string,
    readonly generation: number,
    readonly reason: string,
  ) {
    super(`cannot switch ${model} to routing generation ${generation}: ${reason}`);
    this.name = 'RoutingLoadError';
  }
}

/** Holds one model's active routing and swaps it only once the new state's models are loaded. */
export interface RoutingReloader {
  active(): ActiveRouting | undefined;
  /** What is served, with the newest state it could not switch to as `pending`; undefined while nothing is loaded. */
  served(): ServedRouting | undefined;
  /** The newest state read but not served, if its load failed. */
  pending(): PendingRouting | undefined;
  /**
   * Re-reads the routing now (after any switch in flight); resolves false when the model has no deployment, and then
   * serves nothing of it (a deployment can be removed: a first model's promotion undone). Rejects with
   * RoutingLoadError when the newest state cannot be served (pending() then names it), or with the source's error;
   * the last good state keeps serving either way.
   */
  refresh(): Promise<boolean>;
  /** Switches to a state read elsewhere (the gateway reads every model's routing at once); rejects like refresh. */
  offer(state: RoutingState): Promise<void>;
  /** True while a refresh or offer is running or queued. */
  busy(): boolean;
  /**
   * Stops serving: releases every loaded predictor (after its runs in flight) and resolves when they are freed; a
   * load still running is released when it lands. Later refreshes and offers reject.
   */
  close(): Promise<void>;
}

/** Longest error text kept for a pending state (loader errors name versions and keys, never records). */
const MAX_ERROR_CHARS = 300;

/** Creates a reloader; switches are serialized and never go back to an older generation. */
export function createRoutingReloader(deps: RoutingReloaderDeps): RoutingReloader {
  let current: ActiveRouting | undefined;
  let pending: PendingRouting | undefined;
  // Every predictor loaded and not yet released, by version: the served ones, and loads of a state being switched to.
  const cache = new Map<string, Promise<Predictor>>();
  const landed = new WeakSet<Promise<Predictor>>();
  let chain: Promise<unknown> = Promise.resolve();
  let queued = 0;
  let closed = false;

  function load(version: string): Promise<Predictor> {
    const cached = cache.get(version);
    if (cached !== undefined) return cached;
    const loading = deps.models.load(version);
    cache.set(version, loading);
    loading.then(
      () => landed.add(loading),
      // A failed load must be retried on the next refresh, not served from the cache.
      () => {
        if (cache.get(version) === loading) cache.delete(version);
      },
    );
    return loading;
  }

  /** Drops a version from the cache and frees its predictor (once loaded; requests in flight on it finish first). */
  function evict(version: string): Promise<void> {
    const loading = cache.get(version);
    if (loading === undefined) return Promise.resolve();
    cache.delete(version);
    return loading.then(
      (predictor) => predictor.release().catch((err: unknown) => deps.onReleaseError?.(version, err)),
      () => undefined, // a failed load holds nothing
    );
  }

  async function apply(state: RoutingState): Promise<void> {
    if (current !== undefined && sameState(current.state, state)) {
      pending = undefined;
      return;
    }
    let champion: Predictor;
    let candidate: Predictor | null;
    try {
      checkState(state, deps.model);
      [champion, candidate] = await Promise.all([
        load(state.championVersion),
        state.candidateVersion === null ? Promise.resolve(null) : load(state.candidateVersion),
      ]);
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
      pending = { generation: state.generation, error: reason };
      throw new RoutingLoadError(deps.model, state.generation, reason);
    }
    if (closed) throw new Error(`reloader of ${deps.model} is closed`);
    // A generation below the one served means the deployment started over: nothing pending of the old one holds.
    const restarted = current !== undefined && state.generation < current.state.generation;
    current = { state: { ...state }, champion, candidate };
    if (pending !== undefined && (restarted || pending.generation <= state.generation)) pending = undefined;
    for (const version of [...cache.keys()]) {
      if (version !== state.championVersion && version !== state.candidateVersion) void evict(version);
    }
    deps.onSwitch?.(current.state);
  }

  async function reload(): Promise<boolean> {
    const state = await deps.routing.getRouting(deps.model);
    if (state === undefined) {
      const removed = current;
      current = undefined;
      pending = undefined;
      for (const version of [...cache.keys()]) void evict(version);
      if (removed !== undefined) deps.onRemove?.(removed.state.generation);
      return false;
    }
    await apply(state);
    return true;
  }

  function serialized<T>(fn: () => Promise<T>): Promise<T> {
    queued += 1;
    const guarded = (): Promise<T> => (closed ? Promise.reject(new Error(`reloader of ${deps.model} is closed`)) : fn());
    const run = chain.then(guarded).finally(() => {
      queued -= 1;
    });
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    active: () => current,
    served: () => current && { ...current.state, ...(pending !== undefined && { pending: { ...pending } }) },
    pending: () => pending && { ...pending },
    busy: () => queued > 0,
    async close() {
      closed = true;
      current = undefined;
      // Loaded predictors are awaited; a load still running (a slow blob store) is released when it lands, unawaited.
      const releases = [...cache.entries()].map(([version, loading]) => (landed.has(loading) ? evict(version) : void evict(version)));
      await Promise.all(releases);
    },
    refresh: () => serialized(reload),
    offer: (state) =>
      serialized(async () => {
        // A state read outside the chain (the gateway's poll of every model) can arrive after a newer refresh, or
        // come from a deployment removed and created again, whose generation starts over: an older generation is
        // settled by a read of the model's own row in turn, whose answer applies as it is.
        if (current !== undefined && state.generation < current.state.generation) {
          await reload();
          return;
        }
        await apply(state);
      }),
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
