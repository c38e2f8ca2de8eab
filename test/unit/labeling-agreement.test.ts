import { describe, expect, it } from 'vitest';
import {
  AgreementInputError,
  annotatorAgreement,
  cohenKappa,
  countMatrix,
  decideQuorum,
  fleissKappa,
  fleissKappaFromCounts,
  krippendorffAlpha,
  krippendorffAlphaFromCounts,
  type Rating,
} from '../../src/labeling/agreement';

/** Ratings from a table: one row per item, one column per annotator (a1, a2, ...), null where that annotator did not rate. */
function table(rows: readonly (readonly (string | number | null)[])[]): Rating[] {
  return rows.flatMap((row, i) =>
    row.flatMap((label, j) => (label === null ? [] : [{ item: `u${i + 1}`, annotator: `a${j + 1}`, label: String(label) }])),
  );
}

/**
 * Fleiss (1971), Table 1: 30 patients, each diagnosed by 6 of the psychiatrists, 5 classes (1 depression,
 * 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other); the `diagnoses` data of the R package irr.
 * Published: P̄ = .556, P̄e = .220, κ = .430 (irr::kappam.fleiss: 0.430).
 */
const fleiss1971 = table(
  [
    '444444',
    '222555',
    '233335',
    '555555',
    '222444',
    '113333',
    '333355',
    '113334',
    '114444',
    '555555',
    '144444',
    '124444',
    '222333',
    '144444',
    '224445',
    '333335',
    '111455',
    '111112',
    '224444',
    '133555',
    '555555',
    '244444',
    '224555',
    '114444',
    '144445',
    '222224',
    '111155',
    '224444',
    '133333',
    '555555',
  ].map((s) => [...s]),
);
const fiveClasses = ['1', '2', '3', '4', '5'];

/**
 * Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section C: 4 observers, 12 units, values 1–5,
 * missing values. Published nominal α = 0.743. Unit 12 has one value and is unpairable; n = 40 pairable values.
 */
const krippendorff2011 = table([
  [1, 1, null, 1],
  [2, 2, 3, 2],
  [3, 3, 3, 3],
  [3, 3, 3, 3],
  [2, 2, 2, 2],
  [1, 2, 3, 4],
  [4, 4, 4, 4],
  [1, 1, 2, 1],
  [2, 2, 2, 2],
  [null, 5, 5, 5],
  [null, null, 1, 1],
  [null, 3, null, null],
]);

/** Krippendorff (2011), section A: two observers, ten units, binary values, no missing data. Published α = 0.095. */
const krippendorffBinary = table([
  [0, 1],
  [1, 1],
  [0, 1],
  [0, 0],
  [0, 0],
  [0, 1],
  [0, 0],
  [0, 0],
  [1, 0],
  [0, 0],
]);

/** A 2×2 table as ratings of annotators A and B: [both yes, A yes B no, A no B yes, both no]. */
function twoByTwo(yy: number, yn: number, ny: number, nn: number): Rating[] {
  const cells: [number, string, string][] = [
    [yy, 'yes', 'yes'],
    [yn, 'yes', 'no'],
    [ny, 'no', 'yes'],
    [nn, 'no', 'no'],
  ];
  const out: Rating[] = [];
  for (const [n, a, b] of cells) {
    for (let i = 0; i < n; i++) {
      const item = `i${out.length / 2}`;
      out.push({ item, annotator: 'A', label: a }, { item, annotator: 'B', label: b });
    }
  }
  return out;
}

