import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordHash } from '../../src/dedupe/dedupe';
import { writeRecordsParquet } from '../../src/datasets/parquet';
import { decodeParquetRows } from '../../src/datasets/version-store';
import type { DatasetSpec } from '../../src/shared/spec';
import type { SplitName } from '../../src/training/contract';
import type { JobDirInput } from '../../src/training/job-dir';
import { decodeNpy } from '../../src/training/npy';
import { ticketsSpec } from './data-fixtures';
import { syntheticTickets } from './training-fixtures';

/** The tickets spec with a small, fast builtin trainer (and one trainer-specific hyperparameter). */
export function smallSpec(trainer: Partial<DatasetSpec['trainer']> = {}): DatasetSpec {
  return {
    ...ticketsSpec,
    trainer: { ...ticketsSpec.trainer, features: 512, epochs: 4, hyperparameters: { note: 'from the spec' }, ...trainer },
  };
}

/**
 * `n` tickets as a version's rows are read back (through Parquet, with `_trainset_hash`): separable by keyword, in
 * the tickets spec's shape; every `unlabeledEvery`-th record (when > 0) has no queue.
 */
export async function versionTickets(
  spec: DatasetSpec,
  n: number,
  seed: number,
  unlabeledEvery = 0,
): Promise<Array<Record<string, unknown>>> {
  const raw = syntheticTickets(n, seed).map((t, i) => {
    const words = String(t.text).split(' ');
    const r: Record<string, unknown> = {
      id: String(t.id),
      created_at: new Date(Date.UTC(2024, 2, 1, 0, i)).toISOString(),
      channel: t.channel,
      subject: words.slice(0, 2).join(' '),
      body: String(t.text),
    };
    if (!(unlabeledEvery > 0 && i % unlabeledEvery === unlabeledEvery - 1)) r.queue = t.label;
    return r;
  });
  const parquet = writeRecordsParquet(
    raw.map((record) => ({ record, hash: recordHash(record, spec) })),
    spec,
  );
  return decodeParquetRows(parquet, spec);
}

/** One split's CSR arrays as written in a job directory, as plain numbers. */
export interface Csr {
  indptr: number[];
  indices: number[];
  values: number[];
  labels: number[];
}

/** Read `features/<split>.*.npy` of a job directory. */
export function readCsr(dir: string, split: SplitName): Csr {
  const read = (kind: string): number[] => Array.from(decodeNpy(readFileSync(join(dir, `features/${split}.${kind}.npy`))), Number);
  return { indptr: read('indptr'), indices: read('indices'), values: read('values'), labels: read('labels') };
}

/** A writeJobDir input for a tickets-classifier job on dataset version dv-1 (no resume, no GPU). */
export function ticketsJobInput(
  spec: DatasetSpec,
  splits: Record<SplitName, Array<Record<string, unknown>>>,
  overrides: Partial<JobDirInput> = {},
): JobDirInput {
  return {
    jobKey: 'tickets-classifier/dv-1',
    model: 'tickets-classifier',
    datasetVersion: 'dv-1',
    spec,
    splits,
    shuffleLabels: false,
    gpus: 0,
    resumeFrom: null,
    ...overrides,
  };
}
