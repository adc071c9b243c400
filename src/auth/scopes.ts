import { z } from 'zod';

/**
 * Repository and app scopes of a token: `acme/shop` (exactly that), `acme/*` (everything starting with `acme/`) or
 * `*` (everything). Only a trailing `*` is special, so matching is a string comparison: no pattern a token holder
 * writes can make a check slow, and whether one scope lies within another is decidable exactly.
 */
export const SCOPE_RE = /^(\*|[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\*?)$/;

export const ScopePatternSchema = z.string().regex(SCOPE_RE, 'must be a name, a prefix ending in "*" (e.g. acme/*), or "*"');
export const ScopeListSchema = z.array(ScopePatternSchema).min(1).max(100);

export function scopeMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

/** Null (no limit) or the patterns; a value is in scope when one pattern matches it. */
export const inScope = (scope: string[] | null, value: string): boolean => scope === null || scope.some((p) => scopeMatches(p, value));

/** Every value `inner` matches, `outer` matches too. */
function patternWithin(inner: string, outer: string): boolean {
  if (outer === '*') return true;
  if (inner === '*') return false;
  if (outer.endsWith('*')) return inner.startsWith(outer.slice(0, -1));
  return !inner.endsWith('*') && inner === outer;
}

/** Whether a scope can be handed out by someone holding `outer` (null = unlimited). */
export function scopeWithin(inner: string[] | null, outer: string[] | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((i) => outer.some((o) => patternWithin(i, o)));
}

/** Sorted, duplicates removed, `*` collapsing to "unlimited". */
export function normaliseScope(scope: string[] | null | undefined): string[] | null {
  if (!scope || scope.includes('*')) return null;
  return [...new Set(scope)].sort();
}
