import * as path from 'node:path';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import { CodecKeyError, loadCodecKeyring, type CodecKeyring } from '../security/keys';
import { postgresTlsUrl, s3TlsCa, temporalTls } from '../security/tls';

/** Every environment variable the configuration reads (docker-compose and docs are checked against it). */
export const CONFIG_ENV_VARS = [
  'TRAINSET_MODE',
  'TRAINSET_HOME',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'DATABASE_URL',
  'BLOB_DIR',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
  'S3_PREFIX',
  'S3_FORCE_PATH_STYLE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'GATEWAY_URL',
  'GATEWAY_PORT',
  'SPECS_DIR',
  'LOG_LEVEL',
  'SHUTDOWN_GRACE_SECONDS',
  'GPU_SLOTS',
  'TRAINSET_GPUS',
  'TRAINSET_TRAINERS_DIR',
  'TRAINSET_KUBERNETES_TRAINER',
  'PII_TOKEN_KEY',
  'METRICS_PORT',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'PROMETHEUS_URL',
  'GATEWAY_HOST',
  'TRAINSET_GATEWAY_TOKENS_FILE',
  'TRAINSET_GATEWAY_TOKENS',
  'TRAINSET_GATEWAY_TOKEN',
  'GATEWAY_RATE_LIMIT',
  'GATEWAY_ADMIN_RATE_LIMIT',
  'GATEWAY_FEEDBACK_MAX_AGE_HOURS',
  'GATEWAY_FEEDBACK_CAPTURE',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CA',
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'TEMPORAL_TLS_SERVER_NAME',
  'TRAINSET_PG_TLS_CA',
  'PGSSLROOTCERT',
  'TRAINSET_S3_TLS_CA',
  'TRAINSET_CODEC_KEYS',
  'TRAINSET_CODEC_KEYS_FILE',
  'TRAINSET_CODEC_CURRENT_KEY',
  'TRAINSET_CODEC_SERVER_TOKEN',
] as const;

/** PII_TOKEN_KEY values published in this repository's examples: never accepted as a key. */
export const PLACEHOLDER_PII_TOKEN_KEYS: readonly string[] = ['change-me-to-a-random-secret-of-32-chars-or-more'];

/** Variables that must be set when TRAINSET_MODE=production. */
export const REQUIRED_IN_PRODUCTION = ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'S3_BUCKET', 'GATEWAY_URL'] as const;

/** Where the blob store lives. */
export type BlobConfig =
  | { kind: 'fs'; dir: string }
  | {
      kind: 's3';
      endpoint?: string;
      bucket: string;
      region: string;
      prefix?: string;
      forcePathStyle: boolean;
      accessKeyId?: string;
      secretAccessKey?: string;
      /** CA bundle (PEM) the S3 endpoint's certificate is checked against (TRAINSET_S3_TLS_CA). */
      tlsCa?: Buffer;
    };

/** Validated configuration of a trainset process. */
export interface Config {
  mode: 'embedded' | 'production';
  home: string;
  /** The Temporal frontend; tls (TEMPORAL_TLS_*) turns on TLS, with a client certificate for mTLS. */
  temporal: { address: string; namespace: string; tls?: TLSConfig };
  /** Keys of the AES-256-GCM payload codec (TRAINSET_CODEC_*); payloads stay unencrypted when undefined. */
  codecKeys?: CodecKeyring;
  /** Bearer token `trainset codec-server` requires (TRAINSET_CODEC_SERVER_TOKEN). */
  codecServerToken?: string;
  /** Postgres URL; undefined in embedded mode until the embedded server is started. */
  databaseUrl?: string;
  blob: BlobConfig;
  gateway: GatewayConfig;
  specsDir: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  shutdownGraceSeconds: number;
  gpuSlots: number;
  /** TRAINSET_GPUS as given (device ids, `none`); undefined: ask nvidia-smi. */
  gpus?: string;
  /** Where relative trainer commands and files resolve (TRAINSET_TRAINERS_DIR, default the working directory). */
  trainersDir: string;
  /** Whether the GPU worker runs `kubernetes` trainer jobs (TRAINSET_KUBERNETES_TRAINER=true; in-cluster or KUBECONFIG credentials). */
  kubernetesTrainer: boolean;
  /** Key of the PII tokenize action, if configured. */
  piiTokenKey?: Buffer;
  /** Prometheus HTTP API base URL (PROMETHEUS_URL), for canaries whose spec reads metrics from Prometheus. */
  prometheusUrl?: string;
  telemetry: TelemetryConfig;
}

