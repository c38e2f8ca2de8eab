import { ErrorType, TrainsetError } from '../../shared/errors';
import type { DatasetSpec } from '../../shared/spec';
import type { CheckOptions } from '../contract';
import type { PartitionAccounting } from '../ingest-lines';

export type { AcceptedItem, IngestItem, QuarantinedItem } from '../ingest-lines';

/** Input formats a reader exists for. */
export type InputFormat = 'jsonl' | 'csv' | 'parquet';

/** Raw bytes of one input file, as a blob store stream or any (async) iterable of chunks. */
export type ByteSource = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>;

/** Options every reader takes. */
export interface ReaderOptions extends CheckOptions {
  spec: DatasetSpec;
  /** Name of the file (blob key) being read; errors name it, and `auto` format goes by its extension. */
  fileName: string;
  /** Tallies every yielded item when given. */
  accounting?: PartitionAccounting;
  /** Folder for the temporary copy a Parquet stream is spooled to (it needs random access); default os.tmpdir(). */
  tmpDir?: string;
}

/** Why a whole input file could not be read; the message names the file, never its content. */
export type InputFileProblem =
  'unknown_format' | 'decompressed_too_large' | 'truncated_gzip' | 'corrupt_gzip' | 'corrupt_parquet' | 'unparseable_csv';

/** A whole input file is unreadable (a bad record is quarantined instead): the partition fails (InputFileUnreadable, not retried). */
export class InputFileError extends TrainsetError {
  constructor(
    readonly fileName: string,
    readonly problem: InputFileProblem,
    detail: string,
  ) {
    super(`input file ${fileName}: ${detail}`, { type: ErrorType.InputFileUnreadable });
    this.name = 'InputFileError';
  }
}
