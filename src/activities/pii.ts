/**
 * PII stage: redact, mask or tokenize every finding (or drop the record, or fail the run); a record whose
 * scan cannot finish is quarantined (fail closed). The raw-PII work file is deleted before the summary is written.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { foldIndexes, scanRecord } from '../pii/engine';
import { LINEAGE_FIELD, lineageOf, piiSkipFields } from '../ingest/feedback-lineage';
import { modelNameFor } from '../shared/ids';
import { ErrorType } from '../shared/errors';
import type { PiiEntity } from '../shared/spec';
import type { PiiResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import {
  PART_RECORDS,
  PartedJsonlWriter,
  deleteJsonl,
  keyHash,
  readJsonIfExists,
  readJsonl,
  resumeCheckpoint,
  withPartedWriters,
  workKey,
} from '../datasets/work-files';

/** What a PII scan has counted so far (JSON-safe, so it travels in a heartbeat checkpoint). */
interface PiiTally {
  quarantineByReason: Record<string, number>;
  findings: Partial<Record<PiiEntity, number>>;
  perField: Record<string, { field: string; entity: string; count: number }>;
  dropped: number;
}

/** Where a retried scan resumes: input records consumed, the tally, the committed output parts. */
interface PiiCheckpoint {
  key: string;
  inputRecords: number;
  tally: PiiTally;
  outParts: number[];
  quarantineParts: number[];
}

