/**
 * NumPy `.npy` files (format version 1.0, little-endian, C order, 1-D): what a Python trainer reads with numpy
 * alone (`numpy.load`). Only the dtypes the trainer contract uses.
 */

/** Typed arrays the contract writes, by numpy dtype. */
export type NpyArray = Float32Array | Int32Array | BigInt64Array;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function descrOf(a: NpyArray): string {
  if (a instanceof Float32Array) return '<f4';
  if (a instanceof Int32Array) return '<i4';
  return '<i8';
}

/** Encode a 1-D typed array as `.npy` bytes. */
export function encodeNpy(a: NpyArray): Buffer {
  let header = `{'descr': '${descrOf(a)}', 'fortran_order': False, 'shape': (${a.length},), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by \n to a multiple of 64.
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  // Typed arrays are little-endian on every platform Node supports (x64, arm64).
  const body = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

/** Decode `.npy` bytes written by encodeNpy or numpy (1-D, little-endian f4, i4 or i8, C order). */
export function decodeNpy(buf: Buffer): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file');
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('.npy in Fortran order is not supported');
  if (descr === undefined || shape === undefined) throw new Error('.npy header lacks descr or shape');
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (dims.length !== 1 || !Number.isInteger(dims[0])) throw new Error(`.npy shape (${shape}) is not 1-D`);
  const n = dims[0]!;
  const dataStart = start + headerLen;
  // Copy: the data offset need not be aligned for the typed array.
  const data = Buffer.from(buf.subarray(dataStart));
  const view = (bytes: number): ArrayBuffer => {
    if (data.length !== n * bytes) throw new Error(`.npy holds ${data.length} data bytes, expected ${n * bytes}`);
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  };
  if (descr === '<f4') return new Float32Array(view(4));
  if (descr === '<i4') return new Int32Array(view(4));
  if (descr === '<i8') return new BigInt64Array(view(8));
  throw new Error(`.npy dtype ${descr} is not supported (expected <f4, <i4 or <i8)`);
}
