/**
 * job-sync against the local-folder blob store and the real S3 server: a job directory survives the round trip
 * byte for byte, checkpoints are uploaded once settled and create-only, temporary names never, and the final
 * push brings out/ and the pushed.json marker. One test runs the CLI as a sidecar and stops it with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsBlobStore, S3BlobStore } from '../../src/storage';
import type { BlobStore } from '../../src/storage/blob-store';
import {
  clearPrefix,
  createOutputPusher,
  followPush,
  isTemporaryName,
  jobBlobPrefix,
  jobSyncKeys,
  listFiles,
  pullJobInputs,
  pushJobInputs,
  readPushedMarker,
} from '../../src/training/job-sync';
import { serviceEnv } from '../helpers/services';

const root = mkdtempSync(join(tmpdir(), 'trainset-job-sync-'));
const s3 = serviceEnv().s3;
const s3Store = new S3BlobStore({ ...s3, forcePathStyle: true, prefix: `test-runs/job-sync-${randomBytes(4).toString('hex')}` });
afterAll(async () => {
  await clearPrefix(s3Store, '');
  s3Store.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const fresh = (name: string): string => join(root, `${name}-${++n}`);

function write(dir: string, rel: string, content: string | Buffer): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
}

/** A job directory as the GPU worker prepares it, with outputs of an earlier run lying around. */
function preparedJobDir(): string {
  const dir = fresh('job');
  write(dir, 'job.json', '{"contract":"trainset-trainer-v1"}');
  write(dir, 'features/train.values.npy', randomBytes(3000));
  write(dir, 'records/train.parquet', randomBytes(500));
  write(dir, 'resume/epoch-0002.pt', 'resume me');
  write(dir, 'checkpoints/epoch-0001.pt', 'old checkpoint');
  write(dir, 'out/model.onnx', 'old model');
  write(dir, 'features/.hidden', 'x');
  write(dir, 'job.json.tmp-99', 'half');
  return dir;
}

/** A blob store that records the order of writes. */
function recording(inner: BlobStore): { store: BlobStore; writes: string[] } {
  const writes: string[] = [];
  const store: BlobStore = {
    uri: inner.uri,
    get: (k) => inner.get(k),
    getStream: (k) => inner.getStream(k),
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    put: (k, b) => (writes.push(k), inner.put(k, b)),
    putStream: (k, c) => (writes.push(k), inner.putStream(k, c)),
    putIfAbsent: (k, b) => (writes.push(k), inner.putIfAbsent(k, b)),
  };
  return { store, writes };
}

/** Move a file's mtime so the pusher sees a change even within one clock tick. */
function touch(file: string, ms: number): void {
  const t = new Date(ms);
  utimesSync(file, t, t);
}

const stores: Array<[string, () => BlobStore]> = [
  ['the local-folder blob store', () => createFsBlobStore(fresh('blobs'))],
  ['the S3 server', () => s3Store],
];

