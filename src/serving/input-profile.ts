/**
 * What the gateway keeps of a request's input for drift against production: never the text. Text fields give
 * their length; categorical fields their value, only when it looks like a category code (at most 32 letters,
 * digits, `_`, `.` or `-`, fewer than six digits) and none of the PII detectors finds anything in it, so an e-mail
 * address, a phone number, an IP address, a key or free text sent in a categorical field is logged as `__other__`,
 * not as itself.
 */
import { DETECTORS } from '../pii/detectors';
import { findPii } from '../pii/engine';
import type { PiiEntity } from '../shared/spec';

/** The fields a served model reads (its featurization). */
export interface ProfiledFields {
  textFields: readonly string[];
  categoricalFields: readonly string[];
}

/** A logged input profile: `<field>` → category code, `<field>.length` → length in UTF-16 units. */
export type InputProfile = Record<string, string | number>;

const CATEGORY_CODE = /^[A-Za-z0-9_.-]{1,32}$/;
const OTHER = '__other__';
const ENTITIES = Object.keys(DETECTORS) as PiiEntity[];

/** The profile of one request's input under a model's fields. */
export function inputProfile(input: Readonly<Record<string, unknown>>, fields: ProfiledFields): InputProfile {
  const out: InputProfile = {};
  for (const f of fields.textFields) {
    const v = Object.hasOwn(input, f) ? input[f] : undefined;
    if (typeof v === 'string') out[`${f}.length`] = v.length;
  }
  for (const f of fields.categoricalFields) {
    const v = Object.hasOwn(input, f) ? input[f] : undefined;
    if (v === undefined || v === null || v === '') continue;
    const s = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
    const digits = s.replace(/\D/g, '').length;
    // Code-shaped secrets and addresses exist (an AWS key id, a live Stripe key, 1.2.3.4): the detectors decide.
    out[f] = CATEGORY_CODE.test(s) && digits < 6 && findPii(s, ENTITIES).length === 0 ? s : OTHER;
  }
  return out;
}
