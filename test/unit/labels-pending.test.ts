/**
 * `trainset labels pending`: the text a labeler sees comes from the spec's text fields of the partition's deduped
 * (PII-clean) records, whatever the dataset's schema; tickets and reviews name their text fields differently.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { pendingLabels, recordPreview } from '../../src/cli/labels-command';
import { DEDUPED_STAGE, PartedJsonlWriter, readDedupedRecords, workKey, type HashedRecord } from '../../src/datasets/work-files';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';
import { MemoryBlobStore } from '../helpers/memory-blob-store';

const spec = (name: string): DatasetSpec =>
  parseDatasetSpec(parseYaml(readFileSync(path.join(__dirname, '../../specs', `${name}.yaml`), 'utf8')), name);

const DAY = '2026-11-02';

/** Write a dedupe output for the partition as the dedupe stage does (parts, then the index); `finish: false` leaves it unfinished. */
async function writeDeduped(
  blobs: MemoryBlobStore,
  dataset: string,
  inputHash: string,
  records: HashedRecord[],
  finish = true,
): Promise<void> {
  const writer = new PartedJsonlWriter(blobs, workKey(dataset, DAY, DEDUPED_STAGE, inputHash));
  for (const r of records) await writer.push(r);
  if (finish) await writer.finish();
  else await writer.commitPart();
}

describe('labels pending', () => {
  it("shows a review's title and text (the reviews spec's text fields)", async () => {
    const blobs = new MemoryBlobStore();
    await writeDeduped(blobs, 'reviews', 'in1', [
      { hash: 'h1', record: { id: 'r1', title: 'Stopped working', text: 'after a week [EMAIL_ADDRESS]', rating: 1 } },
      { hash: 'h2', record: { id: 'r2', title: 'Fine', text: 'does the job', rating: 4 } },
    ]);
    expect(await pendingLabels(blobs, spec('reviews'), DAY, ['h2', 'h1', 'gone'])).toEqual([
      { recordHash: 'h2', text: 'Fine | does the job' },
      { recordHash: 'h1', text: 'Stopped working | after a week [EMAIL_ADDRESS]' },
      { recordHash: 'gone', text: '' },
    ]);
  });

  it("shows a ticket's subject and body (the tickets spec's text fields), cut to 100 characters", async () => {
    const blobs = new MemoryBlobStore();
    const body = 'x'.repeat(200);
    await writeDeduped(blobs, 'tickets', 'in1', [{ hash: 't1', record: { id: 't1', subject: 'Refund', body } }]);
    const [p] = await pendingLabels(blobs, spec('tickets'), DAY, ['t1']);
    expect(p).toEqual({ recordHash: 't1', text: `Refund | ${body}`.slice(0, 100) });
  });

  it('skips text fields without a value', () => {
    expect(recordPreview({ title: null, text: 'only the text' }, spec('reviews'))).toBe('only the text');
  });
});

describe('readDedupedRecords', () => {
  it('reads every finished dedupe output of the partition and skips one without its index', async () => {
    const blobs = new MemoryBlobStore();
    await writeDeduped(blobs, 'reviews', 'a', [{ hash: 'h1', record: { title: 'one' } }]);
    await writeDeduped(blobs, 'reviews', 'b', [{ hash: 'h2', record: { title: 'two' } }]);
    await writeDeduped(blobs, 'reviews', 'c', [{ hash: 'h3', record: { title: 'unfinished' } }], false);
    await writeDeduped(blobs, 'tickets', 'a', [{ hash: 'other', record: { subject: 'another dataset' } }]);
    const hashes: string[] = [];
    for await (const r of readDedupedRecords(blobs, 'reviews', DAY)) hashes.push(r.hash);
    expect(hashes.sort()).toEqual(['h1', 'h2']);
  });
});
