/** Thrown when a blob key or prefix is malformed (path traversal, absolute path, empty segment). */
export class InvalidBlobKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`Invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

/** Segment prefix reserved for the file store's temporary files; keys may not use it. */
export const RESERVED_SEGMENT_PREFIX = '.blob-tmp-';

function checkSegments(key: string, segments: string[]): void {
  for (const segment of segments) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'empty path segment (leading, trailing or doubled "/")');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, `"${segment}" segments are not allowed`);
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
      throw new InvalidBlobKeyError(key, `segments starting with "${RESERVED_SEGMENT_PREFIX}" are reserved`);
    }
  }
}

function checkCharacters(key: string): void {
  if (key.includes('\0')) throw new InvalidBlobKeyError(key, 'NUL characters are not allowed');
  if (key.includes('\\')) throw new InvalidBlobKeyError(key, 'backslashes are not allowed; use "/"');
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'absolute paths are not allowed');
}

/** Checks a full object key: relative, "/"-separated, no empty, "." or ".." segments. */
export function assertValidBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'key is empty');
  checkCharacters(key);
  checkSegments(key, key.split('/'));
}

/**
 * Checks a list prefix: like a key, but it may be empty and may end with "/" (or stop mid-segment);
 * only its complete segments are checked.
 */
export function assertValidBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  checkCharacters(prefix);
  const segments = prefix.split('/');
  segments.pop(); // the last part is either '' (prefix ends with '/') or a partial segment
  checkSegments(prefix, segments);
  const last = prefix.slice(prefix.lastIndexOf('/') + 1);
  if (last === '.' || last === '..') throw new InvalidBlobKeyError(prefix, `"${last}" segments are not allowed`);
}

/** Orders keys by their UTF-8 bytes, the order S3 lists them in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
