import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TRAINSET_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { CONFIG_ENV_VARS, PLACEHOLDER_PII_TOKEN_KEYS, REQUIRED_IN_PRODUCTION } from '../../src/workers/config';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/workers/temporal-binary';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  configs?: Array<{ source: string; target: string }>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; count?: number | 'all'; capabilities?: string[] }> } } };
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  configs?: Record<string, { content?: string }>;
}

const repoRoot = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

function env(name: string): Record<string, string> {
  return service(name).environment ?? {};
}

function publishedPorts(name: string): Array<{ host: number; container: number }> {
  return (service(name).ports ?? []).map((p) => {
    const [host, container] = p.split(':').map(Number);
    return { host: host ?? NaN, container: container ?? NaN };
  });
}

const appServices = ['worker-cpu', 'worker-gpu', 'worker-backfill', 'gateway'] as const;
const wiredByCompose = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'DATABASE_URL',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'S3_FORCE_PATH_STYLE',
  'GATEWAY_URL',
  'GATEWAY_PORT',
  'SPECS_DIR',
] as const;

describe('docker-compose.yml', () => {
  it("gives the Temporal server the dev servers' dynamic config, at the path it is told to read", () => {
    const temporal = service('temporal');
    const mount = temporal.configs?.find((c) => c.source === 'temporal-dynamic-config');
    expect(mount?.target).toBe(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH);
    const content = compose.configs?.['temporal-dynamic-config']?.content;
    expect(content).toBeDefined();
    const parsed = parse(content ?? '') as Record<string, Array<{ value: unknown; constraints?: unknown }>>;
    const values = Object.fromEntries(
      Object.entries(parsed).map(([key, entries]) => {
        expect(entries).toHaveLength(1); // one value, no constraints: it applies to every namespace and queue
        return [key, entries[0]?.value];
      }),
    );
    expect(values).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
  });

  it('defines Temporal on PostgreSQL, its UI, the S3 store, both workers and the gateway', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 's3', ...appServices]) {
      expect(Object.keys(services)).toContain(name);
    }
    expect(env('temporal').DB).toBe('postgres12');
    expect(env('temporal').POSTGRES_SEEDS).toBe('postgresql');
  });

  it('pins every third-party image to a version tag', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)?$/);
    }
    expect(service('temporal').image).toMatch(/^temporalio\/server:1\./);
  });

  it('runs the workers and the gateway from the repo image with the compiled trainset CLI', () => {
    // Where `npm run build` puts src/cli/main.ts: tsconfig.build.json's outDir, under its rootDir's layout.
    const build = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    const main = join(build.compilerOptions.outDir, relative(build.compilerOptions.rootDir, 'src/cli/main.js'));
    expect(service('worker-cpu').command).toEqual(['node', main, 'worker', 'cpu']);
    expect(service('worker-backfill').command).toEqual(['node', main, 'worker', 'backfill']);
    expect(service('worker-gpu').command).toEqual(['node', main, 'worker', 'gpu']);
    expect(service('gateway').command).toEqual(['node', main, 'serve']);
    for (const name of appServices) expect(service(name).build, name).toBe('.');
    // The image's run stage holds the build stage's dist/ on production dependencies only.
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const runStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runStage).toContain('npm ci --omit=dev');
    expect(runStage).toContain(`COPY --from=build /app/${build.compilerOptions.outDir} ${build.compilerOptions.outDir}`);
  });

  it('reserves NVIDIA GPUs (with nvidia-smi) for the GPU worker only', () => {
    const devices = service('worker-gpu').deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toHaveLength(1);
    const [gpu] = devices;
    expect(gpu?.driver).toBe('nvidia');
    expect(gpu?.count === 'all' || (typeof gpu?.count === 'number' && gpu.count >= 1)).toBe(true);
    expect(gpu?.capabilities).toEqual(expect.arrayContaining(['gpu', 'utility']));
    for (const name of appServices.filter((s) => s !== 'worker-gpu')) expect(service(name).deploy, name).toBeUndefined();
  });

  it('wires every variable the workers need, and only names the config reads', () => {
    const known = new Set<string>(CONFIG_ENV_VARS);
    for (const name of appServices) {
      const vars = env(name);
      for (const required of [...wiredByCompose, ...REQUIRED_IN_PRODUCTION]) {
        expect(vars[required], `${name}.${required}`).toBeTruthy();
      }
      for (const key of Object.keys(vars)) expect(known.has(key), `${name}: unknown variable ${key}`).toBe(true);
      expect(vars.TRAINSET_MODE).toBe('production');
    }
  });

  it('ships no PII_TOKEN_KEY: compose refuses to start until the operator sets one', () => {
    const raw = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    for (const placeholder of PLACEHOLDER_PII_TOKEN_KEYS) expect(raw).not.toContain(placeholder);
    for (const name of appServices) {
      // `${VAR:?message}`: docker compose stops with the message when VAR is unset or empty.
      expect(env(name).PII_TOKEN_KEY, name).toMatch(/^\$\{PII_TOKEN_KEY:\?[^}]+\}$/);
    }
  });

  it('passes payload codec keys through from the environment, off when unset', () => {
    for (const name of appServices) {
      expect(env(name).TRAINSET_CODEC_KEYS, name).toBe('${TRAINSET_CODEC_KEYS:-}');
      expect(env(name).TRAINSET_CODEC_CURRENT_KEY, name).toBe('${TRAINSET_CODEC_CURRENT_KEY:-}');
    }
  });

  it('points TEMPORAL_ADDRESS at the temporal service and the UI at the same frontend', () => {
    const [host, port] = (env('gateway').TEMPORAL_ADDRESS ?? '').split(':');
    expect(services[host ?? '']).toBeDefined();
    expect(publishedPorts('temporal')).toContainEqual({
      host: 7233,
      container: Number(port),
    });
    expect(env('temporal-ui').TEMPORAL_ADDRESS).toBe(env('gateway').TEMPORAL_ADDRESS);
    expect(publishedPorts('temporal-ui')).toContainEqual({
      host: 8080,
      container: 8080,
    });
  });

  it('keeps the gateway port, GATEWAY_URL and the published port consistent', () => {
    const vars = env('worker-cpu');
    const url = new URL(vars.GATEWAY_URL ?? '');
    expect(url.hostname).toBe('gateway');
    expect(url.port).toBe(vars.GATEWAY_PORT);
    expect(publishedPorts('gateway')).toContainEqual({
      host: 8088,
      container: Number(vars.GATEWAY_PORT),
    });
  });

  it('points DATABASE_URL at the postgresql service and a role and database that its init script creates', () => {
    const url = new URL(env('gateway').DATABASE_URL ?? '');
    expect(url.hostname).toBe('postgresql');
    expect(url.port).toBe('5432');
    const init = compose.configs?.['init-trainset-db']?.content ?? '';
    expect(init).toContain(`CREATE ROLE ${url.username} LOGIN PASSWORD '${url.password}'`);
    expect(init).toContain(`CREATE DATABASE ${url.pathname.slice(1)} OWNER ${url.username}`);
  });

  it('points S3 at the s3 service with its root credentials and creates the bucket before the apps start', () => {
    const vars = env('gateway');
    const endpoint = new URL(vars.S3_ENDPOINT ?? '');
    expect(endpoint.hostname).toBe('s3');
    const s3Command = service('s3').command as string[];
    expect(s3Command[s3Command.indexOf('--port') + 1]).toBe(`:${endpoint.port}`);
    expect(env('s3').ROOT_ACCESS_KEY).toBe(vars.AWS_ACCESS_KEY_ID);
    expect(env('s3').ROOT_SECRET_KEY).toBe(vars.AWS_SECRET_ACCESS_KEY);
    expect(vars.S3_FORCE_PATH_STYLE).toBe('true');
    expect(JSON.stringify(service('s3-create-bucket').command)).toContain(`--bucket ${vars.S3_BUCKET}`);
    for (const name of appServices) {
      expect(service(name).depends_on?.['s3-create-bucket']?.condition).toBe('service_completed_successfully');
      expect(service(name).depends_on?.['temporal-create-namespace']?.condition).toBe('service_completed_successfully');
    }
  });

  it('registers every custom search attribute the workflows set', () => {
    const script = [service('temporal-create-namespace').command ?? ''].flat().join('\n');
    const listed = /for a in ([A-Za-z ]+); do/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
    expect(listed.sort()).toEqual(TRAINSET_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
    expect(script).toContain('--type Keyword');
  });
});
