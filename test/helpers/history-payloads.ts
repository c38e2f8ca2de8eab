/**
 * A workflow history with every payload decoded: workflow and activity inputs and results, failure details,
 * signal and Update arguments, Update results, marker details (local activities), memos, headers and search
 * attributes. Payload codecs (e.g. an encryption codec) are applied first, in reverse order as a data converter
 * does, then the default payload converter. rawHistoryPayloads lists the payloads as the server stores them.
 */
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { historyToJSON, JSONToPayload, type History, type JSONPayload } from '@temporalio/common/lib/proto-utils';

/** One payload of a history, decoded. */
export interface DecodedPayload {
  /** Where it sits, e.g. `events[0].workflowExecutionStartedEventAttributes.input.payloads[0]`. */
  path: string;
  /** The `encoding` metadata after the codecs ran. */
  encoding: string;
  /** The converted value; for an encoding no converter knows, the payload's bytes as UTF-8 text. */
  value: unknown;
}

/** A history as proto JSON whose payloads are replaced by `{ decodedPayload, encoding }`, and the list of them. */
export interface DecodedHistory {
  /** The proto JSON tree (failure messages, stack traces, identities and ids stay as they were). */
  tree: unknown;
  payloads: DecodedPayload[];
}

/** Options of decodeHistoryPayloads. */
export interface DecodeHistoryOptions {
  /** The codecs of the data converter that wrote the history, in the order the converter lists them. */
  payloadCodecs?: readonly PayloadCodec[];
}

/** A proto-JSON node that is a Payload: `metadata` maps names to base64 strings and names an `encoding`. */
function isJsonPayload(node: Record<string, unknown>): node is Record<string, unknown> & JSONPayload {
  const { metadata } = node;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return false;
  const entries = Object.entries(metadata as Record<string, unknown>);
  if (!entries.some(([k]) => k === 'encoding')) return false;
  return entries.every(([, v]) => typeof v === 'string') && (node.data === undefined || typeof node.data === 'string');
}

async function decodeOne(payload: Payload, codecs: readonly PayloadCodec[]): Promise<{ encoding: string; value: unknown }> {
  let decoded = [payload];
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  const [p] = decoded;
  const encoding = p?.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString('utf8') : '';
  try {
    return { encoding, value: defaultPayloadConverter.fromPayload(p ?? payload) };
  } catch {
    // An encoding no converter knows (e.g. ciphertext when no codec was given): keep its bytes as text.
    return { encoding, value: Buffer.from(p?.data ?? new Uint8Array()).toString('utf8') };
  }
}

/** Decode every payload in `history` (as fetched by `handle.fetchHistory()`). */
export async function decodeHistoryPayloads(history: History, options: DecodeHistoryOptions = {}): Promise<DecodedHistory> {
  const codecs = options.payloadCodecs ?? [];
  const payloads: DecodedPayload[] = [];
  const walk = async (node: unknown, path: string): Promise<unknown> => {
    if (Array.isArray(node)) return Promise.all(node.map((n, i) => walk(n, `${path}[${i}]`)));
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    if (isJsonPayload(obj)) {
      const { encoding, value } = await decodeOne(JSONToPayload(obj), codecs);
      payloads.push({ path, encoding, value });
      return { decodedPayload: value, encoding };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = await walk(v, path === '' ? k : `${path}.${k}`);
    return out;
  };
  const tree = await walk(JSON.parse(historyToJSON(history)), '');
  return { tree, payloads };
}

/** One payload of a history as the server stores it: no codec, no converter. */
export interface RawHistoryPayload {
  /** Where it sits, as in DecodedPayload. */
  path: string;
  /** Metadata values as UTF-8 text (e.g. `encoding`, `encryption-key-id`). */
  metadata: Record<string, string>;
  /** The payload's bytes. */
  data: Buffer;
}

/** Every payload in `history` (as fetched by `handle.fetchHistory()`), undecoded. */
export function rawHistoryPayloads(history: History): RawHistoryPayload[] {
  const payloads: RawHistoryPayload[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (isJsonPayload(obj)) {
      const p = JSONToPayload(obj);
      const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('utf8')]));
      payloads.push({ path, metadata, data: Buffer.from(p.data ?? new Uint8Array()) });
      return;
    }
    for (const [k, v] of Object.entries(obj)) walk(v, path === '' ? k : `${path}.${k}`);
  };
  walk(JSON.parse(historyToJSON(history)), '');
  return payloads;
}
