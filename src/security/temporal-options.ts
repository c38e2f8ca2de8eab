/** What every Temporal client and worker of a process shares: the connection's TLS and the payload codec. */
import type { DataConverter } from '@temporalio/common';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { AesGcmPayloadCodec } from './codec';
import type { CodecKeyring } from './keys';

/** The data converter of every client and worker: AES-256-GCM payloads when keys are configured, else the SDK's default. */
export function trainsetDataConverter(keys: CodecKeyring | undefined): DataConverter | undefined {
  return keys ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : undefined;
}

/** Connection options (Connection.connect and NativeConnection.connect) for the configured frontend. */
export function temporalConnectionOptions(temporal: { address: string; tls?: TLSConfig }): { address: string; tls?: TLSConfig } {
  return temporal.tls ? { address: temporal.address, tls: temporal.tls } : { address: temporal.address };
}

/** Thrown when a production process lacks a secret it must not run without. */
export class MissingSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingSecretError';
  }
}

/**
 * Production workers refuse to start without PII_TOKEN_KEY (the config already refuses the published example
 * value): a deployment must choose its own tokenization secret rather than run on one anyone can read.
 */
export function assertProductionSecrets(config: { mode: string; piiTokenKey?: Buffer }): void {
  if (config.mode === 'production' && config.piiTokenKey === undefined) {
    throw new MissingSecretError(
      'PII_TOKEN_KEY: required when TRAINSET_MODE=production (a random secret of 32+ characters, e.g. `openssl rand -base64 32`); ' +
        'PII tokens are HMACs under it',
    );
  }
}
