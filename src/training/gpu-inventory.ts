/**
 * The GPU worker's devices: what the host has (TRAINSET_GPUS, or nvidia-smi), leases of distinct devices for
 * training jobs (waiting first come, first served while not enough are free), and their Prometheus metrics.
 */
import { execFile } from 'node:child_process';
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import type { GpuLeaseHandle, GpuLeasePort } from '../activities/deps';

/** One GPU of this host; `id` is what CUDA_VISIBLE_DEVICES names (an index or a GPU-/MIG- UUID). */
export interface GpuDevice {
  id: string;
  uuid?: string;
  name?: string;
  memoryMiB?: number;
}

/** The devices found and where they came from. */
export interface GpuInventory {
  devices: GpuDevice[];
  source: 'TRAINSET_GPUS' | 'nvidia-smi' | 'none';
}

/** Options of discoverGpus. */
export interface DiscoverGpusOptions {
  /** The worker's environment: TRAINSET_GPUS, when set, declares the devices and nvidia-smi is not asked. */
  env: { TRAINSET_GPUS?: string };
  /** Runs nvidia-smi's query and resolves with its stdout (default: execFile with a timeout); tests inject captured output. */
  runNvidiaSmi?: () => Promise<string>;
}

/** The query whose CSV lines parseNvidiaSmi reads. */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader'] as const;

/** How long nvidia-smi may take before the worker gives up on it (it can hang on a wedged driver). */
const NVIDIA_SMI_TIMEOUT_MS = 15_000;

/** How often a waiting acquire calls onWait again (the training activity heartbeats from it). */
const WAIT_NOTICE_EVERY_MS = 5_000;

/** A device id as CUDA_VISIBLE_DEVICES takes it: an index, or a GPU-/MIG- UUID. */
const DEVICE_ID = /^(?:\d+|(?:GPU|MIG)-[0-9A-Za-z/-]+)$/;

/** The host's GPUs: TRAINSET_GPUS when set (`none` or empty: no GPUs), else nvidia-smi (not installed: no GPUs). */
export async function discoverGpus(opts: DiscoverGpusOptions): Promise<GpuInventory> {
  const declared = opts.env.TRAINSET_GPUS;
  if (declared !== undefined) return { devices: parseTrainsetGpus(declared), source: 'TRAINSET_GPUS' };
  let output: string;
  try {
    output = await (opts.runNvidiaSmi ?? runNvidiaSmi)();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { devices: [], source: 'none' };
    const detail = String((err as { stderr?: unknown }).stderr ?? '').trim() || (err as Error).message;
    throw new Error(
      `nvidia-smi failed: ${detail}; fix the NVIDIA driver, or set TRAINSET_GPUS (e.g. 0,1, or none) to declare the devices`,
      { cause: err },
    );
  }
  const devices = parseNvidiaSmi(output);
  return { devices, source: devices.length > 0 ? 'nvidia-smi' : 'none' };
}

/** Parse TRAINSET_GPUS: comma-separated device ids (`0,1`); `none` or empty means no GPUs. */
export function parseTrainsetGpus(value: string): GpuDevice[] {
  const text = value.trim();
  if (text === '' || text.toLowerCase() === 'none') return [];
  const ids = text.split(',').map((s) => s.trim());
  const seen = new Set<string>();
  for (const id of ids) {
    if (!DEVICE_ID.test(id)) {
      throw new Error(
        `TRAINSET_GPUS=${JSON.stringify(value)}: ${id === '' ? 'an empty device id' : `device id ${JSON.stringify(id)} is not a GPU index or UUID`}; ` +
          'expected comma-separated device ids such as 0,1 (or none)',
      );
    }
    if (seen.has(id)) throw new Error(`TRAINSET_GPUS=${JSON.stringify(value)}: device ${id} is listed twice`);
    seen.add(id);
  }
  return ids.map((id) => ({ id }));
}

