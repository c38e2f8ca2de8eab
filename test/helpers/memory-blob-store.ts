/** An in-memory BlobStore for activity tests; it counts reads so a test can tell a retry did not re-read. */
import { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobInfo, type BlobStore } from '../../src/storage/blob-store';

/** In-memory blob store with per-key read counts. */
export class MemoryBlobStore implements BlobStore {
  readonly uri = 'memory://test';
  private readonly objects = new Map<string, Buffer>();
  /** How often each key was read (get or getStream). */
  readonly reads = new Map<string, number>();

  /** Every stored key, sorted. */
  keys(): string[] {
    return [...this.objects.keys()].sort();
  }

  /** Bytes of every stored object together. */
  totalBytes(): number {
    let n = 0;
    for (const b of this.objects.values()) n += b.length;
    return n;
  }

  /** An object's content as text (throws when absent). */
  text(key: string): string {
    const b = this.objects.get(key);
    if (!b) throw new BlobNotFoundError(key);
    return b.toString('utf8');
  }

  /** A stage output's content as one JSONL text: its parts in order when it is parted, else the object itself. */
  jsonl(key: string): string {
    const base = key.replace(/\.jsonl$/, '');
    const index = this.objects.get(`${base}.parts.json`);
    if (!index) return this.text(key);
    const { parts } = JSON.parse(index.toString('utf8')) as { parts: number[] };
    return parts.map((_, i) => this.text(`${base}.part-${String(i).padStart(5, '0')}.jsonl`)).join('');
  }

  async get(key: string): Promise<Buffer> {
    const b = this.objects.get(key);
    if (!b) throw new BlobNotFoundError(key);
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return Buffer.from(b);
  }

  async getStream(key: string): Promise<Readable> {
    // Small chunks, so line splitting across chunk boundaries is exercised too.
    const b = await this.get(key);
    const chunks: Buffer[] = [];
    for (let i = 0; i < b.length; i += 64) chunks.push(b.subarray(i, i + 64));
    return Readable.from(chunks);
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    this.objects.set(key, Buffer.from(body));
  }

  async putStream(key: string, chunks: AsyncIterable<Buffer>): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of chunks) parts.push(c);
    this.objects.set(key, Buffer.concat(parts));
  }

  async putIfAbsent(key: string, body: Buffer | string): Promise<boolean> {
    if (this.objects.has(key)) return false;
    this.objects.set(key, Buffer.from(body));
    return true;
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const b = this.objects.get(key);
    return b ? { key, size: b.length } : undefined;
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    return this.keys()
      .filter((k) => k.startsWith(prefix))
      .map((key) => ({ key, size: this.objects.get(key)!.length }));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
