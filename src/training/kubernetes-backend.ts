/**
 * The `kubernetes` trainer backend: one batch/v1 Job per job key (kubernetes-manifest.ts), the job directory carried
 * through the blob store (job-sync.ts), the trainer container's log read as the contract's JSON lines.
 *
 * NOT VERIFIED AGAINST A CLUSTER: this backend has only run against a scripted fake of the Kubernetes API
 * (test/unit/kubernetes-backend.test.ts); no Kubernetes API server could run where it was written. The API calls
 * are those of @kubernetes/client-node 1.4.0's BatchV1Api and CoreV1Api.
 *
 * Lifecycle of `run`:
 * 1. Read the Job named after the job key. Running: attach to it (a retried submit never starts a second Job; its
 *    log is delivered again from the start). Failed, or succeeded with its outputs gone: delete it (Background) and
 *    start over. Absent: clear the job's blob prefix, upload the job directory, create the Job (409: attach).
 * 2. Poll the Job's pod (selected by the Job's controller-uid, so pods of a deleted predecessor never count) and
 *    the trainer container's log with timestamps; the timestamps make a cursor that survives log rotation, so a
 *    poll delivers each line once. Before a checkpoint line reaches onMessage its file is downloaded to
 *    `<jobDir>/<path>` from the sidecar's upload (so checkpoints must be written under checkpoints/). Each poll
 *    reads the whole log (the API's sinceSeconds counts on the node's clock): keep the trainer's output to progress
 *    lines and a little free text, not per-step chatter.
 * 3. Exit 0: wait for the sidecar's final push (`pushed.json`), download out/model.onnx and out/metrics.json into
 *    the job directory, clear the job's blob prefix. Another exit code: TrainerProcessError (2: permanent).
 * 4. Silence for trainer.progressTimeoutSeconds while the trainer runs: TrainerHungError; an abort:
 *    TrainerAbortedError. Both delete the Job with propagationPolicy Foreground and wait until it is gone (its pods
 *    go first), as does any other reason this backend stops a run (a malformed line, onMessage throwing, a pod that
 *    never starts). Errors of the API itself leave the Job running, for the next attempt to attach to.
 */
import * as path from 'node:path';
import type { V1Job, V1Pod, V1PodList } from '@kubernetes/client-node';
import type { BlobStore } from '../storage/blob-store';
import type { TrainerBackend, TrainerRunRequest, TrainerRunResult } from './backend';
import { TrainerAbortedError, TrainerHungError, TrainerProcessError, TrainerProtocolError } from './backend-errors';
import { JobPaths, parseTrainerLine, type TrainerMessage } from './contract';
import { clearPrefix, downloadFile, jobBlobPrefix, jobSyncKeys, pushJobInputs, readPushedMarker } from './job-sync';
import { buildTrainerJob, JOB_KEY_ANNOTATION, TRAINER_CONTAINER, trainerJobName } from './kubernetes-manifest';

/** The BatchV1Api methods the backend calls (object-style parameters, as in @kubernetes/client-node 1.x). */
export interface KubernetesBatchApi {
  createNamespacedJob(param: { namespace: string; body: V1Job }): Promise<V1Job>;
  readNamespacedJob(param: { name: string; namespace: string }): Promise<V1Job>;
  deleteNamespacedJob(param: { name: string; namespace: string; propagationPolicy?: string }): Promise<unknown>;
}

/** The CoreV1Api methods the backend calls. */
export interface KubernetesCoreApi {
  listNamespacedPod(param: { namespace: string; labelSelector?: string }): Promise<V1PodList>;
  readNamespacedPodLog(param: {
    name: string;
    namespace: string;
    container?: string;
    timestamps?: boolean;
    sinceSeconds?: number;
  }): Promise<string>;
}

