/**
 * Results of the data-plane stages (ingest, PII, dedupe, version, quality): counts and references, never records.
 * Types that cross the workflow/activity boundary carry references, counts and small stats, never records or PII.
 */
import type { PiiEntity } from '../spec';

/** Result of ingesting one partition. */
export interface IngestResult {
  recordsIn: number;
  accepted: number;
  quarantined: number;
  byReason: Record<string, number>;
  /** Blob key of the accepted records (work area, removed after the PII step). */
  stagedKey: string;
  quarantineKey?: string;
  files: number;
}

/** Result of the PII step. */
export interface PiiResult {
  records: number;
  droppedRecords: number;
  /** Records whose scan could not finish (timeout, error): quarantined, never passed on. */
  quarantined?: number;
  quarantineByReason?: Record<string, number>;
  quarantineKey?: string;
  findings: Partial<Record<PiiEntity, number>>;
  findingsByField: Record<string, number>;
  cleanKey: string;
}

/** Result of dedupe. */
export interface DedupeResult {
  records: number;
  /** Every dropped duplicate, within the partition and of earlier partitions. */
  duplicates: number;
  /** Of those, copies of records an earlier partition already kept. */
  crossPartitionDuplicates?: number;
  dedupedKey: string;
}

/** A dataset version as the workflow sees it. */
export interface DatasetVersionRef {
  versionId: string;
  created: boolean;
  rows: number;
  partitions: string[];
  manifestKey: string;
  /** New objects stored (chunks, delta segment, manifest): 0 on an unchanged re-run. */
  objectsWritten: number;
  /** Bytes of the new chunks and delta segment. */
  bytesWritten?: number;
  /** Base chunks shared with the previous version. */
  reusedChunks?: number;
  previousLatest?: string;
}

/** Quality stage summary. */
export interface QualityResult {
  trainRows: number;
  validationRows: number;
  testRows: number;
  labelDistribution: Record<string, number>;
  completeness: Record<string, number>;
  /** The version's dataset card (self-contained HTML; Markdown beside it). */
  cardKey?: string;
  /** Drift against the previous version: how many figures, how many gated, the largest relative to their limits. */
  drift?: {
    against: string;
    figures: number;
    gated: number;
    top: Array<{ feature: string; metric: string; value: number; limit: number; gated: boolean }>;
  };
  /** Drift against the production sample (served requests' input profiles): its size and figures. */
  productionDrift?: { requests: number; figures: number; gated: number };
}