describe("Fleiss' kappa", () => {
  it('matches Fleiss (1971) Table 1: P̄ = .556, P̄e = .220, κ = .430', () => {
    const r = fleissKappa(fleiss1971, fiveClasses);
    // Column totals 26, 26, 30, 55, 43 of 180 ratings: P̄e = (676 + 676 + 900 + 3025 + 1849)/180² = 7126/32400; P̄ = 5/9.
    expect(r.observed).toBeCloseTo(5 / 9, 12);
    expect(r.expected).toBeCloseTo(7126 / 32400, 12);
    expect(r.expected).toBeCloseTo(0.22, 3);
    expect(r.value).toBeCloseTo(0.43, 3);
    expect(r).toMatchObject({ reason: null, items: 30, ratings: 180 });
  });

  it('matches the 10 × 14 worked example of Wikipedia "Fleiss\' kappa": P̄ = 0.378, P̄e = 0.213, κ = 0.210', () => {
    const counts = [
      [0, 0, 0, 0, 14],
      [0, 2, 6, 4, 2],
      [0, 0, 3, 5, 6],
      [0, 3, 9, 2, 0],
      [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0],
      [3, 2, 6, 3, 0],
      [2, 5, 3, 2, 2],
      [6, 5, 2, 1, 0],
      [0, 2, 2, 3, 7],
    ];
    const r = fleissKappaFromCounts(counts);
    // Exact fractions: P̄ = 172/455, P̄e = 417/1960 (p_j = 20, 28, 39, 21, 32 of 140), κ = 4211/20059.
    expect(r.observed).toBeCloseTo(172 / 455, 12);
    expect(r.expected).toBeCloseTo(417 / 1960, 12);
    expect(r.value).toBeCloseTo(4211 / 20059, 12);
    expect(r.value).toBeCloseTo(0.21, 3);
    expect(r).toMatchObject({ items: 10, ratings: 140 });
  });

  it('generalises to missing ratings as Gwet does: Krippendorff (2011) data gives 7343/9647', () => {
    // By hand: 11 pairable units; per-unit agreement 1 except unit 2 (6/12), unit 6 (0), unit 8 (6/12): P̄ = 9/11.
    // Class proportions, the mean of r_ij/r_i over the 12 rated units (unit 12 counts here only):
    // 12/48, 13/48, 14/48, 5/48, 4/48, so P̄e = (144 + 169 + 196 + 25 + 16)/2304 = 275/1152.
    const r = fleissKappa(krippendorff2011, fiveClasses);
    expect(r.observed).toBeCloseTo(9 / 11, 12);
    expect(r.expected).toBeCloseTo(275 / 1152, 12);
    expect(r.value).toBeCloseTo(7343 / 9647, 12);
    expect(r).toMatchObject({ items: 11, ratings: 40 });
  });

  it('ignores items without ratings and never divides by a missing column', () => {
    const base = fleissKappaFromCounts([
      [2, 0],
      [1, 1],
    ]);
    expect(
      fleissKappaFromCounts([
        [2, 0],
        [0, 0],
        [1, 1],
      ]),
    ).toEqual(base);
    // P̄ = (1 + 0)/2 = 1/2, p = (3/4, 1/4), P̄e = 10/16, κ = (1/2 − 5/8)/(3/8) = −1/3.
    expect(base.value).toBeCloseTo(-1 / 3, 12);
  });
});

describe("Krippendorff's alpha (nominal)", () => {
  it('matches Krippendorff (2011) with missing values: α = 0.743', () => {
    const r = krippendorffAlpha(krippendorff2011, fiveClasses);
    // By hand: coincidences on the diagonal sum to 32 of n = 40 pairable values (A_o = 4/5); margins n_c = 9, 13, 10, 5, 3
    // give A_e = (72 + 156 + 90 + 20 + 6)/(40·39) = 43/195; α = (4/5 − 43/195)/(1 − 43/195) = 113/152 = 0.7434.
    expect(r.value).toBeCloseTo(113 / 152, 12);
    expect(r.value).toBeCloseTo(0.743, 3);
    expect(r.observed).toBeCloseTo(4 / 5, 12);
    expect(r.expected).toBeCloseTo(43 / 195, 12);
    expect(r).toMatchObject({ reason: null, items: 11, ratings: 40 });
  });

  it('matches Krippendorff (2011) binary example: α = 1 − 19·4/(14·6) = 2/21 = 0.095', () => {
    const r = krippendorffAlpha(krippendorffBinary, ['0', '1']);
    expect(r.value).toBeCloseTo(2 / 21, 12);
    expect(r).toMatchObject({ items: 10, ratings: 20 });
  });

  it('takes a count matrix too, with the same answer', () => {
    expect(krippendorffAlphaFromCounts(countMatrix(krippendorff2011, fiveClasses))).toEqual(
      krippendorffAlpha(krippendorff2011, fiveClasses),
    );
  });
});

