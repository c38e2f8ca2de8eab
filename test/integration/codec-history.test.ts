/**
 * Payload encryption on a real dev server: the history the server stores holds only ciphertext (read raw with the
 * stock `temporal workflow show -o json`), the CLI shows plaintext through `--codec-endpoint` and the codec
 * server, and a history written under key 1 is still read by a worker and a client whose current key is key 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCODING_ENCRYPTED, METADATA_ENCRYPTION_KEY_ID } from '../../src/security/codec';
import { CodecKeyring } from '../../src/security/keys';
import { trainsetDataConverter } from '../../src/security/temporal-options';
import { embeddedEnv } from '../../src/workers/config';
import { quietBundlerLogger } from '../../src/workers/workers';
import { releaseSignal, type echoWorkflow, type waitForReleaseWorkflow } from '../fixtures/codec-workflows';
import { serviceEnv } from '../helpers/services';
import { temporalCli, temporalCliOk } from '../helpers/temporal-cli';
import { TRAINSET_BIN } from '../helpers/trainset-cli';

const key1 = randomBytes(32);
const key2 = randomBytes(32);
/** Before the rotation: only key 1. After: key 2 current, key 1 kept for reading. */
const beforeRotation = new CodecKeyring(new Map([['k1', key1]]), 'k1');
const afterRotation = new CodecKeyring(
  new Map([
    ['k1', key1],
    ['k2', key2],
  ]),
  'k2',
);
const TOKEN = `codec-test-${randomUUID()}`;

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let codecServer: ChildProcess | undefined;
let codecUrl: string;

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** `trainset codec-server` as an operator runs it, with both keys (k2 current); resolves once it logs that it listens. */
async function startCodecServer(): Promise<string> {
  const port = await freePort();
  const b64 = (k: Buffer): string => k.toString('base64');
  codecServer = spawn(process.execPath, [TRAINSET_BIN, 'codec-server', '--port', String(port), '--cors-origin', 'http://localhost:8233'], {
    // The codec server needs only the codec settings: strip the test services' production variables.
    env: embeddedEnv(process.env, {
      TRAINSET_CODEC_KEYS: `k1:${b64(key1)},k2:${b64(key2)}`,
      TRAINSET_CODEC_CURRENT_KEY: 'k2',
      TRAINSET_CODEC_SERVER_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trainset codec-server did not start: ${out}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('codec server listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    codecServer?.stdout?.on('data', onData);
    codecServer?.stderr?.on('data', onData);
    codecServer?.once('exit', (code) => reject(new Error(`trainset codec-server exited ${code}: ${out}`)));
  });
  // Its log line names the key ids, never the keys.
  expect(out).toContain('"keyIds":["k1","k2"]');
  expect(out).not.toContain(b64(key1));
  expect(out).not.toContain(b64(key2));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: serviceEnv().temporalCliPath }, log: { format: 'json', level: 'error' } },
  });
  bundle = await bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../fixtures/codec-workflows.ts'),
    logger: quietBundlerLogger,
  });
  codecUrl = await startCodecServer();
}, 180_000);

afterAll(async () => {
  codecServer?.kill('SIGTERM');
  await env?.teardown();
});

function clientWith(keys: CodecKeyring): Client {
  return new Client({ connection: env.connection, dataConverter: trainsetDataConverter(keys) });
}

function workerWith(keys: CodecKeyring, taskQueue: string): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, dataConverter: trainsetDataConverter(keys) });
}

/** A payload as the CLI prints it (proto JSON; bytes fields base64). */
interface RawPayload {
  metadata: Record<string, string>;
  data?: string;
}

/** Every payload in a `temporal workflow show -o json` history, with the event attribute it sits under. */
function rawPayloads(historyJson: string): Array<{ where: string; payload: RawPayload }> {
  const out: Array<{ where: string; payload: RawPayload }> = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, where));
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj.metadata && typeof obj.metadata === 'object' && 'encoding' in (obj.metadata as object)) {
      out.push({ where, payload: obj as unknown as RawPayload });
      return;
    }
    for (const [k, v] of Object.entries(obj)) walk(v, k.endsWith('Attributes') ? k : where);
  };
  walk(JSON.parse(historyJson), '');
  return out;
}

const fromB64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The raw history as the server stores it: no codec anywhere on the way. */
function showRaw(workflowId: string): Promise<string> {
  return temporalCliOk(env.address, ['workflow', 'show', '--workflow-id', workflowId, '-o', 'json']);
}