/** Time as the backend sees it (injected by tests so polling runs without real waits). */
export interface BackendClock {
  now(): number;
  /** Resolves after ms, or early once signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Dependencies and settings of the kubernetes backend. */
export interface KubernetesBackendOptions {
  batch: KubernetesBatchApi;
  core: KubernetesCoreApi;
  /** The blob store the Job's sync containers reach with `blobEnv` (an S3 bucket; a local folder works only in tests). */
  blobs: BlobStore;
  /** Blob store settings for the sync containers (S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_PREFIX, S3_FORCE_PATH_STYLE). */
  blobEnv: Readonly<Record<string, string>>;
  /** Default Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when the spec names none. */
  credentialsSecret?: string;
  /** The trainset CLI in the sync image; default ['npx', 'trainset']. */
  syncCommand?: readonly string[];
  /** Time between polls of the pod, its log and the blob store; default 2000 ms. */
  pollMs?: number;
  /** How long the pod may take to start the trainer (scheduling, image pulls, job-pull); default 30 min. */
  startTimeoutMs?: number;
  /** How long a reported checkpoint, or the final push, may take to reach the blob store; default 5 min. */
  outputWaitMs?: number;
  /** How long to wait for a deleted Job to be gone; default 2 min. */
  deleteWaitMs?: number;
  clock?: BackendClock;
  log?: (message: string) => void;
}

/** The container's waiting reasons that no wait will cure. */
const FATAL_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull']);
const TAIL_LINES = 20;

/** A reason this backend stops a run itself: the Job is deleted before `error` is thrown. */
class Stop {
  constructor(readonly error: unknown) {}
}

/** An HTTP status carried by an API error (ApiException.code), if any. */
export function apiStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const v of [e.code, e.statusCode, e.response?.statusCode]) if (typeof v === 'number') return v;
  return undefined;
}

const realClock: BackendClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z (.*)$/s;

/**
 * Reads a container log fetched with `timestamps: true` again and again and hands out each line once: it keeps
 * the newest timestamp delivered and how many lines carried it, so a refetch (whole or from `sinceSeconds`, after
 * a log rotation too) skips what was delivered. A last line without its newline is held back until it has one,
 * unless `final` (the container has exited).
 */
export class LogCursor {
  private lastTs = '';
  private atLast = 0;

