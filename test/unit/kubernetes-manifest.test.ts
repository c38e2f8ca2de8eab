/** The trainer Job manifest: a pure function of job key, trainer spec and blob settings, checked field by field. */
import { describe, expect, it } from 'vitest';
import type { V1Container, V1Job } from '@kubernetes/client-node';
import { TrainerSpecSchema } from '../../src/shared/trainer-spec';
import { jobBlobPrefix } from '../../src/training/job-sync';
import {
  buildTrainerJob,
  CREDENTIAL_KEYS,
  JOB_KEY_ANNOTATION,
  JOB_KEY_HASH_LABEL,
  jobKeyHash,
  POD_JOB_DIR,
  syncEnvForS3,
  TRAINER_CONTAINER,
  trainerJobName,
  type TrainerJobInput,
} from '../../src/training/kubernetes-manifest';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function input(
  kubernetes: Record<string, unknown> = {},
  over: Partial<TrainerJobInput> = {},
  trainer: Record<string, unknown> = {},
): TrainerJobInput {
  const jobKey = over.jobKey ?? 'reviews-model/v-2024-05-01/t-0123abcd';
  return {
    jobKey,
    trainer: TrainerSpecSchema.parse({
      backend: 'kubernetes',
      kubernetes: { image: 'reg.example/trainer@sha256:abc', ...kubernetes },
      ...trainer,
    }),
    gpus: 1,
    blobPrefix: jobBlobPrefix(jobKey),
    blobEnv: { S3_BUCKET: 'trainset', S3_ENDPOINT: 'http://s3:7070', S3_REGION: 'us-east-1' },
    ...over,
  };
}

const podOf = (job: V1Job) => job.spec?.template.spec;
const trainerOf = (job: V1Job): V1Container => podOf(job)!.containers.find((c) => c.name === TRAINER_CONTAINER)!;
const initOf = (job: V1Job, name: string): V1Container => podOf(job)!.initContainers!.find((c) => c.name === name)!;

describe('trainerJobName', () => {
  it.each([
    ['a short key', 'reviews/v1'],
    ['a key with capitals and symbols', 'Reviews Model/V_2024-05-01/t-ABC'],
    ['a very long key', `x${'very-long-segment/'.repeat(20)}`],
    ['a key of symbols only', '///___'],
    ['a key ending in a symbol', 'model/'],
  ])('gives %s a DNS-1123 label of at most 63 characters, the same every time', (_label, key) => {
    const name = trainerJobName(key);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_LABEL);
    expect(trainerJobName(key)).toBe(name);
  });

  it('gives keys that differ only where the readable part is cut or folded different names', () => {
    const long = 'a'.repeat(100);
    const names = [long + '1', long + '2', 'model/v1', 'model_v1', 'MODEL/V1'].map(trainerJobName);
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses an empty key', () => {
    expect(() => trainerJobName('')).toThrow(/empty/);
  });
});

