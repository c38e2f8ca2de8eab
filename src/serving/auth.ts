/**
 * Bearer-token authentication of the serving gateway. Tokens are configured hashed (SHA-256, hex) with a name and a
 * role; a request's token is hashed and compared with every configured digest in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** What a token may do: `predict` the predict routes, `feedback` the feedback routes, `admin` everything. */
export type GatewayRole = 'predict' | 'feedback' | 'admin';

/** The roles, in the order the docs list them. */
export const GATEWAY_ROLES: readonly GatewayRole[] = ['predict', 'feedback', 'admin'];

/** One configured token: a name (the source its feedback is tagged with), a role and the SHA-256 of the token. */
export interface GatewayToken {
  name: string;
  role: GatewayRole;
  /** Lowercase hex SHA-256 of the token's UTF-8 bytes. */
  sha256: string;
}

/** Who sent a request: a configured token's name and role. */
export interface GatewayPrincipal {
  name: string;
  role: GatewayRole;
}

/** The source feedback is tagged with in open mode (no tokens configured, loopback only). */
export const ANONYMOUS_SOURCE = 'anonymous';

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const TOKEN_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The lowercase hex SHA-256 of a token: what a tokens file holds (`printf %s "$TOKEN" | sha256sum` gives the same). */
export function hashGatewayToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Parses a tokens file: a JSON array `[{ "name", "role", "sha256" }]`, or lines `name:role:sha256hex` (blank lines and
 * `#` comments skipped). Throws an Error naming each bad entry (never echoing a digest); names must be unique.
 */
export function parseGatewayTokens(text: string): GatewayToken[] {
  const trimmed = text.trim();
  const entries: Array<{ where: string; raw: Record<string, unknown> }> = [];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error('gateway tokens file: not valid JSON');
    }
    if (!Array.isArray(parsed)) throw new Error('gateway tokens file: expected a JSON array');
    parsed.forEach((raw, i) =>
      entries.push({ where: `entry ${i + 1}`, raw: typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {} }),
    );
  } else {
    text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (l === '' || l.startsWith('#')) return;
      const [name, role, sha256, ...rest] = l.split(':');
      entries.push({ where: `line ${i + 1}`, raw: rest.length > 0 ? {} : { name, role, sha256 } });
    });
  }
  const problems: string[] = [];
  const tokens: GatewayToken[] = [];
  const names = new Set<string>();
  for (const { where, raw } of entries) {
    const { name, role, sha256 } = raw;
    if (typeof name !== 'string' || !TOKEN_NAME.test(name)) problems.push(`${where}: name must be 1-64 letters, digits, _ . -`);
    else if (name === ANONYMOUS_SOURCE) problems.push(`${where}: the name ${ANONYMOUS_SOURCE} is reserved for open mode`);
    else if (names.has(name)) problems.push(`${where}: duplicate name ${name}`);
    if (typeof role !== 'string' || !(GATEWAY_ROLES as readonly string[]).includes(role))
      problems.push(`${where}: role must be one of ${GATEWAY_ROLES.join(', ')}`);
    if (typeof sha256 !== 'string' || !HEX_SHA256.test(sha256.toLowerCase()))
      problems.push(`${where}: sha256 must be 64 hex digits (the token's SHA-256, not the token)`);
    if (typeof name === 'string') names.add(name);
    if (problems.length === 0) tokens.push({ name: name as string, role: role as GatewayRole, sha256: (sha256 as string).toLowerCase() });
  }
  if (problems.length > 0) throw new Error(`gateway tokens file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (tokens.length === 0) throw new Error('gateway tokens file: no tokens (remove the setting to run open on loopback)');
  return tokens;
}

/** Verifies bearer tokens against configured digests. */
export interface GatewayAuthenticator {
  /** The principal of an `Authorization` header value, or undefined when it is missing or matches no token. */
  authenticate(authorization: string | undefined): GatewayPrincipal | undefined;
}

/** An authenticator over configured tokens: every digest is compared (timingSafeEqual), whichever matches. */
export function createGatewayAuthenticator(tokens: readonly GatewayToken[]): GatewayAuthenticator {
  const digests = tokens.map((t) => ({ principal: { name: t.name, role: t.role }, digest: Buffer.from(t.sha256, 'hex') }));
  return {
    authenticate(authorization) {
      const match = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '');
      if (match === null) return undefined;
      const presented = createHash('sha256').update(match[1]!, 'utf8').digest();
      let found: GatewayPrincipal | undefined;
      // No early exit: the time taken does not tell which (or whether a) token matched.
      for (const { principal, digest } of digests) {
        if (timingSafeEqual(presented, digest) && found === undefined) found = principal;
      }
      return found;
    },
  };
}

/** Whether a principal of role `have` may call a route that needs `need` (admin may call everything). */
export function roleAllows(have: GatewayRole, need: GatewayRole): boolean {
  return have === 'admin' || have === need;
}

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}
