/**
 * A scripted fake of the BatchV1Api and CoreV1Api methods the kubernetes trainer backend calls (no Kubernetes API
 * server can run here), and a fake clock. The fake records every call with the API it went to, and plays a Job,
 * its pod and the trainer's log as a test scripts them.
 */
import type { V1Job, V1Pod, V1PodList } from '@kubernetes/client-node';
import type { BackendClock, KubernetesBatchApi, KubernetesCoreApi } from '../../src/training/kubernetes-backend';

/** One recorded API call. */
export interface Call {
  api: 'batch' | 'core';
  method: string;
  param: Record<string, unknown>;
}

/** The trainer container's state as a pod status carries it. */
export type TrainerContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: Record<string, never> }
  | { terminated: { exitCode: number; reason?: string; message?: string } };

const apiError = (code: number): Error & { code: number } => Object.assign(new Error(`HTTP ${code}`), { code });

/** A scripted cluster: one namespace, Jobs by name, at most one pod per Job, the trainer's log. */
export class FakeCluster {
  readonly calls: Call[] = [];
  readonly jobs = new Map<string, V1Job>();
  readonly pods = new Map<string, { pod: V1Pod; log: string[] }>(); // by Job uid
  /** Called at each pod listing with its count (1, 2, …): the test's script. */
  onPoll: (poll: number) => void | Promise<void> = () => undefined;
  /** Reads a Foreground-deleted Job stays visible for (its pods going first). */
  foregroundReads = 2;
  /** A Job another attempt creates just before ours (the create race). */
  raceJob?: V1Job;
  private polls = 0;
  private uids = 0;
  private tick = 0;
  private pendingDeletes = new Map<string, number>();

  readonly batch: KubernetesBatchApi = {
    createNamespacedJob: async (param) => {
      this.record('batch', 'createNamespacedJob', param);
      if (this.raceJob) {
        this.jobs.set(param.body.metadata!.name!, this.raceJob);
        this.raceJob = undefined;
      }
      if (this.jobs.has(param.body.metadata!.name!)) throw apiError(409);
      return this.addJob(param.body);
    },
    readNamespacedJob: async (param) => {
      this.record('batch', 'readNamespacedJob', param);
      const left = this.pendingDeletes.get(param.name);
      if (left !== undefined) {
        if (left <= 0) {
          this.pendingDeletes.delete(param.name);
          this.removeJob(param.name);
        } else this.pendingDeletes.set(param.name, left - 1);
      }
      const job = this.jobs.get(param.name);
      if (!job) throw apiError(404);
      return structuredClone(job);
    },
    deleteNamespacedJob: async (param) => {
      this.record('batch', 'deleteNamespacedJob', param);
      const job = this.jobs.get(param.name);
      if (!job) throw apiError(404);
      if (param.propagationPolicy === 'Foreground') {
        job.metadata!.deletionTimestamp = new Date();
        this.pendingDeletes.set(param.name, this.foregroundReads);
      } else this.removeJob(param.name, true); // Background: the Job goes now, its pods a little later
      return {};
    },
  };

  readonly core: KubernetesCoreApi = {
    listNamespacedPod: async (param) => {
      this.record('core', 'listNamespacedPod', param);
      await this.onPoll(++this.polls);
      const uid = /controller-uid=([^,]+)/.exec(param.labelSelector ?? '')?.[1];
      const entry = uid ? this.pods.get(uid) : undefined;
      return { items: entry ? [structuredClone(entry.pod)] : [] } as V1PodList;
    },
    readNamespacedPodLog: async (param) => {
      this.record('core', 'readNamespacedPodLog', param);
      const entry = [...this.pods.values()].find((p) => p.pod.metadata?.name === param.name);
      if (!entry) throw apiError(404);
      // The whole log on every read, as the API returns it without sinceSeconds: the backend must not repeat lines.
      return entry.log.map((l) => `${l}\n`).join('');
    },
  };

  private record(api: Call['api'], method: string, param: object): void {
    this.calls.push({ api, method, param: structuredClone(param) as Record<string, unknown> });
  }

  /** Add a Job as the API server would (uid, selector, active). */
  addJob(body: V1Job, status: V1Job['status'] = { active: 1 }): V1Job {
    const uid = `uid-${++this.uids}`;
    const job: V1Job = structuredClone(body);
    job.metadata = { ...job.metadata, uid };
    job.spec = { ...job.spec!, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } } };
    job.status = status;
    this.jobs.set(job.metadata.name!, job);
    return structuredClone(job);
  }

  private removeJob(name: string, keepPods = false): void {
    const uid = this.jobs.get(name)?.metadata?.uid;
    this.jobs.delete(name);
    if (uid && !keepPods) this.pods.delete(uid);
  }

  /** The only Job. */
  job(): V1Job {
    const [job] = [...this.jobs.values()];
    if (!job) throw new Error('no Job');
    return job;
  }

  /** Set the trainer container's state of the current Job's pod (creating the pod on first use). */
  trainer(state: TrainerContainerState, phase = 'Running'): void {
    const uid = this.job().metadata!.uid!;
    const entry = this.pods.get(uid) ?? {
      pod: { metadata: { name: `${this.job().metadata!.name}-${uid}`, creationTimestamp: new Date() } },
      log: [],
    };
    entry.pod.status = {
      phase,
      containerStatuses: [{ name: 'trainer', state: state as never, image: '', imageID: '', ready: false, restartCount: 0 }],
    };
    this.pods.set(uid, entry);
  }

  /** Append lines to the trainer's log; lines of one call share a timestamp (the cursor must still tell them apart). */
  log(...lines: Array<string | object>): void {
    const entry = this.pods.get(this.job().metadata!.uid!);
    if (!entry) throw new Error('no pod');
    const ts = `2026-01-01T00:00:${String(Math.floor(++this.tick / 10)).padStart(2, '0')}.${this.tick % 10}Z`;
    for (const l of lines) entry.log.push(`${ts} ${typeof l === 'string' ? l : JSON.stringify(l)}`);
  }

  /** Mark the current Job finished. */
  finish(outcome: 'Complete' | 'Failed'): void {
    const job = this.job();
    job.status = {
      ...(outcome === 'Complete' ? { succeeded: 1 } : { failed: 1 }),
      conditions: [{ type: outcome, status: 'True', reason: outcome === 'Failed' ? 'BackoffLimitExceeded' : undefined }] as never,
    };
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }
}

/** A clock whose sleep moves time on at once. */
export function fakeClock(): BackendClock & { t: number } {
  const clock = {
    t: 1_000_000,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return clock;
}
