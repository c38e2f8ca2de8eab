import { ingestLines, type IngestItem } from '../ingest-lines';
import type { ByteSource, ReaderOptions } from './types';

/** Read JSONL (already decompressed): one accepted or quarantined item per line, 1-based line numbers. */
export function readJsonlRecords(source: ByteSource, options: ReaderOptions): AsyncGenerator<IngestItem> {
  return ingestLines(source, options.spec, options);
}
