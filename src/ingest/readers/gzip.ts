import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputFileError, type ByteSource } from './types';

/** The two magic bytes every gzip member starts with. */
export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** Options for `gunzipCapped`. */
export interface GunzipOptions {
  fileName: string;
  /** Stop with `decompressed_too_large` once the output passes this many bytes (a gzip bomb). */
  maxDecompressedBytes: number;
}

/**
 * Decompress a gzip stream chunk by chunk (concatenated members included) without holding it whole.
 * A truncated or corrupt stream fails with an InputFileError naming the file: the partition fails rather
 * than silently ingesting a prefix, because a cut-off upload looks exactly like a short day otherwise.
 */
export async function* gunzipCapped(source: ByteSource, options: GunzipOptions): AsyncGenerator<Buffer> {
  const { fileName, maxDecompressedBytes } = options;
  const input = Readable.from(source, { objectMode: false });
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let total = 0;
  try {
    for await (const chunk of gunzip) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxDecompressedBytes) {
        throw new InputFileError(
          fileName,
          'decompressed_too_large',
          `decompresses to more than ingest.maxDecompressedBytes (${maxDecompressedBytes} bytes); a gzip bomb or a file to split`,
        );
      }
      yield buf;
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((err as Error).message)) {
      throw new InputFileError(
        fileName,
        'truncated_gzip',
        `gzip stream ends early (truncated after ${total} decompressed bytes); re-upload the file`,
      );
    }
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new InputFileError(fileName, 'corrupt_gzip', `not a valid gzip stream (${code})`);
    }
    throw err;
  } finally {
    input.unpipe(gunzip);
    input.destroy();
    gunzip.destroy();
  }
}
