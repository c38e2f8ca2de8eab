import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_COLUMN } from '../../src/datasets/parquet';
import { decodeParquetRows } from '../../src/datasets/version-store';
import type { DatasetSpec } from '../../src/shared/spec';
import { CONTRACT_VERSION, parseJobDescription, SPLITS, type SplitName } from '../../src/training/contract';
import { featurize } from '../../src/training/features';
import { featureSpecOf, JobInputError, writeJobDir, type JobDirInput } from '../../src/training/job-dir';
import { readCsr, smallSpec, ticketsJobInput, versionTickets, type Csr } from './job-dir-fixtures';

const root = mkdtempSync(join(tmpdir(), 'trainset-jobdir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `job-${++n}`);

const spec = smallSpec();
let splits: Record<SplitName, Array<Record<string, unknown>>>;
beforeAll(async () => {
  splits = {
    train: await versionTickets(spec, 120, 1, 7),
    validation: await versionTickets(spec, 40, 2, 5),
    test: await versionTickets(spec, 30, 3),
  };
});

const input = (overrides: Partial<JobDirInput> = {}): JobDirInput => ticketsJobInput(spec, splits, overrides);

const labelled = (records: Array<Record<string, unknown>>): Array<Record<string, unknown>> =>
  records.filter((r) => r[spec.schema.labelField] !== undefined && r[spec.schema.labelField] !== null);

/** The CSR featurize gives for records (values rounded to float32, as stored). */
function expectedCsr(records: Array<Record<string, unknown>>, s: DatasetSpec): Omit<Csr, 'labels'> {
  const out = { indptr: [0], indices: [] as number[], values: [] as number[] };
  for (const r of records) {
    const x = featurize(r, featureSpecOf(s));
    out.indices.push(...x.indices);
    out.values.push(...Array.from(x.values, Math.fround));
    out.indptr.push(out.indices.length);
  }
  return out;
}

const classIndex = (records: Array<Record<string, unknown>>): number[] =>
  records.map((r) => spec.labels.classes.indexOf(r[spec.schema.labelField] as string));

async function readRecords(dir: string, split: SplitName): Promise<Array<Record<string, unknown>>> {
  return decodeParquetRows(readFileSync(join(dir, `records/${split}.parquet`)), spec);
}

describe('writeJobDir', () => {
  it('writes per split the CSR of featurize for the labelled records and the same rows as Parquet, skipping and counting unlabeled ones', async () => {
    const dir = freshDir();
    const result = await writeJobDir(dir, input());
    for (const split of SPLITS) {
      const kept = labelled(splits[split]);
      expect(kept.length).toBeGreaterThan(0);
      expect(result.rows[split]).toBe(kept.length);
      expect(result.skipped[split]).toBe(splits[split].length - kept.length);
      const csr = readCsr(dir, split);
      expect({ indptr: csr.indptr, indices: csr.indices, values: csr.values }).toEqual(expectedCsr(kept, spec));
      expect(csr.labels).toEqual(classIndex(kept));
      expect(await readRecords(dir, split)).toEqual(kept);
    }
    expect(result.skipped.train).toBeGreaterThan(0);
    expect(result.skipped.validation).toBeGreaterThan(0);
  });

  it('writes a job.json that parses, with the spec hyperparameters plus the builtin kind, learningRate and l2', async () => {
    const dir = freshDir();
    const result = await writeJobDir(dir, input({ gpus: 2, resumeFrom: { epoch: 2, path: 'resume/epoch-0002.json' } }));
    const job = parseJobDescription(JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')));
    expect(job).toEqual(result.job);
    expect(job.contract).toBe(CONTRACT_VERSION);
    expect(job.splits.train.rows).toBe(result.rows.train);
    expect(job.features).toEqual({
      hashing: 'fnv1a32-signed-l2',
      dimension: spec.trainer.features,
      textFields: spec.schema.textFields,
      categoricalFields: spec.schema.categoricalFields,
    });
    expect(job.hyperparameters).toEqual({
      note: 'from the spec',
      kind: 'logreg-hashed',
      learningRate: spec.trainer.learningRate,
      l2: spec.trainer.l2,
    });
    expect(job).toMatchObject({ epochs: spec.trainer.epochs, seed: spec.trainer.seed, gpus: 2, shuffledLabels: false });
    expect(job.resumeFrom).toEqual({ epoch: 2, path: 'resume/epoch-0002.json' });

    const processSpec = smallSpec({ backend: 'process', command: ['train.py'] });
    const other = await writeJobDir(freshDir(), input({ spec: processSpec }));
    expect(other.job.hyperparameters).toEqual({ note: 'from the spec' });
  });

  it('reads async iterables like arrays', async () => {
    async function* gen(records: Array<Record<string, unknown>>): AsyncGenerator<Record<string, unknown>> {
      for (const r of records) yield r;
    }
    const a = freshDir();
    const b = freshDir();
    await writeJobDir(a, input());
    await writeJobDir(b, input({ splits: { train: gen(splits.train), validation: gen(splits.validation), test: gen(splits.test) } }));
    for (const split of SPLITS) expect(readCsr(b, split)).toEqual(readCsr(a, split));
  });

  it('rejects a label outside the spec classes with a JobInputError naming the split and index, not the content', async () => {
    const validation = splits.validation.map((r) => ({ ...r }));
    validation[3]![spec.schema.labelField] = 'secret-queue-name';
    const dir = freshDir();
    const err = await writeJobDir(dir, input({ splits: { ...splits, validation } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobInputError);
    expect((err as JobInputError).split).toBe('validation');
    expect((err as JobInputError).index).toBe(3);
    expect((err as Error).message).toContain('validation record at index 3');
    expect((err as Error).message).not.toContain('secret-queue-name');
    expect(existsSync(join(dir, 'job.json'))).toBe(false);
  });

  it('rejects a train split without labelled records', async () => {
    const train = splits.train.map((r) => ({ ...r, [spec.schema.labelField]: null }));
    const err = await writeJobDir(freshDir(), input({ splits: { ...splits, train } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobInputError);
    expect((err as JobInputError).split).toBe('train');
  });

  it('with shuffleLabels permutes the train labels only, the same way every time, in the .npy and the Parquet', async () => {
    const plain = freshDir();
    const a = freshDir();
    const b = freshDir();
    await writeJobDir(plain, input());
    const ra = await writeJobDir(a, input({ shuffleLabels: true }));
    await writeJobDir(b, input({ shuffleLabels: true }));
    expect(ra.job.shuffledLabels).toBe(true);

    const before = readCsr(plain, 'train');
    const after = readCsr(a, 'train');
    expect(after.labels).not.toEqual(before.labels);
    expect([...after.labels].sort()).toEqual([...before.labels].sort());
    expect({ ...after, labels: [] }).toEqual({ ...before, labels: [] });
    expect(readCsr(b, 'train')).toEqual(after);
    expect(readFileSync(join(b, 'records/train.parquet'))).toEqual(readFileSync(join(a, 'records/train.parquet')));

    const rows = await readRecords(a, 'train');
    expect(classIndex(rows)).toEqual(after.labels);
    const kept = labelled(splits.train);
    // Everything but the label is the record as given, hash included.
    expect(rows.map((r) => ({ ...r, queue: undefined }))).toEqual(kept.map((r) => ({ ...r, queue: undefined })));
    expect(rows.map((r) => r[HASH_COLUMN])).toEqual(kept.map((r) => r[HASH_COLUMN]));
    for (const split of ['validation', 'test'] as const) expect(readCsr(a, split)).toEqual(readCsr(plain, split));
  });

  it('gives records without _trainset_hash the versioning stage hash', async () => {
    const dir = freshDir();
    const bare = (rs: Array<Record<string, unknown>>) => rs.map(({ [HASH_COLUMN]: _h, ...r }) => r);
    await writeJobDir(dir, input({ splits: { train: bare(splits.train), validation: bare(splits.validation), test: bare(splits.test) } }));
    expect(await readRecords(dir, 'test')).toEqual(labelled(splits.test));
  });

  it('removes stale outputs under out/ and keeps checkpoints/ and resume/', async () => {
    const dir = freshDir();
    for (const sub of ['out', 'checkpoints', 'resume']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'out/model.onnx'), 'stale');
    writeFileSync(join(dir, 'checkpoints/epoch-0001.json'), 'kept');
    writeFileSync(join(dir, 'resume/epoch-0001.json'), 'kept');
    await writeJobDir(dir, input());
    expect(existsSync(join(dir, 'out/model.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'out'))).toBe(true);
    expect(readFileSync(join(dir, 'checkpoints/epoch-0001.json'), 'utf8')).toBe('kept');
    expect(readFileSync(join(dir, 'resume/epoch-0001.json'), 'utf8')).toBe('kept');
  });

  it('writes .npy files numpy (Debian python3) loads into the same CSR matrix', async () => {
    const dir = freshDir();
    await writeJobDir(dir, input());
    const script = `
import json, sys, numpy as np
d = sys.argv[1]
out = {}
for split in ("train", "validation", "test"):
    a = {k: np.load(f"{d}/features/{split}.{k}.npy") for k in ("indptr", "indices", "values", "labels")}
    assert a["indptr"].dtype == np.int64 and a["indices"].dtype == np.int32
    assert a["values"].dtype == np.float32 and a["labels"].dtype == np.int64
    rows = len(a["indptr"]) - 1
    dense = np.zeros((rows, ${spec.trainer.features}), dtype=np.float32)
    for i in range(rows):
        s, e = a["indptr"][i], a["indptr"][i + 1]
        dense[i, a["indices"][s:e]] = a["values"][s:e]
    nz = [[[int(j), float(dense[i, j])] for j in np.nonzero(dense[i])[0]] for i in range(rows)]
    out[split] = {"rows": nz, "labels": a["labels"].tolist()}
print(json.dumps(out))
`;
    const fromPython = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8' })) as Record<
      SplitName,
      { rows: Array<Array<[number, number]>>; labels: number[] }
    >;
    for (const split of SPLITS) {
      const kept = labelled(splits[split]);
      expect(fromPython[split].labels).toEqual(classIndex(kept));
      expect(fromPython[split].rows).toEqual(
        kept.map((r) => {
          const x = featurize(r, featureSpecOf(spec));
          return Array.from(x.indices, (j, t) => [j, Math.fround(x.values[t]!)]);
        }),
      );
    }
  });
});
