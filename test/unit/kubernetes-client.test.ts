/**
 * The real @kubernetes/client-node 1.4.0 clients that createKubernetesApis builds, against a scripted HTTP server
 * (not a cluster): the requests the backend's calls turn into, and that the backend reads their errors' HTTP
 * status (404 absent, 409 exists) the way the client reports it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiStatus, createKubernetesApis } from '../../src/training/kubernetes-backend';

interface Seen {
  method: string;
  url: string;
  body: string;
}

const seen: Seen[] = [];
let server: Server;
let kubeconfig: string;
const root = mkdtempSync(join(tmpdir(), 'trainset-k8s-client-'));

const readBody = async (req: IncomingMessage): Promise<string> => {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
};

beforeAll(async () => {
  server = createServer((req, res) => {
    void readBody(req).then((body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      const url = new URL(req.url ?? '/', 'http://x');
      const status = (code: number, reason: string): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code }));
      };
      if (url.pathname.endsWith('/jobs/absent')) return status(404, 'NotFound');
      if (req.method === 'POST' && url.pathname.endsWith('/jobs')) return status(409, 'AlreadyExists');
      if (url.pathname.endsWith('/log')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('2026-01-01T00:00:01.5Z {"type":"done"}\n');
      }
      if (url.pathname.endsWith('/pods')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Success' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kubeconfig = join(root, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'test-token' } }],
      contexts: [{ name: 'c', context: { cluster: 'fake', user: 'u' } }],
      'current-context': 'c',
    }),
  );
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(root, { recursive: true, force: true });
});

describe('createKubernetesApis (real client, scripted HTTP server)', () => {
  it('reports an absent Job as 404 and an existing one on create as 409, as apiStatus reads them', async () => {
    const { batch } = await createKubernetesApis({ kubeconfigPath: kubeconfig });
    const absent = await batch.readNamespacedJob({ name: 'absent', namespace: 'ml' }).catch((e: unknown) => e);
    expect(apiStatus(absent)).toBe(404);
    const exists = await batch
      .createNamespacedJob({ namespace: 'ml', body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' } } })
      .catch((e: unknown) => e);
    expect(apiStatus(exists)).toBe(409);
    expect(seen.find((s) => s.method === 'POST')?.url).toBe('/apis/batch/v1/namespaces/ml/jobs');
  });

  it('sends the delete propagation policy, the pod label selector and the log options the backend asks for', async () => {
    const { batch, core } = await createKubernetesApis({ kubeconfigPath: kubeconfig });
    seen.length = 0;
    await batch.deleteNamespacedJob({ name: 'j', namespace: 'ml', propagationPolicy: 'Foreground' });
    await core.listNamespacedPod({ namespace: 'ml', labelSelector: 'batch.kubernetes.io/controller-uid=u1' });
    const log = await core.readNamespacedPodLog({ name: 'p', namespace: 'ml', container: 'trainer', timestamps: true });
    expect(log).toBe('2026-01-01T00:00:01.5Z {"type":"done"}\n');
    const [del, list, logReq] = seen;
    expect(del?.method).toBe('DELETE');
    expect(del?.url.startsWith('/apis/batch/v1/namespaces/ml/jobs/j')).toBe(true);
    expect(`${del?.url} ${del?.body}`).toContain('Foreground');
    const listUrl = new URL(list?.url ?? '', 'http://x');
    expect(listUrl.pathname).toBe('/api/v1/namespaces/ml/pods');
    expect(listUrl.searchParams.get('labelSelector')).toBe('batch.kubernetes.io/controller-uid=u1');
    const logUrl = new URL(logReq?.url ?? '', 'http://x');
    expect(logUrl.pathname).toBe('/api/v1/namespaces/ml/pods/p/log');
    expect(logUrl.searchParams.get('container')).toBe('trainer');
    expect(logUrl.searchParams.get('timestamps')).toBe('true');
  });
});
