import type { DatasetSpec } from '../shared/spec';
import { checkRecord, type CheckOptions, type QuarantineReason } from './contract';
import { splitLines } from './line-framing';

/** A record that passed the contract, normalized. */
export interface AcceptedItem {
  kind: 'accepted';
  lineNumber: number;
  record: Record<string, unknown>;
}

/** A line that failed the contract; keeps its original bytes (unless too large to hold). */
export interface QuarantinedItem {
  kind: 'quarantined';
  lineNumber: number;
  reason: QuarantineReason;
  /** The original line bytes, base64; empty when the line was skipped for being too large. */
  rawBase64: string;
  /** Size of the original line in bytes. */
  byteLength: number;
}

/** What `ingestLines` yields, one per source line. */
export type IngestItem = AcceptedItem | QuarantinedItem;

/** Counts of one partition's lines; recordsIn = accepted + quarantined always holds. */
export interface PartitionCounts {
  recordsIn: number;
  accepted: number;
  quarantined: number;
  byReason: Record<string, number>;
}

/** Tallies a partition's lines so that every line is accounted for exactly once. */
export class PartitionAccounting {
  private acceptedCount = 0;
  private readonly reasons = new Map<string, number>();
  private quarantinedCount = 0;

  /** Accounting that carries on from a snapshot (a resumed activity), or a fresh one. */
  static from(snapshot?: PartitionCounts): PartitionAccounting {
    const a = new PartitionAccounting();
    if (snapshot) {
      a.acceptedCount = snapshot.accepted;
      a.quarantinedCount = snapshot.quarantined;
      for (const [reason, n] of Object.entries(snapshot.byReason)) a.reasons.set(reason, n);
    }
    return a;
  }

  /** Lines counted so far. */
  get recordsIn(): number {
    return this.acceptedCount + this.quarantinedCount;
  }

  /** Count one accepted record. */
  accept(): void {
    this.acceptedCount += 1;
  }

  /** Count one quarantined line under its reason. */
  quarantine(reason: QuarantineReason): void {
    this.quarantinedCount += 1;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  /** Count one item as `ingestLines` yields it. */
  record(item: IngestItem): void {
    if (item.kind === 'accepted') this.accept();
    else this.quarantine(item.reason);
  }

  /** Share of lines quarantined (0 when there were none). */
  get quarantineRate(): number {
    const total = this.acceptedCount + this.quarantinedCount;
    return total === 0 ? 0 : this.quarantinedCount / total;
  }

  /** A plain, JSON-safe copy of the counts, reasons sorted by name. */
  snapshot(): PartitionCounts {
    const byReason: Record<string, number> = {};
    for (const k of [...this.reasons.keys()].sort()) byReason[k] = this.reasons.get(k) ?? 0;
    return {
      recordsIn: this.acceptedCount + this.quarantinedCount,
      accepted: this.acceptedCount,
      quarantined: this.quarantinedCount,
      byReason,
    };
  }
}

/** Options for `ingestLines`. */
export interface IngestOptions extends CheckOptions {
  /** Tallies every yielded item when given. */
  accounting?: PartitionAccounting;
}

/**
 * Stream a JSONL partition through the contract: one accepted or quarantined item per line, in order.
 * Lines over `spec.ingest.maxRecordBytes` are skipped while streaming and quarantined as `record_too_large`.
 */
export async function* ingestLines(
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  spec: DatasetSpec,
  options: IngestOptions = {},
): AsyncGenerator<IngestItem> {
  const { accounting } = options;
  for await (const line of splitLines(source, { maxLineBytes: spec.ingest.maxRecordBytes })) {
    let item: IngestItem;
    if (line.kind === 'error') {
      item = { kind: 'quarantined', lineNumber: line.lineNumber, reason: line.reason, rawBase64: '', byteLength: line.byteLength };
    } else {
      const r = checkRecord(line.bytes, spec, options);
      item = r.ok
        ? { kind: 'accepted', lineNumber: line.lineNumber, record: r.record }
        : {
            kind: 'quarantined',
            lineNumber: line.lineNumber,
            reason: r.reason,
            rawBase64: line.bytes.toString('base64'),
            byteLength: line.bytes.length,
          };
    }
    accounting?.record(item);
    yield item;
  }
}
