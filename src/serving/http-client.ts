import type { PredictResponse, ServedRouting } from './ports';

/** A non-2xx answer from the gateway; `message` is the gateway's own content-free error text. */
export class GatewayHttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    detail: string,
  ) {
    super(`gateway ${path} answered ${status}: ${detail}`);
    this.name = 'GatewayHttpError';
  }
}

/**
 * Client of the serving gateway used by the pipeline's canary-traffic and deployment activities. Every call names
 * the model: one gateway serves every model that has a deployment.
 */
export interface GatewayClient {
  predict(model: string, requestKey: string, input: Record<string, unknown>): Promise<PredictResponse>;
  /** True when recorded, false when the gateway does not know the prediction. */
  feedback(model: string, predictionId: string, label: string): Promise<boolean>;
  /**
   * Makes the gateway re-read the model's routing now and returns what it serves: the generation it serves, and
   * when the newest routing state could not be loaded (a model artifact missing or broken), `pending` with the
   * generation it could not switch to and why.
   */
  refresh(model: string): Promise<ServedRouting>;
  /** The routing the gateway serves for the model, with `pending` as refresh reports it. */
  routing(model: string): Promise<ServedRouting>;
}

/** Options of a gateway client. */
export interface GatewayClientOptions {
  /** Per-request timeout; default 5000 ms. */
  timeoutMs?: number;
  /** Bearer token sent with every request (TRAINSET_GATEWAY_TOKEN); needed when the gateway has tokens configured. */
  token?: string;
}

/** Creates a client over global fetch for a gateway at baseUrl (e.g. `http://127.0.0.1:8080`). */
export function createGatewayClient(baseUrl: string, options: GatewayClientOptions = {}): GatewayClient {
  const base = baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5000;

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  }

  function fail(path: string, status: number, json: unknown): never {
    const { error, message } = (typeof json === 'object' && json !== null ? json : {}) as { error?: unknown; message?: unknown };
    // Auth, rate-limit and feedback refusals carry a message beside their error code.
    const detail = typeof error !== 'string' ? 'unexpected response' : typeof message === 'string' ? `${error}: ${message}` : error;
    throw new GatewayHttpError(status, path, detail);
  }

  const route = (model: string, action: string): string => `/v1/models/${encodeURIComponent(model)}/${action}`;

  return {
    async predict(model, requestKey, input) {
      const path = route(model, 'predict');
      const r = await call('POST', path, { requestKey, input });
      if (r.status !== 200) fail(path, r.status, r.json);
      return r.json as PredictResponse;
    },
    async feedback(model, predictionId, label) {
      const path = route(model, 'feedback');
      const r = await call('POST', path, { predictionId, label });
      if (r.status === 404) return false;
      if (r.status !== 200) fail(path, r.status, r.json);
      return true;
    },
    async refresh(model) {
      const path = route(model, 'refresh');
      const r = await call('POST', path);
      // Nothing of the model is served yet and its newest state fails to load (a first model that cannot load):
      // report it as served generation 0 with the pending state, so a promotion fails loudly, not by retrying.
      const pending = (r.json as { pending?: ServedRouting['pending'] } | undefined)?.pending;
      if (r.status === 503 && pending !== undefined && typeof pending.generation === 'number') {
        return { model, championVersion: '', candidateVersion: null, candidateWeight: 0, generation: 0, pending };
      }
      if (r.status !== 200) fail(path, r.status, r.json);
      return r.json as ServedRouting;
    },
    async routing(model) {
      const path = route(model, 'routing');
      const r = await call('GET', path);
      if (r.status !== 200) fail(path, r.status, r.json);
      return r.json as ServedRouting;
    },
  };
}
