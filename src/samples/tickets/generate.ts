import { luhnCheckDigit } from '../../pii/validators';
import { createRng } from '../../shared/prng';
import {
  DAYS,
  GREETINGS,
  QUEUE_KEYWORDS,
  SENTENCE_TEMPLATES,
  SHARED_WORDS,
  SIGN_OFFS,
  SUBJECT_TEMPLATES,
  TICKET_QUEUES,
  type TicketQueue,
} from './vocabulary';

export { programmaticLabel } from './labeler';

/** Options for the sample ticket generator. */
export interface GenerateTicketsOptions {
  /** UTC day the tickets are created on, YYYY-MM-DD. */
  date: string;
  /** Number of lines to produce (bad lines and duplicates included). */
  count: number;
  seed: number;
  /** Share of tickets without a `queue` label (default 0.15). */
  unlabeledFraction?: number;
  /** Share of lines that break the contract (default 0.02). */
  badLineFraction?: number;
  /** Share of lines that repeat an earlier ticket under a new id (default 0.01). */
  duplicateFraction?: number;
  /** Share of labeled tickets whose label is wrong (default 0.05). */
  labelNoise?: number;
}

/** What PII a generated ticket's body carries (for tests; never part of the line). */
export interface PlantedPii {
  email: number;
  phone: number;
  card: number;
  /** Luhn-invalid 16-digit order numbers, which must not be flagged. */
  orderNumber: number;
}

/** One generated line with the facts a test needs to judge the pipeline on it. */
export interface GeneratedLine {
  line: string;
  kind: 'ticket' | 'duplicate' | 'bad';
  /** The queue the text was written for (before label noise); absent on bad lines. */
  trueQueue?: TicketQueue;
  planted: PlantedPii;
}

/** mulberry32 (the project's seeded PRNG), re-exported for tests that check determinism. */
export { createRng as mulberry32 } from '../../shared/prng';

/** FNV-1a of a string, to fold the date into the seed (each day differs, each day is repeatable). */
function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

class Rng {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i += 1) s += String(this.int(10));
    return s;
  }
}

