/** loadConfig: embedded defaults, production requirements, and one problem line per bad value. */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, REQUIRED_IN_PRODUCTION, embeddedEnv, loadConfig } from '../../src/workers/config';

const cwd = path.resolve('/srv/trainset');

/** The ConfigError loadConfig throws for env (fails the test when it does not throw one). */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

const production = {
  TRAINSET_MODE: 'production',
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  DATABASE_URL: 'postgres://trainset@db.internal:5432/trainset',
  S3_BUCKET: 'trainset-data',
  GATEWAY_URL: 'http://gateway.internal:8088',
};

describe('loadConfig', () => {
  it('defaults to embedded mode with everything under .trainset when nothing is set', () => {
    expect(loadConfig({}, cwd)).toEqual({
      mode: 'embedded',
      home: path.join(cwd, '.trainset'),
      temporal: { address: 'localhost:7233', namespace: 'default' },
      databaseUrl: undefined,
      blob: { kind: 'fs', dir: path.join(cwd, '.trainset', 'blobs') },
      gateway: { url: 'http://127.0.0.1:8088', port: 8088, host: '127.0.0.1', feedbackCapture: true },
      specsDir: path.join(cwd, 'specs'),
      logLevel: 'info',
      shutdownGraceSeconds: 30,
      gpuSlots: 1,
      trainersDir: cwd,
      kubernetesTrainer: false,
      telemetry: { metricsPort: 9464 },
    });
  });

  it('reads the GPU worker settings: declared GPUs, the trainers root, the kubernetes trainer switch', () => {
    const c = loadConfig({ TRAINSET_GPUS: '0,1', TRAINSET_TRAINERS_DIR: 'trainers', TRAINSET_KUBERNETES_TRAINER: 'true' }, cwd);
    expect(c.gpus).toBe('0,1');
    expect(c.trainersDir).toBe(path.join(cwd, 'trainers'));
    expect(c.kubernetesTrainer).toBe(true);
    expect(() => loadConfig({ TRAINSET_KUBERNETES_TRAINER: 'yes' }, cwd)).toThrow('TRAINSET_KUBERNETES_TRAINER');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', S3_BUCKET: '', GATEWAY_PORT: '' }, cwd).mode).toBe('embedded');
  });

  it('takes the embedded overrides it is given', () => {
    const c = loadConfig(
      { TRAINSET_HOME: 'state', BLOB_DIR: '/data/blobs', GATEWAY_PORT: '9000', LOG_LEVEL: 'debug', GPU_SLOTS: '2' },
      cwd,
    );
    expect(c.home).toBe(path.join(cwd, 'state'));
    expect(c.blob).toEqual({ kind: 'fs', dir: '/data/blobs' });
    expect(c.gateway).toEqual({ url: 'http://127.0.0.1:9000', port: 9000, host: '127.0.0.1', feedbackCapture: true });
    expect(c.logLevel).toBe('debug');
    expect(c.gpuSlots).toBe(2);
  });

  it('reads the gateway security settings, and refuses tokens from both a file and the environment', () => {
    const c = loadConfig(
      {
        GATEWAY_HOST: '0.0.0.0',
        TRAINSET_GATEWAY_TOKENS_FILE: 'tokens.txt',
        TRAINSET_GATEWAY_TOKEN: 'a-worker-token-of-16-chars',
        GATEWAY_RATE_LIMIT: '100',
        GATEWAY_ADMIN_RATE_LIMIT: '5',
        GATEWAY_FEEDBACK_MAX_AGE_HOURS: '24',
        GATEWAY_FEEDBACK_CAPTURE: 'false',
      },
      cwd,
    );
    expect(c.gateway).toMatchObject({
      feedbackCapture: false,
      host: '0.0.0.0',
      tokensFile: path.join(cwd, 'tokens.txt'),
      token: 'a-worker-token-of-16-chars',
      rateLimitPerMinute: 100,
      adminRateLimitPerMinute: 5,
      feedbackMaxAgeHours: 24,
    });
    expect(() => loadConfig({ TRAINSET_GATEWAY_TOKENS_FILE: 'a', TRAINSET_GATEWAY_TOKENS: 'b' }, cwd)).toThrow(/set one or the other/);
    expect(() => loadConfig({ TRAINSET_GATEWAY_TOKEN: 'short' }, cwd)).toThrow(/TRAINSET_GATEWAY_TOKEN=\(value hidden\)/);
    expect(() => loadConfig({ GATEWAY_FEEDBACK_CAPTURE: 'no' }, cwd)).toThrow(/GATEWAY_FEEDBACK_CAPTURE/);
  });

  it('builds the production config from the required variables, S3 path-style with an endpoint', () => {
    const c = loadConfig(
      { ...production, S3_ENDPOINT: 'http://s3.internal:7070', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' },
      cwd,
    );
    expect(c.mode).toBe('production');
    expect(c.temporal.address).toBe('temporal.internal:7233');
    expect(c.databaseUrl).toBe(production.DATABASE_URL);
    expect(c.blob).toEqual({
      kind: 's3',
      endpoint: 'http://s3.internal:7070',
      bucket: 'trainset-data',
      region: 'us-east-1',
      prefix: undefined,
      forcePathStyle: true,
      accessKeyId: 'id',
      secretAccessKey: 'secret',
    });
    expect(c.gateway.url).toBe('http://gateway.internal:8088');
  });

  it('requires every listed variable in production mode, one line per missing variable', () => {
    const err = configError({ TRAINSET_MODE: 'production' });
    expect(err.problems).toEqual(REQUIRED_IN_PRODUCTION.map((name) => `${name}: required when TRAINSET_MODE=production`));
    expect(err.message.split('\n')).toEqual([
      'Invalid configuration:',
      ...REQUIRED_IN_PRODUCTION.map((n) => `  - ${n}: required when TRAINSET_MODE=production`),
    ]);
  });

  it('infers production mode from DATABASE_URL and then asks for the rest', () => {
    const err = configError({ DATABASE_URL: production.DATABASE_URL });
    expect(err.problems).toEqual(
      ['TEMPORAL_ADDRESS', 'S3_BUCKET', 'GATEWAY_URL'].map((n) => `${n}: required when TRAINSET_MODE=production`),
    );
  });

  it('lists each bad value on its own line', () => {
    const err = configError({
      ...production,
      DATABASE_URL: 'mysql://db.internal/trainset',
      S3_BUCKET: 'Bad_Bucket',
      TEMPORAL_ADDRESS: 'http://temporal:7233',
      GATEWAY_PORT: '70000',
    });
    expect(err.problems).toHaveLength(4);
    const byVar = (name: string) => err.problems.find((p) => p.startsWith(`${name}=`));
    expect(byVar('DATABASE_URL')).toMatch(/must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(byVar('S3_BUCKET')).toMatch(/valid S3 bucket name/);
    expect(byVar('TEMPORAL_ADDRESS')).toMatch(/must be host:port/);
    expect(byVar('GATEWAY_PORT')).toMatch(/^GATEWAY_PORT="70000": /);
    expect(err.message.split('\n')).toHaveLength(5);
  });

  it.each([
    ['a negative GATEWAY_PORT', { GATEWAY_PORT: '-1' }, 'GATEWAY_PORT'],
    ['a non-numeric GATEWAY_PORT', { GATEWAY_PORT: 'http' }, 'GATEWAY_PORT'],
    ['an unknown TRAINSET_MODE', { TRAINSET_MODE: 'staging' }, 'TRAINSET_MODE'],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    ['zero GPU_SLOTS', { GPU_SLOTS: '0' }, 'GPU_SLOTS'],
  ])('rejects %s', (_name, env, variable) => {
    const err = configError(env);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(new RegExp(`^${variable}=`));
  });

  it('rejects only one of the AWS keys', () => {
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      const err = configError({ ...production, [key]: 'value' });
      expect(err.problems).toEqual(['AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither']);
    }
  });

  it('never echoes a secret key value in its problems', () => {
    const err = configError({ TRAINSET_MODE: 'production', AWS_SECRET_ACCESS_KEY: 'very-secret-value' });
    expect(err.message).not.toContain('very-secret-value');
  });

  it('reports bad values and missing variables together, in one error', () => {
    const err = configError({ DATABASE_URL: 'not a url', S3_BUCKET: 'BAD_bucket', AWS_ACCESS_KEY_ID: 'x' });
    expect(err.problems).toEqual([
      'DATABASE_URL=(value hidden): must be a postgres:// or postgresql:// URL',
      expect.stringMatching(/^S3_BUCKET="BAD_bucket": must be a valid S3 bucket name/),
      'TEMPORAL_ADDRESS: required when TRAINSET_MODE=production',
      'GATEWAY_URL: required when TRAINSET_MODE=production',
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither',
    ]);
  });

  it('never echoes a database URL, which may carry a password', () => {
    const err = configError({ DATABASE_URL: 'mysql://user:hunter2@db/x', TRAINSET_MODE: 'production' });
    expect(err.message).not.toContain('hunter2');
    expect(err.problems[0]).toBe('DATABASE_URL=(value hidden): must be a postgres:// or postgresql:// URL');
  });

  it('embeddedEnv strips every production setting, so the embedded default is what loads', () => {
    const env = embeddedEnv({ ...production, PATH: '/bin' }, { TRAINSET_HOME: '/tmp/x' });
    expect(env.PATH).toBe('/bin');
    expect(env.DATABASE_URL).toBeUndefined();
    const config = loadConfig(env, '/repo');
    expect(config.mode).toBe('embedded');
    expect(config.blob.kind).toBe('fs');
    expect(config.home).toBe('/tmp/x');
  });
});
