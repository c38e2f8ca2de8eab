/**
 * Agreement between human annotators and the quorum rule that turns their ratings into final labels. Pure: no I/O,
 * no clock, no Temporal; labels are nominal classes. Every coefficient returns a number or null with a reason, never
 * NaN; bad input (a negative or fractional count, a class outside the spec's, an annotator rating one item twice, a
 * quorum larger than the overlap) throws AgreementInputError. docs/labeling.md says which measure to use when.
 */
import { ErrorType, TrainsetError } from '../shared/errors';

/** One annotator's label for one item. */
export interface Rating {
  item: string;
  annotator: string;
  label: string;
}

/** Input an agreement measure or the quorum rule cannot work with; fails an activity as InvalidInput, not retried. */
export class AgreementInputError extends TrainsetError {
  constructor(message: string) {
    super(message, { type: ErrorType.InvalidInput });
    this.name = 'AgreementInputError';
  }
}

/**
 * Why a coefficient has no value: `no_pairable_items` when no item has two ratings (no items, a single rater, two
 * annotators with no item in common), `single_class` when every rating is the same class (chance agreement is 1
 * and agreement beyond chance is 0/0; the observed agreement, 1, is still reported).
 */
export type UndefinedReason = 'no_pairable_items' | 'single_class';

/** A chance-corrected agreement coefficient: (observed − expected) / (1 − expected), or null with the reason. */
export interface AgreementResult {
  /** The coefficient: 1 is perfect agreement, 0 chance level, negative worse than chance; null when undefined. */
  value: number | null;
  /** Why value is null; null when it is a number. */
  reason: UndefinedReason | null;
  /** Observed agreement (share of agreeing rating pairs); null when no item has two ratings. */
  observed: number | null;
  /** Agreement expected by chance from the class proportions; null when no item has two ratings. */
  expected: number | null;
  /** Items with at least two ratings: the ones agreement is observed on. */
  items: number;
  /** Ratings on those items. */
  ratings: number;
}

const noPairs = (): AgreementResult => ({ value: null, reason: 'no_pairable_items', observed: null, expected: null, items: 0, ratings: 0 });

function chanceCorrected(observed: number, expected: number, items: number, ratings: number): AgreementResult {
  // expected is 1 only when every rating is one class; anything else below 1 leaves a defined ratio.
  if (expected >= 1) return { value: null, reason: 'single_class', observed, expected: 1, items, ratings };
  return { value: (observed - expected) / (1 - expected), reason: null, observed, expected, items, ratings };
}

/** Throws unless `ratings` names only the given classes and no annotator rates one item twice. */
function checkRatings(ratings: readonly Rating[], classes: readonly string[]): void {
  if (classes.length === 0) throw new AgreementInputError('no classes given: pass the spec’s label classes');
  const known = new Set(classes);
  if (known.size !== classes.length) throw new AgreementInputError(`classes repeat a name: ${classes.join(', ')}`);
  const seen = new Set<string>();
  for (const r of ratings) {
    if (!known.has(r.label)) {
      throw new AgreementInputError(`unknown class '${r.label}' from ${r.annotator} on item ${r.item}; classes: ${classes.join(', ')}`);
    }
    const key = JSON.stringify([r.item, r.annotator]);
    if (seen.has(key))
      throw new AgreementInputError(`annotator ${r.annotator} rated item ${r.item} twice: keep one rating per annotator and item`);
    seen.add(key);
  }
}

/** Ratings grouped by item, in first-seen order. */
function byItem(ratings: readonly Rating[]): Map<string, Rating[]> {
  const items = new Map<string, Rating[]>();
  for (const r of ratings) {
    const list = items.get(r.item);
    if (list) list.push(r);
    else items.set(r.item, [r]);
  }
  return items;
}

/** The item × class count matrix of `ratings` (rows in first-seen item order, columns in `classes` order). */
export function countMatrix(ratings: readonly Rating[], classes: readonly string[]): number[][] {
  checkRatings(ratings, classes);
  const column = new Map(classes.map((c, j) => [c, j]));
  return [...byItem(ratings).values()].map((rs) => {
    const row = classes.map(() => 0);
    for (const r of rs) row[column.get(r.label)!]! += 1;
    return row;
  });
}