/** PII activities. */
export function createPiiActivities({ blobs, specs, registry, logger, piiTokenKey, partRecords = PART_RECORDS }: CpuActivityDeps) {
  return {
    /**
     * Scan every string and every undeclared key of every record; no raw PII leaves this step (only counts by type
     * and declared field path, undeclared keys counted as `<unknown>`).
     */
    async scanPii(input: PartitionInput & { stagedKey: string }): Promise<PiiResult> {
      const { spec } = await specs.load(input.dataset);
      const h = keyHash(input.stagedKey, input.specHash);
      const cleanKey = workKey(input.dataset, input.partition, 'clean', h);
      const summaryKey = `${cleanKey}.summary.json`;
      // The result is stored here before the raw-PII file is deleted and moves to the summary after: a summary
      // means the raw file is gone, and a retry after a failed delete finds this and deletes again.
      const pendingKey = `${cleanKey}.result.json`;
      const finish = async (result: PiiResult): Promise<PiiResult> => {
        await deleteJsonl(blobs, input.stagedKey);
        await blobs.put(summaryKey, JSON.stringify(result));
        await blobs.delete(pendingKey);
        return result;
      };
      const done = await readJsonIfExists<PiiResult>(blobs, summaryKey);
      if (done) {
        // Deleting again is cheap, and clears a raw file that a summary written before this order was kept beside.
        await deleteJsonl(blobs, input.stagedKey);
        return done;
      }
      const pending = await readJsonIfExists<PiiResult>(blobs, pendingKey);
      if (pending) return finish(pending);

      let quarantineKey: string | undefined = `quarantine/${input.dataset}/${input.partition}/pii-${h}.jsonl`;
      // A retry resumes after the last checkpoint: committed parts stay, the records they came from are skipped.
      const resume = resumeCheckpoint<PiiCheckpoint>(cleanKey);
      const tally: PiiTally = resume ? structuredClone(resume.tally) : { quarantineByReason: {}, findings: {}, perField: {}, dropped: 0 };
      const out = new PartedJsonlWriter(blobs, cleanKey, resume?.outParts);
      const quarantine = new PartedJsonlWriter(blobs, quarantineKey, resume?.quarantineParts);
      let checkpoint = resume;
      let seen = resume?.inputRecords ?? 0;
      const skipFields = piiSkipFields(spec);
      // The scan skips a production record's lineage (ids); its version id must be one the registry made, so the
      // field cannot carry anything else past the scan (the contract already tied its model and prediction id).
      // Read at the first production record (most partitions have none).
      let servedVersions: Set<string> | undefined;
      // Findings name declared paths only: a record's own keys are content and may themselves be PII.
      const declaredFields = spec.schema.fields;
      // Both outputs stream to the blob store in parts; a failure discards the open parts.
      await withPartedWriters([out, quarantine], async () => {
        for await (const record of readJsonl<Record<string, unknown>>(blobs, input.stagedKey, { skip: seen })) {
          seen += 1;
          // A policy that cannot be applied (tokenize without a key) throws PiiConfigError: the run fails (InvalidSpec).
          const lineage = skipFields.includes(LINEAGE_FIELD) ? lineageOf(record) : undefined;
          if (lineage !== undefined) servedVersions ??= new Set((await registry.models.listVersions(modelNameFor(spec))).map((v) => v.id));
          const unverified = lineage !== undefined && !servedVersions?.has(lineage.modelVersion);
          const r = unverified ? undefined : scanRecord(record, spec.pii, { skipFields, declaredFields, tokenKey: piiTokenKey });
          if (r === undefined || r.action === 'quarantine') {
            // Fail closed: the record goes to quarantine (a restricted area, like raw/), never onwards.
            const reason = r === undefined ? `unknown_model_version:${LINEAGE_FIELD}` : (r.reason ?? 'pii_scan_error');
            tally.quarantineByReason[reason] = (tally.quarantineByReason[reason] ?? 0) + 1;
            await quarantine.push({ reason, rawBase64: Buffer.from(JSON.stringify(record)).toString('base64') });
          } else {
            for (const f of r.findings) {
              tally.findings[f.entity] = (tally.findings[f.entity] ?? 0) + 1;
              // Array indexes fold to `*` so the keys stay few and stable.
              const field = foldIndexes(f.field);
              const k = `${field}:${f.entity}`;
              const row = tally.perField[k] ?? { field, entity: f.entity, count: 0 };
              row.count += 1;
              tally.perField[k] = row;
            }
            if (r.action === 'fail') {
              // The message names the field and type only, never the value.
              const f = r.findings[0];
              throw ApplicationFailure.nonRetryable(
                `PII policy "fail" triggered in ${input.dataset}/${input.partition}: ${f?.entity ?? 'PII'} in field ${f?.field ?? '?'}`,
                ErrorType.PiiPolicyViolation,
              );
            }
            if (r.action === 'drop_record') tally.dropped += 1;
            else await out.push(r.record);
          }
          if (out.pending + quarantine.pending >= partRecords) {
            await out.commitPart();
            await quarantine.commitPart();
            checkpoint = {
              key: cleanKey,
              inputRecords: seen,
              tally: structuredClone(tally),
              outParts: out.committed,
              quarantineParts: quarantine.committed,
            };
            Context.current().heartbeat({ records: seen, checkpoint });
          } else if (seen % 1000 === 0) Context.current().heartbeat({ records: seen, checkpoint });
        }
      });
      const records = out.count;
      const quarantined = quarantine.count;
      const { quarantineByReason, findings, dropped } = tally;
      const findingsByField = Object.fromEntries(Object.entries(tally.perField).map(([k, row]) => [k, row.count]));
      if (quarantined === 0) {
        await deleteJsonl(blobs, quarantineKey);
        quarantineKey = undefined;
      }
      const result: PiiResult = {
        records,
        droppedRecords: dropped,
        quarantined,
        quarantineByReason,
        quarantineKey,
        findings,
        findingsByField,
        cleanKey,
      };
      await registry.piiFindings.replaceForPartition(input.dataset, input.partition, Object.values(tally.perField));
      await blobs.put(pendingKey, JSON.stringify(result));
      logger.info({ dataset: input.dataset, partition: input.partition, findings, dropped }, 'PII scan done');
      // The ingested file holds raw PII; once the clean copy and the result exist it is no longer needed.
      return finish(result);
    },
  };
}
