/** TLS / mTLS and codec settings, validated at start by loadConfig: files exist and parse as PEM, pairs are complete. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  assertProductionSecrets,
  MissingSecretError,
  temporalConnectionOptions,
  trainsetDataConverter,
} from '../../src/security/temporal-options';
import { ConfigError, PLACEHOLDER_PII_TOKEN_KEYS, loadConfig } from '../../src/workers/config';

const cwd = path.resolve('/srv/trainset');
let dir: string;
const file = (name: string): string => path.join(dir, name);

/** A self-signed certificate and its key, made with openssl (nothing secret is committed). */
function makeCert(name: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.pem`),
    ],
    { stdio: 'ignore' },
  );
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trainset-tls-'));
  makeCert('ca');
  makeCert('client');
  writeFileSync(file('not-pem.pem'), 'hello\n');
  writeFileSync(file('broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
});

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

describe('Temporal TLS', () => {
  it('is off by default and on with TEMPORAL_TLS=true (system roots)', () => {
    expect(loadConfig({}, cwd).temporal.tls).toBeUndefined();
    expect(loadConfig({ TEMPORAL_TLS: 'true' }, cwd).temporal.tls).toEqual({});
  });

  it('reads the CA, the client pair (mTLS) and the server name into the connection options', () => {
    const c = loadConfig(
      {
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_TLS_CA: file('ca.pem'),
        TEMPORAL_TLS_CERT: file('client.pem'),
        TEMPORAL_TLS_KEY: file('client.key'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
      },
      cwd,
    );
    const opts = temporalConnectionOptions(c.temporal);
    expect(opts.address).toBe('temporal.internal:7233');
    expect(opts.tls?.serverNameOverride).toBe('temporal.example');
    expect(Buffer.from(opts.tls?.serverRootCACertificate ?? []).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(opts.tls?.clientCertPair?.key ?? []).toString()).toContain('PRIVATE KEY');
  });

  it('refuses a certificate without its key, and a key without its certificate', () => {
    expect(problems({ TEMPORAL_TLS_CERT: file('client.pem') })).toEqual([
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: mTLS needs both the client certificate and its key',
    ]);
    expect(problems({ TEMPORAL_TLS_KEY: file('client.key') })).toHaveLength(1);
  });

  it('refuses a key that does not belong to the certificate', () => {
    expect(problems({ TEMPORAL_TLS_CERT: file('client.pem'), TEMPORAL_TLS_KEY: file('ca.key') })).toEqual([
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: the key does not belong to the certificate',
    ]);
  });

  it('names the variable and the file when a file is missing or not PEM, without quoting its content', () => {
    const p = problems({
      TEMPORAL_TLS_CA: file('missing.pem'),
      TEMPORAL_TLS_CERT: file('not-pem.pem'),
      TEMPORAL_TLS_KEY: file('client.pem'),
    });
    expect(p).toEqual([
      `TEMPORAL_TLS_CA=${file('missing.pem')}: cannot read (ENOENT)`,
      `TEMPORAL_TLS_CERT=${file('not-pem.pem')}: not a PEM certificate (no BEGIN CERTIFICATE block)`,
      `TEMPORAL_TLS_KEY=${file('client.pem')}: not a PEM private key (no BEGIN … PRIVATE KEY block)`,
    ]);
    expect(problems({ TEMPORAL_TLS_CA: file('broken.pem') })).toEqual([
      `TEMPORAL_TLS_CA=${file('broken.pem')}: certificate 1 does not parse`,
    ]);
  });
});

describe('PostgreSQL TLS', () => {
  const base = { TRAINSET_MODE: 'production', TEMPORAL_ADDRESS: 't:7233', S3_BUCKET: 'trainset', GATEWAY_URL: 'http://g:8088' };
  const url = 'postgres://trainset:hunter2@db.internal:5432/trainset';

  it('adds TRAINSET_PG_TLS_CA (or PGSSLROOTCERT) to the URL as sslrootcert with sslmode=verify-full', () => {
    for (const name of ['TRAINSET_PG_TLS_CA', 'PGSSLROOTCERT']) {
      const u = new URL(loadConfig({ ...base, DATABASE_URL: url, [name]: file('ca.pem') }, cwd).databaseUrl ?? '');
      expect(u.searchParams.get('sslrootcert')).toBe(file('ca.pem'));
      expect(u.searchParams.get('sslmode')).toBe('verify-full');
      expect(u.password).toBe('hunter2');
    }
  });

  it('keeps an explicit sslmode and leaves a URL without TLS settings untouched', () => {
    const u = new URL(
      loadConfig({ ...base, DATABASE_URL: `${url}?sslmode=verify-ca`, TRAINSET_PG_TLS_CA: file('ca.pem') }, cwd).databaseUrl ?? '',
    );
    expect(u.searchParams.get('sslmode')).toBe('verify-ca');
    expect(loadConfig({ ...base, DATABASE_URL: url }, cwd).databaseUrl).toBe(url);
  });

  it('checks the URL TLS parameters and never quotes the URL (it holds the password)', () => {
    const p = problems({
      ...base,
      DATABASE_URL: `${url}?sslmode=sometimes&sslrootcert=${file('not-pem.pem')}&sslcert=${file('client.pem')}`,
    });
    expect(p).toEqual([
      'DATABASE_URL sslmode=sometimes: must be one of disable, prefer, require, verify-ca, verify-full, no-verify',
      `DATABASE_URL sslrootcert=${file('not-pem.pem')}: not a PEM certificate (no BEGIN CERTIFICATE block)`,
      'DATABASE_URL sslcert and sslkey: a client certificate needs its key (give both)',
    ]);
    expect(p.join('\n')).not.toContain('hunter2');
    expect(problems({ ...base, DATABASE_URL: `${url}?sslmode=disable`, TRAINSET_PG_TLS_CA: file('ca.pem') })).toEqual([
      'TRAINSET_PG_TLS_CA is set but DATABASE_URL says sslmode=disable',
    ]);
  });
});

describe('S3 TLS', () => {
  const base = {
    TRAINSET_MODE: 'production',
    TEMPORAL_ADDRESS: 't:7233',
    DATABASE_URL: 'postgres://d/x',
    GATEWAY_URL: 'http://g:8088',
    S3_BUCKET: 'trainset',
  };

  it('passes the CA bundle to the blob store config, and wants an https endpoint', () => {
    const c = loadConfig({ ...base, S3_ENDPOINT: 'https://s3.internal:7070', TRAINSET_S3_TLS_CA: file('ca.pem') }, cwd);
    expect(c.blob.kind === 's3' && c.blob.tlsCa?.toString()).toContain('BEGIN CERTIFICATE');
    expect(problems({ ...base, S3_ENDPOINT: 'http://s3.internal:7070', TRAINSET_S3_TLS_CA: file('ca.pem') })).toEqual([
      'TRAINSET_S3_TLS_CA is set but S3_ENDPOINT is not an https:// URL',
    ]);
  });
});

describe('codec keys and secrets in the config', () => {
  const key = randomBytes(32).toString('base64');

  it('turns the codec on only when keys are configured', () => {
    expect(trainsetDataConverter(loadConfig({}, cwd).codecKeys)).toBeUndefined();
    const c = loadConfig({ TRAINSET_CODEC_KEYS: `k1:${key}` }, cwd);
    expect(c.codecKeys?.currentKeyId).toBe('k1');
    expect(trainsetDataConverter(c.codecKeys)?.payloadCodecs).toHaveLength(1);
  });

  it('reports a bad key set as a config problem that names the id, not the key', () => {
    const short = randomBytes(16).toString('base64');
    const p = problems({ TRAINSET_CODEC_KEYS: `k1:${short}` });
    expect(p).toEqual(['TRAINSET_CODEC_KEYS: key k1 decodes to 16 bytes; AES-256 needs 32 (openssl rand -base64 32)']);
    expect(problems({ TRAINSET_CODEC_KEYS: `k1:${key},k2:${key}` })[0]).toMatch(/TRAINSET_CODEC_CURRENT_KEY: required/);
  });

  it('hides the codec key and server token values in errors', () => {
    const p = problems({ TRAINSET_CODEC_KEYS: '', TRAINSET_CODEC_SERVER_TOKEN: 'short-secret' });
    expect(p).toEqual(['TRAINSET_CODEC_SERVER_TOKEN=(value hidden): must be at least 16 characters (a random secret)']);
  });

  it('refuses the published example PII_TOKEN_KEY in every mode', () => {
    for (const value of PLACEHOLDER_PII_TOKEN_KEYS) {
      expect(problems({ PII_TOKEN_KEY: value })).toEqual([
        'PII_TOKEN_KEY=(value hidden): is the published example value; set your own random secret (openssl rand -base64 32)',
      ]);
    }
  });

  it('production workers refuse to start without PII_TOKEN_KEY; embedded ones run without', () => {
    expect(() => assertProductionSecrets({ mode: 'production' })).toThrow(MissingSecretError);
    expect(() => assertProductionSecrets({ mode: 'production' })).toThrow(/PII_TOKEN_KEY: required when TRAINSET_MODE=production/);
    expect(() => assertProductionSecrets({ mode: 'production', piiTokenKey: randomBytes(32) })).not.toThrow();
    expect(() => assertProductionSecrets({ mode: 'embedded' })).not.toThrow();
  });
});
