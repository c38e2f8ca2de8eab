/**
 * The batch/v1 Job the kubernetes trainer backend creates for one training job: a pure function of the job key,
 * the spec's trainer section and the blob store settings, so a retried submit builds the same Job (same name).
 *
 * Pod layout: an init container (`job-pull`, the trainset image) pulls the job directory from the blob store into
 * an emptyDir at /job; a native sidecar (`job-push`, an init container with restartPolicy Always, Kubernetes ≥ 1.29)
 * uploads checkpoints while the trainer runs and everything left once it exits; the `trainer` container runs the
 * spec's image with /job appended to its command, its GPUs from `nvidia.com/gpu` limits. Only the two sync
 * containers get blob store credentials, from a Secret by reference; the trainer gets none.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Job } from '@kubernetes/client-node';
import type { TrainerSpec } from '../shared/trainer-spec';

/** Where the job directory is mounted in every container of the pod. */
export const POD_JOB_DIR = '/job';
/** Name of the trainer container (whose log is the contract's JSON lines). */
export const TRAINER_CONTAINER = 'trainer';
/** Label every trainset trainer Job and pod carries: its job key's hash. */
export const JOB_KEY_HASH_LABEL = 'trainset.dev/job-key-hash';
/** Annotation holding the whole job key (labels are too short for it). */
export const JOB_KEY_ANNOTATION = 'trainset.dev/job-key';
/** Grace the sidecar gets to finish its final upload after the trainer exits (and on deletion). */
export const TERMINATION_GRACE_SECONDS = 120;

/** Blob store variables the sync containers may be given as plain values (credentials come from the Secret). */
export const SYNC_ENV_VARS = [
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
  'S3_PREFIX',
  'S3_FORCE_PATH_STYLE',
  'BLOB_DIR',
  'LOG_LEVEL',
] as const;
/** Keys the credentials Secret must hold. */
export const CREDENTIAL_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Where the sync containers find the S3 bucket (the GPU worker's own S3 settings, without its credentials). */
export interface S3Location {
  endpoint?: string;
  bucket: string;
  region: string;
  prefix?: string;
  forcePathStyle: boolean;
}

/** The sync containers' blob store variables for an S3 location (credentials come from the Secret, never from here). */
export function syncEnvForS3(s3: S3Location): Record<string, string> {
  return {
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_FORCE_PATH_STYLE: String(s3.forcePathStyle),
    ...(s3.endpoint ? { S3_ENDPOINT: s3.endpoint } : {}),
    ...(s3.prefix ? { S3_PREFIX: s3.prefix } : {}),
  };
}

const hashOf = (jobKey: string): string => createHash('sha256').update(jobKey).digest('hex');

/** Hash of a job key as put in the `trainset.dev/job-key-hash` label (32 hex characters). */
export function jobKeyHash(jobKey: string): string {
  return hashOf(jobKey).slice(0, 32);
}

/**
 * The Job's name for a job key: `trainset-<readable part>-<10 hex of its SHA-256>`, a DNS-1123 label of at most
 * 63 characters (the pods' `job-name` label has that limit). Different keys get different names even when their
 * readable parts agree; the same key always gets the same name.
 */
export function trainerJobName(jobKey: string): string {
  if (jobKey === '') throw new Error('trainerJobName: the job key is empty');
  const suffix = hashOf(jobKey).slice(0, 10);
  const budget = 63 - 'trainset-'.length - 1 - suffix.length;
  const slug = jobKey
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, budget)
    .replace(/^-+|-+$/g, '');
  return slug === '' ? `trainset-${suffix}` : `trainset-${slug}-${suffix}`;
}

/** Inputs of buildTrainerJob. */
export interface TrainerJobInput {
  jobKey: string;
  /** The spec's trainer section; its `kubernetes` section is required. */
  trainer: TrainerSpec;
  /** GPUs of the trainer container (`nvidia.com/gpu` limit; none for 0). */
  gpus: number;
  /** The job's blob prefix (jobBlobPrefix), handed to the sync containers. */
  blobPrefix: string;
  /** Blob store settings of the sync containers (names from SYNC_ENV_VARS), e.g. S3_BUCKET, S3_ENDPOINT. */
  blobEnv: Readonly<Record<string, string>>;
  /** Secret with the blob store credentials (CREDENTIAL_KEYS); default `trainer.kubernetes.s3CredentialsSecret`; none: the pod's own identity. */
  credentialsSecret?: string;
  /** Command of the trainset CLI in the sync image; default ['npx', 'trainset']. */
  syncCommand?: readonly string[];
}