describe("Cohen's kappa", () => {
  it('matches the Wikipedia "Cohen\'s kappa" example: 20/5/10/15 gives p_o = 0.7, p_e = 0.5, κ = 0.4', () => {
    const r = cohenKappa(twoByTwo(20, 5, 10, 15), ['yes', 'no'], 'A', 'B');
    expect(r.observed).toBeCloseTo(0.7, 12);
    expect(r.expected).toBeCloseTo(0.5, 12);
    expect(r.value).toBeCloseTo(0.4, 12);
    expect(r).toMatchObject({ items: 50, ratings: 100 });
  });

  it('tells apart equal observed agreement with different marginals (Wikipedia: 0.1304 and 0.2593)', () => {
    // 45/15/25/15: p_e = .6·.7 + .4·.3 = .54, κ = .06/.46; 25/35/5/35: p_e = .6·.3 + .4·.7 = .46, κ = .14/.54.
    expect(cohenKappa(twoByTwo(45, 15, 25, 15), ['yes', 'no'], 'A', 'B').value).toBeCloseTo(0.06 / 0.46, 12);
    expect(cohenKappa(twoByTwo(25, 35, 5, 35), ['yes', 'no'], 'A', 'B').value).toBeCloseTo(0.14 / 0.54, 12);
  });

  it('uses each annotator’s own marginals, unlike alpha: Krippendorff’s binary data gives (0.6 − 0.56)/0.44 = 1/11', () => {
    expect(cohenKappa(krippendorffBinary, ['0', '1'], 'a1', 'a2').value).toBeCloseTo(1 / 11, 12);
  });

  it('counts only the items both annotators rated', () => {
    // Krippendorff (2011) data, observers 1 and 3 share units 2–9: agree on 3, 4, 5, 7, 9 (p_o = 5/8).
    // Observer 1 on them: 2,3,3,2,1,4,1,2; observer 3: 3,3,3,2,3,4,2,2.
    // p_e = (2/8·0) + (3/8·3/8) + (2/8·4/8) + (1/8·1/8) = (9 + 8 + 1)/64 = 18/64; κ = (40/64 − 18/64)/(46/64) = 11/23.
    const r = cohenKappa(krippendorff2011, fiveClasses, 'a1', 'a3');
    expect(r.value).toBeCloseTo(11 / 23, 12);
    expect(r).toMatchObject({ items: 8, ratings: 16 });
  });
});

describe('degenerate cases', () => {
  const measures = {
    fleiss: (rs: Rating[], cs: string[]) => fleissKappa(rs, cs),
    alpha: (rs: Rating[], cs: string[]) => krippendorffAlpha(rs, cs),
    cohen: (rs: Rating[], cs: string[]) => cohenKappa(rs, cs, 'a1', 'a2'),
  };

  it.each(Object.entries(measures))('%s: no items gives null, no_pairable_items', (_, measure) => {
    expect(measure([], ['x', 'y'])).toEqual({
      value: null,
      reason: 'no_pairable_items',
      observed: null,
      expected: null,
      items: 0,
      ratings: 0,
    });
  });

  it.each(Object.entries(measures))('%s: a single rater gives null, no_pairable_items', (_, measure) => {
    const r = measure(table([['x'], ['y'], ['x']]), ['x', 'y']);
    expect(r).toMatchObject({ value: null, reason: 'no_pairable_items', items: 0 });
  });

  it.each(Object.entries(measures))('%s: one class only gives null, single_class, observed 1', (_, measure) => {
    const r = measure(
      table([
        ['x', 'x'],
        ['x', 'x'],
        ['x', 'x'],
      ]),
      ['x', 'y'],
    );
    expect(r).toMatchObject({ value: null, reason: 'single_class', observed: 1, expected: 1, items: 3, ratings: 6 });
  });

  it.each(Object.entries(measures))('%s: perfect agreement over two classes is 1', (_, measure) => {
    const r = measure(
      table([
        ['x', 'x'],
        ['y', 'y'],
        ['x', 'x'],
      ]),
      ['x', 'y'],
    );
    expect(r).toMatchObject({ value: 1, reason: null, observed: 1 });
  });

  it('chance-level agreement is 0 for kappa, and slightly above for alpha (its small-sample correction)', () => {
    // Annotator 1 says x, x, y, y; annotator 2 says x, y, x, y: p_o = 1/2 and every chance estimate of Cohen and Fleiss is 1/2.
    const rs = table([
      ['x', 'x'],
      ['x', 'y'],
      ['y', 'x'],
      ['y', 'y'],
    ]);
    expect(cohenKappa(rs, ['x', 'y'], 'a1', 'a2').value).toBeCloseTo(0, 12);
    expect(fleissKappa(rs, ['x', 'y']).value).toBeCloseTo(0, 12);
    // Alpha: A_e = 2·4·3/(8·7) = 3/7, α = (1/2 − 3/7)/(4/7) = 1/8.
    expect(krippendorffAlpha(rs, ['x', 'y']).value).toBeCloseTo(1 / 8, 12);
  });

  it('systematic disagreement is negative: two annotators who always differ give κ = −1', () => {
    const r = cohenKappa(
      table([
        ['x', 'y'],
        ['y', 'x'],
      ]),
      ['x', 'y'],
      'a1',
      'a2',
    );
    expect(r.value).toBeCloseTo(-1, 12);
  });

  it('two annotators with no item in common give null, no_pairable_items', () => {
    const rs = table([
      ['x', null],
      [null, 'y'],
    ]);
    expect(cohenKappa(rs, ['x', 'y'], 'a1', 'a2')).toMatchObject({ value: null, reason: 'no_pairable_items' });
  });
});