describe.each(stores)('job-sync with %s', (_name, makeStore) => {
  it('uploads a job directory without its outputs or temporary files, job.json last, and pulls it back byte for byte', async () => {
    const { store, writes } = recording(makeStore());
    const src = preparedJobDir();
    const prefix = jobBlobPrefix(`job-${randomBytes(4).toString('hex')}`);
    const pushed = await pushJobInputs(store, src, prefix);
    expect(pushed.sort()).toEqual(['features/train.values.npy', 'job.json', 'records/train.parquet', 'resume/epoch-0002.pt']);
    expect(writes.at(-1)).toBe(`${prefix}in/job.json`);

    const dest = fresh('pod');
    const pulled = await pullJobInputs(store, prefix, dest);
    expect(pulled.sort()).toEqual(pushed.sort());
    for (const rel of pushed) expect(readFileSync(join(dest, rel)).equals(readFileSync(join(src, rel))), rel).toBe(true);
    expect(await listFiles(join(dest, 'checkpoints'))).toEqual([]);
    expect(statSync(join(dest, 'out')).mode & 0o777).toBe(0o777);
  });

  it('refuses to pull a job whose job.json is missing (inputs incomplete), naming where it looked', async () => {
    const store = makeStore();
    const prefix = jobBlobPrefix(`incomplete-${randomBytes(4).toString('hex')}`);
    await store.put(`${prefix}in/features/train.values.npy`, 'x');
    await expect(pullJobInputs(store, prefix, fresh('pod'))).rejects.toThrow(new RegExp(`no job\\.json under .*${prefix}in/`));
  });

  it('uploads a checkpoint once it has settled, never a temporary one, create-only, and warns when it is rewritten', async () => {
    const store = makeStore();
    const dir = fresh('pod');
    const prefix = jobBlobPrefix(`ck-${randomBytes(4).toString('hex')}`);
    const keys = jobSyncKeys(prefix);
    let clock = 1_000_000;
    const warnings: string[] = [];
    const pusher = createOutputPusher(store, dir, prefix, { settleMs: 2000, now: () => clock, warn: (m) => warnings.push(m) });

    write(dir, 'checkpoints/epoch-0001.pt', 'one');
    write(dir, 'checkpoints/epoch-0002.pt.tmp-7', 'half-written');
    expect(await pusher.scan()).toEqual([]); // first sight
    clock += 1000;
    expect(await pusher.scan()).toEqual([]); // not settled yet
    clock += 1000;
    expect(await pusher.scan()).toEqual(['checkpoints/epoch-0001.pt']);
    expect((await store.get(`${keys.outputs}checkpoints/epoch-0001.pt`)).toString()).toBe('one');

    // A file that keeps changing is never taken.
    const growing = join(dir, 'checkpoints', 'epoch-0002.pt');
    for (let i = 0; i < 3; i++) {
      writeFileSync(growing, 'x'.repeat(i + 1));
      touch(growing, 1_000_000 + i * 5000);
      clock += 2500;
      expect(await pusher.scan()).toEqual([]);
    }
    clock += 2500;
    expect(await pusher.scan()).toEqual(['checkpoints/epoch-0002.pt']);

    writeFileSync(join(dir, 'checkpoints', 'epoch-0001.pt'), 'rewritten!');
    clock += 5000;
    expect(await pusher.scan()).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/epoch-0001\.pt changed after it was uploaded/)]);
    expect((await store.get(`${keys.outputs}checkpoints/epoch-0001.pt`)).toString()).toBe('one');
    expect(await store.head(`${keys.outputs}checkpoints/epoch-0002.pt.tmp-7`)).toBeUndefined();
  });

  it('final pass: uploads what is left (checkpoints and out/), then pushed.json listing every file; a restarted sidecar keeps earlier uploads', async () => {
    const store = makeStore();
    const dir = fresh('pod');
    const prefix = jobBlobPrefix(`fin-${randomBytes(4).toString('hex')}`);
    const keys = jobSyncKeys(prefix);
    await store.put(`${keys.outputs}checkpoints/epoch-0001.pt`, 'from the first sidecar');
    write(dir, 'checkpoints/epoch-0001.pt', 'local copy');
    write(dir, 'checkpoints/epoch-0002.pt', 'two');
    write(dir, 'out/model.onnx', 'onnx bytes');
    write(dir, 'out/metrics.json', '{"a":1}');
    write(dir, 'out/model.onnx.tmp', 'half');
    expect(await readPushedMarker(store, prefix)).toBeUndefined();

    const marker = await createOutputPusher(store, dir, prefix).finish();
    expect(marker.files).toEqual(['checkpoints/epoch-0001.pt', 'checkpoints/epoch-0002.pt', 'out/metrics.json', 'out/model.onnx']);
    expect(await readPushedMarker(store, prefix)).toEqual(marker);
    expect((await store.get(`${keys.outputs}checkpoints/epoch-0001.pt`)).toString()).toBe('from the first sidecar');
    expect((await store.get(`${keys.outputs}out/model.onnx`)).toString()).toBe('onnx bytes');
    expect(await store.head(`${keys.outputs}out/model.onnx.tmp`)).toBeUndefined();
  });
});