const FIRST = ['alex', 'maria', 'sam', 'li', 'fatima', 'john', 'priya', 'noah', 'emma', 'kofi'];
const LAST = ['smith', 'garcia', 'chen', 'okafor', 'muller', 'rossi', 'khan', 'silva'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net'];
const AREAS = ['415', '212', '646', '312', '617', '206', '303', '512'];
const CHANNELS = ['email', 'chat', 'phone', 'web'] as const;

function email(r: Rng): string {
  return `${r.pick(FIRST)}.${r.pick(LAST)}${r.int(100)}@${r.pick(DOMAINS)}`;
}

function phone(r: Rng): string {
  const tail = r.digits(2);
  switch (r.int(5)) {
    case 0:
      return `(${r.pick(AREAS)}) 555-01${tail}`;
    case 1:
      return `${r.pick(AREAS)}-555-01${tail}`;
    case 2:
      return `+1 ${r.pick(AREAS)} 555 01${tail}`;
    case 3:
      return `+44 20 7946 0${r.digits(3)}`;
    default:
      return `+33 1 42 68 53 ${tail}`;
  }
}

function card(r: Rng): string {
  const sep = r.chance(0.5) ? ' ' : '-';
  const kind = r.int(3);
  if (kind === 2) {
    const payload = `3${r.chance(0.5) ? '4' : '7'}${r.digits(12)}`;
    const n = payload + luhnCheckDigit(payload);
    return [n.slice(0, 4), n.slice(4, 10), n.slice(10)].join(sep);
  }
  const payload = kind === 0 ? `4${r.digits(14)}` : `5${1 + r.int(5)}${r.digits(13)}`;
  const n = payload + luhnCheckDigit(payload);
  return [n.slice(0, 4), n.slice(4, 8), n.slice(8, 12), n.slice(12)].join(sep);
}

function orderNumber(r: Rng): string {
  const payload = `${1 + r.int(9)}${r.digits(14)}`;
  const bad = (Number(luhnCheckDigit(payload)) + 1 + r.int(9)) % 10;
  return `${payload}${bad}`;
}

function fill(template: string, r: Rng, keyword: () => string): string {
  return template
    .replace(/\{k\}/g, () => keyword())
    .replace(/\{w\}/g, () => r.pick(SHARED_WORDS))
    .replace(/\{day\}/g, () => r.pick(DAYS));
}

interface TicketText {
  subject: string;
  body: string;
  planted: PlantedPii;
}

function ticketText(queue: TicketQueue, r: Rng): TicketText {
  // How much of the text is on topic: most tickets are clear, some read like another queue.
  const focus = r.chance(0.85) ? 0.92 : 0.5;
  const other = r.pick(TICKET_QUEUES.filter((q) => q !== queue));
  const keyword = (): string => r.pick(QUEUE_KEYWORDS[r.chance(focus) ? queue : other]);
  const subject = fill(r.pick(SUBJECT_TEMPLATES), r, keyword);
  const parts: string[] = [r.pick(GREETINGS)];
  const sentences = 2 + r.int(3);
  for (let i = 0; i < sentences; i += 1) parts.push(fill(r.pick(SENTENCE_TEMPLATES), r, keyword));
  const planted: PlantedPii = { email: 0, phone: 0, card: 0, orderNumber: 0 };
  if (r.chance(0.1)) {
    parts.push(`You can reach me at ${email(r)}.`);
    planted.email += 1;
  }
  if (r.chance(0.08)) {
    parts.push(`Call me on ${phone(r)} if needed.`);
    planted.phone += 1;
  }
  if (r.chance(0.04)) {
    parts.push(`The card I used is ${card(r)}.`);
    planted.card += 1;
  }
  if (r.chance(0.06)) {
    parts.push(`Order number ${orderNumber(r)}.`);
    planted.orderNumber += 1;
  }
  parts.push(r.pick(SIGN_OFFS));
  return { subject, body: parts.filter((p) => p !== '').join(' '), planted };
}

function breakLine(ticket: Record<string, unknown>, r: Rng): string {
  switch (r.int(4)) {
    case 0: {
      const json = JSON.stringify(ticket);
      return json.slice(0, Math.max(1, Math.floor(json.length / 2)));
    }
    case 1: {
      const { subject: _dropped, ...rest } = ticket;
      return JSON.stringify(rest);
    }
    case 2:
      return JSON.stringify({ ...ticket, channel: 'fax' });
    default:
      return '';
  }
}

/** Generate a day of sample tickets with the facts tests need (true queue, planted PII per line). */
export function generateTicketLines(options: GenerateTicketsOptions): GeneratedLine[] {
  const { date, count, seed } = options;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new Error(`generateTickets: date must be YYYY-MM-DD, got an invalid value`);
  }
  const unlabeled = options.unlabeledFraction ?? 0.15;
  const badFraction = options.badLineFraction ?? 0.02;
  const dupFraction = options.duplicateFraction ?? 0.01;
  const noise = options.labelNoise ?? 0.05;
  const r = new Rng(createRng(fnv1a(date, seed)));
  const dayStart = Date.parse(`${date}T00:00:00Z`);
  const times = Array.from({ length: count }, () => dayStart + r.int(86_400_000)).sort((a, b) => a - b);

  const out: GeneratedLine[] = [];
  const good: Array<{ ticket: Record<string, unknown>; queue: TicketQueue; planted: PlantedPii }> = [];
  for (let i = 0; i < count; i += 1) {
    const id = `T-${date}-${String(i + 1).padStart(5, '0')}`;
    const roll = r.next();
    if (roll < dupFraction && good.length > 0) {
      const original = r.pick(good);
      out.push({
        line: JSON.stringify({ ...original.ticket, id }),
        kind: 'duplicate',
        trueQueue: original.queue,
        planted: original.planted,
      });
      continue;
    }
    const queue = r.pick(TICKET_QUEUES);
    const channel = r.pick(CHANNELS);
    const text = ticketText(queue, r);
    const ticket: Record<string, unknown> = {
      id,
      created_at: new Date(times[i] as number).toISOString(),
      channel,
      subject: text.subject,
      body: text.body,
    };
    if ((channel === 'email' && r.chance(0.6)) || r.chance(0.1)) ticket.customer_email = email(r);
    if (!r.chance(unlabeled)) {
      ticket.queue = r.chance(noise) ? r.pick(TICKET_QUEUES.filter((q) => q !== queue)) : queue;
    }
    if (roll < dupFraction + badFraction) {
      out.push({ line: breakLine(ticket, r), kind: 'bad', planted: { email: 0, phone: 0, card: 0, orderNumber: 0 } });
      continue;
    }
    good.push({ ticket, queue, planted: text.planted });
    out.push({ line: JSON.stringify(ticket), kind: 'ticket', trueQueue: queue, planted: text.planted });
  }
  return out;
}

/** Generate a day of sample support tickets as JSONL lines; the same options always give the same lines. */
export function generateTickets(options: GenerateTicketsOptions): string[] {
  return generateTicketLines(options).map((g) => g.line);
}
