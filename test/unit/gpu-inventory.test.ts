/** GPU inventory (TRAINSET_GPUS, nvidia-smi) and leases: distinct devices, FIFO waiting, abort, release, cost, metrics. */
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import {
  activitySlotsFor,
  createGpuLeases,
  discoverGpus,
  GpuLeaseAbortedError,
  GpuRequestTooLargeError,
  parseNvidiaSmi,
  type GpuLease,
} from '../../src/training/gpu-inventory';

const two = [{ id: '0' }, { id: '1' }];

/** Settle pending promise callbacks, so a lease that could be granted now has been. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Track whether a promise has settled yet. */
function track<T>(p: Promise<T>): { value?: T; error?: unknown; settled: () => boolean } {
  const t: { value?: T; error?: unknown; done: boolean; settled: () => boolean } = { done: false, settled: () => t.done };
  p.then(
    (v) => {
      t.value = v;
      t.done = true;
    },
    (e: unknown) => {
      t.error = e;
      t.done = true;
    },
  );
  return t;
}

/** Captured from an H200 host (two devices). */
const H200_OUTPUT = [
  '0, GPU-8f3c2a1e-5b7d-4c9a-9e21-3f4d5a6b7c8d, NVIDIA H200, 143771 MiB',
  '1, GPU-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d, NVIDIA H200, 143771 MiB',
  '',
].join('\n');

