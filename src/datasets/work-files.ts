/** Work-area JSONL files between stages: keyed by their inputs, so a retried stage finds its own output. */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { BlobNotFoundError, type BlobStore } from '../storage/blob-store';
import { splitLines } from '../ingest/line-framing';

/** A record as it moves from dedupe onwards: content hash + record. */
export interface HashedRecord {
  hash: string;
  record: Record<string, unknown>;
}

/** Short stable hash of some strings, for deriving keys. */
export function keyHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 24);
}

/** Key of a work file of a partition. */
export function workKey(dataset: string, partition: string, stage: string, hash: string): string {
  return `${workPrefix(dataset, partition)}${stage}-${hash}.jsonl`;
}

/** Prefix of a partition's work area; every stage's work files live under it. */
export const workPrefix = (dataset: string, partition: string): string => `work/${dataset}/${partition}/`;

/** Key of a partition's work-area stamp: when a run last started on it (the blob store keeps no modification times). */
export const workStampKey = (dataset: string, partition: string): string => `${workPrefix(dataset, partition)}touched.json`;

/** Stamp a partition's work area as in use now, so a sweep leaves a run's files alone (a backfill of an old day too). */
export async function touchWorkArea(blobs: BlobStore, dataset: string, partition: string, now = new Date()): Promise<void> {
  await blobs.put(workStampKey(dataset, partition), JSON.stringify({ at: now.toISOString() }));
}

/** One partition's work area, as a sweep saw it. */
export interface WorkArea {
  dataset: string;
  partition: string;
  /** Newest of the stamp and the end of the partition's day (ISO); undefined when neither exists. */
  lastActive?: string;
  objects: number;
  bytes: number;
}

/** What `sweepWorkFiles` removed (or, in a dry run, would remove) and what it kept. */
export interface WorkSweep {
  removed: WorkArea[];
  kept: WorkArea[];
}

/** Options of `sweepWorkFiles`. */
export interface WorkSweepOptions {
  /** Retention: work areas last active longer ago than this are removed. */
  olderThanMs: number;
  /** Only this dataset's work areas. */
  dataset?: string;
  /** List what would go, delete nothing. */
  dryRun?: boolean;
  /** The current time (tests inject one). */
  now?: Date;
}

