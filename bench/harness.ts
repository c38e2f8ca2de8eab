/** What every benchmark module exports: one figure, a ratio measured against a baseline in the same run. */
export interface Bench {
  id: string;
  name: string;
  op: '>=' | '<=' | '<' | '>';
  target: number;
  /** Returns the figure; may print extra context lines (e.g. MB/s) to stderr. */
  run(): number | Promise<number>;
}

/** Whether value meets target under op. */
export function meets(op: Bench['op'], value: number, target: number): boolean {
  switch (op) {
    case '>=':
      return value >= target;
    case '<=':
      return value <= target;
    case '<':
      return value < target;
    case '>':
      return value > target;
  }
}

/** Median of `rounds` interleaved timings of candidate and baseline; returns baseline time / candidate time. */
export function interleavedRatio(rounds: number, candidate: () => void, baseline: () => void): number {
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    baseline();
    const t1 = process.hrtime.bigint();
    candidate();
    const t2 = process.hrtime.bigint();
    ratios.push(Number(t1 - t0) / Number(t2 - t1));
  }
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}
