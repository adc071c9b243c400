/**
 * Flux revision strings come in two generations: `<ref>@<algo>:<hash>` since
 * source-controller v0.35 (RFC-0005) and the older `<ref>/<hash>`. Ref names may
 * contain '/' but never ':', so the parse keys off the LAST separator, exactly
 * like fluxcd/pkg's ExtractHashFromRevision / ExtractNamedPointerFromRevision.
 */
export interface FluxRevision {
  /** Branch, tag or ref the source tracks; absent for exact-commit sources. */
  pointer?: string;
  /** `sha1`, `sha256`, … — only present in the RFC-0005 form. */
  algo?: string;
  hash: string;
}

export function parseFluxRevision(rev: string): FluxRevision {
  const at = rev.lastIndexOf('@');
  const colon = rev.lastIndexOf(':');
  const slash = rev.lastIndexOf('/');

  let hash: string;
  let algo: string | undefined;
  if (colon >= 0) {
    hash = rev.slice(colon + 1);
    algo = rev.slice(at >= 0 && at < colon ? at + 1 : 0, colon);
  } else if (slash >= 0) {
    hash = rev.slice(slash + 1);
  } else {
    hash = rev;
  }

  let pointer: string | undefined;
  if (at >= 0) {
    pointer = rev.slice(0, at);
  } else if (slash >= 0) {
    // Legacy exact-commit revisions read `HEAD/<sha>`; HEAD names no ref.
    const before = rev.slice(0, slash);
    if (before !== 'HEAD') pointer = before;
  }

  const out: FluxRevision = { hash };
  if (pointer) out.pointer = pointer;
  if (algo) out.algo = algo;
  return out;
}

const SHA1_HEX = /^[0-9a-f]{40}$/i;

/**
 * The git commit a revision points at, as 40 lower-case hex digits, or null when
 * the revision is not a full git sha1 (OCI/Bucket digests, abbreviated hashes).
 * Ferry compares commits by full hash only, so anything shorter is useless.
 */
export function commitShaOfRevision(rev: string): string | null {
  if (typeof rev !== 'string' || rev === '') return null;
  const { algo, hash } = parseFluxRevision(rev);
  if (algo !== undefined && algo.toLowerCase() !== 'sha1') return null;
  return SHA1_HEX.test(hash) ? hash.toLowerCase() : null;
}

/**
 * The branch a git revision names, slashes kept (`env/staging@sha1:…` → `env/staging`, also from the legacy
 * `env/staging/<sha>` and the absolute `refs/heads/env/staging@sha1:…` a `spec.ref.name` source reports), or null
 * when it names none (exact-commit sources, bare hashes, other refs such as `refs/pull/1/head`). A tag's revision
 * looks like a branch's; the caller compares against branches it knows.
 */
export function branchOfRevision(rev: string | null | undefined): string | null {
  if (typeof rev !== 'string' || rev === '') return null;
  const { pointer } = parseFluxRevision(rev);
  if (!pointer) return null;
  if (pointer.startsWith('refs/heads/')) return pointer.slice('refs/heads/'.length) || null;
  return pointer.startsWith('refs/') ? null : pointer;
}
