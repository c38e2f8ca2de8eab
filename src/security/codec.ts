/**
 * AES-256-GCM payload codec: each payload, serialized as a Payload proto, is encrypted under the current key
 * into a payload `binary/encrypted` that carries the key id in its metadata. Decoding picks the key by that id,
 * so history written under an older key still reads after a rotation.
 *
 * Only payloads pass through a codec: search attributes, memos' keys, workflow ids, failure messages and stack
 * traces are not encrypted (see docs/security.md), so they must never carry a record's content.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Field, MapField, Type } from 'protobufjs';
import type { CodecKeyring } from './keys';

/** Metadata `encoding` of an encrypted payload (the value Temporal's encryption samples use). */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted under. */
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** temporal.api.common.v1.Payload on the wire (field numbers of Temporal's proto). */
const PayloadProto = new Type('Payload').add(new MapField('metadata', 1, 'string', 'bytes')).add(new Field('data', 2, 'bytes'));

/** Thrown when a payload cannot be decrypted: unknown key id, damaged or tampered ciphertext. */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

function serialize(payload: Payload): Uint8Array {
  return PayloadProto.encode(
    PayloadProto.fromObject({ metadata: payload.metadata ?? {}, data: payload.data ?? new Uint8Array() }),
  ).finish();
}

function deserialize(bytes: Uint8Array): Payload {
  const m = PayloadProto.decode(bytes) as unknown as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
  return { metadata: m.metadata ?? {}, data: m.data ?? new Uint8Array() };
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/** The AES-256-GCM codec over a keyring. Payloads of other encodings pass decode unchanged. */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keyring: CodecKeyring) {}

  /** Encrypt every payload under the current key, with a fresh random IV each. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyring.currentKeyId;
    const key = this.keyring.key(keyId);
    if (!key) throw new PayloadDecryptionError(`codec key ${keyId} is not loaded`);
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([iv, cipher.update(serialize(p)), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING_ENCRYPTED), [METADATA_ENCRYPTION_KEY_ID]: Buffer.from(keyId) },
        data: sealed,
      };
    });
  }

  /** Decrypt the encrypted payloads with the key their metadata names; the auth tag rejects any change. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCODING_ENCRYPTED) return p;
      const keyId = text(p.metadata?.[METADATA_ENCRYPTION_KEY_ID]);
      if (keyId === undefined) throw new PayloadDecryptionError(`encrypted payload has no ${METADATA_ENCRYPTION_KEY_ID} metadata`);
      const key = this.keyring.key(keyId);
      if (!key) {
        throw new PayloadDecryptionError(
          `payload was encrypted under codec key ${JSON.stringify(keyId)}, which this process does not know ` +
            `(known: ${this.keyring.keyIds.join(', ')}); add it to TRAINSET_CODEC_KEYS or TRAINSET_CODEC_KEYS_FILE`,
        );
      }
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload under key ${keyId} is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadDecryptionError(
          `encrypted payload under key ${keyId} failed authentication (damaged, tampered, or a different key with that id)`,
        );
      }
      return deserialize(plain);
    });
  }
}
