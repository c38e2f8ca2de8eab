/**
 * A worker's Prometheus endpoint: GET /metrics serves the pipeline's registry followed by the Temporal SDK's
 * own metrics, which the SDK core exports on a loopback port of its own and this server re-serves, so each
 * worker process is one scrape target.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options of startMetricsServer. */
export interface MetricsServerOptions {
  registry: Registry;
  /** Listen port (0: any free port). */
  port: number;
  host: string;
  /** The SDK core's Prometheus endpoint (http://127.0.0.1:<port>/metrics), appended to every scrape. */
  sdkMetricsUrl?: string;
  /** How long a scrape waits for the SDK's endpoint. */
  sdkTimeoutMs?: number;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/** Start serving /metrics; resolves once listening. */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    scrape(o).then(
      (body) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  return {
    url: `http://${shownHost}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The pipeline's metrics, then the SDK's (or a comment saying why they are missing: the scrape still succeeds). */
async function scrape(o: MetricsServerOptions): Promise<string> {
  const own = await o.registry.metrics();
  if (!o.sdkMetricsUrl) return own;
  try {
    const res = await fetch(o.sdkMetricsUrl, { signal: AbortSignal.timeout(o.sdkTimeoutMs ?? 2000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return `${own}\n${await res.text()}`;
  } catch (err) {
    return `${own}\n# Temporal SDK metrics unavailable: ${String(err).replace(/\n/g, ' ')}\n`;
  }
}
