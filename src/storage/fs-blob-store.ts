import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { assertValidBlobKey, assertValidBlobPrefix, compareKeys, RESERVED_SEGMENT_PREFIX } from './blob-key';
import { BlobNotFoundError, type BlobInfo, type BlobStore } from './blob-store';

/** Options of the local-folder blob store. */
export interface FsBlobStoreOptions {
  /** fsync each object before it becomes visible (slower; survives power loss, not just crashes). Default false. */
  fsync?: boolean;
}

const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);
// Filesystems without hard links (some FUSE/SMB mounts) answer link() with one of these.
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && MISSING_CODES.has(code);
}

/** A blob store over a local folder: one file per key, atomic writes, exclusive putIfAbsent. */
export class FsBlobStore implements BlobStore {
  /** Absolute root folder. */
  readonly rootDir: string;
  readonly uri: string;
  private readonly fsync: boolean;

  constructor(rootDir: string, options: FsBlobStoreOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    this.uri = pathToFileURL(this.rootDir).href;
    this.fsync = options.fsync ?? false;
  }

  private pathOf(key: string): string {
    assertValidBlobKey(key);
    return path.join(this.rootDir, ...key.split('/'));
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathOf(key);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      if (isMissing(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async getStream(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    // Open eagerly so a missing key rejects here instead of surfacing later as a stream 'error' event.
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (err) {
      if (isMissing(err)) throw new BlobNotFoundError(key);
      throw err;
    }
    const stat = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (!stat.isFile()) {
      await handle.close();
      throw new BlobNotFoundError(key);
    }
    return handle.createReadStream();
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const file = this.pathOf(key);
    const temp = await this.writeTemp(file, body);
    try {
      await fsp.rename(temp, file);
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw this.describe(err, key);
    }
  }

  async putStream(key: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    const file = this.pathOf(key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(path.dirname(file), `${RESERVED_SEGMENT_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await fsp.open(temp, 'w');
    try {
      for await (const chunk of chunks) await handle.write(chunk);
      if (this.fsync) await handle.sync();
      await handle.close();
      await fsp.rename(temp, file);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.rm(temp, { force: true });
      throw this.describe(err, key);
    }
  }

  async putIfAbsent(key: string, body: Buffer | string): Promise<boolean> {
    const file = this.pathOf(key);
    if (await this.head(key)) return false;
    const temp = await this.writeTemp(file, body);
    try {
      // link() fails with EEXIST when the target exists, so of N concurrent writers exactly one wins,
      // and readers never see a half-written file.
      await fsp.link(temp, file);
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'EEXIST') return false;
      if (code !== undefined && NO_LINK_CODES.has(code)) return await this.createExclusive(file, body);
      throw this.describe(err, key);
    } finally {
      await fsp.rm(temp, { force: true });
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const file = this.pathOf(key);
    try {
      const stat = await fsp.stat(file);
      return stat.isFile() ? { key, size: stat.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    assertValidBlobPrefix(prefix);
    // Walk only the deepest folder the prefix fully names; the rest of the prefix filters names.
    const dirPart = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const startDir = path.join(this.rootDir, ...dirPart.split('/').filter((s) => s !== ''));
    const found: BlobInfo[] = [];
    await this.walk(startDir, dirPart, prefix, found);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await fsp.unlink(file);
    } catch (err) {
      if (isMissing(err)) return;
      // Some systems answer unlink() of a folder with EPERM; a folder of other keys is no object.
      if (errorCode(err) === 'EPERM' && (await fsp.stat(file).catch(() => undefined))?.isDirectory()) return;
      throw err;
    }
  }

  private async walk(dir: string, keyPrefix: string, filter: string, out: BlobInfo[]): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
      const key = keyPrefix + entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const sub = key + '/';
        // Descend only where keys below could still match the prefix.
        if (sub.startsWith(filter) || filter.startsWith(sub)) await this.walk(full, sub, filter, out);
      } else if (entry.isFile() && key.startsWith(filter)) {
        const stat = await fsp.stat(full).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
        if (stat) out.push({ key, size: stat.size });
      }
    }
  }

  private async writeTemp(file: string, body: Buffer | string): Promise<string> {
    const dir = path.dirname(file);
    await this.mkdirFor(dir, path.relative(this.rootDir, file));
    const temp = path.join(dir, `${RESERVED_SEGMENT_PREFIX}${randomBytes(8).toString('hex')}`);
    const handle = await fsp.open(temp, 'wx');
    try {
      await handle.writeFile(body);
      if (this.fsync) await handle.sync();
    } catch (err) {
      await handle.close();
      await fsp.rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    return temp;
  }

  private async mkdirFor(dir: string, key: string): Promise<void> {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw this.describe(err, key);
    }
  }

  /** Fallback without hard links: exclusive create, then write; a crash mid-write leaves a partial object. */
  private async createExclusive(file: string, body: Buffer | string): Promise<boolean> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'wx');
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return false;
      throw err;
    }
    try {
      await handle.writeFile(body);
      if (this.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }

  private describe(err: unknown, key: string): unknown {
    const code = errorCode(err);
    if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
      return new Error(
        `Cannot write blob ${JSON.stringify(key)}: a file and a folder collide on its path ` +
          `(one key is a prefix-folder of another) in ${this.uri} (${code})`,
      );
    }
    return err;
  }
}

/** Creates a blob store that keeps objects as files under rootDir (created on first write). */
export function createFsBlobStore(rootDir: string, options: FsBlobStoreOptions = {}): FsBlobStore {
  return new FsBlobStore(rootDir, options);
}