/** Throws unless every row has the same number of classes and every count is a non-negative integer. */
function checkCounts(counts: readonly (readonly number[])[]): void {
  const width = counts[0]?.length ?? 0;
  counts.forEach((row, i) => {
    if (row.length !== width) throw new AgreementInputError(`row ${i} has ${row.length} classes, row 0 has ${width}`);
    row.forEach((n, j) => {
      if (!Number.isInteger(n) || n < 0)
        throw new AgreementInputError(`count at row ${i}, class ${j} is ${n}: counts are non-negative integers`);
    });
  });
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * Fleiss' kappa from an item × class count matrix (counts[i][j]: ratings of item i in class j). Items may have
 * different numbers of ratings: this is the generalisation for missing ratings in Gwet, Handbook of Inter-Rater
 * Reliability (4th ed., 2014, §2.5; R package irrCAC, fleiss.kappa.raw). Observed agreement is the mean over items
 * with two or more ratings of Σ_j r_ij(r_ij − 1) / (r_i(r_i − 1)); the class proportions are the mean over items
 * with at least one rating of r_ij / r_i (so a singly rated item counts toward chance agreement only); expected
 * agreement is Σ_j p_j². With the same number of ratings on every item it is Fleiss (1971) exactly. Items without
 * ratings are ignored.
 */
export function fleissKappaFromCounts(counts: readonly (readonly number[])[]): AgreementResult {
  checkCounts(counts);
  const rated = counts.filter((row) => sum(row) > 0);
  const pairable = rated.filter((row) => sum(row) >= 2);
  if (pairable.length === 0) return noPairs();
  const observed = sum(pairable.map((row) => sum(row.map((n) => n * (n - 1))) / (sum(row) * (sum(row) - 1)))) / pairable.length;
  const proportions = rated[0]!.map((_, j) => sum(rated.map((row) => row[j]! / sum(row))) / rated.length);
  const expected = sum(proportions.map((p) => p * p));
  return chanceCorrected(observed, expected, pairable.length, sum(pairable.map(sum)));
}

/** Fleiss' kappa over ratings of items by several annotators (see fleissKappaFromCounts for missing ratings). */
export function fleissKappa(ratings: readonly Rating[], classes: readonly string[]): AgreementResult {
  return fleissKappaFromCounts(countMatrix(ratings, classes));
}

/**
 * Krippendorff's alpha for nominal data from an item × class count matrix, with missing ratings (Krippendorff,
 * "Computing Krippendorff's Alpha-Reliability", 2011). Items with fewer than two ratings are unpairable and left out;
 * from the coincidence matrix o (each item adds (pairs of classes c, k) / (r_i − 1)), with n_c its margins and n the
 * pairable ratings, observed = Σ_c o_cc / n and expected = Σ_c n_c(n_c − 1) / (n(n − 1)).
 */
export function krippendorffAlphaFromCounts(counts: readonly (readonly number[])[]): AgreementResult {
  checkCounts(counts);
  const pairable = counts.filter((row) => sum(row) >= 2);
  if (pairable.length === 0) return noPairs();
  const n = sum(pairable.map(sum));
  const agreeing = sum(pairable.map((row) => sum(row.map((c) => c * (c - 1))) / (sum(row) - 1)));
  const margins = pairable[0]!.map((_, j) => sum(pairable.map((row) => row[j]!)));
  const expected = sum(margins.map((c) => c * (c - 1))) / (n * (n - 1));
  return chanceCorrected(agreeing / n, expected, pairable.length, n);
}

/** Krippendorff's alpha (nominal) over ratings with missing values; see krippendorffAlphaFromCounts. */
export function krippendorffAlpha(ratings: readonly Rating[], classes: readonly string[]): AgreementResult {
  return krippendorffAlphaFromCounts(countMatrix(ratings, classes));
}

/**
 * Cohen's kappa (1960) for annotators `a` and `b` over the items both rated: observed is the share of those items
 * they label alike, expected is Σ_c p_a(c)·p_b(c) from each annotator's own class proportions on those items.
 */
export function cohenKappa(ratings: readonly Rating[], classes: readonly string[], a: string, b: string): AgreementResult {
  if (a === b) throw new AgreementInputError(`Cohen's kappa needs two different annotators, got ${a} twice`);
  checkRatings(ratings, classes);
  const pairs: [string, string][] = [];
  for (const rs of byItem(ratings).values()) {
    const la = rs.find((r) => r.annotator === a)?.label;
    const lb = rs.find((r) => r.annotator === b)?.label;
    if (la !== undefined && lb !== undefined) pairs.push([la, lb]);
  }
  if (pairs.length === 0) return noPairs();
  const observed = pairs.filter(([x, y]) => x === y).length / pairs.length;
  const share = (side: 0 | 1, c: string): number => pairs.filter((p) => p[side] === c).length / pairs.length;
  const expected = sum(classes.map((c) => share(0, c) * share(1, c)));
  return chanceCorrected(observed, expected, pairs.length, 2 * pairs.length);
}

/** What an annotator is compared against: the other annotators' majority on each item, or given reference labels. */
export type AnnotatorReference = { against: 'majority-of-others' } | { against: 'labels'; labels: ReadonlyMap<string, string> };

/** One annotator's agreement with the reference over the items they rated. */
export interface AnnotatorAgreement {
  annotator: string;
  /** Items this annotator rated. */
  rated: number;
  /** Of those, items with a reference label to compare with. */
  compared: number;
  /** Of those, items where the annotator's label is the reference label. */
  agreed: number;
  /** agreed / compared; null when nothing was compared. */
  rate: number | null;
}

/** The labels with the highest count, sorted; empty when there are no labels. */
function leaders(counts: ReadonlyMap<string, number>): string[] {
  const top = Math.max(0, ...counts.values());
  return [...counts]
    .filter(([, n]) => n === top && n > 0)
    .map(([label]) => label)
    .sort();
}

function tally(labels: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return counts;
}

/**
 * Each annotator's agreement over the items they rated, sorted by annotator. Against `majority-of-others`, the
 * reference on an item is the single most frequent label among the other annotators (leaving the annotator's own
 * vote out, so agreeing with oneself never counts); an item where the others tie, or no one else rated it, is not
 * compared. Against `labels` (final labels from the quorum rule, or a gold sample), items without a label are not
 * compared; final labels include the annotator's own vote, so they flatter every annotator a little.
 */
export function annotatorAgreement(
  ratings: readonly Rating[],
  classes: readonly string[],
  reference: AnnotatorReference,
): AnnotatorAgreement[] {
  checkRatings(ratings, classes);
  const items = byItem(ratings);
  const stats = new Map<string, AnnotatorAgreement>();
  for (const r of ratings) {
    const s = stats.get(r.annotator) ?? { annotator: r.annotator, rated: 0, compared: 0, agreed: 0, rate: null };
    stats.set(r.annotator, s);
    s.rated += 1;
    let ref: string | undefined;
    if (reference.against === 'labels') {
      ref = reference.labels.get(r.item);
    } else {
      const top = leaders(
        tally(
          items
            .get(r.item)!
            .filter((o) => o.annotator !== r.annotator)
            .map((o) => o.label),
        ),
      );
      ref = top.length === 1 ? top[0] : undefined;
    }
    if (ref === undefined) continue;
    s.compared += 1;
    if (ref === r.label) s.agreed += 1;
  }
  return [...stats.values()]
    .map((s) => ({ ...s, rate: s.compared === 0 ? null : s.agreed / s.compared }))
    .sort((x, y) => (x.annotator < y.annotator ? -1 : x.annotator > y.annotator ? 1 : 0));
}

/** How many annotators an item wants and how many of them must agree for a final label (the spec's labeling policy). */
export interface QuorumPolicy {
  /** Ratings wanted per item (1 or more). */
  overlap: number;
  /** Agreeing ratings that make a label final (1 to overlap). */
  quorum: number;
}

/** What to do with one item given its ratings so far. */
export type QuorumDecision =
  | { kind: 'final'; label: string; votes: number; ratings: number }
  /** No label has quorum yet but one still can: ask `atLeast` more annotators (at most `remaining` are wanted). */
  | { kind: 'needs_more'; ratings: number; remaining: number; atLeast: number; leading: string[]; tie: boolean }
  /**
   * A person must decide: `no_quorum` when no label can reach quorum within the overlap, `tie_at_quorum` when two
   * or more labels each have quorum (possible only when quorum ≤ overlap / 2, or with ratings beyond the overlap).
   */
  | { kind: 'adjudication'; reason: 'no_quorum' | 'tie_at_quorum'; ratings: number; leading: string[]; tie: boolean };

/** Throws unless 1 ≤ quorum ≤ overlap, both integers. */
export function checkQuorumPolicy(policy: QuorumPolicy): void {
  const { overlap, quorum } = policy;
  if (!Number.isInteger(overlap) || overlap < 1)
    throw new AgreementInputError(`overlap is ${overlap}: it must be an integer of at least 1`);
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > overlap) {
    throw new AgreementInputError(`quorum is ${quorum}: it must be an integer from 1 to the overlap (${overlap})`);
  }
}