describe('bad input', () => {
  it('rejects a negative, fractional or non-finite count and ragged rows', () => {
    expect(() => fleissKappaFromCounts([[2, -1]])).toThrow(/row 0, class 1 is -1/);
    expect(() => krippendorffAlphaFromCounts([[1.5, 1]])).toThrow(AgreementInputError);
    expect(() => fleissKappaFromCounts([[Number.NaN, 2]])).toThrow(/non-negative integers/);
    expect(() => fleissKappaFromCounts([[1, 1], [2]])).toThrow(/row 1 has 1 classes/);
  });

  it('rejects an unknown class, naming it and the classes', () => {
    const rs = table([['x', 'z']]);
    expect(() => fleissKappa(rs, ['x', 'y'])).toThrow("unknown class 'z' from a2 on item u1; classes: x, y");
    expect(() => krippendorffAlpha(rs, ['x', 'y'])).toThrow(AgreementInputError);
    expect(() => cohenKappa(rs, ['x', 'y'], 'a1', 'a2')).toThrow(/unknown class 'z'/);
    expect(() => annotatorAgreement(rs, ['x', 'y'], { against: 'majority-of-others' })).toThrow(/unknown class/);
  });

  it('rejects two ratings of one item by one annotator, no classes, repeated classes, and Cohen with one annotator', () => {
    const twice: Rating[] = [
      { item: 'u1', annotator: 'a1', label: 'x' },
      { item: 'u1', annotator: 'a1', label: 'y' },
    ];
    expect(() => fleissKappa(twice, ['x', 'y'])).toThrow('annotator a1 rated item u1 twice');
    expect(() => fleissKappa([], [])).toThrow(/no classes/);
    expect(() => fleissKappa([], ['x', 'x'])).toThrow(/repeat/);
    expect(() => cohenKappa([], ['x'], 'a1', 'a1')).toThrow(/two different annotators/);
  });

  it('fails as InvalidInput, not retried', () => {
    try {
      fleissKappaFromCounts([[-1]]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AgreementInputError);
      expect(e).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    }
  });
});

describe('annotatorAgreement', () => {
  // Three annotators, four items: a3 disagrees on u2 and skips u4; on u3 the others (a1 x, a2 y) tie.
  const rs = table([
    ['x', 'x', 'x'],
    ['y', 'y', 'x'],
    ['x', 'y', 'y'],
    ['y', 'y', null],
  ]);

  it('compares each annotator with the majority of the others, leaving ties and lone ratings out', () => {
    expect(annotatorAgreement(rs, ['x', 'y'], { against: 'majority-of-others' })).toEqual([
      // u1 others x,x → x ✓; u2 others y,x tie; u3 others y,y → y ✗; u4 other y → y ✓.
      { annotator: 'a1', rated: 4, compared: 3, agreed: 2, rate: 2 / 3 },
      // u1 ✓; u2 others y,x tie; u3 others x,y tie; u4 other y ✓.
      { annotator: 'a2', rated: 4, compared: 2, agreed: 2, rate: 1 },
      // u1 ✓; u2 others y,y → y ✗; u3 others x,y tie.
      { annotator: 'a3', rated: 3, compared: 2, agreed: 1, rate: 1 / 2 },
    ]);
  });

  it('sorts annotators by id whatever order the ratings come in', () => {
    const result = annotatorAgreement([...rs].reverse(), ['x', 'y'], { against: 'majority-of-others' });
    expect(result.map((r) => r.annotator)).toEqual(['a1', 'a2', 'a3']);
  });

  it('compares with given final labels, only where an item has one', () => {
    const labels = new Map([
      ['u1', 'x'],
      ['u2', 'y'],
    ]);
    expect(annotatorAgreement(rs, ['x', 'y'], { against: 'labels', labels })).toEqual([
      { annotator: 'a1', rated: 4, compared: 2, agreed: 2, rate: 1 },
      { annotator: 'a2', rated: 4, compared: 2, agreed: 2, rate: 1 },
      { annotator: 'a3', rated: 3, compared: 2, agreed: 1, rate: 1 / 2 },
    ]);
  });

  it('gives a null rate, not NaN, to an annotator with nothing to compare', () => {
    expect(annotatorAgreement(table([['x']]), ['x'], { against: 'majority-of-others' })).toEqual([
      { annotator: 'a1', rated: 1, compared: 0, agreed: 0, rate: null },
    ]);
  });
});