describe('buildTrainerJob', () => {
  it('is deterministic: the same input gives the same Job', () => {
    expect(buildTrainerJob(input())).toEqual(buildTrainerJob(input()));
  });

  it('names and labels the Job after the job key, keeps the whole key in an annotation and leaves retries to Temporal', () => {
    const i = input();
    const job = buildTrainerJob(i);
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.metadata?.name).toBe(trainerJobName(i.jobKey));
    expect(job.metadata?.namespace).toBe('default');
    expect(job.metadata?.labels).toMatchObject({ app: 'trainset', [JOB_KEY_HASH_LABEL]: jobKeyHash(i.jobKey) });
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
    expect(job.metadata?.annotations?.[JOB_KEY_ANNOTATION]).toBe(i.jobKey);
    expect(job.spec?.backoffLimit).toBe(0);
    expect(podOf(job)?.restartPolicy).toBe('Never');
    expect(job.spec?.ttlSecondsAfterFinished).toBe(86_400);
    expect(job.spec).not.toHaveProperty('activeDeadlineSeconds');
  });

  it.each([
    [0, undefined, ''],
    [1, '1', '0'],
    [4, '4', '0,1,2,3'],
  ])('with %i GPUs: nvidia.com/gpu limit %s and CUDA_VISIBLE_DEVICES %j', (gpus, limit, visible) => {
    const t = trainerOf(buildTrainerJob(input({}, { gpus })));
    expect(t.resources?.limits?.['nvidia.com/gpu']).toBe(limit);
    expect(t.env?.find((e) => e.name === 'CUDA_VISIBLE_DEVICES')?.value).toBe(visible);
  });

  it.each([
    ['the image entrypoint when the spec has no command', {}, undefined, [POD_JOB_DIR]],
    ['the spec command with /job appended', { command: ['python', '/app/train.py'] }, ['python', '/app/train.py', POD_JOB_DIR], undefined],
  ])('runs %s', (_label, k, command, args) => {
    const t = trainerOf(buildTrainerJob(input(k)));
    expect(t.command).toEqual(command);
    expect(t.args).toEqual(args);
    expect(t.workingDir).toBe(POD_JOB_DIR);
    expect(t.image).toBe('reg.example/trainer@sha256:abc');
  });

  it('carries node selector, tolerations, service account, pull secrets, resources and the deadline from the spec', () => {
    const job = buildTrainerJob(
      input({
        namespace: 'ml',
        nodeSelector: { 'nvidia.com/gpu.product': 'H100' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        serviceAccountName: 'trainer',
        imagePullSecrets: ['regcred'],
        resources: { cpu: '4', memory: '16Gi' },
        activeDeadlineSeconds: 7200,
        ttlSecondsAfterFinished: 600,
      }),
    );
    const pod = podOf(job)!;
    expect(job.metadata?.namespace).toBe('ml');
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'H100' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.serviceAccountName).toBe('trainer');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(trainerOf(job).resources).toEqual({ requests: { cpu: '4', memory: '16Gi' }, limits: { memory: '16Gi', 'nvidia.com/gpu': '1' } });
    expect(job.spec?.activeDeadlineSeconds).toBe(7200);
    expect(job.spec?.ttlSecondsAfterFinished).toBe(600);
  });

  it('omits what the spec leaves out (no empty selectors, tolerations or resources)', () => {
    const job = buildTrainerJob(input({}, { gpus: 0 }));
    const pod = podOf(job)!;
    for (const key of ['nodeSelector', 'tolerations', 'serviceAccountName', 'imagePullSecrets']) expect(pod).not.toHaveProperty(key);
    expect(trainerOf(job)).not.toHaveProperty('resources');
  });

  it('pulls the job directory in an init container and pushes it back from a native sidecar, all on one emptyDir at /job', () => {
    const i = input({ syncImage: 'trainset@sha256:def' });
    const job = buildTrainerJob(i);
    const pod = podOf(job)!;
    expect(pod.initContainers?.map((c) => c.name)).toEqual(['job-pull', 'job-push']);
    const pull = initOf(job, 'job-pull');
    const push = initOf(job, 'job-push');
    expect(pull.command).toEqual(['npx', 'trainset', 'job-sync', 'pull', '--prefix', i.blobPrefix, '--dir', POD_JOB_DIR]);
    expect(push.command).toEqual(['npx', 'trainset', 'job-sync', 'push', '--follow', '--prefix', i.blobPrefix, '--dir', POD_JOB_DIR]);
    expect(pull.restartPolicy).toBeUndefined();
    expect(push.restartPolicy).toBe('Always');
    for (const c of [pull, push]) expect(c.image).toBe('trainset@sha256:def');
    expect(pod.volumes).toEqual([{ name: 'job', emptyDir: {} }]);
    for (const c of [pull, push, trainerOf(job)]) expect(c.volumeMounts).toEqual([{ name: 'job', mountPath: POD_JOB_DIR }]);
  });

  it('gives only the sync containers the blob store: settings as values, credentials by Secret reference', () => {
    const job = buildTrainerJob(input({ s3CredentialsSecret: 'trainset-s3' }));
    for (const name of ['job-pull', 'job-push']) {
      const env = initOf(job, name).env ?? [];
      expect(env.find((e) => e.name === 'S3_BUCKET')?.value).toBe('trainset');
      for (const key of CREDENTIAL_KEYS) {
        const v = env.find((e) => e.name === key);
        expect(v?.value).toBeUndefined();
        expect(v?.valueFrom?.secretKeyRef).toEqual({ name: 'trainset-s3', key });
      }
    }
    const trainerEnv = (trainerOf(job).env ?? []).map((e) => e.name);
    for (const name of ['S3_BUCKET', ...CREDENTIAL_KEYS]) expect(trainerEnv).not.toContain(name);
  });

  it("takes the backend's default Secret when the spec names none, and none at all when neither does", () => {
    const withDefault = buildTrainerJob(input({}, { credentialsSecret: 'default-s3' }));
    expect(initOf(withDefault, 'job-pull').env?.find((e) => e.name === 'AWS_ACCESS_KEY_ID')?.valueFrom?.secretKeyRef?.name).toBe(
      'default-s3',
    );
    const without = buildTrainerJob(input());
    expect(initOf(without, 'job-pull').env?.map((e) => e.name)).not.toContain('AWS_ACCESS_KEY_ID');
  });

  it("passes the spec's trainer.env to the trainer container", () => {
    const env = trainerOf(buildTrainerJob(input({}, {}, { env: { OMP_NUM_THREADS: '4' } }))).env ?? [];
    expect(env.find((e) => e.name === 'OMP_NUM_THREADS')?.value).toBe('4');
    expect(env.find((e) => e.name === 'TRAINSET_JOB_DIR')?.value).toBe(POD_JOB_DIR);
  });

  it.each([
    ['AWS_SECRET_ACCESS_KEY', /credentials go in a Secret/],
    ['DATABASE_URL', /cannot be passed/],
  ])('refuses blob env %s', (name, message) => {
    expect(() => buildTrainerJob(input({}, { blobEnv: { S3_BUCKET: 'b', [name]: 'x' } }))).toThrow(message);
  });

  it('refuses a trainer without a kubernetes section and a negative GPU count', () => {
    const noK = { ...input(), trainer: TrainerSpecSchema.parse({ backend: 'builtin' }) };
    expect(() => buildTrainerJob(noK)).toThrow(/trainer\.kubernetes/);
    expect(() => buildTrainerJob(input({}, { gpus: -1 }))).toThrow(/non-negative/);
  });

  it('rejects a namespace that is not a DNS-1123 label in the spec', () => {
    const r = TrainerSpecSchema.safeParse({ backend: 'kubernetes', kubernetes: { image: 'x', namespace: 'ML_Team' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/DNS-1123/);
  });
});

describe('syncEnvForS3', () => {
  it.each([
    [
      'a bucket behind an endpoint with a prefix',
      { endpoint: 'http://s3:7070', bucket: 'b', region: 'r', prefix: 'p/', forcePathStyle: true },
      { S3_BUCKET: 'b', S3_REGION: 'r', S3_FORCE_PATH_STYLE: 'true', S3_ENDPOINT: 'http://s3:7070', S3_PREFIX: 'p/' },
    ],
    [
      'AWS S3 itself',
      { bucket: 'b', region: 'eu-west-1', forcePathStyle: false },
      { S3_BUCKET: 'b', S3_REGION: 'eu-west-1', S3_FORCE_PATH_STYLE: 'false' },
    ],
  ])('gives the sync containers %s, and buildTrainerJob accepts it', (_label, s3, env) => {
    expect(syncEnvForS3(s3)).toEqual(env);
    expect(() => buildTrainerJob(input({}, { blobEnv: syncEnvForS3(s3) }))).not.toThrow();
  });
});