/** The batch/v1 Job for one training job (see the module comment); throws on inline credentials or a missing kubernetes section. */
export function buildTrainerJob(input: TrainerJobInput): V1Job {
  const k = input.trainer.kubernetes;
  if (!k) throw new Error('the kubernetes backend needs the spec\'s "trainer.kubernetes" section (image, ...)');
  if (!Number.isInteger(input.gpus) || input.gpus < 0) throw new Error(`gpus must be a non-negative integer (got ${input.gpus})`);
  for (const name of Object.keys(input.blobEnv)) {
    if (!(SYNC_ENV_VARS as readonly string[]).includes(name)) {
      throw new Error(
        `blob store variable ${name} cannot be passed to the trainer Job: only ${SYNC_ENV_VARS.join(', ')} (credentials go in a Secret, trainer.kubernetes.s3CredentialsSecret)`,
      );
    }
  }
  const name = trainerJobName(input.jobKey);
  const labels = { app: 'trainset', 'app.kubernetes.io/component': 'trainer', [JOB_KEY_HASH_LABEL]: jobKeyHash(input.jobKey) };
  const secret = input.credentialsSecret ?? k.s3CredentialsSecret;
  const syncEnv: V1EnvVar[] = [
    ...Object.entries(input.blobEnv)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, value]) => ({ name: n, value })),
    ...(secret ? CREDENTIAL_KEYS.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } })) : []),
  ];
  const mount = [{ name: 'job', mountPath: POD_JOB_DIR }];
  const cli = [...(input.syncCommand ?? ['npx', 'trainset']), 'job-sync'];
  const syncResources = { requests: { cpu: '100m', memory: '256Mi' } };
  const pull: V1Container = {
    name: 'job-pull',
    image: k.syncImage,
    command: [...cli, 'pull', '--prefix', input.blobPrefix, '--dir', POD_JOB_DIR],
    env: syncEnv,
    volumeMounts: mount,
    resources: syncResources,
  };
  const push: V1Container = {
    name: 'job-push',
    image: k.syncImage,
    // A native sidecar: it starts after job-pull, runs beside the trainer and is stopped (SIGTERM) once the trainer exits.
    restartPolicy: 'Always',
    command: [...cli, 'push', '--follow', '--prefix', input.blobPrefix, '--dir', POD_JOB_DIR],
    env: syncEnv,
    volumeMounts: mount,
    resources: syncResources,
  };
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (k.resources.cpu) requests.cpu = k.resources.cpu;
  if (k.resources.memory) requests.memory = limits.memory = k.resources.memory;
  if (input.gpus > 0) limits['nvidia.com/gpu'] = String(input.gpus);
  const trainerEnv: V1EnvVar[] = [
    ...Object.entries(input.trainer.env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, value]) => ({ name: n, value })),
    // The container sees only its allocated GPUs, numbered from 0; empty for a CPU job, as on a host.
    { name: 'CUDA_VISIBLE_DEVICES', value: Array.from({ length: input.gpus }, (_, i) => String(i)).join(',') },
    { name: 'TRAINSET_JOB_DIR', value: POD_JOB_DIR },
    { name: 'PYTHONUNBUFFERED', value: '1' },
  ];
  const trainer: V1Container = {
    name: TRAINER_CONTAINER,
    image: k.image,
    ...(k.command ? { command: [...k.command, POD_JOB_DIR] } : { args: [POD_JOB_DIR] }),
    workingDir: POD_JOB_DIR,
    env: trainerEnv,
    volumeMounts: mount,
    // On a crash the last log lines become the termination message the backend reports.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...(Object.keys(requests).length + Object.keys(limits).length > 0
      ? {
          resources: {
            ...(Object.keys(requests).length > 0 ? { requests } : {}),
            ...(Object.keys(limits).length > 0 ? { limits } : {}),
          },
        }
      : {}),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: k.namespace,
      labels,
      annotations: { [JOB_KEY_ANNOTATION]: input.jobKey, 'trainset.dev/blob-prefix': input.blobPrefix },
    },
    spec: {
      // Temporal owns retries: a failed pod fails the Job, and the activity's next attempt decides.
      backoffLimit: 0,
      ttlSecondsAfterFinished: k.ttlSecondsAfterFinished,
      ...(k.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: k.activeDeadlineSeconds } : {}),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          ...(k.serviceAccountName ? { serviceAccountName: k.serviceAccountName } : {}),
          ...(Object.keys(k.nodeSelector).length > 0 ? { nodeSelector: { ...k.nodeSelector } } : {}),
          ...(k.tolerations.length > 0 ? { tolerations: k.tolerations.map((t) => ({ ...t })) } : {}),
          ...(k.imagePullSecrets.length > 0 ? { imagePullSecrets: k.imagePullSecrets.map((n) => ({ name: n })) } : {}),
          initContainers: [pull, push],
          containers: [trainer],
          volumes: [{ name: 'job', emptyDir: {} }],
        },
      },
    },
  };
}