describe('job-sync helpers', () => {
  it.each([
    ['epoch-0001.pt', false],
    ['checkpoints/epoch-0001.pt', false],
    ['model.onnx', false],
    ['.hidden', true],
    ['x.tmp', true],
    ['epoch-0003.json.tmp-1234', true],
    ['model.part', true],
    ['model.partial', true],
    ['backup~', true],
  ])('isTemporaryName(%j) is %s', (name, temporary) => {
    expect(isTemporaryName(name)).toBe(temporary);
  });

  it('derives a fixed-length prefix from any job key and keeps different keys apart', () => {
    const a = jobBlobPrefix('model/v1/t-abc');
    expect(a).toMatch(/^training-jobs\/[0-9a-f]{32}\/$/);
    expect(jobBlobPrefix('model/v1/t-abc')).toBe(a);
    expect(jobBlobPrefix('model/v1/t-abd')).not.toBe(a);
    expect(() => jobBlobPrefix('')).toThrow(/empty/);
    expect(() => jobSyncKeys('no-slash')).toThrow(/must end with "\/"/);
  });

  it('followPush scans until the signal, then runs the final pass', async () => {
    const store = createFsBlobStore(fresh('blobs'));
    const dir = fresh('pod');
    const prefix = jobBlobPrefix('follow');
    write(dir, 'checkpoints/epoch-0001.pt', 'one');
    const stop = new AbortController();
    const uploads: string[] = [];
    const marker = await followPush(store, dir, prefix, {
      signal: stop.signal,
      intervalMs: 1,
      settleMs: 0,
      onUpload: (rel) => {
        uploads.push(rel);
        write(dir, 'out/model.onnx', 'model');
        stop.abort();
      },
    });
    expect(uploads).toEqual(['checkpoints/epoch-0001.pt']);
    expect(marker.files).toEqual(['checkpoints/epoch-0001.pt', 'out/model.onnx']);
  });
});

describe('trainset job-sync (the CLI, as the pod runs it)', () => {
  const cli = join(__dirname, '..', 'fixtures', 'job-sync-cli.ts');
  const tsx = require.resolve('tsx');
  const run = (args: string[], env: NodeJS.ProcessEnv) =>
    spawn(process.execPath, ['--import', tsx, cli, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('pulls inputs, then a --follow push uploads a settled checkpoint and, on SIGTERM, the outputs and pushed.json', async () => {
    const blobDir = fresh('blobs');
    const store = createFsBlobStore(blobDir);
    const prefix = jobBlobPrefix('cli-job');
    await pushJobInputs(store, preparedJobDir(), prefix);
    const pod = fresh('pod');

    const pull = run(['job-sync', 'pull', '--prefix', prefix, '--dir', pod], { BLOB_DIR: blobDir });
    const [pullCode] = (await once(pull, 'close')) as [number];
    expect(pullCode).toBe(0);
    expect(readFileSync(join(pod, 'resume', 'epoch-0002.pt'), 'utf8')).toBe('resume me');

    write(pod, 'checkpoints/epoch-0003.pt', 'three');
    const push = run(['job-sync', 'push', '--follow', '--prefix', prefix, '--dir', pod, '--interval-ms', '50', '--settle-ms', '0'], {
      BLOB_DIR: blobDir,
    });
    let out = '';
    let stopped = false;
    push.stdout.setEncoding('utf8');
    push.stdout.on('data', (c: string) => {
      out += c;
      if (!stopped && out.includes('uploaded checkpoints/epoch-0003.pt')) {
        stopped = true;
        write(pod, 'out/model.onnx', 'final model');
        push.kill('SIGTERM');
      }
    });
    const [code] = (await once(push, 'close')) as [number];
    expect(code).toBe(0);
    expect(out).toContain('final pass done');
    expect((await readPushedMarker(store, prefix))?.files).toEqual(['checkpoints/epoch-0003.pt', 'out/model.onnx']);
    expect((await store.get(`${jobSyncKeys(prefix).outputs}out/model.onnx`)).toString()).toBe('final model');
  });

  it('says which setting is missing when no blob store is configured, and rejects a malformed prefix', async () => {
    const noStore = run(['job-sync', 'pull', '--prefix', 'training-jobs/x/', '--dir', fresh('pod')], {});
    let err = '';
    noStore.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const [code] = (await once(noStore, 'close')) as [number];
    expect(code).not.toBe(0);
    expect(err).toMatch(/set S3_BUCKET .* or BLOB_DIR/);

    const bad = run(['job-sync', 'pull', '--prefix', '../etc', '--dir', fresh('pod')], { BLOB_DIR: fresh('blobs') });
    let badErr = '';
    bad.stderr.setEncoding('utf8').on('data', (c: string) => (badErr += c));
    const [badCode] = (await once(bad, 'close')) as [number];
    expect(badCode).not.toBe(0);
    expect(badErr).toMatch(/expected a blob prefix ending in "\/"/);
  });
});
