/**
 * Seeded sample product reviews (the second example dataset, specs/reviews.yaml): other fields than the tickets
 * (title, text, rating, product_category, language), other classes (positive / neutral / negative), and the label in
 * every record, written by the reviewer's side (label source `source`), so no labeling function is needed.
 */
import { createRng } from '../../shared/prng';

/** Sentiment classes of a review (the dataset's label classes). */
export const REVIEW_SENTIMENTS = ['positive', 'neutral', 'negative'] as const;

/** One sentiment class. */
export type ReviewSentiment = (typeof REVIEW_SENTIMENTS)[number];

/** Product categories of the sample. */
export const REVIEW_CATEGORIES = ['electronics', 'home', 'books', 'apparel', 'grocery'] as const;

/** Languages of the sample. */
export const REVIEW_LANGUAGES = ['en', 'de', 'fr'] as const;

type Language = (typeof REVIEW_LANGUAGES)[number];

/** Options of the sample review generator. */
export interface GenerateReviewsOptions {
  /** UTC day the reviews are written on, YYYY-MM-DD. */
  date: string;
  /** Lines to produce (bad lines and duplicates included). */
  count: number;
  seed: number;
  /** Share of lines that break the contract (default 0.01). */
  badLineFraction?: number;
  /** Share of lines that repeat an earlier review under a new id (default 0.01). */
  duplicateFraction?: number;
  /** Share of reviews whose label disagrees with the text (default 0.03). */
  labelNoise?: number;
}

/** One generated line and what a test needs to judge the pipeline on it. */
export interface GeneratedReview {
  line: string;
  kind: 'review' | 'duplicate' | 'bad';
  /** The sentiment the text was written with (before label noise); absent on bad lines. */
  trueSentiment?: ReviewSentiment;
}

/** Words that carry each sentiment, per language: the generator writes with them, a model learns them. */
const WORDS: Readonly<Record<Language, Readonly<Record<ReviewSentiment, readonly string[]>>>> = {
  en: {
    positive: ['excellent', 'love', 'great', 'perfect', 'recommend', 'fantastic', 'sturdy', 'delighted', 'superb', 'happy'],
    neutral: ['okay', 'average', 'decent', 'fine', 'acceptable', 'ordinary', 'adequate', 'expected', 'mixed', 'fair'],
    negative: ['broken', 'terrible', 'refund', 'awful', 'disappointed', 'useless', 'cheap', 'returned', 'worst', 'faulty'],
  },
  de: {
    positive: ['ausgezeichnet', 'super', 'toll', 'perfekt', 'empfehlenswert', 'begeistert', 'hervorragend', 'zufrieden'],
    neutral: ['okay', 'durchschnittlich', 'ordentlich', 'normal', 'solide', 'brauchbar', 'mittelmässig', 'akzeptabel'],
    negative: ['kaputt', 'schrecklich', 'enttäuscht', 'mangelhaft', 'nutzlos', 'zurückgeschickt', 'defekt', 'billig'],
  },
  fr: {
    positive: ['excellent', 'parfait', 'génial', 'formidable', 'recommande', 'ravi', 'superbe', 'impeccable'],
    neutral: ['correct', 'moyen', 'passable', 'ordinaire', 'convenable', 'acceptable', 'standard', 'mitigé'],
    negative: ['cassé', 'horrible', 'déçu', 'nul', 'remboursement', 'défectueux', 'inutilisable', 'médiocre'],
  },
};

/** Words any review may use, whatever its sentiment. */
const FILLER: Readonly<Record<Language, readonly string[]>> = {
  en: ['the', 'product', 'arrived', 'after', 'a', 'week', 'and', 'it', 'is', 'quite', 'really', 'for', 'the', 'price'],
  de: ['das', 'produkt', 'kam', 'nach', 'einer', 'woche', 'und', 'es', 'ist', 'wirklich', 'für', 'den', 'preis'],
  fr: ['le', 'produit', 'est', 'arrivé', 'après', 'une', 'semaine', 'et', 'il', 'est', 'vraiment', 'pour', 'le', 'prix'],
};

