/**
 * A seeded, labeled PII corpus: records (nested objects and arrays) with planted PII of every type at known
 * spans, and planted look-alikes that must not be flagged. Used by the PII tests and by bench B3.
 *
 * Look-alikes planted: Luhn-failing order numbers with card prefixes, IBANs with a wrong checksum (whose digits
 * must not turn into cards or phones either), nine-digit ticket numbers without SSN context, SSNs with
 * impossible area/group/serial, version strings (1.2.3.4.5), out-of-range octets, clock times, C++ scope
 * operators, placeholder AWS keys, `sk_test_` Stripe keys (decided: test-mode keys are not live secrets),
 * dates, amounts and at-signs without a domain.
 */
import { composeIBAN, friendlyFormatIBAN, isValidIBAN } from 'ibantools';
import { getExampleNumber, isValidPhoneNumber, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { isIPv6 } from 'node:net';
import { luhnCheckDigit } from '../../src/pii/validators';
import { createRng, type Rng } from '../../src/shared/prng';
import type { PiiEntity } from '../../src/shared/spec';

/** A planted PII value: where it sits and what it is (the value kept for the leak check). */
export interface PlantedSpan {
  field: string;
  entity: PiiEntity;
  start: number;
  end: number;
  value: string;
}

/** One generated record with its labels. */
export interface CorpusRecord {
  record: Record<string, unknown>;
  planted: PlantedSpan[];
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const digits = (rng: Rng, n: number): string => Array.from({ length: n }, () => String(int(rng, 0, 9))).join('');
const fromAlphabet = (rng: Rng, alphabet: string, n: number): string =>
  Array.from({ length: n }, () => alphabet.charAt(int(rng, 0, alphabet.length - 1))).join('');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const FIRST = ['jane', 'omar', 'li', 'maria', 'kofi', 'anna', 'raj', 'sven', 'chloe', 'diego'];
const LAST = ['doe', 'smith', 'nguyen', 'garcia', 'okafor', 'muller', 'rossi', 'tanaka'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.co.uk', 'example.net', 'shop.example.io'];

function email(rng: Rng): string {
  const sep = pick(rng, ['.', '_', '', '-']);
  const tag = rng() < 0.2 ? `+${pick(rng, ['tickets', 'news', 'x1'])}` : '';
  return `${pick(rng, FIRST)}${sep}${pick(rng, LAST)}${rng() < 0.3 ? int(rng, 1, 99) : ''}${tag}@${pick(rng, DOMAINS)}`;
}

const US_AREAS = ['201', '212', '213', '305', '312', '415', '503', '617', '646', '702', '713', '718', '805', '917'];
const INTL: CountryCode[] = ['GB', 'FR', 'DE', 'IN', 'BR', 'AU', 'JP', 'ES', 'IT', 'NL', 'MX', 'ZA'];

function phone(rng: Rng): string {
  for (;;) {
    if (rng() < 0.5) {
      const n = `${pick(rng, US_AREAS)}${int(rng, 2, 9)}${digits(rng, 2)}${digits(rng, 4)}`;
      if (!isValidPhoneNumber(n, 'US')) continue;
      const [a, b, c] = [n.slice(0, 3), n.slice(3, 6), n.slice(6)];
      return pick(rng, [`(${a}) ${b}-${c}`, `${a}-${b}-${c}`, `+1 ${a} ${b} ${c}`, `+1-${a}-${b}-${c}`, `${a}.${b}.${c}`]);
    }
    const example = getExampleNumber(pick(rng, INTL), examples);
    if (!example) continue;
    const national = example.nationalNumber;
    const varied = national.slice(0, -3) + digits(rng, 3);
    const intl = `+${example.countryCallingCode}${varied}`;
    if (!isValidPhoneNumber(intl)) continue;
    // The library's own grouping for the country (e.g. "+44 7400 123456"), or the bare E.164 form.
    return rng() < 0.7 ? (parsePhoneNumberFromString(intl)?.formatInternational() ?? intl) : intl;
  }
}

interface CardKind {
  prefix: (rng: Rng) => string;
  length: number;
  groups: number[];
}
const CARDS: CardKind[] = [
  { prefix: () => '4', length: 16, groups: [4, 4, 4, 4] }, // Visa
  { prefix: () => '4', length: 19, groups: [4, 4, 4, 4, 3] },
  { prefix: () => '4', length: 13, groups: [13] },
  { prefix: (r) => String(int(r, 51, 55)), length: 16, groups: [4, 4, 4, 4] }, // Mastercard
  { prefix: (r) => String(int(r, 2221, 2720)), length: 16, groups: [4, 4, 4, 4] }, // Mastercard 2-series
  { prefix: (r) => pick(r, ['34', '37']), length: 15, groups: [4, 6, 5] }, // Amex
  { prefix: (r) => pick(r, ['6011', '65', String(int(r, 644, 649))]), length: 16, groups: [4, 4, 4, 4] }, // Discover
  { prefix: (r) => String(int(r, 3528, 3589)), length: 16, groups: [4, 4, 4, 4] }, // JCB
  { prefix: (r) => pick(r, ['36', '38', String(int(r, 300, 305))]), length: 14, groups: [4, 6, 4] }, // Diners
];

function cardDigits(rng: Rng, kind: CardKind, valid: boolean): string {
  const prefix = kind.prefix(rng);
  const payload = prefix + digits(rng, kind.length - prefix.length - 1);
  const check = luhnCheckDigit(payload);
  return payload + (valid ? check : String((Number(check) + int(rng, 1, 9)) % 10));
}

function formatGroups(number: string, groups: number[], sep: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const g of groups) {
    parts.push(number.slice(at, at + g));
    at += g;
  }
  return parts.join(sep);
}

function card(rng: Rng, valid = true): string {
  const kind = pick(rng, CARDS);
  return formatGroups(cardDigits(rng, kind, valid), kind.groups, pick(rng, [' ', '-', '']));
}

function ssnParts(rng: Rng): [string, string, string] {
  let area = int(rng, 1, 899);
  if (area === 666) area = 665;
  return [String(area).padStart(3, '0'), String(int(rng, 1, 99)).padStart(2, '0'), String(int(rng, 1, 9999)).padStart(4, '0')];
}

// Countries whose BBAN has no national check digit that ibantools verifies; check digits are computed (mod 97).
const IBAN_BBANS: ReadonlyArray<[string, (rng: Rng) => string]> = [
  ['DE', (r) => digits(r, 18)],
  ['AT', (r) => digits(r, 16)],
  ['GB', (r) => fromAlphabet(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + digits(r, 14)],
  ['IE', (r) => fromAlphabet(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + digits(r, 14)],
  ['NL', (r) => fromAlphabet(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + digits(r, 10)],
  ['CH', (r) => digits(r, 17)],
  ['LU', (r) => digits(r, 16)],
  ['DK', (r) => digits(r, 14)],
];

/** A valid IBAN (compact), or with `valid: false` one whose check digits are wrong. */
export function ibanCompact(rng: Rng, valid = true): string {
  for (;;) {
    const [country, bban] = pick(rng, IBAN_BBANS);
    const iban = composeIBAN({ countryCode: country, bban: bban(rng) });
    if (!iban || !isValidIBAN(iban)) continue;
    if (valid) return iban;
    const check = Number(iban.slice(2, 4));
    const wrong = String(((check - 2 + int(rng, 1, 96)) % 97) + 2).padStart(2, '0');
    const bad = iban.slice(0, 2) + wrong + iban.slice(4);
    if (!isValidIBAN(bad)) return bad;
  }
}

function iban(rng: Rng, valid = true): string {
  const compact = ibanCompact(rng, valid);
  return rng() < 0.5 ? compact : (friendlyFormatIBAN(compact) ?? compact);
}

function ipv4(rng: Rng): string {
  return [int(rng, 1, 223), int(rng, 0, 255), int(rng, 0, 255), int(rng, 1, 254)].join('.');
}

function ipv6(rng: Rng): string {
  const groups = Array.from({ length: 8 }, () => int(rng, 0, 0xffff).toString(16));
  const form = int(rng, 0, 3);
  let out: string;
  if (form === 0) out = groups.map((g) => g.padStart(4, '0')).join(':');
  else if (form === 1) {
    const at = int(rng, 1, 5);
    const len = int(rng, 2, 8 - at);
    out = `${groups.slice(0, at).join(':')}::${groups.slice(at + len).join(':')}`;
  } else if (form === 2) out = `::ffff:${ipv4(rng)}`;
  else out = `fe80::${groups.slice(4).join(':')}`;
  if (rng() < 0.2) out = out.toUpperCase();
  if (!isIPv6(out)) throw new Error('corpus bug: generated an invalid IPv6 address');
  return out;
}

function secret(rng: Rng): string {
  switch (int(rng, 0, 7)) {
    case 0:
      return pick(rng, ['AKIA', 'ASIA']) + fromAlphabet(rng, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16);
    case 1:
      return `${pick(rng, ['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${fromAlphabet(rng, ALNUM, 36)}`;
    case 2:
      return `github_pat_${fromAlphabet(rng, ALNUM, 22)}_${fromAlphabet(rng, ALNUM, 59)}`;
    case 3:
      return `${pick(rng, ['xoxb', 'xoxp', 'xoxa'])}-${digits(rng, 12)}-${digits(rng, 13)}-${fromAlphabet(rng, ALNUM, 24)}`;
    case 4:
      return `${pick(rng, ['sk', 'rk'])}_live_${fromAlphabet(rng, ALNUM, int(rng, 24, 99))}`;
    case 5:
      return `AIza${fromAlphabet(rng, `${ALNUM}_-`, 35)}`;
    default: {
      const label = pick(rng, ['RSA ', 'EC ', 'OPENSSH ', '', 'ENCRYPTED ']);
      const lines = Array.from({ length: int(rng, 2, 6) }, () => fromAlphabet(rng, `${ALNUM}+/`, 64));
      return `-----BEGIN ${label}PRIVATE KEY-----\n${lines.join('\n')}\n-----END ${label}PRIVATE KEY-----`;
    }
  }
}

/** A generator of planted values and the sentence templates they appear in (`{}` marks the value). */
const PLANTS: Record<PiiEntity, { value: (rng: Rng) => string; templates: string[] }> = {
  EMAIL_ADDRESS: { value: email, templates: ['Please write to {} for updates.', 'cc {}', 'Sender: {}.'] },
  PHONE_NUMBER: { value: phone, templates: ['Call me back at {} tomorrow.', 'Phone: {}', 'mobile {}, evenings only'] },
  CREDIT_CARD: { value: card, templates: ['My card {} was charged twice.', 'paid with {}', 'Card number: {}.'] },
  US_SSN: {
    value: (r) => ssnParts(r).join('-'),
    templates: ['Employee SSN {} on file.', 'id {} (dashed)', 'Tax form shows {}.'],
  },
  IBAN_CODE: { value: iban, templates: ['Refund to IBAN {} please.', 'account {}', 'Bank: {}.'] },
  IP_ADDRESS: {
    value: (r) => (r() < 0.5 ? ipv4(r) : ipv6(r)),
    templates: ['Login from {} failed.', 'client={} blocked', 'Seen at [{}] twice.'],
  },
  SECRET: { value: secret, templates: ['Leaked key {} in the logs.', 'token: {}', 'config:\n{}\nend'] },
};

/** Bare nine-digit SSNs count only with context; planted in context templates. */
const SSN_BARE_TEMPLATES = ['social security number {}', 'SSN: {}.', 'my ssn is {} thanks'];

/** Look-alikes: none of these is PII by the engine's definition. */
const DECOYS: ReadonlyArray<(rng: Rng) => string> = [
  (r) => `Order ${card(r, false)} shipped.`,
  (r) => `Old account ${iban(r, false)} closed.`,
  (r) => `Ticket ${digits(r, 9).replace(/^0/, '4')} reopened.`,
  (r) => `Ticket #${int(r, 100000000, 999999999)}`,
  (r) => `Updated to version ${int(r, 1, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)} today.`,
  (r) => `Bad octets ${int(r, 256, 999)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)} rejected.`,
  (r) => `At ${int(r, 10, 23)}:${int(r, 10, 59)}:${int(r, 10, 59)} the std::vector grew.`,
  (r) => `Invalid ids ${pick(r, ['000', '666', '912'])}-${digits(r, 2).replace(/^00$/, '12')}-${digits(r, 3)}1 and 123-00-4567.`,
  () => 'Placeholder AKIAXXXXXXXXXXXXXXXX in docs.',
  (r) => `Test key sk_test_${fromAlphabet(r, ALNUM, 24)} only.`,
  (r) => `Since 2024-0${int(r, 1, 9)}-1${int(r, 0, 9)} it costs $1,${digits(r, 3)}.${digits(r, 2)}.`,
  () => 'Ping @support or admin@localhost.',
  (r) => `Zip ${digits(r, 5)}, pin ${digits(r, 4)}.`,
];

const FILLER = ['The app crashes when I open settings.', 'Thanks for the quick reply!', 'It worked yesterday.', 'See the attached log.'];

class FieldBuilder {
  text = '';
  readonly planted: Array<Omit<PlantedSpan, 'field'>> = [];
  add(s: string): this {
    this.text += s;
    return this;
  }
  plant(entity: PiiEntity, template: string, value: string): this {
    const at = template.indexOf('{}');
    this.text += template.slice(0, at);
    this.planted.push({ entity, start: this.text.length, end: this.text.length + value.length, value });
    this.text += value + template.slice(at + 2);
    return this;
  }
}

/** Every entity type the corpus plants. */
export const ENTITIES: PiiEntity[] = ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'IP_ADDRESS', 'SECRET'];

/** One fresh value of `entity` and a sentence it may be planted in (`{}` marks the value); same rng, same value. */
export function plantValue(rng: Rng, entity: PiiEntity): { value: string; template: string } {
  return { value: PLANTS[entity].value(rng), template: pick(rng, PLANTS[entity].templates) };
}

/** Generate `count` labeled records from `seed` (same seed, same corpus). */
export function generatePiiCorpus(options: { seed: number; count: number }): CorpusRecord[] {
  const rng = createRng(options.seed);
  const out: CorpusRecord[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const planted: PlantedSpan[] = [];
    const field = (path: string, b: FieldBuilder): string => {
      for (const p of b.planted) planted.push({ field: path, ...p });
      return b.text;
    };
    const sentence = (entity: PiiEntity): FieldBuilder => {
      const b = new FieldBuilder().add(`${pick(rng, FILLER)} `);
      if (entity === 'US_SSN' && rng() < 0.4) {
        const sep = pick(rng, ['', ' ']);
        return b.plant(entity, pick(rng, SSN_BARE_TEMPLATES), ssnParts(rng).join(sep));
      }
      return b.plant(entity, pick(rng, PLANTS[entity].templates), PLANTS[entity].value(rng));
    };

    const body = new FieldBuilder();
    for (let k = 0; k < 3; k += 1) {
      const entity = ENTITIES[(i * 3 + k) % ENTITIES.length] as PiiEntity;
      const s = sentence(entity);
      const base = body.text.length;
      body.add(s.text);
      for (const p of s.planted) body.planted.push({ ...p, start: p.start + base, end: p.end + base });
      body.add(` ${pick(rng, DECOYS)(rng)} `);
    }
    const record: Record<string, unknown> = {
      id: `rec-${i}`,
      subject: field('subject', new FieldBuilder().add(pick(rng, DECOYS)(rng))),
      body: field('body', body),
      metadata: {
        ip: field('metadata.ip', new FieldBuilder().plant('IP_ADDRESS', '{}', PLANTS.IP_ADDRESS.value(rng))),
        contact: {
          email: field('metadata.contact.email', new FieldBuilder().plant('EMAIL_ADDRESS', '{}', email(rng))),
          phones: [field('metadata.contact.phones.0', new FieldBuilder().plant('PHONE_NUMBER', '{}', phone(rng))), 'none'],
        },
        attempts: int(rng, 0, 5),
      },
      tags: [
        'billing',
        field('tags.1', new FieldBuilder().add(pick(rng, DECOYS)(rng))),
        field('tags.2', sentence(ENTITIES[i % 7] as PiiEntity)),
      ],
      notes: [{ author: 'agent', text: field('notes.0.text', sentence(ENTITIES[(i + 3) % 7] as PiiEntity)) }],
      resolved: rng() < 0.5,
    };
    out.push({ record, planted });
  }
  return out;
}
