import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens look like `ferry_<id>_<secret>`. The id finds the row without using the secret in a lookup, the
 * secret is 256 random bits compared as a sha256 digest in constant time, and the prefix lets secret scanners
 * recognise a leaked token. (A slow password hash buys nothing for secrets this long.)
 */
export const TOKEN_PREFIX = 'ferry_';
const TOKEN_RE = /^ferry_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface NewToken {
  id: string;
  token: string;
  secretHash: string;
}

export function generateToken(): NewToken {
  const bytes = randomBytes(12);
  const id = Array.from(bytes, (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${TOKEN_PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseToken(token: string): { id: string; secret: string } | null {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1], secret: m[2] } : null;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Equal-length digests make the comparison constant-time whatever the inputs' lengths. */
export function secretsEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const h = Buffer.from(hashSecret(secret), 'hex');
  const s = Buffer.from(storedHash, 'hex');
  return h.length === s.length && timingSafeEqual(h, s);
}

/** `30d`, `12h`, `90m` → milliseconds; null when not a duration. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+)(m|h|d|w)$/.exec(text);
  if (!m) return null;
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}
