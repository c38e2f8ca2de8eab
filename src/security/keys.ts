/**
 * Keys of the payload codec: several AES-256 keys by id (rotation), one of them current. Read from a file
 * (TRAINSET_CODEC_KEYS_FILE) or the environment (TRAINSET_CODEC_KEYS); the key bytes never appear in an error,
 * a log line or a JSON dump of the config.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

/** Bytes of an AES-256 key. */
export const CODEC_KEY_BYTES = 32;

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Thrown for a bad key set; the message names key ids and sources, never key material. */
export class CodecKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecKeyError';
  }
}

/** Known codec keys by id and the id new payloads are encrypted under. Prints as ids only. */
export class CodecKeyring {
  readonly #keys: ReadonlyMap<string, Buffer>;

  constructor(
    keys: ReadonlyMap<string, Buffer>,
    readonly currentKeyId: string,
  ) {
    for (const [id, key] of keys) {
      if (!KEY_ID.test(id)) throw new CodecKeyError(`codec key id ${JSON.stringify(id)} must be 1-64 letters, digits, '.', '_' or '-'`);
      if (key.length !== CODEC_KEY_BYTES) {
        throw new CodecKeyError(`codec key ${id} must be ${CODEC_KEY_BYTES} bytes (base64 of 32 random bytes), got ${key.length}`);
      }
    }
    if (!keys.has(currentKeyId))
      throw new CodecKeyError(`current codec key ${JSON.stringify(currentKeyId)} is not among the keys (${[...keys.keys()].join(', ')})`);
    this.#keys = new Map(keys);
  }

  /** Ids of every known key. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** The key of an id, or undefined when it is not known. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** The keyring without its keys, for logs and JSON. */
  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `CodecKeyring { currentKeyId: ${this.currentKeyId}, keyIds: [${this.keyIds.join(', ')}] }`;
  }
}

/**
 * Parse `id:base64key` entries (one per line or comma-separated; `#` starts a comment) or a JSON object
 * `{ "id": "base64key" }`. `source` names where the text came from in errors.
 */
export function parseCodecKeys(text: string, source: string): Map<string, Buffer> {
  const trimmed = text.trim();
  let entries: Array<[string, string]>;
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new CodecKeyError(`${source}: not valid JSON (expected { "keyId": "base64 key" })`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CodecKeyError(`${source}: expected a JSON object { "keyId": "base64 key" }`);
    }
    entries = Object.entries(parsed).map(([id, v]) => {
      if (typeof v !== 'string') throw new CodecKeyError(`${source}: key ${id} must be a base64 string`);
      return [id, v];
    });
  } else {
    entries = trimmed
      .split(/[\n,]/)
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => l !== '')
      .map((l, i) => {
        const colon = l.indexOf(':');
        if (colon <= 0) throw new CodecKeyError(`${source}: entry ${i + 1} is not id:base64key`);
        return [l.slice(0, colon).trim(), l.slice(colon + 1).trim()];
      });
  }
  if (entries.length === 0) throw new CodecKeyError(`${source}: no keys`);
  const keys = new Map<string, Buffer>();
  for (const [id, b64] of entries) {
    if (!KEY_ID.test(id)) throw new CodecKeyError(`${source}: key id ${JSON.stringify(id)} must be 1-64 letters, digits, '.', '_' or '-'`);
    if (keys.has(id)) throw new CodecKeyError(`${source}: key id ${id} appears twice`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new CodecKeyError(`${source}: key ${id} is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== CODEC_KEY_BYTES) {
      throw new CodecKeyError(
        `${source}: key ${id} decodes to ${key.length} bytes; AES-256 needs ${CODEC_KEY_BYTES} (openssl rand -base64 32)`,
      );
    }
    keys.set(id, key);
  }
  return keys;
}

/** Where the codec keys come from (the TRAINSET_CODEC_* variables). */
export interface CodecKeySources {
  /** TRAINSET_CODEC_KEYS_FILE: a file of keys (JSON or `id:base64key` lines). */
  keysFile?: string;
  /** TRAINSET_CODEC_KEYS: keys inline, `id:base64key,id2:base64key`. */
  keys?: string;
  /** TRAINSET_CODEC_CURRENT_KEY: the id to encrypt under; needed when there are several keys. */
  currentKeyId?: string;
}

/** The keyring the sources describe; undefined when none is configured (payloads then stay unencrypted). */
export function loadCodecKeyring(src: CodecKeySources): CodecKeyring | undefined {
  if (src.keysFile === undefined && src.keys === undefined) {
    if (src.currentKeyId !== undefined)
      throw new CodecKeyError('TRAINSET_CODEC_CURRENT_KEY is set but no keys are (TRAINSET_CODEC_KEYS_FILE or TRAINSET_CODEC_KEYS)');
    return undefined;
  }
  const keys = new Map<string, Buffer>();
  const add = (more: Map<string, Buffer>, source: string): void => {
    for (const [id, key] of more) {
      if (keys.has(id)) throw new CodecKeyError(`${source}: key id ${id} is also defined elsewhere`);
      keys.set(id, key);
    }
  };
  if (src.keysFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(src.keysFile, 'utf8');
    } catch (err) {
      throw new CodecKeyError(`TRAINSET_CODEC_KEYS_FILE ${src.keysFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    add(parseCodecKeys(text, `TRAINSET_CODEC_KEYS_FILE ${src.keysFile}`), 'TRAINSET_CODEC_KEYS_FILE');
  }
  if (src.keys !== undefined) add(parseCodecKeys(src.keys, 'TRAINSET_CODEC_KEYS'), 'TRAINSET_CODEC_KEYS');
  let current = src.currentKeyId;
  if (current === undefined) {
    if (keys.size > 1)
      throw new CodecKeyError(`TRAINSET_CODEC_CURRENT_KEY: required with several codec keys (${[...keys.keys()].join(', ')})`);
    current = [...keys.keys()][0] ?? '';
  }
  if (!keys.has(current))
    throw new CodecKeyError(`TRAINSET_CODEC_CURRENT_KEY=${current}: no such key among ${[...keys.keys()].join(', ')}`);
  return new CodecKeyring(keys, current);
}