/** The serving gateway: where clients reach it, where `serve` listens, and its security settings. */
export interface GatewayConfig {
  url: string;
  port: number;
  /** Listen address of `trainset serve` (GATEWAY_HOST, default 127.0.0.1: a non-loopback one needs tokens). */
  host: string;
  /** File of hashed tokens per role (TRAINSET_GATEWAY_TOKENS_FILE); neither it nor `tokens`: open mode, loopback only. */
  tokensFile?: string;
  /** The same content inline (TRAINSET_GATEWAY_TOKENS), for a container's environment. */
  tokens?: string;
  /** The token workers send to the gateway (TRAINSET_GATEWAY_TOKEN); name it `pipeline` in the tokens file. */
  token?: string;
  /** Requests per minute per token and route (GATEWAY_RATE_LIMIT) and on admin routes (GATEWAY_ADMIN_RATE_LIMIT). */
  rateLimitPerMinute?: number;
  adminRateLimitPerMinute?: number;
  /** Hours after a prediction its feedback is accepted (GATEWAY_FEEDBACK_MAX_AGE_HOURS, default 168). */
  feedbackMaxAgeHours?: number;
  /**
   * Write each served input, after the dataset's contract and PII policy, as raw events of the day's partition
   * (GATEWAY_FEEDBACK_CAPTURE, default true; docs/feedback-loop.md).
   */
  feedbackCapture: boolean;
}

/** Where a worker process sends its metrics and traces. */
export interface TelemetryConfig {
  /** Port of the worker's Prometheus endpoint, GET /metrics (METRICS_PORT, default 9464; 0 turns it off). */
  metricsPort: number;
  /** OTLP/HTTP collector for traces (OTEL_EXPORTER_OTLP_ENDPOINT); tracing is off when unset. */
  otlpEndpoint?: string;
  /** service.name of the spans (OTEL_SERVICE_NAME); each process defaults it to its role. */
  serviceName?: string;
}

/** Default METRICS_PORT (the port Prometheus exporters conventionally use). */
export const DEFAULT_METRICS_PORT = 9464;

/** Variables that point a process at production services (registry, blobs, Temporal, gateway). */
const PRODUCTION_SELECTORS = [
  'TRAINSET_MODE',
  'TEMPORAL_ADDRESS',
  'DATABASE_URL',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
  'S3_PREFIX',
  'S3_FORCE_PATH_STYLE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'GATEWAY_URL',
  'GATEWAY_PORT',
] as const;

/** A copy of env with every production setting removed and embedded mode forced (the demo, tests of `up`). */
export function embeddedEnv(env: NodeJS.ProcessEnv, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of PRODUCTION_SELECTORS) delete out[name];
  return { ...out, TRAINSET_MODE: 'embedded', ...overrides };
}

/** Thrown when configuration is invalid; the message lists one line per bad value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The URL's protocol, or undefined when it is not a URL. */
function protocolOf(s: string): string | undefined {
  try {
    return new URL(s).protocol;
  } catch {
    return undefined;
  }
}

const urlString = z.string().refine((s) => protocolOf(s) !== undefined, 'must be a URL');

/** Variables whose values are secrets or may hold one: never echoed in an error. */
const SECRET_VARS = new Set([
  'DATABASE_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'PII_TOKEN_KEY',
  'TRAINSET_GATEWAY_TOKEN',
  'TRAINSET_CODEC_KEYS',
  'TRAINSET_CODEC_SERVER_TOKEN',
]);