describe('payload encryption on the dev server', () => {
  it('stores only ciphertext; the CLI shows plaintext through the codec server with the bearer token', async () => {
    const secret = `planted-${randomUUID()}@example.com`;
    const taskQueue = `codec-${randomUUID()}`;
    const workflowId = `codec-echo-${randomUUID()}`;
    const client = clientWith(beforeRotation);
    const worker = await workerWith(beforeRotation, taskQueue);
    const result = await worker.runUntil(
      client.workflow.execute<typeof echoWorkflow>('echoWorkflow', { taskQueue, workflowId, args: [{ secret }] }),
    );
    expect(result).toEqual({ secret });

    const raw = await showRaw(workflowId);
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(Buffer.from(secret).toString('base64').slice(0, 16));
    const payloads = rawPayloads(raw);
    expect(payloads.map((p) => p.where)).toEqual(
      expect.arrayContaining(['workflowExecutionStartedEventAttributes', 'workflowExecutionCompletedEventAttributes']),
    );
    for (const { payload } of payloads) {
      expect(fromB64(payload.metadata.encoding)).toBe(ENCODING_ENCRYPTED);
      expect(fromB64(payload.metadata[METADATA_ENCRYPTION_KEY_ID])).toBe('k1');
    }

    const show = ['workflow', 'show', '--workflow-id', workflowId, '-o', 'json', '--codec-endpoint', codecUrl];
    const decoded = await temporalCliOk(env.address, [...show, '--codec-auth', `Bearer ${TOKEN}`]);
    const shown = rawPayloads(decoded);
    expect(shown).toHaveLength(payloads.length);
    for (const { payload } of shown) expect(fromB64(payload.metadata.encoding)).toBe('json/plain');
    expect(shown.map(({ payload }) => JSON.parse(fromB64(payload.data)) as unknown)).toEqual([{ secret }, { secret }]);

    // Without the token the codec server answers 401 and the plaintext stays hidden.
    const refused = await temporalCli(env.address, show);
    expect(refused.stdout + refused.stderr).not.toContain(secret);
    expect(refused.stdout + refused.stderr).not.toContain(Buffer.from(`{"secret":"${secret}"}`).toString('base64'));
  }, 120_000);

  it('rotation: a run started under key 1 is finished by a worker whose current key is key 2, and both keys read its history', async () => {
    const taskQueue = `codec-rot-${randomUUID()}`;
    const workflowId = `codec-rotation-${randomUUID()}`;
    const input = { secret: `input-${randomUUID()}` };
    const release = { secret: `release-${randomUUID()}` };

    // Before the rotation: started, its first workflow task done by a key-1 worker, then that worker stops.
    const oldClient = clientWith(beforeRotation);
    const oldWorker = await workerWith(beforeRotation, taskQueue);
    const handle = await oldClient.workflow.start<typeof waitForReleaseWorkflow>('waitForReleaseWorkflow', {
      taskQueue,
      workflowId,
      args: [input],
    });
    await oldWorker.runUntil(async () => {
      for (let i = 0; i < 100; i++) {
        const history = await handle.fetchHistory();
        if (history.events?.some((e) => e.workflowTaskCompletedEventAttributes)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the key-1 worker never completed a workflow task');
    });

    // After: a key-2 client signals and a fresh key-2 worker replays the key-1 history and completes the run.
    const newClient = clientWith(afterRotation);
    const newWorker = await workerWith(afterRotation, taskQueue);
    const newHandle = newClient.workflow.getHandle<typeof waitForReleaseWorkflow>(workflowId);
    await newHandle.signal(releaseSignal, release);
    expect(await newWorker.runUntil(newHandle.result())).toEqual({ input, release });

    const keyOf = Object.fromEntries(
      rawPayloads(await showRaw(workflowId)).map(({ where, payload }) => [where, fromB64(payload.metadata[METADATA_ENCRYPTION_KEY_ID])]),
    );
    expect(keyOf).toMatchObject({
      workflowExecutionStartedEventAttributes: 'k1',
      workflowExecutionSignaledEventAttributes: 'k2',
      workflowExecutionCompletedEventAttributes: 'k2',
    });
    // A client that only knows key 1 cannot read the result written under key 2, and says which key it lacks.
    await expect(oldClient.workflow.getHandle(workflowId).result()).rejects.toThrow(/"k2"/);
  }, 120_000);
});
