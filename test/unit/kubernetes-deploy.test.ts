/**
 * deploy/kubernetes/ against the code: the Deployments run the CLI's worker and serve commands, name only variables
 * the config reads and provide the ones production requires, the GPU worker requests nvidia.com/gpu, and the
 * RBAC Role grants exactly what the kubernetes trainer backend calls (recorded from the backend itself, run
 * against the scripted API, never a second hand-written list).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { TrainerSpecSchema } from '../../src/shared/trainer-spec';
import { createFsBlobStore } from '../../src/storage';
import { jobBlobPrefix, jobSyncKeys } from '../../src/training/job-sync';
import { createKubernetesBackend } from '../../src/training/kubernetes-backend';
import { buildTrainerJob, CREDENTIAL_KEYS } from '../../src/training/kubernetes-manifest';
import { CONFIG_ENV_VARS, REQUIRED_IN_PRODUCTION } from '../../src/workers/config';
import { FakeCluster, fakeClock, type Call } from '../helpers/fake-kubernetes';

interface Container {
  name: string;
  command?: string[];
  env?: Array<{ name: string; value?: string }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  ports?: Array<{ name?: string; containerPort: number }>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  subjects?: Array<{ kind: string; name: string }>;
  roleRef?: { kind: string; name: string };
  spec?: {
    selector?: Record<string, unknown> & { matchLabels?: Record<string, string> };
    ports?: Array<{ port: number; targetPort: string | number }>;
    template?: { metadata?: { labels?: Record<string, string> }; spec: { serviceAccountName?: string; containers: Container[] } };
  };
}

const dir = join(__dirname, '..', '..', 'deploy', 'kubernetes');
const load = (file: string): Manifest[] =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Manifest;
  });
const kustomization = load('kustomization.yaml')[0] as unknown as { resources: string[]; namespace: string };
const applied = kustomization.resources.flatMap(load);
const secrets = load('secret.example.yaml');

function find(kind: string, name: string, from: Manifest[] = applied): Manifest {
  const m = from.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`deploy/kubernetes has no ${kind} ${name}`);
  return m;
}
const container = (deployment: string): Container => {
  const c = find('Deployment', deployment).spec?.template?.spec.containers[0];
  if (!c) throw new Error(`${deployment} has no container`);
  return c;
};

const deployments = {
  'trainset-worker-cpu': ['npx', 'trainset', 'worker', 'cpu'],
  'trainset-worker-backfill': ['npx', 'trainset', 'worker', 'backfill'],
  'trainset-worker-gpu': ['npx', 'trainset', 'worker', 'gpu'],
  'trainset-gateway': ['npx', 'trainset', 'serve'],
} as const;

describe('deploy/kubernetes', () => {
  it('holds Deployments for the three workers and the gateway, each running the trainset CLI', () => {
    expect(
      applied
        .filter((m) => m.kind === 'Deployment')
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual(Object.keys(deployments).sort());
    for (const [name, command] of Object.entries(deployments)) expect(container(name).command, name).toEqual(command);
  });

  it('selects each Deployment by labels its pod template carries', () => {
    for (const name of Object.keys(deployments)) {
      const d = find('Deployment', name);
      expect(d.spec?.template?.metadata?.labels, name).toMatchObject(d.spec?.selector?.matchLabels ?? { missing: 'selector' });
    }
  });

  it('gives every process the config and secrets by reference, names only variables the config reads, and covers what production requires', () => {
    const known = new Set<string>(CONFIG_ENV_VARS);
    const config = find('ConfigMap', 'trainset-config');
    const secret = find('Secret', 'trainset-secrets', secrets);
    for (const key of [...Object.keys(config.data ?? {}), ...Object.keys(secret.stringData ?? {})]) {
      expect(known.has(key), `unknown variable ${key}`).toBe(true);
    }
    const provided = new Set([...Object.keys(config.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
    for (const required of REQUIRED_IN_PRODUCTION) expect(provided.has(required), required).toBe(true);
    expect(config.data?.TRAINSET_MODE).toBe('production');
    for (const name of Object.keys(deployments)) {
      const c = container(name);
      expect(c.envFrom, name).toEqual([{ configMapRef: { name: 'trainset-config' } }, { secretRef: { name: 'trainset-secrets' } }]);
      for (const e of c.env ?? []) expect(known.has(e.name), `${name}: unknown variable ${e.name}`).toBe(true);
    }
    expect(Object.keys(config.data ?? {})).not.toContain('AWS_SECRET_ACCESS_KEY'); // no secret in the ConfigMap
  });

  it('requests an NVIDIA GPU for the GPU worker only, and turns its kubernetes trainer on', () => {
    expect(Number(container('trainset-worker-gpu').resources?.limits?.['nvidia.com/gpu'])).toBeGreaterThanOrEqual(1);
    for (const name of Object.keys(deployments).filter((n) => n !== 'trainset-worker-gpu')) {
      expect(container(name).resources?.limits?.['nvidia.com/gpu'], name).toBeUndefined();
    }
    expect(container('trainset-worker-gpu').env).toContainEqual({ name: 'TRAINSET_KUBERNETES_TRAINER', value: 'true' });
  });

  it('serves the gateway on GATEWAY_PORT behind a Service that GATEWAY_URL names', () => {
    const config = find('ConfigMap', 'trainset-config').data ?? {};
    const port = Number(config.GATEWAY_PORT);
    expect(container('trainset-gateway').ports).toContainEqual({ name: 'http', containerPort: port });
    const service = find('Service', 'trainset-gateway');
    expect(service.spec?.selector).toEqual(find('Deployment', 'trainset-gateway').spec?.selector?.matchLabels);
    expect(service.spec?.ports).toContainEqual({ name: 'http', port, targetPort: 'http' });
    const url = new URL(config.GATEWAY_URL ?? '');
    expect(url.hostname).toBe(service.metadata.name);
    expect(Number(url.port)).toBe(port);
  });

  it('keeps the trainer Jobs credentials Secret apart, with the keys the Job manifest references', () => {
    const s3 = find('Secret', 'trainset-s3', secrets);
    expect(Object.keys(s3.stringData ?? {}).sort()).toEqual([...CREDENTIAL_KEYS].sort());
  });

  describe('RBAC of the GPU worker', () => {
    const root = mkdtempSync(join(tmpdir(), 'trainset-k8s-rbac-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    /** The API calls the backend makes in a run that replaces a failed Job and trains to the end. */
    async function backendCalls(): Promise<Call[]> {
      const jobDir = join(root, 'job');
      mkdirSync(jobDir, { recursive: true });
      writeFileSync(join(jobDir, 'job.json'), '{}');
      const blobs = createFsBlobStore(join(root, 'blobs'));
      const cluster = new FakeCluster();
      const jobKey = 'rbac-job';
      const trainer = TrainerSpecSchema.parse({ backend: 'kubernetes', kubernetes: { image: 'trainer@sha256:abc' } });
      const keys = jobSyncKeys(jobBlobPrefix(jobKey));
      cluster.addJob(buildTrainerJob({ jobKey, trainer, gpus: 0, blobPrefix: jobBlobPrefix(jobKey), blobEnv: {} }), {
        failed: 1,
        conditions: [{ type: 'Failed', status: 'True' }] as never,
      });
      cluster.onPoll = async (poll) => {
        if (poll === 1) {
          cluster.trainer({ running: {} });
          cluster.log({ type: 'progress', epoch: 1 });
        }
        if (poll === 2) {
          cluster.trainer({ terminated: { exitCode: 0 } }, 'Succeeded');
          await blobs.put(`${keys.outputs}out/model.onnx`, 'onnx');
          await blobs.put(keys.pushed, JSON.stringify({ files: ['out/model.onnx'], at: '' }));
        }
      };
      const backend = createKubernetesBackend({ batch: cluster.batch, core: cluster.core, blobs, blobEnv: {}, clock: fakeClock() });
      await backend.run({ jobDir, jobKey, trainer, devices: [], onMessage: () => undefined });
      return cluster.calls;
    }

    /** The RBAC rule a client-node method needs: `<verb>Namespaced<Kind>` on the API it went to. */
    function permissionOf(call: Call): string {
      const m = /^(create|read|delete|list)Namespaced(Job|Pod|PodLog)$/.exec(call.method);
      if (!m) throw new Error(`no RBAC mapping for ${call.method}: add it here and to deploy/kubernetes/rbac.yaml`);
      const verb = { create: 'create', read: 'get', delete: 'delete', list: 'list' }[m[1] as 'create' | 'read' | 'delete' | 'list'];
      const resource = { Job: 'jobs', Pod: 'pods', PodLog: 'pods/log' }[m[2] as 'Job' | 'Pod' | 'PodLog'];
      const group = call.api === 'batch' ? 'batch' : '';
      return `${group}/${resource}:${verb}`;
    }

    it('grants the ServiceAccount of the GPU worker exactly the verbs the backend uses, in its namespace', async () => {
      const needed = new Set((await backendCalls()).map(permissionOf));
      expect(needed).toEqual(new Set(['batch/jobs:create', 'batch/jobs:get', 'batch/jobs:delete', '/pods:list', '/pods/log:get']));
      const role = find('Role', 'trainset-trainer-jobs');
      const granted = new Set(
        (role.rules ?? []).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))),
      );
      expect(granted).toEqual(needed);
      const binding = find('RoleBinding', 'trainset-gpu-worker-trainer-jobs');
      expect(binding.roleRef).toMatchObject({ kind: 'Role', name: role.metadata.name });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'trainset-gpu-worker' }]);
      find('ServiceAccount', 'trainset-gpu-worker');
      expect(find('Deployment', 'trainset-worker-gpu').spec?.template?.spec.serviceAccountName).toBe('trainset-gpu-worker');
      expect(applied.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toBe(false);
    });
  });
});