const ITEMS: Readonly<Record<(typeof REVIEW_CATEGORIES)[number], readonly string[]>> = {
  electronics: ['headphones', 'charger', 'laptop', 'speaker', 'camera'],
  home: ['lamp', 'kettle', 'blanket', 'pan', 'vacuum'],
  books: ['novel', 'cookbook', 'guide', 'biography', 'atlas'],
  apparel: ['jacket', 'shoes', 'scarf', 'jeans', 'shirt'],
  grocery: ['coffee', 'tea', 'olive oil', 'chocolate', 'pasta'],
};

/** Ratings a reviewer of each sentiment gives (a strong but not perfect signal). */
const RATINGS: Readonly<Record<ReviewSentiment, readonly number[]>> = {
  positive: [5, 5, 5, 4, 4, 4, 3],
  neutral: [3, 3, 3, 4, 2],
  negative: [1, 1, 1, 2, 2, 3],
};

const NAMES = ['alex', 'maria', 'sam', 'li', 'fatima', 'jonas', 'chloe', 'noah'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net'];

function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Generate a day of sample reviews with the facts a test needs; the same options always give the same lines. */
export function generateReviewLines(options: GenerateReviewsOptions): GeneratedReview[] {
  const { date, count, seed } = options;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new Error('generateReviews: date must be YYYY-MM-DD, got an invalid value');
  }
  const badFraction = options.badLineFraction ?? 0.01;
  const dupFraction = options.duplicateFraction ?? 0.01;
  const noise = options.labelNoise ?? 0.03;
  const next = createRng(fnv1a(date, seed));
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const dayStart = Date.parse(`${date}T00:00:00Z`);
  const times = Array.from({ length: count }, () => dayStart + int(86_400_000)).sort((a, b) => a - b);

  const out: GeneratedReview[] = [];
  const good: Array<{ review: Record<string, unknown>; sentiment: ReviewSentiment }> = [];
  for (let i = 0; i < count; i += 1) {
    const id = `R-${date}-${String(i + 1).padStart(5, '0')}`;
    const roll = next();
    if (roll < dupFraction && good.length > 0) {
      const original = pick(good);
      out.push({ line: JSON.stringify({ ...original.review, id }), kind: 'duplicate', trueSentiment: original.sentiment });
      continue;
    }
    const sentiment = pick(REVIEW_SENTIMENTS);
    const category = pick(REVIEW_CATEGORIES);
    const language: Language = next() < 0.7 ? 'en' : pick(['de', 'fr'] as const);
    // Mostly on-sentiment words; some reviews read mixed (a word of another sentiment now and then).
    const focus = next() < 0.8 ? 0.9 : 0.6;
    const word = (): string => pick(WORDS[language][next() < focus ? sentiment : pick(REVIEW_SENTIMENTS)]);
    const item = pick(ITEMS[category]);
    const words: string[] = [item];
    const length = 8 + int(14);
    for (let w = 0; w < length; w += 1) words.push(next() < 0.35 ? word() : pick(FILLER[language]));
    let text = `${words.join(' ')}.`;
    if (next() < 0.05) text += ` Contact me at ${pick(NAMES)}${int(100)}@${pick(DOMAINS)}.`;
    const review: Record<string, unknown> = {
      id,
      created_at: new Date(times[i] as number).toISOString(),
      product_category: category,
      language,
      rating: pick(RATINGS[sentiment]),
      title: `${word()} ${item}`,
      text,
      sentiment: next() < noise ? pick(REVIEW_SENTIMENTS.filter((s) => s !== sentiment)) : sentiment,
    };
    if (roll < dupFraction + badFraction) {
      // A contract break: a rating outside 1..5, or a missing text.
      const broken = next() < 0.5 ? { ...review, rating: 9 } : { ...review, text: undefined };
      out.push({ line: JSON.stringify(broken), kind: 'bad' });
      continue;
    }
    good.push({ review, sentiment });
    out.push({ line: JSON.stringify(review), kind: 'review', trueSentiment: sentiment });
  }
  return out;
}

/** Generate a day of sample reviews as JSONL lines. */
export function generateReviews(options: GenerateReviewsOptions): string[] {
  return generateReviewLines(options).map((g) => g.line);
}
