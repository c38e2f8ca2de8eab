/** The AES-256-GCM payload codec, its keyring, and the codec server's protocol, auth and CORS. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, ENCODING_ENCRYPTED, METADATA_ENCRYPTION_KEY_ID, PayloadDecryptionError } from '../../src/security/codec';
import { createCodecServer, payloadFromJson, payloadToJson, type JsonPayload } from '../../src/security/codec-server';
import { CodecKeyError, CodecKeyring, loadCodecKeyring, parseCodecKeys } from '../../src/security/keys';

const key1 = randomBytes(32);
const key2 = randomBytes(32);
const ring = (current: string, keys: Record<string, Buffer> = { k1: key1, k2: key2 }): CodecKeyring =>
  new CodecKeyring(new Map(Object.entries(keys)), current);
const PLANTED = 'jane.doe@example.com planted-4111111111111111';
const plain = (): Payload[] => [defaultPayloadConverter.toPayload({ email: PLANTED, n: 7 }), defaultPayloadConverter.toPayload(null)];
const utf8 = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('AesGcmPayloadCodec', () => {
  it('round-trips payloads through ciphertext that names its key and hides the plaintext', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1'));
    const encoded = await codec.encode(plain());
    expect(encoded).toHaveLength(2);
    for (const p of encoded) {
      expect(utf8(p.metadata?.encoding)).toBe(ENCODING_ENCRYPTED);
      expect(utf8(p.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe('k1');
      expect(Buffer.from(p.data ?? []).includes(Buffer.from('jane.doe'))).toBe(false);
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', METADATA_ENCRYPTION_KEY_ID]);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ email: PLANTED, n: 7 }, null]);
    expect(utf8(decoded[0]?.metadata?.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV per payload: the same value encrypts differently each time', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1'));
    const [a] = await codec.encode([defaultPayloadConverter.toPayload('same')]);
    const [b] = await codec.encode([defaultPayloadConverter.toPayload('same')]);
    expect(Buffer.from(a?.data ?? []).equals(Buffer.from(b?.data ?? []))).toBe(false);
    expect(
      Buffer.from(a?.data ?? [])
        .subarray(0, 12)
        .equals(Buffer.from(b?.data ?? []).subarray(0, 12)),
    ).toBe(false);
  });

  it('refuses a tampered payload (flipped ciphertext, IV or tag byte)', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1'));
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ email: PLANTED })]);
    const data = Buffer.from(enc?.data ?? []);
    for (const at of [0, 12, data.length - 1]) {
      const bad = Buffer.from(data);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      await expect(codec.decode([{ ...enc, data: bad }])).rejects.toThrow(/failed authentication/);
    }
    await expect(codec.decode([{ ...enc, data: data.subarray(0, 20) }])).rejects.toThrow(/truncated/);
  });

  it('refuses a payload under a key with the same id but other bytes', async () => {
    const [enc] = await new AesGcmPayloadCodec(ring('k1')).encode(plain());
    const other = new AesGcmPayloadCodec(ring('k1', { k1: randomBytes(32) }));
    await expect(other.decode([enc!])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('names an unknown key id in its error, never a key', async () => {
    const [enc] = await new AesGcmPayloadCodec(ring('k2')).encode(plain());
    const onlyK1 = new AesGcmPayloadCodec(ring('k1', { k1: key1 }));
    const err = await onlyK1.decode([enc!]).then(
      () => new Error('expected decode to fail'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(PayloadDecryptionError);
    expect(err.message).toContain('"k2"');
    expect(err.message).not.toContain(key1.toString('base64'));
    expect(err.message).not.toContain(key2.toString('base64'));
  });

  it('rotation: what key 1 encrypted still decodes after key 2 becomes current, and new payloads use key 2', async () => {
    const before = await new AesGcmPayloadCodec(ring('k1', { k1: key1 })).encode(plain());
    const after = new AesGcmPayloadCodec(ring('k2'));
    expect((await after.decode(before)).map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ email: PLANTED, n: 7 }, null]);
    const [fresh] = await after.encode(plain());
    expect(utf8(fresh?.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe('k2');
  });

  it('passes payloads of other encodings through decode unchanged', async () => {
    const p = defaultPayloadConverter.toPayload('not encrypted');
    expect(await new AesGcmPayloadCodec(ring('k1')).decode([p])).toEqual([p]);
  });
});

describe('codec keys', () => {
  const b64 = (b: Buffer): string => b.toString('base64');

  it('parses id:base64 lines (with comments), comma lists and JSON objects', () => {
    const lines = parseCodecKeys(`# rotated 2026-11\nk1:${b64(key1)}\n\nk2: ${b64(key2)}\n`, 'test');
    expect([...lines.keys()]).toEqual(['k1', 'k2']);
    expect(lines.get('k2')?.equals(key2)).toBe(true);
    expect([...parseCodecKeys(`k1:${b64(key1)},k2:${b64(key2)}`, 'test').keys()]).toEqual(['k1', 'k2']);
    expect(
      parseCodecKeys(JSON.stringify({ a: b64(key1) }), 'test')
        .get('a')
        ?.equals(key1),
    ).toBe(true);
  });

  it.each([
    ['a key of the wrong length', `k1:${randomBytes(16).toString('base64')}`, /k1 decodes to 16 bytes; AES-256 needs 32/],
    ['text that is not base64', 'k1:not base64!', /key k1 is not base64/],
    ['an entry without an id', `${b64(key1)}`, /entry 1 is not id:base64key/],
    ['a duplicate id', `k1:${b64(key1)}\nk1:${b64(key2)}`, /k1 appears twice/],
    ['bad JSON', '{ "k1": ', /not valid JSON/],
    ['an empty list', '# nothing\n', /no keys/],
  ])('refuses %s, without echoing key material', (_what, text, message) => {
    let err: Error | undefined;
    try {
      parseCodecKeys(text, 'TRAINSET_CODEC_KEYS');
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(CodecKeyError);
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain(b64(key1));
  });

  it('loads keys from a file and the environment; several keys need a current one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'codec-keys-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, `k1:${b64(key1)}\n`);
    expect(loadCodecKeyring({})).toBeUndefined();
    const one = loadCodecKeyring({ keysFile: file });
    expect(one?.currentKeyId).toBe('k1');
    expect(() => loadCodecKeyring({ keysFile: file, keys: `k2:${b64(key2)}` })).toThrow(
      /TRAINSET_CODEC_CURRENT_KEY: required with several codec keys \(k1, k2\)/,
    );
    const two = loadCodecKeyring({ keysFile: file, keys: `k2:${b64(key2)}`, currentKeyId: 'k2' });
    expect(two?.keyIds).toEqual(['k1', 'k2']);
    expect(() => loadCodecKeyring({ keys: `k2:${b64(key2)}`, currentKeyId: 'k9' })).toThrow(/TRAINSET_CODEC_CURRENT_KEY=k9: no such key/);
    expect(() => loadCodecKeyring({ keysFile: path.join(dir, 'missing') })).toThrow(/cannot read \(ENOENT\)/);
    expect(() => loadCodecKeyring({ currentKeyId: 'k1' })).toThrow(/no keys are/);
  });

  it('never prints key material: JSON, util.inspect and string interpolation show ids only', () => {
    const r = ring('k2');
    const shown = [JSON.stringify({ config: { codecKeys: r } }), inspect(r), inspect({ r }, { depth: 5 }), `${String(r)}`];
    for (const s of shown) {
      expect(s).not.toContain(b64(key1));
      expect(s).not.toContain(key1.toString('hex'));
      expect(s).not.toContain(b64(key2));
    }
    expect(JSON.parse(shown[0] ?? '{}')).toEqual({ config: { codecKeys: { currentKeyId: 'k2', keyIds: ['k1', 'k2'] } } });
  });
});

describe('codec server', () => {
  const TOKEN = 'codec-server-test-token-0123456789';
  const server = () =>
    createCodecServer({ codec: new AesGcmPayloadCodec(ring('k1')), token: TOKEN, corsOrigins: ['http://localhost:8233'] });
  const body = (payloads: Payload[]): { payloads: JsonPayload[] } => ({ payloads: payloads.map(payloadToJson) });

  it('encodes and decodes in the codec server JSON format, also under a namespace path', async () => {
    const s = server();
    const enc = await s.app.inject({
      method: 'POST',
      url: '/encode',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: body(plain()),
    });
    expect(enc.statusCode).toBe(200);
    const encoded = (enc.json() as { payloads: JsonPayload[] }).payloads;
    expect(encoded[0]?.metadata?.encoding).toBe(Buffer.from(ENCODING_ENCRYPTED).toString('base64'));
    expect(enc.body).not.toContain(Buffer.from(PLANTED).toString('base64').slice(0, 12));
    const dec = await s.app.inject({
      method: 'POST',
      url: '/default/decode',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-namespace': 'default' },
      payload: { payloads: encoded },
    });
    expect(dec.statusCode).toBe(200);
    const decoded = (dec.json() as { payloads: JsonPayload[] }).payloads.map(payloadFromJson);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ email: PLANTED, n: 7 }, null]);
    await s.stop();
  });

  it('answers 401 without the bearer token or with a wrong one', async () => {
    const s = server();
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, TOKEN, 'Bearer ']) {
      const r = await s.app.inject({
        method: 'POST',
        url: '/decode',
        headers: authorization ? { authorization } : {},
        payload: body(plain()),
      });
      expect(r.statusCode, String(authorization)).toBe(401);
      expect(r.json()).toMatchObject({ error: 'unauthorized' });
    }
    await s.stop();
  });

  it("allows the UI's origin in a CORS preflight (with the Authorization header), and no other", async () => {
    const s = server();
    const preflight = (origin: string) =>
      s.app.inject({
        method: 'OPTIONS',
        url: '/decode',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const ok = await preflight('http://localhost:8233');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:8233');
    expect(String(ok.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    const other = await preflight('http://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    await s.stop();
  });

  it('answers 400 naming the key id when a payload is under an unknown key, and on a malformed body', async () => {
    const s = server();
    const [foreign] = await new AesGcmPayloadCodec(ring('k9', { k9: randomBytes(32) })).encode(plain());
    const r = await s.app.inject({
      method: 'POST',
      url: '/decode',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: body([foreign!]),
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ message: expect.stringContaining('"k9"') });
    const bad = await s.app.inject({ method: 'POST', url: '/decode', headers: { authorization: `Bearer ${TOKEN}` }, payload: { nope: 1 } });
    expect(bad.statusCode).toBe(400);
    await s.stop();
  });
});
