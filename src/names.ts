import { z } from 'zod';

/**
 * Names of apps, envs, namespaces and clusters end up in file paths, git refs,
 * Kubernetes object names and workflow ids, so they are held to the strictest of
 * those: an RFC 1123 DNS label. Being ASCII-only and lower-case also rules out
 * path tricks, case-folding collisions on case-insensitive filesystems and
 * unicode look-alikes.
 */
export type NameKind = 'app' | 'env' | 'namespace' | 'cluster';

export const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const NAME_RULE = "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";

export class InvalidNameError extends Error {
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`${field} ${reason}`);
    this.name = 'InvalidNameError';
    this.field = field;
    this.reason = reason;
  }
}

function nameRule(kind: NameKind): string {
  return `${kind} name ${NAME_RULE}`;
}

function notAString(kind: NameKind): string {
  return `${kind} name must be a string`;
}

/** Returns null when `value` is a valid name, else a reason fit to show a user. */
export function validateName(kind: NameKind, value: unknown): string | null {
  if (typeof value !== 'string') return notAString(kind);
  return NAME_RE.test(value) ? null : nameRule(kind);
}

/** The same rule as `validateName`, as a zod schema for request bodies. */
export function zName(kind: NameKind) {
  return z
    .string({ error: notAString(kind) })
    .refine((v) => NAME_RE.test(v), { error: nameRule(kind) });
}

const DNS_LABEL_MAX = 63;

/**
 * Derives a DNS label from free text such as a branch name
 * (`feature/JIRA-12_foo` → `feature-jira-12-foo`). Lossy by design: callers
 * that need to round-trip must keep the original.
 */
export function sanitizeDNSName(input: string): string {
  const label = String(input)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, DNS_LABEL_MAX)
    .replace(/-+$/, '');
  if (label === '') {
    throw new InvalidNameError('name', 'has no letters or digits to build a DNS name from');
  }
  return label;
}

const PATH_MAX_BYTES = 1024;
const SEGMENT_MAX_BYTES = 255;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

/**
 * Checks a path that Ferry will write below an app directory. The rules are
 * deliberately narrower than what filesystems allow, so that the same path
 * means the same file on every OS and inside git.
 */
export function safeRelativePath(p: string, field = 'path'): string {
  const fail = (reason: string): never => {
    throw new InvalidNameError(field, reason);
  };
  if (typeof p !== 'string') fail('must be a string');
  if (p.length === 0) fail('must not be empty');
  // Checked before the per-segment charset so the error names the actual trick.
  if (/[\u0000-\u001f\u007f]/.test(p)) fail('must not contain control characters');
  if (p.includes('\\')) fail('must not contain backslashes');
  if (p.startsWith('/')) fail('must be relative');
  if (Buffer.byteLength(p, 'utf8') > PATH_MAX_BYTES) fail(`must be at most ${PATH_MAX_BYTES} bytes`);

  const segments = p.split('/');
  for (const segment of segments) {
    if (segment === '') fail('must not contain empty segments');
    if (segment === '..') fail("must not contain '..' segments");
    if (segment === '.') fail("must not contain '.' segments");
    if (Buffer.byteLength(segment, 'utf8') > SEGMENT_MAX_BYTES) {
      fail(`must not have a segment longer than ${SEGMENT_MAX_BYTES} bytes`);
    }
    if (!SEGMENT_RE.test(segment)) fail("segments may only contain A-Z, a-z, 0-9, '.', '_' and '-'");
    // git refuses to track `.git` in any case variant; failing here gives a clear error
    // instead of a confusing one at commit time.
    if (segment.toLowerCase() === '.git') fail("must not contain a '.git' segment");
  }
  return segments.join('/');
}
