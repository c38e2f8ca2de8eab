/**
 * PII stage: redact, mask or tokenize every finding (or drop the record, or fail the run); a record whose
 * scan cannot finish is quarantined (fail closed). The raw-PII work file is deleted afterwards.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { PiiConfigError, scanRecord } from '../pii/engine';
import { ErrorType } from '../shared/errors';
import type { PiiEntity } from '../shared/spec';
import type { PiiResult } from '../shared/types';
import type { CpuActivityDeps } from './deps';
import type { PartitionInput } from './ingest';
import { keyHash, readJsonIfExists, readJsonl, withJsonlSink, workKey } from './work-files';

/** PII activities. */
export function createPiiActivities({ blobs, specs, registry, logger, piiTokenKey }: CpuActivityDeps) {
  return {
    /** Scan every string of every record; no raw PII leaves this step (only counts by type and field). */
    async scanPii(input: PartitionInput & { stagedKey: string }): Promise<PiiResult> {
      const { spec } = await specs.load(input.dataset);
      const h = keyHash(input.stagedKey, input.specHash);
      const cleanKey = workKey(input.dataset, input.partition, 'clean', h);
      const summaryKey = `${cleanKey}.summary.json`;
      const done = await readJsonIfExists<PiiResult>(blobs, summaryKey);
      if (done) return done;

      const quarantineByReason: Record<string, number> = {};
      const findings: Partial<Record<PiiEntity, number>> = {};
      const findingsByField: Record<string, number> = {};
      const perField = new Map<string, { field: string; entity: string; count: number }>();
      let dropped = 0;
      let seen = 0;
      const skipFields = [spec.schema.idField, spec.schema.timeField, spec.schema.labelField];
      let quarantineKey: string | undefined = `quarantine/${input.dataset}/${input.partition}/pii-${h}.jsonl`;
      // Both outputs stream to the blob store; a failure discards them (nothing half-written is committed).
      const { records, quarantined } = await withJsonlSink(blobs, quarantineKey, (quarantine) =>
        withJsonlSink(blobs, cleanKey, async (out) => {
          for await (const record of readJsonl<Record<string, unknown>>(blobs, input.stagedKey)) {
            let r;
            try {
              r = scanRecord(record, spec.pii, { skipFields, tokenKey: piiTokenKey });
            } catch (err) {
              if (err instanceof PiiConfigError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidSpec);
              throw err;
            }
            if (r.action === 'quarantine') {
              // Fail closed: the record goes to quarantine (a restricted area, like raw/), never onwards.
              const reason = r.reason ?? 'pii_scan_error';
              quarantineByReason[reason] = (quarantineByReason[reason] ?? 0) + 1;
              await quarantine.push({ reason, rawBase64: Buffer.from(JSON.stringify(record)).toString('base64') });
              continue;
            }
            for (const f of r.findings) {
              findings[f.entity] = (findings[f.entity] ?? 0) + 1;
              // Array indexes fold to `*` so the keys stay few and stable.
              const field = f.field.replace(/(^|\.)\d+(?=\.|$)/g, '$1*');
              const k = `${field}:${f.entity}`;
              findingsByField[k] = (findingsByField[k] ?? 0) + 1;
              const row = perField.get(k) ?? { field, entity: f.entity, count: 0 };
              row.count += 1;
              perField.set(k, row);
            }
            if (r.action === 'fail') {
              // The message names the field and type only, never the value.
              const f = r.findings[0];
              throw ApplicationFailure.nonRetryable(
                `PII policy "fail" triggered in ${input.dataset}/${input.partition}: ${f?.entity ?? 'PII'} in field ${f?.field ?? '?'}`,
                ErrorType.PiiPolicyViolation,
              );
            }
            if (r.action === 'drop_record') dropped += 1;
            else await out.push(r.record);
            if (++seen % 1000 === 0) Context.current().heartbeat({ records: seen });
          }
          return { records: out.count, quarantined: quarantine.count };
        }),
      );
      if (quarantined === 0) {
        await blobs.delete(quarantineKey);
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
      await registry.piiFindings.replaceForPartition(input.dataset, input.partition, [...perField.values()]);
      await blobs.put(summaryKey, JSON.stringify(result));
      // The ingested file holds raw PII; once the clean copy and its summary exist it is no longer needed.
      await blobs.delete(input.stagedKey);
      logger.info({ dataset: input.dataset, partition: input.partition, findings, dropped }, 'PII scan done');
      return result;
    },
  };
}