describe('createGpuLeases', () => {
  it('gives two leases of 1 distinct devices; a third waits until one is released and gets the freed device', async () => {
    const gpus = createGpuLeases(two);
    const a = await gpus.acquire(1);
    const b = await gpus.acquire(1);
    expect([...a.devices, ...b.devices].sort()).toEqual(['0', '1']);
    expect(gpus.inUse()).toBe(2);
    let waits = 0;
    const third = track(gpus.acquire(1, { onWait: () => waits++ }));
    await settle();
    expect(third.settled()).toBe(false);
    expect(waits).toBe(1); // told at once that it waits
    b.release();
    await settle();
    expect(third.value?.devices).toEqual(b.devices);
    expect(gpus.inUse()).toBe(2);
    a.release();
    third.value?.release();
    expect(gpus.inUse()).toBe(0);
  });

  it('leases several distinct devices to one job and an empty lease for 0 GPUs at once', async () => {
    const gpus = createGpuLeases([{ id: '0' }, { id: '1' }, { id: '2' }]);
    const none = await gpus.acquire(0);
    expect(none.devices).toEqual([]);
    expect(gpus.inUse()).toBe(0);
    const pair = await gpus.acquire(2);
    expect(new Set(pair.devices).size).toBe(2);
    const last = await gpus.acquire(1);
    expect([...pair.devices, ...last.devices].sort()).toEqual(['0', '1', '2']);
    // A CPU job is not held up by a full pool either.
    expect((await gpus.acquire(0)).devices).toEqual([]);
  });

  it('rejects at once a request for more GPUs than the worker has, naming both numbers', async () => {
    const gpus = createGpuLeases(two);
    const err = await gpus.acquire(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuRequestTooLargeError);
    expect((err as Error).message).toBe('the job asks for 3 GPUs; this worker has 2');
    expect(gpus.inUse()).toBe(0);
    await expect(createGpuLeases([]).acquire(1)).rejects.toThrow('the job asks for 1 GPU; this worker has 0');
    await expect(gpus.acquire(-1)).rejects.toThrow(RangeError);
    await expect(gpus.acquire(1.5)).rejects.toThrow(RangeError);
  });

  it('cancels a waiter on abort: it rejects, leaves the queue and never takes a device', async () => {
    const gpus = createGpuLeases(two);
    const held = await gpus.acquire(2);
    const controller = new AbortController();
    const waiting = track(gpus.acquire(1, { signal: controller.signal }));
    const next = track(gpus.acquire(1));
    controller.abort();
    await settle();
    expect(waiting.error).toBeInstanceOf(GpuLeaseAbortedError);
    held.release();
    await settle();
    expect(next.value?.devices).toHaveLength(1);
    expect(gpus.inUse()).toBe(1); // the aborted waiter got nothing
    await expect(gpus.acquire(1, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(GpuLeaseAbortedError);
  });

  it('serves waiters first come, first served: a job for 2 is not starved by later jobs for 1', async () => {
    const gpus = createGpuLeases(two);
    const first = await gpus.acquire(1);
    const pair = track(gpus.acquire(2));
    const single = track(gpus.acquire(1)); // would fit on the free device, but arrived after the pair
    await settle();
    expect(gpus.inUse()).toBe(1);
    expect(single.settled()).toBe(false);
    first.release();
    await settle();
    expect(pair.value?.devices).toHaveLength(2);
    expect(single.settled()).toBe(false);
    pair.value?.release();
    await settle();
    expect(single.value?.devices).toHaveLength(1);
  });

  it('lets the requests behind an aborted head go ahead', async () => {
    const gpus = createGpuLeases(two);
    await gpus.acquire(1);
    const controller = new AbortController();
    const pair = track(gpus.acquire(2, { signal: controller.signal }));
    const single = track(gpus.acquire(1));
    await settle();
    expect(single.settled()).toBe(false);
    controller.abort();
    await settle();
    expect(pair.error).toBeInstanceOf(GpuLeaseAbortedError);
    expect(single.value?.devices).toHaveLength(1);
  });

  it('calls onWait at once and every 5 s while waiting, and never after the lease is granted', async () => {
    vi.useFakeTimers();
    try {
      const gpus = createGpuLeases([{ id: '0' }]);
      const held = await gpus.acquire(1);
      let waits = 0;
      const waiting = gpus.acquire(1, { onWait: () => waits++ });
      expect(waits).toBe(1);
      await vi.advanceTimersByTimeAsync(4999);
      expect(waits).toBe(1);
      await vi.advanceTimersByTimeAsync(10_001);
      expect(waits).toBe(4);
      held.release();
      await waiting;
      await vi.advanceTimersByTimeAsync(60_000);
      expect(waits).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });

  it('releases once: a second release does not free devices another job holds', async () => {
    const gpus = createGpuLeases(two);
    const a = await gpus.acquire(1);
    a.release();
    const b = await gpus.acquire(2);
    a.release();
    expect(gpus.inUse()).toBe(2);
    const c = track(gpus.acquire(1));
    await settle();
    expect(c.settled()).toBe(false);
    b.release();
  });

  it('counts GPU-seconds as devices x seconds held, frozen at release', async () => {
    let clock = 1_000_000;
    const gpus = createGpuLeases(two, { now: () => clock });
    const lease: GpuLease = await gpus.acquire(2);
    clock += 1500;
    expect(lease.gpuSeconds()).toBe(3);
    clock += 500;
    lease.release();
    clock += 10_000;
    expect(lease.gpuSeconds()).toBe(4);
    const cpu = await gpus.acquire(0);
    clock += 5000;
    expect(cpu.gpuSeconds()).toBe(0);
  });

  it('exports devices, leased devices and GPU-seconds per model; a second pool on the registry reuses them', async () => {
    const registry = new Registry();
    const gpus = createGpuLeases(
      [
        { id: '0', name: 'NVIDIA H200', memoryMiB: 143771 },
        { id: '1', name: 'NVIDIA H200', memoryMiB: 143771 },
      ],
      { metrics: registry },
    );
    const again = createGpuLeases([{ id: '0' }], { metrics: registry });
    const lease = await gpus.acquire(2);
    const record = gpus.recordGpuSeconds; // used detached by the worker wiring
    record('tickets-classifier', 12.5);
    record('tickets-classifier', 2.5);
    again.recordGpuSeconds('other', 1);
    const text = await registry.metrics();
    expect(text).toContain('trainset_gpu_devices{id="1",name="NVIDIA H200",memory_mib="143771"} 1');
    expect(text).toContain('trainset_gpu_leased_devices 2');
    expect(text).toContain('trainset_gpu_seconds_total{model="tickets-classifier"} 15');
    expect(text).toContain('trainset_gpu_seconds_total{model="other"} 1');
    lease.release();
    expect(await registry.metrics()).toContain('trainset_gpu_leased_devices 0');
    // Metrics off: recording is a no-op that does not throw.
    expect(() => createGpuLeases(two).recordGpuSeconds('m', 1)).not.toThrow();
  });
});

describe('discoverGpus', () => {
  const noSmi = () => Promise.reject(new Error('nvidia-smi must not run when TRAINSET_GPUS is set'));

  it('takes TRAINSET_GPUS when set, without asking nvidia-smi', async () => {
    expect(await discoverGpus({ env: { TRAINSET_GPUS: '0,1' }, runNvidiaSmi: noSmi })).toEqual({
      devices: [{ id: '0' }, { id: '1' }],
      source: 'TRAINSET_GPUS',
    });
    expect((await discoverGpus({ env: { TRAINSET_GPUS: ' 2 , 3 ' }, runNvidiaSmi: noSmi })).devices).toEqual([{ id: '2' }, { id: '3' }]);
    expect((await discoverGpus({ env: { TRAINSET_GPUS: 'none' }, runNvidiaSmi: noSmi })).devices).toEqual([]);
    expect((await discoverGpus({ env: { TRAINSET_GPUS: '' }, runNvidiaSmi: noSmi })).devices).toEqual([]);
    const uuid = 'GPU-8f3c2a1e-5b7d-4c9a-9e21-3f4d5a6b7c8d';
    expect((await discoverGpus({ env: { TRAINSET_GPUS: uuid }, runNvidiaSmi: noSmi })).devices).toEqual([{ id: uuid }]);
  });

  it.each([
    ['0,,1', 'an empty device id'],
    ['0,x', 'device id "x" is not a GPU index or UUID'],
    ['0,1,0', 'device 0 is listed twice'],
    ['0;1', 'device id "0;1" is not a GPU index or UUID'],
  ])('rejects TRAINSET_GPUS=%s: %s', async (value, why) => {
    await expect(discoverGpus({ env: { TRAINSET_GPUS: value }, runNvidiaSmi: noSmi })).rejects.toThrow(why);
  });

  it("reads nvidia-smi's CSV lines when TRAINSET_GPUS is unset", async () => {
    const inventory = await discoverGpus({ env: {}, runNvidiaSmi: () => Promise.resolve(H200_OUTPUT) });
    expect(inventory).toEqual({
      source: 'nvidia-smi',
      devices: [
        { id: '0', uuid: 'GPU-8f3c2a1e-5b7d-4c9a-9e21-3f4d5a6b7c8d', name: 'NVIDIA H200', memoryMiB: 143771 },
        { id: '1', uuid: 'GPU-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d', name: 'NVIDIA H200', memoryMiB: 143771 },
      ],
    });
  });

  it('parses a name with a comma and an unknown memory size, and rejects a line it cannot read', () => {
    expect(parseNvidiaSmi('3, GPU-abc, Tesla T4, rev. B, [N/A]\n')).toEqual([{ id: '3', uuid: 'GPU-abc', name: 'Tesla T4, rev. B' }]);
    expect(() => parseNvidiaSmi('No devices were found')).toThrow('cannot read nvidia-smi\'s line "No devices were found"');
    expect(() => parseNvidiaSmi('0, GPU-a, A, 1 MiB\n0, GPU-b, B, 1 MiB')).toThrow('listed a GPU index twice');
  });

  it('finds no GPUs when nvidia-smi is not installed', async () => {
    const enoent = Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
    expect(await discoverGpus({ env: {}, runNvidiaSmi: () => Promise.reject(enoent) })).toEqual({ devices: [], source: 'none' });
  });

  it('fails, saying so, when nvidia-smi is installed but fails', async () => {
    const failed = Object.assign(new Error('Command failed: nvidia-smi'), {
      code: 9,
      stderr: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n',
    });
    await expect(discoverGpus({ env: {}, runNvidiaSmi: () => Promise.reject(failed) })).rejects.toThrow(
      /^nvidia-smi failed: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver\.; .*TRAINSET_GPUS/,
    );
  });
});

describe('activitySlotsFor', () => {
  it('gives one slot per device, or the configured slots without devices', () => {
    expect(activitySlotsFor(two, 4)).toBe(2);
    expect(activitySlotsFor([], 3)).toBe(3);
  });
});