const DAY_MS = 86_400_000;
const DATE_PARTITION = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Remove the work areas (`work/<dataset>/<partition>/…`, every stage's intermediate files, summaries included) that
 * no run has used within the retention: last active is the newest of the area's stamp and the end of its
 * partition's day. A whole area goes or stays, so no stage finds a summary whose output is gone; an area that
 * cannot be aged (no stamp, partition not a date) is kept. Only keys under `work/` are ever deleted.
 */
export async function sweepWorkFiles(blobs: BlobStore, options: WorkSweepOptions): Promise<WorkSweep> {
  const now = (options.now ?? new Date()).getTime();
  const areas = new Map<string, { area: WorkArea; keys: string[] }>();
  for (const object of await blobs.list(options.dataset === undefined ? 'work/' : `work/${options.dataset}/`)) {
    const [root, dataset, partition, ...rest] = object.key.split('/');
    if (root !== 'work' || dataset === undefined || partition === undefined || rest.length === 0) continue;
    const prefix = workPrefix(dataset, partition);
    let entry = areas.get(prefix);
    if (entry === undefined) areas.set(prefix, (entry = { area: { dataset, partition, objects: 0, bytes: 0 }, keys: [] }));
    entry.area.objects += 1;
    entry.area.bytes += object.size;
    entry.keys.push(object.key);
  }
  const result: WorkSweep = { removed: [], kept: [] };
  for (const [prefix, { area, keys }] of areas) {
    const stampKey = workStampKey(area.dataset, area.partition);
    const stamp = await readStamp(blobs, stampKey);
    const lastActive = lastActiveOf(area.partition, stamp);
    if (lastActive !== undefined) area.lastActive = new Date(lastActive).toISOString();
    if (lastActive === undefined || now - lastActive <= options.olderThanMs) {
      result.kept.push(area);
      continue;
    }
    result.removed.push(area);
    if (options.dryRun) continue;
    for (const key of keys) if (key !== stampKey && key.startsWith(prefix)) await blobs.delete(key);
    // The stamp goes last (an interrupted sweep ages the area the same way next time), and stays when a run
    // stamped the area while the sweep was deleting.
    if ((await readStamp(blobs, stampKey)) === stamp) await blobs.delete(stampKey);
  }
  return result;
}

async function readStamp(blobs: BlobStore, key: string): Promise<string | undefined> {
  try {
    return (await blobs.get(key)).toString('utf8');
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
}

function lastActiveOf(partition: string, stamp: string | undefined): number | undefined {
  let stamped = Number.NaN;
  try {
    const at = stamp === undefined ? undefined : (JSON.parse(stamp) as { at?: unknown }).at;
    if (typeof at === 'string') stamped = Date.parse(at);
  } catch {
    // A damaged stamp ages the area by its partition's day alone.
  }
  const dayEnd = DATE_PARTITION.test(partition) ? Date.parse(`${partition}T00:00:00Z`) + DAY_MS : Number.NaN;
  const known = [stamped, dayEnd].filter((t) => Number.isFinite(t));
  return known.length === 0 ? undefined : Math.max(...known);
}

/** Records per committed part of a stage's output: the unit a retried activity resumes from. */
export const PART_RECORDS = 50_000;

/** The index of a parted output: record count of each part, in order. Written last, so it marks the output complete. */
interface PartsIndex {
  parts: number[];
}

const baseOf = (key: string): string => key.replace(/\.jsonl$/, '');
/** Key of part `i` of a parted output (each part is a plain JSONL object). */
export const partKey = (key: string, i: number): string => `${baseOf(key)}.part-${String(i).padStart(5, '0')}.jsonl`;
/** Key of a parted output's index. */
export const partsIndexKey = (key: string): string => `${baseOf(key)}.parts.json`;
/** How to name a parted output to a person: the glob of its part objects. */
export const partsGlob = (key: string): string => `${baseOf(key)}.part-*.jsonl`;
/** The output key an index key belongs to (inverse of partsIndexKey). */
export const outputKeyOfIndex = (indexKey: string): string => indexKey.replace(/\.parts\.json$/, '.jsonl');

async function* readJsonlObject<T>(blobs: BlobStore, key: string, skip = 0): AsyncGenerator<T> {
  const stream = await blobs.getStream(key);
  let n = 0;
  // Work files are written by us; a 64 MiB line limit only guards against corruption.
  for await (const item of splitLines(stream, { maxLineBytes: 64 * 1024 * 1024 })) {
    if (item.kind !== 'line' || item.bytes.length === 0) continue;
    if (n++ < skip) continue;
    yield JSON.parse(item.bytes.toString('utf8')) as T;
  }
}

/**
 * Read a stage output as parsed values, streaming: a parted output (see PartedJsonlWriter) part by part, or
 * a single JSONL object. `skip` leaves out that many leading records; whole parts are skipped unread.
 */
export async function* readJsonl<T>(blobs: BlobStore, key: string, options: { skip?: number } = {}): AsyncGenerator<T> {
  let skip = options.skip ?? 0;
  const index = await readJsonIfExists<PartsIndex>(blobs, partsIndexKey(key));
  if (!index) {
    yield* readJsonlObject<T>(blobs, key, skip);
    return;
  }
  for (const [i, count] of index.parts.entries()) {
    if (skip >= count) {
      skip -= count;
      continue;
    }
    yield* readJsonlObject<T>(blobs, partKey(key, i), skip);
    skip = 0;
  }
}

/** Stage name of the dedupe output (`work/<dataset>/<partition>/deduped-<hash>.jsonl`): PII-clean, deduplicated records. */
export const DEDUPED_STAGE = 'deduped';

/**
 * The deduplicated (PII-clean) records of a partition, streaming, from every complete dedupe output in its work
 * area: runs over other inputs write outputs under other hashes; one without its parts index is unfinished and
 * skipped.
 */
export async function* readDedupedRecords(blobs: BlobStore, dataset: string, partition: string): AsyncGenerator<HashedRecord> {
  const indexes = await blobs.list(`${workPrefix(dataset, partition)}${DEDUPED_STAGE}-`);
  for (const f of indexes.filter((i) => i.key.endsWith('.parts.json'))) {
    yield* readJsonl<HashedRecord>(blobs, outputKeyOfIndex(f.key));
  }
}

/** The records of a writer's committed parts (what a resumed attempt already wrote). */
export async function* readCommitted<T>(blobs: BlobStore, writer: PartedJsonlWriter): AsyncGenerator<T> {
  for (const i of writer.committed.keys()) yield* readJsonlObject<T>(blobs, partKey(writer.key, i));
}

/** Delete a stage output, parted or single. */
export async function deleteJsonl(blobs: BlobStore, key: string): Promise<void> {
  for (const part of await blobs.list(`${baseOf(key)}.part-`)) await blobs.delete(part.key);
  await blobs.delete(partsIndexKey(key));
  await blobs.delete(key);
}

/**
 * A stage output written as numbered JSONL parts, each committed whole by `commitPart`, then an index by
 * `finish`. A retried activity passes the part counts of its last checkpoint and carries on after them; a
 * part the failed attempt wrote past its checkpoint is rewritten (stages are deterministic) or removed.
 */
export class PartedJsonlWriter {
  private sink: JsonlSink | undefined;
  private readonly partCounts: number[];

  constructor(
    private readonly blobs: BlobStore,
    readonly key: string,
    committedParts: readonly number[] = [],
  ) {
    this.partCounts = [...committedParts];
  }

  /** Records written, committed parts and the open one. */
  get count(): number {
    return this.partCounts.reduce((a, b) => a + b, 0) + (this.sink?.count ?? 0);
  }

  /** Records in the open part. */
  get pending(): number {
    return this.sink?.count ?? 0;
  }

  /** Record counts of the committed parts (for a checkpoint). */
  get committed(): number[] {
    return [...this.partCounts];
  }

  async push(value: unknown): Promise<void> {
    this.sink ??= new JsonlSink(this.blobs, partKey(this.key, this.partCounts.length));
    await this.sink.push(value);
  }

  /** Commit the open part, if it has records. */
  async commitPart(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    await sink.close();
    this.partCounts.push(sink.count);
  }

  /** Commit the open part, remove parts a failed attempt left beyond this output, write the index. */
  async finish(): Promise<number> {
    await this.commitPart();
    const n = this.partCounts.length;
    for (const part of await this.blobs.list(`${baseOf(this.key)}.part-`)) {
      const m = /\.part-(\d+)\.jsonl$/.exec(part.key);
      if (m && Number(m[1]) >= n) await this.blobs.delete(part.key);
    }
    const index: PartsIndex = { parts: this.partCounts };
    await this.blobs.put(partsIndexKey(this.key), JSON.stringify(index));
    return this.count;
  }

  /** Discard the open part (committed parts stay, for a retry to resume after). */
  async abort(reason: Error): Promise<void> {
    await this.sink?.abort(reason);
    this.sink = undefined;
  }
}

/** Run fn with parted writers: each finished when fn succeeds; the open parts discarded when it throws. */
export async function withPartedWriters<T>(writers: PartedJsonlWriter[], fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    for (const w of writers) await w.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  for (const w of writers) await w.finish();
  return result;
}

/**
 * The checkpoint a retried attempt resumes from: the `checkpoint` of the last heartbeat the failed attempt
 * sent, when it belongs to the same output (`key`); undefined on a first attempt.
 */
export function resumeCheckpoint<C extends { key: string }>(key: string): C | undefined {
  const details = Context.current().info.heartbeatDetails as { checkpoint?: C } | undefined;
  const checkpoint = details?.checkpoint;
  return checkpoint && checkpoint.key === key ? checkpoint : undefined;
}

/**
 * Streams JSONL lines into one blob as they are produced (batched into ~1 MiB chunks, at most two chunks
 * queued), so a stage's memory does not grow with the partition. Used by PartedJsonlWriter for each part.
 */
export class JsonlSink {
  /** Lines written so far. */
  count = 0;
  private lines: string[] = [];
  private lineBytes = 0;
  private readonly queue: Buffer[] = [];
  private closed = false;
  private abortedWith: Error | undefined;
  private failed: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(
    blobs: BlobStore,
    readonly key: string,
    private readonly chunkBytes = 1024 * 1024,
  ) {
    this.done = blobs.putStream(key, this.chunks());
    this.done.catch((err: unknown) => {
      this.failed = err;
      this.wakeProducer?.();
    });
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        this.wakeProducer?.();
        yield next;
        continue;
      }
      // An aborted sink must not commit: throwing makes the store discard what it received.
      if (this.abortedWith) throw this.abortedWith;
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** Append one value as a JSON line. */
  async push(value: unknown): Promise<void> {
    if (this.failed) throw this.failed;
    const line = `${JSON.stringify(value)}\n`;
    this.lines.push(line);
    this.lineBytes += line.length;
    this.count += 1;
    if (this.lineBytes >= this.chunkBytes) await this.emit();
  }

  private async emit(): Promise<void> {
    if (this.lines.length > 0) {
      this.queue.push(Buffer.from(this.lines.join(''), 'utf8'));
      this.lines = [];
      this.lineBytes = 0;
      this.wakeConsumer?.();
    }
    while (this.queue.length > 2 && !this.failed) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
      this.wakeProducer = undefined;
    }
    if (this.failed) throw this.failed;
  }

  /** Flush and commit the object. */
  async close(): Promise<void> {
    await this.emit();
    this.closed = true;
    this.wakeConsumer?.();
    await this.done;
  }

  /** Discard: nothing is committed. */
  async abort(reason: Error): Promise<void> {
    this.abortedWith = reason;
    this.wakeConsumer?.();
    await this.done.catch(() => undefined);
  }
}

/** Read a small JSON object, or undefined when absent. */
export async function readJsonIfExists<T>(blobs: BlobStore, key: string): Promise<T | undefined> {
  if (!(await blobs.head(key))) return undefined;
  return JSON.parse((await blobs.get(key)).toString('utf8')) as T;
}