describe('decideQuorum', () => {
  const classes = ['x', 'y', 'z'];
  const item = (...labels: string[]): Rating[] => labels.map((label, i) => ({ item: 't1', annotator: `a${i + 1}`, label }));

  it.each([
    // [ratings, overlap, quorum, decision]
    [[], 3, 2, { kind: 'needs_more', ratings: 0, remaining: 3, atLeast: 2, leading: [], tie: false }],
    [['x'], 3, 2, { kind: 'needs_more', ratings: 1, remaining: 2, atLeast: 1, leading: ['x'], tie: false }],
    [['x', 'x'], 3, 2, { kind: 'final', label: 'x', votes: 2, ratings: 2 }],
    [['x', 'y'], 3, 2, { kind: 'needs_more', ratings: 2, remaining: 1, atLeast: 1, leading: ['x', 'y'], tie: true }],
    [['x', 'y', 'y'], 3, 2, { kind: 'final', label: 'y', votes: 2, ratings: 3 }],
    [['x', 'y', 'z'], 3, 2, { kind: 'adjudication', reason: 'no_quorum', ratings: 3, leading: ['x', 'y', 'z'], tie: true }],
    [['x', 'x', 'y'], 3, 3, { kind: 'adjudication', reason: 'no_quorum', ratings: 3, leading: ['x'], tie: false }],
    [['x', 'y'], 2, 2, { kind: 'adjudication', reason: 'no_quorum', ratings: 2, leading: ['x', 'y'], tie: true }],
    [['x', 'x', 'y'], 5, 3, { kind: 'needs_more', ratings: 3, remaining: 2, atLeast: 1, leading: ['x'], tie: false }],
    [['x', 'y', 'y', 'z'], 5, 3, { kind: 'needs_more', ratings: 4, remaining: 1, atLeast: 1, leading: ['y'], tie: false }],
    [['x', 'y', 'z', 'z'], 5, 3, { kind: 'needs_more', ratings: 4, remaining: 1, atLeast: 1, leading: ['z'], tie: false }],
    [['x', 'x', 'y', 'y'], 5, 3, { kind: 'needs_more', ratings: 4, remaining: 1, atLeast: 1, leading: ['x', 'y'], tie: true }],
    [['x', 'x', 'y', 'y', 'z'], 5, 3, { kind: 'adjudication', reason: 'no_quorum', ratings: 5, leading: ['x', 'y'], tie: true }],
    // quorum ≤ overlap/2: both labels reach quorum, a person decides.
    [['x', 'x', 'y', 'y'], 4, 2, { kind: 'adjudication', reason: 'tie_at_quorum', ratings: 4, leading: ['x', 'y'], tie: true }],
    [['x', 'x', 'x', 'y', 'y'], 4, 2, { kind: 'final', label: 'x', votes: 3, ratings: 5 }],
    [['z'], 1, 1, { kind: 'final', label: 'z', votes: 1, ratings: 1 }],
    // Ratings beyond the overlap (a late annotator) still count, and none more are asked for.
    [['x', 'y', 'z', 'x'], 3, 2, { kind: 'final', label: 'x', votes: 2, ratings: 4 }],
    [['x', 'y', 'z', 'y', 'x'], 3, 3, { kind: 'adjudication', reason: 'no_quorum', ratings: 5, leading: ['x', 'y'], tie: true }],
  ] as const)('%j with overlap %i, quorum %i → %j', (labels, overlap, quorum, decision) => {
    expect(decideQuorum(item(...labels), classes, { overlap, quorum })).toEqual(decision);
  });

  it('rejects a quorum outside 1..overlap, a fractional overlap, several items and an unknown class', () => {
    expect(() => decideQuorum([], classes, { overlap: 2, quorum: 3 })).toThrow(
      'quorum is 3: it must be an integer from 1 to the overlap (2)',
    );
    expect(() => decideQuorum([], classes, { overlap: 2, quorum: 0 })).toThrow(/quorum is 0/);
    expect(() => decideQuorum([], classes, { overlap: 2.5, quorum: 1 })).toThrow(/overlap is 2.5/);
    expect(() => decideQuorum([], classes, { overlap: 0, quorum: 0 })).toThrow(/overlap is 0/);
    const two: Rating[] = [
      { item: 't1', annotator: 'a1', label: 'x' },
      { item: 't2', annotator: 'a2', label: 'x' },
    ];
    expect(() => decideQuorum(two, classes, { overlap: 3, quorum: 2 })).toThrow(
      'decideQuorum takes the ratings of one item, got items t1, t2',
    );
    expect(() => decideQuorum(item('w'), classes, { overlap: 3, quorum: 2 })).toThrow(/unknown class 'w'/);
  });
});
