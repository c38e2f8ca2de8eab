/**
 * TLS settings of the Temporal connection (mTLS), PostgreSQL and S3, from file paths; every file is read and
 * parsed at start, so a wrong path or a non-PEM file fails there with the variable's name, not at the first call.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';

/** Thrown for bad TLS settings; one line per problem. */
export class TlsConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'TlsConfigError';
  }
}

function readFile(variable: string, file: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    problems.push(`${variable}=${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** Read a file of one or more PEM certificates; undefined (and a problem) when it is missing or not PEM. */
export function readPemCertificates(variable: string, file: string, problems: string[]): Buffer | undefined {
  const bytes = readFile(variable, file, problems);
  if (!bytes) return undefined;
  const blocks = bytes.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    problems.push(`${variable}=${file}: not a PEM certificate (no BEGIN CERTIFICATE block)`);
    return undefined;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      problems.push(`${variable}=${file}: certificate ${i + 1} does not parse`);
      return undefined;
    }
  }
  return bytes;
}

/** Read a PEM private key file; the problem line never quotes the file's content. */
export function readPemPrivateKey(variable: string, file: string, problems: string[]): Buffer | undefined {
  const bytes = readFile(variable, file, problems);
  if (!bytes) return undefined;
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(bytes.toString('utf8'))) {
    problems.push(`${variable}=${file}: not a PEM private key (no BEGIN … PRIVATE KEY block)`);
    return undefined;
  }
  try {
    createPrivateKey(bytes);
  } catch {
    problems.push(`${variable}=${file}: private key does not parse (encrypted keys are not supported)`);
    return undefined;
  }
  return bytes;
}

/** The TEMPORAL_TLS_* variables. */
export interface TemporalTlsSources {
  /** TEMPORAL_TLS=true: TLS with the system's trusted roots (implied by any of the others). */
  enabled?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** The Temporal connection's TLS config (undefined: plaintext), or problems. */
export function temporalTls(src: TemporalTlsSources, problems: string[]): TLSConfig | undefined {
  const any = src.enabled === true || [src.ca, src.cert, src.key, src.serverName].some((v) => v !== undefined);
  if (!any) return undefined;
  const tls: TLSConfig = {};
  if (src.serverName !== undefined) tls.serverNameOverride = src.serverName;
  if (src.ca !== undefined) tls.serverRootCACertificate = readPemCertificates('TEMPORAL_TLS_CA', src.ca, problems);
  if ((src.cert === undefined) !== (src.key === undefined)) {
    problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: mTLS needs both the client certificate and its key');
  } else if (src.cert !== undefined && src.key !== undefined) {
    const crt = readPemCertificates('TEMPORAL_TLS_CERT', src.cert, problems);
    const key = readPemPrivateKey('TEMPORAL_TLS_KEY', src.key, problems);
    if (crt && key) {
      if (!new X509Certificate(crt).checkPrivateKey(createPrivateKey(key))) {
        problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: the key does not belong to the certificate');
      } else {
        tls.clientCertPair = { crt, key };
      }
    }
  }
  return tls;
}

const PG_SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/**
 * Check DATABASE_URL's TLS parameters (sslmode, sslrootcert, sslcert, sslkey: read by node-postgres itself)
 * and add a CA given by TRAINSET_PG_TLS_CA (or libpq's PGSSLROOTCERT) as `sslrootcert` with `sslmode=verify-full`
 * unless the URL says otherwise. Returns the URL to connect with; problems never quote the URL (it holds a password).
 */
export function postgresTlsUrl(databaseUrl: string, caFile: string | undefined, problems: string[]): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return databaseUrl; // the URL check reports it
  }
  const p = url.searchParams;
  const mode = p.get('sslmode');
  if (mode !== null && !PG_SSL_MODES.includes(mode))
    problems.push(`DATABASE_URL sslmode=${mode}: must be one of ${PG_SSL_MODES.join(', ')}`);
  if (caFile !== undefined) {
    if (mode === 'disable') problems.push('TRAINSET_PG_TLS_CA is set but DATABASE_URL says sslmode=disable');
    if (p.get('sslrootcert') !== null) problems.push('TRAINSET_PG_TLS_CA and DATABASE_URL sslrootcert: give the CA once');
    else if (readPemCertificates('TRAINSET_PG_TLS_CA', caFile, problems)) {
      p.set('sslrootcert', caFile);
      if (mode === null) p.set('sslmode', 'verify-full');
    }
  } else {
    const root = p.get('sslrootcert');
    if (root !== null) readPemCertificates('DATABASE_URL sslrootcert', root, problems);
  }
  const cert = p.get('sslcert');
  const key = p.get('sslkey');
  if ((cert === null) !== (key === null)) problems.push('DATABASE_URL sslcert and sslkey: a client certificate needs its key (give both)');
  if (cert !== null) readPemCertificates('DATABASE_URL sslcert', cert, problems);
  if (key !== null) readPemPrivateKey('DATABASE_URL sslkey', key, problems);
  return caFile !== undefined ? url.toString() : databaseUrl;
}

/** The CA bundle S3 requests trust (TRAINSET_S3_TLS_CA), checked against S3_ENDPOINT. */
export function s3TlsCa(caFile: string | undefined, endpoint: string | undefined, problems: string[]): Buffer | undefined {
  if (caFile === undefined) return undefined;
  if (endpoint !== undefined && !endpoint.startsWith('https:')) {
    problems.push('TRAINSET_S3_TLS_CA is set but S3_ENDPOINT is not an https:// URL');
  }
  return readPemCertificates('TRAINSET_S3_TLS_CA', caFile, problems);
}