  /** The lines of `log` not delivered before, without their timestamps. */
  take(log: string, final = false): string[] {
    const lines = log.split('\n');
    const tail = lines.pop() ?? '';
    if (final && tail !== '') lines.push(tail);
    const startTs = this.lastTs;
    const startCount = this.atLast;
    let sameAsStart = 0;
    let ts = '';
    const out: string[] = [];
    for (const raw of lines) {
      const m = TIMESTAMP.exec(raw);
      // A line without a timestamp (not expected from the kubelet) belongs with the line before it.
      let text = raw;
      if (m) {
        ts = `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
        text = m[3] ?? '';
      }
      if (ts < startTs) continue;
      if (ts === startTs && ++sameAsStart <= startCount) continue;
      if (ts === this.lastTs) this.atLast += 1;
      else {
        this.lastTs = ts;
        this.atLast = 1;
      }
      out.push(text);
    }
    return out;
  }
}

interface TrainerState {
  pod?: V1Pod;
  state: 'none' | 'waiting' | 'running' | 'terminated';
  exitCode?: number;
  reason?: string;
  message?: string;
}

function newestPod(list: V1PodList): V1Pod | undefined {
  const time = (p: V1Pod): number => {
    const t = p.metadata?.creationTimestamp;
    return t === undefined ? 0 : new Date(t).getTime();
  };
  return [...list.items].sort((a, b) => time(b) - time(a))[0];
}

function trainerState(pod: V1Pod | undefined): TrainerState {
  const status = pod?.status?.containerStatuses?.find((c) => c.name === TRAINER_CONTAINER);
  const s = status?.state;
  if (s?.terminated) {
    return { pod, state: 'terminated', exitCode: s.terminated.exitCode, reason: s.terminated.reason, message: s.terminated.message };
  }
  if (s?.running) return { pod, state: 'running' };
  if (s?.waiting) return { pod, state: 'waiting', reason: s.waiting.reason, message: s.waiting.message };
  return { pod, state: 'none' };
}

/** Why a pod has not started its trainer: a failed init container, a waiting reason or a scheduling condition. */
function pendingReason(pod: V1Pod | undefined): string {
  if (!pod) return 'no pod was created';
  for (const c of pod.status?.initContainerStatuses ?? []) {
    const t = c.state?.terminated;
    if (t && t.exitCode !== 0) return `init container ${c.name} exited with code ${t.exitCode}${t.message ? `: ${t.message.trim()}` : ''}`;
    const w = c.state?.waiting;
    if (w?.reason && w.reason !== 'PodInitializing') return `init container ${c.name}: ${w.reason}${w.message ? ` (${w.message})` : ''}`;
  }
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && w.reason !== 'PodInitializing') return `${c.name}: ${w.reason}${w.message ? ` (${w.message})` : ''}`;
  }
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return `not scheduled: ${unscheduled.reason ?? ''} ${unscheduled.message ?? ''}`.trim();
  return `pod phase ${pod.status?.phase ?? 'unknown'}`;
}

/** 'failed', 'succeeded' or 'active', from a Job's conditions and counts. */
export function jobOutcome(job: V1Job): 'failed' | 'succeeded' | 'active' {
  const on = (type: string): boolean => (job.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
  if (on('Failed') || on('FailureTarget')) return 'failed';
  if (on('Complete') || on('SuccessCriteriaMet') || (job.status?.succeeded ?? 0) > 0) return 'succeeded';
  if ((job.status?.failed ?? 0) > 0) return 'failed'; // backoffLimit 0: one failed pod fails the Job
  return 'active';
}

function podSelector(job: V1Job, name: string): string {
  const labels = job.spec?.selector?.matchLabels;
  if (labels && Object.keys(labels).length > 0) {
    return Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  return `job-name=${name}`;
}

/** The kubernetes backend over injected API clients (see the module comment; not verified against a real cluster). */
export function createKubernetesBackend(options: KubernetesBackendOptions): TrainerBackend {
  const { batch, core, blobs } = options;
  const clock = options.clock ?? realClock;
  const pollMs = options.pollMs ?? 2000;
  const startTimeoutMs = options.startTimeoutMs ?? 30 * 60_000;
  const outputWaitMs = options.outputWaitMs ?? 5 * 60_000;
  const deleteWaitMs = options.deleteWaitMs ?? 2 * 60_000;
  const log = options.log ?? (() => undefined);

  async function readJob(name: string, namespace: string): Promise<V1Job | undefined> {
    try {
      return await batch.readNamespacedJob({ name, namespace });
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** Delete the Job and wait until it is gone (with Foreground, its pods are gone first). */
  async function deleteJob(name: string, namespace: string, propagationPolicy: 'Foreground' | 'Background'): Promise<void> {
    try {
      await batch.deleteNamespacedJob({ name, namespace, propagationPolicy });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    const until = clock.now() + deleteWaitMs;
    while (await readJob(name, namespace)) {
      if (clock.now() >= until) {
        log(`Job ${namespace}/${name} is still being deleted after ${deleteWaitMs / 1000} s`);
        return;
      }
      await clock.sleep(pollMs);
    }
  }

  /** The Job to follow: an existing one to attach to, or a new one with the job directory uploaded. */
  async function ensureJob(request: TrainerRunRequest, name: string, namespace: string, prefix: string): Promise<V1Job> {
    for (let round = 0; round < 5; round++) {
      const existing = await readJob(name, namespace);
      if (existing) {
        const owner = existing.metadata?.annotations?.[JOB_KEY_ANNOTATION];
        if (owner !== request.jobKey) {
          throw new TrainerProtocolError(
            `Job ${namespace}/${name} exists but belongs to job key ${JSON.stringify(owner)}, not ${JSON.stringify(request.jobKey)}; delete it or use another namespace`,
          );
        }
        const outcome = jobOutcome(existing);
        if (existing.metadata?.deletionTimestamp) {
          await deleteJob(name, namespace, 'Background');
          continue;
        }
        if (outcome === 'active') {
          log(`attaching to the running Job ${namespace}/${name}`);
          return existing;
        }
        if (outcome === 'succeeded' && (await readPushedMarker(blobs, prefix))) {
          log(`Job ${namespace}/${name} already succeeded: collecting its outputs`);
          return existing;
        }
        log(
          `Job ${namespace}/${name} ${outcome === 'failed' ? 'failed in an earlier attempt' : 'succeeded, but its outputs are gone'}: starting it again`,
        );
        await deleteJob(name, namespace, 'Background');
      }
      await clearPrefix(blobs, prefix);
      await pushJobInputs(blobs, request.jobDir, prefix);
      const body = buildTrainerJob({
        jobKey: request.jobKey,
        trainer: request.trainer,
        gpus: request.trainer.gpus,
        blobPrefix: prefix,
        blobEnv: options.blobEnv,
        credentialsSecret: options.credentialsSecret,
        syncCommand: options.syncCommand,
      });
      try {
        const created = await batch.createNamespacedJob({ namespace, body });
        log(`created Job ${namespace}/${name}`);
        return created;
      } catch (err) {
        if (apiStatus(err) !== 409) throw err;
        log(`Job ${namespace}/${name} was created meanwhile: attaching to it`);
      }
    }
    throw new Error(`could neither create nor attach to Job ${namespace}/${name} (it kept changing); the next attempt tries again`);
  }

  /** Poll until `key` exists in the blob store, or stop the run after outputWaitMs. */
  async function waitForBlob(key: string, what: string, where: string, signal?: AbortSignal): Promise<void> {
    const until = clock.now() + outputWaitMs;
    while (!(await blobs.head(key))) {
      if (signal?.aborted) throw new Stop(new TrainerAbortedError(signal.reason));
      if (clock.now() >= until) {
        throw new Stop(
          new Error(
            `${what} did not reach the blob store (${blobs.uri}${key}) within ${outputWaitMs / 1000} s; see the job-push sidecar's log (${where})`,
          ),
        );
      }
      await clock.sleep(pollMs, signal);
    }
  }

  async function follow(request: TrainerRunRequest, job: V1Job, name: string, namespace: string, prefix: string): Promise<void> {
    const { signal, trainer } = request;
    const keys = jobSyncKeys(prefix);
    const where = `kubectl logs -n ${namespace} job/${name} -c job-push`;
    const selector = podSelector(job, name);
    const cursor = new LogCursor();
    const freeText: string[] = [];
    const since = clock.now();
    let heardAt: number | undefined;
    let done = false;

    const deliver = async (text: string): Promise<void> => {
      let message: TrainerMessage | undefined;
      try {
        message = parseTrainerLine(text);
      } catch (err) {
        throw new Stop(new TrainerProtocolError((err as Error).message));
      }
      if (!message) {
        freeText.push(text);
        if (freeText.length > TAIL_LINES) freeText.shift();
        return;
      }
      if (message.type === 'checkpoint') {
        if (!message.path.startsWith(`${JobPaths.checkpoints}/`)) {
          // The sidecar carries checkpoints/ only (job.json's output.checkpoints); another path would never arrive.
          throw new Stop(
            new TrainerProtocolError(
              `the trainer reported checkpoint ${message.path}; the kubernetes backend carries checkpoints only from ${JobPaths.checkpoints}/ (job.json output.checkpoints)`,
            ),
          );
        }
        const key = keys.outputs + message.path;
        await waitForBlob(key, `checkpoint ${message.path}`, where, signal);
        await downloadFile(blobs, key, path.join(request.jobDir, ...message.path.split('/')));
      }
      if (message.type === 'done') done = true;
      try {
        await request.onMessage(message);
      } catch (err) {
        throw new Stop(err);
      }
    };

    for (;;) {
      if (signal?.aborted) throw new Stop(new TrainerAbortedError(signal.reason));
      const pod = newestPod(await core.listNamespacedPod({ namespace, labelSelector: selector }));
      const t = trainerState(pod);
      if (pod && (t.state === 'running' || t.state === 'terminated')) {
        heardAt ??= clock.now();
        const final = t.state === 'terminated';
        const lines = cursor.take(
          await core.readNamespacedPodLog({ name: pod.metadata?.name ?? '', namespace, container: TRAINER_CONTAINER, timestamps: true }),
          final,
        );
        if (lines.length > 0) heardAt = clock.now();
        for (const line of lines) {
          await deliver(line);
          if (signal?.aborted) throw new Stop(new TrainerAbortedError(signal.reason));
        }
      }
      if (t.state === 'terminated') {
        if (t.exitCode === 0) return await collect(request, prefix, where);
        const tail = (t.message?.trim() || freeText.join('\n')).split('\n').slice(-TAIL_LINES).join('\n');
        const how = `exited with code ${t.exitCode ?? 'unknown'}${t.reason && t.reason !== 'Error' ? ` (${t.reason})` : ''}`;
        throw new TrainerProcessError(
          `the trainer container of Job ${namespace}/${name} ${how}${done ? ' after reporting done' : ''}${tail ? `: ${tail}` : ''}`,
          t.exitCode ?? null,
          null,
          tail,
        );
      }
      if (t.state === 'waiting' && t.reason && FATAL_WAITING.has(t.reason)) {
        throw new Stop(
          new TrainerProcessError(`the trainer container cannot start: ${t.reason}${t.message ? ` (${t.message})` : ''}`, null, null, ''),
        );
      }
      if (t.state !== 'running') {
        // No trainer to hear from: the Job may have ended without it (a failed job-pull, a deadline, an eviction).
        const current = await readJob(name, namespace);
        if (!current) throw new Error(`Job ${namespace}/${name} disappeared while the trainer had not finished (deleted by someone else?)`);
        const outcome = jobOutcome(current);
        if (outcome === 'failed') {
          const condition = current.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
          throw new TrainerProcessError(
            `Job ${namespace}/${name} failed before its trainer finished: ${pendingReason(pod)}${condition?.reason ? `; Job: ${condition.reason} ${condition.message ?? ''}` : ''}`.trim(),
            null,
            null,
            '',
          );
        }
        if (outcome === 'succeeded' && !pod) return await collect(request, prefix, where);
        if (heardAt === undefined && clock.now() - since >= startTimeoutMs) {
          throw new Stop(
            new Error(`the trainer of Job ${namespace}/${name} did not start within ${startTimeoutMs / 1000} s: ${pendingReason(pod)}`),
          );
        }
      } else if (heardAt !== undefined && clock.now() - heardAt >= trainer.progressTimeoutSeconds * 1000) {
        throw new Stop(new TrainerHungError(trainer.progressTimeoutSeconds));
      }
      await clock.sleep(pollMs, signal);
    }
  }

  /** After exit 0: wait for the sidecar's final push, then bring out/ home and clear the job's blob prefix. */
  async function collect(request: TrainerRunRequest, prefix: string, where: string): Promise<void> {
    const keys = jobSyncKeys(prefix);
    await waitForBlob(keys.pushed, "the trainer's outputs (pushed.json)", where, request.signal);
    const marker = await readPushedMarker(blobs, prefix);
    if (!marker?.files.includes(JobPaths.model)) {
      throw new TrainerProtocolError(`the trainer exited 0 without writing ${JobPaths.model}`);
    }
    for (const rel of [JobPaths.model, JobPaths.metrics]) {
      if (marker.files.includes(rel)) await downloadFile(blobs, keys.outputs + rel, path.join(request.jobDir, ...rel.split('/')));
    }
    // The outputs are home: the inputs and uploads are not needed again (a later attach to this Job starts it over).
    await clearPrefix(blobs, prefix);
  }

  return {
    name: 'kubernetes',
    async run(request: TrainerRunRequest): Promise<TrainerRunResult> {
      const k = request.trainer.kubernetes;
      if (!k) throw new TrainerProtocolError('the kubernetes backend needs the spec\'s "trainer.kubernetes" section (image, ...)');
      if (request.signal?.aborted) throw new TrainerAbortedError(request.signal.reason);
      const started = clock.now();
      const name = trainerJobName(request.jobKey);
      const namespace = k.namespace;
      const prefix = jobBlobPrefix(request.jobKey);
      const job = await ensureJob(request, name, namespace, prefix);
      try {
        await follow(request, job, name, namespace, prefix);
      } catch (err) {
        if (!(err instanceof Stop)) throw err;
        // This backend ends the run: the trainer must not go on (and a retry must not attach to it).
        await deleteJob(name, namespace, 'Foreground');
        throw err.error;
      }
      return { seconds: (clock.now() - started) / 1000 };
    },
  };
}

/**
 * The API clients for createKubernetesBackend from the default KubeConfig: in-cluster credentials inside a pod,
 * else $KUBECONFIG or ~/.kube/config (or the file given). @kubernetes/client-node is loaded only when called.
 */
export async function createKubernetesApis(
  options: { kubeconfigPath?: string } = {},
): Promise<{ batch: KubernetesBatchApi; core: KubernetesCoreApi }> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromDefault();
  return { batch: kc.makeApiClient(k8s.BatchV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
}