/**
 * The quorum rule for one item from its ratings (one per annotator). A label is final when it has at least `quorum`
 * votes and more votes than any other label. Otherwise, while the top label plus the ratings still wanted
 * (overlap − ratings so far) could reach quorum, the item needs more ratings; when it cannot, or two labels tie with
 * quorum each, it goes to adjudication. `leading` lists the labels with the most votes, sorted, and `tie` says
 * whether there are several.
 */
export function decideQuorum(itemRatings: readonly Rating[], classes: readonly string[], policy: QuorumPolicy): QuorumDecision {
  checkQuorumPolicy(policy);
  checkRatings(itemRatings, classes);
  const itemIds = new Set(itemRatings.map((r) => r.item));
  if (itemIds.size > 1) throw new AgreementInputError(`decideQuorum takes the ratings of one item, got items ${[...itemIds].join(', ')}`);
  const counts = tally(itemRatings.map((r) => r.label));
  const leading = leaders(counts);
  const votes = leading.length === 0 ? 0 : counts.get(leading[0]!)!;
  const ratings = itemRatings.length;
  const tie = leading.length > 1;
  if (votes >= policy.quorum) {
    if (!tie) return { kind: 'final', label: leading[0]!, votes, ratings };
    return { kind: 'adjudication', reason: 'tie_at_quorum', ratings, leading, tie };
  }
  // Below zero once ratings beyond the overlap arrived; then only a label with quorum ends the wait.
  const remaining = policy.overlap - ratings;
  if (votes + remaining >= policy.quorum) {
    return { kind: 'needs_more', ratings, remaining, atLeast: policy.quorum - votes, leading, tie };
  }
  return { kind: 'adjudication', reason: 'no_quorum', ratings, leading, tie };
}