const EnvSchema = z.object({
  TRAINSET_MODE: z.enum(['embedded', 'production']).optional(),
  TRAINSET_HOME: z.string().min(1).optional(),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .refine((s) => /^postgres(ql)?:$/.test(protocolOf(s) ?? ''), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  BLOB_DIR: z.string().min(1).optional(),
  S3_ENDPOINT: urlString.optional(),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)')
    .optional(),
  S3_REGION: z.string().min(1).optional(),
  S3_PREFIX: z.string().optional(),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  GATEWAY_URL: urlString.optional(),
  PROMETHEUS_URL: urlString.optional(),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  GATEWAY_HOST: z.string().min(1).optional(),
  TRAINSET_GATEWAY_TOKENS_FILE: z.string().min(1).optional(),
  TRAINSET_GATEWAY_TOKENS: z.string().min(1).optional(),
  TRAINSET_GATEWAY_TOKEN: z.string().min(16, 'must be at least 16 characters (a random secret)').optional(),
  GATEWAY_RATE_LIMIT: z.coerce.number().int().min(1).optional(),
  GATEWAY_ADMIN_RATE_LIMIT: z.coerce.number().int().min(1).optional(),
  GATEWAY_FEEDBACK_MAX_AGE_HOURS: z.coerce.number().positive().optional(),
  GATEWAY_FEEDBACK_CAPTURE: z.enum(['true', 'false']).optional(),
  SPECS_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).optional(),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(3600).optional(),
  GPU_SLOTS: z.coerce.number().int().min(1).max(64).optional(),
  TRAINSET_GPUS: z.string().optional(),
  TRAINSET_TRAINERS_DIR: z.string().min(1).optional(),
  TRAINSET_KUBERNETES_TRAINER: z.enum(['true', 'false']).optional(),
  PII_TOKEN_KEY: z
    .string()
    .min(32, 'must be at least 32 characters (a random secret; tokens are HMACs under it)')
    .refine(
      (s) => !PLACEHOLDER_PII_TOKEN_KEYS.includes(s),
      'is the published example value; set your own random secret (openssl rand -base64 32)',
    )
    .optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TRAINSET_PG_TLS_CA: z.string().min(1).optional(),
  PGSSLROOTCERT: z.string().min(1).optional(),
  TRAINSET_S3_TLS_CA: z.string().min(1).optional(),
  TRAINSET_CODEC_KEYS: z.string().min(1).optional(),
  TRAINSET_CODEC_KEYS_FILE: z.string().min(1).optional(),
  TRAINSET_CODEC_CURRENT_KEY: z.string().min(1).optional(),
  TRAINSET_CODEC_SERVER_TOKEN: z.string().min(16, 'must be at least 16 characters (a random secret)').optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: urlString.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

/**
 * Load and validate configuration from environment variables.
 * Embedded mode (the default when DATABASE_URL and S3_BUCKET are unset) uses PGlite and a local folder.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Config {
  const picked: Record<string, string> = {};
  for (const name of CONFIG_ENV_VARS) {
    const v = env[name];
    if (v !== undefined && v !== '') picked[name] = v;
  }
  const r = EnvSchema.safeParse(picked);
  // Every problem in one error: bad values first, then missing or inconsistent ones.
  const problems: string[] = r.success
    ? []
    : r.error.issues.map((i) => {
        const name = String(i.path[0]);
        const shown = SECRET_VARS.has(name) ? '(value hidden)' : JSON.stringify(picked[name] ?? '');
        return `${name}=${shown}: ${i.message}`;
      });
  const bad = new Set(r.success ? [] : r.error.issues.map((i) => String(i.path[0])));
  const e = (r.success ? r.data : Object.fromEntries(Object.entries(picked).filter(([k]) => !bad.has(k)))) as z.infer<typeof EnvSchema>;
  const mode = e.TRAINSET_MODE ?? (picked.DATABASE_URL || picked.S3_BUCKET ? 'production' : 'embedded');
  if (mode === 'production') {
    for (const name of REQUIRED_IN_PRODUCTION) {
      if (!picked[name]) problems.push(`${name}: required when TRAINSET_MODE=production`);
    }
  }
  if ((picked.AWS_ACCESS_KEY_ID === undefined) !== (picked.AWS_SECRET_ACCESS_KEY === undefined)) {
    problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither');
  }
  const temporalTlsConfig = temporalTls(
    {
      enabled: e.TEMPORAL_TLS === 'true',
      ca: e.TEMPORAL_TLS_CA,
      cert: e.TEMPORAL_TLS_CERT,
      key: e.TEMPORAL_TLS_KEY,
      serverName: e.TEMPORAL_TLS_SERVER_NAME,
    },
    problems,
  );
  const databaseUrl = e.DATABASE_URL && postgresTlsUrl(e.DATABASE_URL, e.TRAINSET_PG_TLS_CA ?? e.PGSSLROOTCERT, problems);
  const s3Ca = s3TlsCa(e.TRAINSET_S3_TLS_CA, e.S3_ENDPOINT, problems);
  let codecKeys: CodecKeyring | undefined;
  try {
    codecKeys = loadCodecKeyring({
      keysFile: e.TRAINSET_CODEC_KEYS_FILE,
      keys: e.TRAINSET_CODEC_KEYS,
      currentKeyId: e.TRAINSET_CODEC_CURRENT_KEY,
    });
  } catch (err) {
    if (!(err instanceof CodecKeyError)) throw err;
    problems.push(err.message);
  }
  if (picked.TRAINSET_GATEWAY_TOKENS_FILE !== undefined && picked.TRAINSET_GATEWAY_TOKENS !== undefined) {
    problems.push('TRAINSET_GATEWAY_TOKENS_FILE and TRAINSET_GATEWAY_TOKENS: set one or the other');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const home = path.resolve(cwd, e.TRAINSET_HOME ?? '.trainset');
  const gatewayPort = e.GATEWAY_PORT ?? 8088;
  const blob: BlobConfig = e.S3_BUCKET
    ? {
        kind: 's3',
        endpoint: e.S3_ENDPOINT,
        bucket: e.S3_BUCKET,
        region: e.S3_REGION ?? 'us-east-1',
        prefix: e.S3_PREFIX,
        forcePathStyle: (e.S3_FORCE_PATH_STYLE ?? (e.S3_ENDPOINT ? 'true' : 'false')) === 'true',
        accessKeyId: e.AWS_ACCESS_KEY_ID,
        secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
        ...(s3Ca ? { tlsCa: s3Ca } : {}),
      }
    : { kind: 'fs', dir: path.resolve(cwd, e.BLOB_DIR ?? path.join(home, 'blobs')) };
  return {
    mode,
    home,
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? 'localhost:7233',
      namespace: e.TEMPORAL_NAMESPACE ?? 'default',
      ...(temporalTlsConfig ? { tls: temporalTlsConfig } : {}),
    },
    codecKeys,
    codecServerToken: e.TRAINSET_CODEC_SERVER_TOKEN,
    databaseUrl,
    blob,
    gateway: {
      url: e.GATEWAY_URL ?? `http://127.0.0.1:${gatewayPort}`,
      port: gatewayPort,
      host: e.GATEWAY_HOST ?? '127.0.0.1',
      tokensFile: e.TRAINSET_GATEWAY_TOKENS_FILE === undefined ? undefined : path.resolve(cwd, e.TRAINSET_GATEWAY_TOKENS_FILE),
      tokens: e.TRAINSET_GATEWAY_TOKENS,
      token: e.TRAINSET_GATEWAY_TOKEN,
      rateLimitPerMinute: e.GATEWAY_RATE_LIMIT,
      adminRateLimitPerMinute: e.GATEWAY_ADMIN_RATE_LIMIT,
      feedbackMaxAgeHours: e.GATEWAY_FEEDBACK_MAX_AGE_HOURS,
      feedbackCapture: e.GATEWAY_FEEDBACK_CAPTURE !== 'false',
    },
    specsDir: path.resolve(cwd, e.SPECS_DIR ?? 'specs'),
    logLevel: e.LOG_LEVEL ?? 'info',
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS ?? 30,
    gpuSlots: e.GPU_SLOTS ?? 1,
    gpus: e.TRAINSET_GPUS,
    trainersDir: path.resolve(cwd, e.TRAINSET_TRAINERS_DIR ?? '.'),
    kubernetesTrainer: e.TRAINSET_KUBERNETES_TRAINER === 'true',
    piiTokenKey: e.PII_TOKEN_KEY ? Buffer.from(e.PII_TOKEN_KEY, 'utf8') : undefined,
    prometheusUrl: e.PROMETHEUS_URL,
    telemetry: {
      metricsPort: e.METRICS_PORT ?? DEFAULT_METRICS_PORT,
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: e.OTEL_SERVICE_NAME,
    },
  };
}
