/**
 * Ingest stage: stream a raw partition (JSONL, CSV or Parquet, optionally gzipped) through the record
 * contract; quarantine what fails, account for every record.
 */
import { Context, ApplicationFailure } from '@temporalio/activity';
import { PartitionAccounting, type PartitionCounts } from '../ingest/ingest-lines';
import { detectFormat, openRecordStream } from '../ingest/readers';
import { ErrorType } from '../shared/errors';
import { rawPartitionPrefix } from '../shared/ids';
import type { IngestResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import {
  PART_RECORDS,
  PartedJsonlWriter,
  deleteJsonl,
  keyHash,
  partsGlob,
  readJsonIfExists,
  resumeCheckpoint,
  touchWorkArea,
  withPartedWriters,
  workKey,
} from '../datasets/work-files';

/** Which partition, under which spec. */
export interface PartitionInput {
  dataset: string;
  partition: string;
  specHash: string;
}

/** Where a retried ingest resumes: the input position, the counts so far and the committed output parts. */
interface IngestCheckpoint {
  key: string;
  file: number;
  itemsInFile: number;
  bytes: number;
  counts: PartitionCounts;
  acceptedParts: number[];
  quarantineParts: number[];
}

/** Ingest activities. */
export function createIngestActivities({ blobs, specs, logger, partRecords = PART_RECORDS }: CpuActivityDeps) {
  return {
    /** Validate every line of raw/<dataset>/<partition>/; accepted records go to the work area. */
    async ingestPartition(input: PartitionInput): Promise<IngestResult> {
      const { spec, specHash } = await specs.load(input.dataset);
      if (specHash !== input.specHash) {
        throw ApplicationFailure.nonRetryable(`spec of ${input.dataset} changed during the run; start a new run`, ErrorType.InvalidSpec);
      }
      const files = (await blobs.list(rawPartitionPrefix(input.dataset, input.partition))).filter(
        (f) => detectFormat(f.key, spec.ingest.format) !== undefined,
      );
      if (files.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `no raw partition at ${blobs.uri}/${rawPartitionPrefix(input.dataset, input.partition)} (expected .jsonl, .csv or .parquet files, optionally .gz)`,
          ErrorType.PartitionNotFound,
        );
      }
      // Every run starts here: the stamp keeps `trainset work sweep` off a partition in use, whatever its date.
      await touchWorkArea(blobs, input.dataset, input.partition);
      // Raw objects are never modified, so their keys and sizes identify the input.
      const h = keyHash(specHash, ...files.map((f) => `${f.key}:${f.size}`));
      const stagedKey = workKey(input.dataset, input.partition, 'ingested', h);
      const summaryKey = `${stagedKey}.summary.json`;
      const done = await readJsonIfExists<IngestResult>(blobs, summaryKey);
      if (done) return done;

      let quarantineKey: string | undefined = `quarantine/${input.dataset}/${input.partition}/${h}.jsonl`;
      // A retry resumes after the last checkpoint: committed parts stay, the records they hold are skipped.
      const resume = resumeCheckpoint<IngestCheckpoint>(stagedKey);
      const accounting = PartitionAccounting.from(resume?.counts);
      const accepted = new PartedJsonlWriter(blobs, stagedKey, resume?.acceptedParts);
      const quarantine = new PartedJsonlWriter(blobs, quarantineKey, resume?.quarantineParts);
      let checkpoint = resume;
      let position = { file: resume?.file ?? 0, itemsInFile: resume?.itemsInFile ?? 0, bytes: resume?.bytes ?? 0 };
      const beat = (): void =>
        Context.current().heartbeat({ files: files.length, records: accounting.recordsIn, bytesRead: position.bytes, checkpoint });
      // Both outputs stream to the blob store in parts, so memory does not grow with the partition.
      await withPartedWriters([accepted, quarantine], async () => {
        let bytesBefore = files.slice(0, position.file).reduce((a, f) => a + f.size, 0);
        for (let fileIndex = position.file; fileIndex < files.length; fileIndex++) {
          const file = files[fileIndex] as (typeof files)[number];
          const skip = fileIndex === position.file ? position.itemsInFile : 0;
          let items = 0;
          let fileBytes = 0;
          const stream = await blobs.getStream(file.key);
          stream.on('data', (chunk: Buffer) => (fileBytes += chunk.length));
          // A whole unreadable file (gzip bomb, truncated gzip, corrupt Parquet) throws InputFileError: the partition fails.
          for await (const item of openRecordStream(stream, { spec, fileName: file.key })) {
            if (items++ < skip) continue;
            accounting.record(item);
            if (item.kind === 'accepted') await accepted.push(item.record);
            else
              await quarantine.push({
                file: file.key,
                line: item.lineNumber,
                reason: item.reason,
                bytes: item.byteLength,
                rawBase64: item.rawBase64,
              });
            position = { file: fileIndex, itemsInFile: items, bytes: bytesBefore + fileBytes };
            if (accepted.pending + quarantine.pending >= partRecords) {
              await accepted.commitPart();
              await quarantine.commitPart();
              checkpoint = {
                key: stagedKey,
                ...position,
                counts: accounting.snapshot(),
                acceptedParts: accepted.committed,
                quarantineParts: quarantine.committed,
              };
              beat();
            } else if (accounting.recordsIn % 1000 === 0) beat();
          }
          bytesBefore += file.size;
        }
      });
      const quarantined = quarantine.count;
      const counts = accounting.snapshot();
      if (quarantined === 0) {
        await deleteJsonl(blobs, quarantineKey);
        quarantineKey = undefined;
      }
      const rate = accounting.quarantineRate;
      if (rate > spec.ingest.maxQuarantineRate) {
        // Nothing goes on to the next stage (and no raw-PII work file is left behind); the quarantine stays.
        await deleteJsonl(blobs, stagedKey);
        const top = Object.entries(counts.byReason)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([r, n]) => `${r} (${n})`)
          .join(', ');
        throw ApplicationFailure.nonRetryable(
          `partition ${input.dataset}/${input.partition}: ${(rate * 100).toFixed(1)}% of ${counts.recordsIn} lines quarantined, above the spec's ${(spec.ingest.maxQuarantineRate * 100).toFixed(1)}%; top reasons: ${top}. An upstream schema change looks like this; see ${partsGlob(quarantine.key)}`,
          ErrorType.QuarantineRateExceeded,
        );
      }
      const result: IngestResult = { ...counts, stagedKey, quarantineKey, files: files.length };
      await blobs.put(summaryKey, JSON.stringify(result));
      logger.info(
        {
          dataset: input.dataset,
          partition: input.partition,
          recordsIn: counts.recordsIn,
          accepted: counts.accepted,
          quarantined: counts.quarantined,
        },
        'ingested partition',
      );
      return result;
    },
  };
}