/** Parse the CSV lines of `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader`. */
export function parseNvidiaSmi(output: string): GpuDevice[] {
  const devices: GpuDevice[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const fields = line.split(',').map((s) => s.trim());
    // The name is the only field that could hold a comma: index and uuid come first, memory last.
    const [index, uuid] = fields;
    const memory = fields.length >= 4 ? fields[fields.length - 1] : undefined;
    const name = fields.slice(2, -1).join(', ');
    if (index === undefined || !/^\d+$/.test(index) || uuid === undefined || memory === undefined) {
      throw new Error(`cannot read nvidia-smi's line ${JSON.stringify(raw)}: expected "index, uuid, name, memory.total"`);
    }
    const mib = /^(\d+)\s*MiB$/i.exec(memory);
    devices.push({
      id: index,
      ...(uuid.startsWith('GPU-') || uuid.startsWith('MIG-') ? { uuid } : {}),
      ...(name !== '' ? { name } : {}),
      ...(mib ? { memoryMiB: Number(mib[1]) } : {}),
    });
  }
  const ids = new Set(devices.map((d) => d.id));
  if (ids.size !== devices.length) throw new Error(`nvidia-smi listed a GPU index twice:\n${output}`);
  return devices;
}

/** Run nvidia-smi's inventory query; rejects with the execFile error (code ENOENT when it is not installed). */
function runNvidiaSmi(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('nvidia-smi', [...NVIDIA_SMI_ARGS], { timeout: NVIDIA_SMI_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
  });
}

/** Activity slots of the GPU worker: one per device when it has devices, the configured GPU_SLOTS otherwise (CPU jobs). */
export function activitySlotsFor(devices: readonly GpuDevice[], configuredSlots: number): number {
  return devices.length > 0 ? devices.length : configuredSlots;
}

/** A job asked for more GPUs than this worker has: it can never be served here. */
export class GpuRequestTooLargeError extends Error {
  constructor(
    readonly requested: number,
    readonly available: number,
  ) {
    super(`the job asks for ${requested} GPU${requested === 1 ? '' : 's'}; this worker has ${available}`);
    this.name = 'GpuRequestTooLargeError';
  }
}

/** An acquire was aborted through its signal before it got its devices. */
export class GpuLeaseAbortedError extends Error {
  constructor(cause?: unknown) {
    super('waiting for GPUs was aborted', { cause });
    this.name = 'GpuLeaseAbortedError';
  }
}

/** A lease of distinct devices; see GpuLeaseHandle. */
export interface GpuLease extends GpuLeaseHandle {
  readonly devices: readonly string[];
  gpuSeconds(): number;
  release(): void;
}

/** Options of acquire. */
export interface AcquireOptions {
  /** Aborting removes the waiter and rejects with GpuLeaseAbortedError. */
  signal?: AbortSignal;
  /** Called as soon as the request has to wait, then every 5 s until it is served or aborted. */
  onWait?: () => void;
}

/** The worker's device pool. */
export interface GpuLeases extends GpuLeasePort {
  /** Devices of this worker. */
  readonly size: number;
  /** Devices leased now. */
  inUse(): number;
  /**
   * Lease `count` distinct devices (0: an empty lease at once). More than `size` rejects at once with
   * GpuRequestTooLargeError. Requests are served strictly in arrival order: while the oldest waiter cannot be
   * served, later (even smaller) ones wait behind it, so a job for 2 GPUs is not starved by a stream of 1s.
   */
  acquire(count: number, options?: AcquireOptions): Promise<GpuLease>;
  /** Add a finished job's GPU-seconds to `trainset_gpu_seconds_total{model}` (a bound function: pass it on as is). */
  recordGpuSeconds(model: string, seconds: number): void;
}

