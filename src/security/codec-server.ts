/**
 * The codec server: the Temporal UI and `temporal --codec-endpoint` POST encoded payloads to /decode (and plain
 * ones to /encode) in the codec server protocol, `{ "payloads": [{ "metadata": { k: base64 }, "data": base64 }] }`
 * (proto3 JSON), also under a namespace path segment (`/{namespace}/decode`). Every call needs the bearer token;
 * CORS admits only the configured UI origins.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/** Options of createCodecServer. */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token callers must send (`Authorization: Bearer <token>`). */
  token: string;
  /** Browser origins allowed to call (the Temporal UI's, e.g. http://localhost:8233). */
  corsOrigins: string[];
  /** Largest request body in bytes (a history's payloads); default 16 MiB. */
  bodyLimit?: number;
}

/** A payload as proto3 JSON: every bytes field base64. */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** A running codec server. */
export interface CodecServer {
  app: FastifyInstance;
  /** Listen; resolves to the base URL. */
  start(port: number, host?: string): Promise<string>;
  stop(): Promise<void>;
}

/** A JSON payload as an SDK payload. */
export function payloadFromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

/** An SDK payload as proto3 JSON. */
export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

const bodySchema = {
  type: 'object',
  required: ['payloads'],
  properties: {
    payloads: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          metadata: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
          data: { type: ['string', 'null'] },
        },
      },
    },
  },
} as const;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Builds the codec server over a codec. */
export function createCodecServer(opts: CodecServerOptions): CodecServer {
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 16 * 1024 * 1024 });
  const expected = digest(`Bearer ${opts.token}`);
  // Compared as digests of equal length, in constant time: the token's length and prefix do not leak.
  const authorized = (req: FastifyRequest): boolean => timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  void app.register(cors, {
    origin: opts.corsOrigins,
    methods: ['POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Namespace'],
    credentials: true,
    maxAge: 600,
  });

  const handle =
    (op: 'encode' | 'decode') =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      if (!authorized(req)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ error: 'unauthorized', message: 'send Authorization: Bearer <TRAINSET_CODEC_SERVER_TOKEN>' });
      }
      const { payloads } = req.body as { payloads: JsonPayload[] };
      try {
        const out = await opts.codec[op](payloads.map(payloadFromJson));
        return { payloads: out.map(payloadToJson) };
      } catch (err) {
        // The codec's messages name key ids, never keys or payload content.
        return reply.code(400).send({ error: `${op} failed`, message: err instanceof Error ? err.message : String(err) });
      }
    };
  for (const op of ['encode', 'decode'] as const) {
    app.post(`/${op}`, { schema: { body: bodySchema } }, handle(op));
    app.post(`/:namespace/${op}`, { schema: { body: bodySchema } }, handle(op));
  }

  return {
    app,
    async start(port, host = '127.0.0.1') {
      return app.listen({ port, host });
    },
    async stop() {
      await app.close();
    },
  };
}
