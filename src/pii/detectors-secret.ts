import type { PiiDetector, PiiSpan } from './detectors';

/**
 * Credential formats with a fixed, vendor-specific shape. Each pattern is anchored (sticky) at a prefix hit,
 * has bounded quantifiers and no nested ambiguity, so matching is linear in the text.
 * Stripe `sk_test_`/`rk_test_` keys are deliberately not flagged: they cannot move money and are published
 * in documentation and fixtures, so flagging them would only add noise.
 */
const SECRET_SHAPES: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'aws_access_key_id', pattern: /(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/y },
  { name: 'github_token', pattern: /gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/y },
  { name: 'github_fine_grained_pat', pattern: /github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])/y },
  { name: 'slack_token', pattern: /xox[baprs]-[0-9A-Za-z]{1,60}(?:-[0-9A-Za-z]{1,60}){1,4}(?![0-9A-Za-z-])/y },
  { name: 'stripe_live_key', pattern: /[sr]k_live_[0-9A-Za-z]{24,99}(?![0-9A-Za-z_])/y },
  { name: 'google_api_key', pattern: /AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/y },
  { name: 'private_key_block', pattern: /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY-----/y },
];

// One pass finds every place a secret could start; only there are the specific shapes tried.
const PREFIXES = /AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|xox[baprs]-|[sr]k_live_|AIza|-----BEGIN /g;
const WORD_CHAR = /[A-Za-z0-9_]/;

/** Secrets: cloud access key ids, GitHub, Slack, Stripe live and Google API keys, and PEM private-key blocks. */
export const secretDetector: PiiDetector = {
  entity: 'SECRET',
  precheck: (facts) => facts.secretHint,
  find(text) {
    const spans: PiiSpan[] = [];
    PREFIXES.lastIndex = 0;
    for (let m = PREFIXES.exec(text); m !== null; m = PREFIXES.exec(text)) {
      const at = m.index;
      if (!m[0].startsWith('-') && WORD_CHAR.test(text.charAt(at - 1))) continue;
      const end = matchSecretAt(text, at);
      if (end === undefined) continue;
      spans.push({ start: at, end, entity: 'SECRET' });
      PREFIXES.lastIndex = end;
    }
    return spans;
  },
};

function matchSecretAt(text: string, at: number): number | undefined {
  for (const shape of SECRET_SHAPES) {
    shape.pattern.lastIndex = at;
    const m = shape.pattern.exec(text);
    if (!m) continue;
    if (shape.name !== 'private_key_block') return isRandomLooking(m[0]) ? at + m[0].length : undefined;
    // A key block runs to its END line; a block cut off before it is still a key, so it runs to the end of the value.
    const endMarker = `-----END ${m[1] ?? ''}PRIVATE KEY-----`;
    const endAt = text.indexOf(endMarker, at + m[0].length);
    return endAt === -1 ? text.length : endAt + endMarker.length;
  }
  return undefined;
}

/** Placeholders such as `AKIAXXXXXXXXXXXXXXXX` have the shape of a key but almost no distinct characters. */
function isRandomLooking(token: string): boolean {
  return new Set(token).size >= 10;
}