/** Options of createGpuLeases. */
export interface GpuLeasesOptions {
  /** Export metrics: `true` on prom-client's default registry, or on the given one; off when absent. */
  metrics?: boolean | Registry;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface Metrics {
  devices: Gauge<'id' | 'name' | 'memory_mib'>;
  leased: Gauge;
  gpuSeconds: Counter<'model'>;
}

interface Waiter {
  count: number;
  grant(devices: string[]): void;
}

/** A lease pool over the given devices (lowest-listed free devices first). */
export function createGpuLeases(devices: GpuDevice[], opts: GpuLeasesOptions = {}): GpuLeases {
  const ids = devices.map((d) => d.id);
  if (new Set(ids).size !== ids.length) throw new Error(`device ids must be distinct: ${ids.join(',')}`);
  const now = opts.now ?? Date.now;
  const free = new Set(ids);
  const queue: Waiter[] = [];
  const metrics = opts.metrics ? metricsOn(opts.metrics === true ? defaultRegistry : opts.metrics) : undefined;
  for (const d of devices) {
    metrics?.devices.set({ id: d.id, name: d.name ?? '', memory_mib: d.memoryMiB === undefined ? '' : String(d.memoryMiB) }, 1);
  }

  const take = (count: number): string[] => {
    const taken = ids.filter((id) => free.has(id)).slice(0, count);
    for (const id of taken) free.delete(id);
    metrics?.leased.inc(taken.length);
    return taken;
  };
  const serveQueue = (): void => {
    let head = queue[0];
    while (head && head.count <= free.size) {
      queue.shift();
      head.grant(take(head.count));
      head = queue[0];
    }
  };
  const lease = (taken: string[]): GpuLease => {
    const start = now();
    let end: number | undefined;
    return {
      devices: Object.freeze([...taken]),
      gpuSeconds: () => (taken.length * ((end ?? now()) - start)) / 1000,
      release: () => {
        if (end !== undefined) return;
        end = now();
        for (const id of taken) free.add(id);
        metrics?.leased.dec(taken.length);
        serveQueue();
      },
    };
  };

  return {
    size: ids.length,
    inUse: () => ids.length - free.size,
    acquire(count, options = {}) {
      if (!Number.isInteger(count) || count < 0) {
        return Promise.reject(new RangeError(`a GPU request must be a whole number of devices, not ${count}`));
      }
      if (count > ids.length) return Promise.reject(new GpuRequestTooLargeError(count, ids.length));
      const { signal, onWait } = options;
      if (signal?.aborted) return Promise.reject(new GpuLeaseAbortedError(signal.reason));
      if (queue.length === 0 && count <= free.size) return Promise.resolve(lease(take(count)));
      return new Promise<GpuLease>((resolve, reject) => {
        let ticker: NodeJS.Timeout | undefined;
        const done = (): void => {
          clearInterval(ticker);
          signal?.removeEventListener('abort', onAbort);
        };
        const waiter: Waiter = {
          count,
          grant: (taken) => {
            done();
            resolve(lease(taken));
          },
        };
        function onAbort(): void {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          done();
          reject(new GpuLeaseAbortedError(signal?.reason));
          // The aborted waiter may have been the head that blocked smaller requests behind it.
          serveQueue();
        }
        queue.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (onWait) {
          ticker = setInterval(onWait, WAIT_NOTICE_EVERY_MS);
          onWait();
        }
      });
    },
    recordGpuSeconds: (model, seconds) => {
      if (seconds > 0) metrics?.gpuSeconds.inc({ model }, seconds);
    },
  };
}

/** The pool's metrics on a registry, reusing those already registered there (tests create many pools). */
function metricsOn(registry: Registry): Metrics {
  const registers = [registry];
  const existing = <M>(name: string): M | undefined => registry.getSingleMetric(name) as M | undefined;
  return {
    devices:
      existing<Gauge<'id' | 'name' | 'memory_mib'>>('trainset_gpu_devices') ??
      new Gauge({
        name: 'trainset_gpu_devices',
        help: 'GPU devices of this worker (1 per device), by id, name and memory in MiB.',
        labelNames: ['id', 'name', 'memory_mib'] as const,
        registers,
      }),
    leased:
      existing<Gauge>('trainset_gpu_leased_devices') ??
      new Gauge({ name: 'trainset_gpu_leased_devices', help: 'GPU devices leased to training jobs now.', registers }),
    gpuSeconds:
      existing<Counter<'model'>>('trainset_gpu_seconds_total') ??
      new Counter({
        name: 'trainset_gpu_seconds_total',
        help: 'GPU-seconds of finished training jobs (devices x seconds held), by model.',
        labelNames: ['model'] as const,
        registers,
      }),
  };
}
