/**
 * Commit messages with git trailers, and parsing of `git log -z --format=...%(trailers:...)` output.
 */

export const RELEASE_ID_TRAILER = 'Ferry-Release-Id';

const TRAILER_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** Single line, no control characters, trimmed. */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

export function assertReleaseId(releaseId: string): void {
  if (typeof releaseId !== 'string' || releaseId.length === 0 || releaseId.length > 256) {
    throw new Error('releaseId must be a non-empty string of at most 256 characters');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(releaseId)) {
    throw new Error(`releaseId must not contain whitespace or control characters: ${JSON.stringify(releaseId)}`);
  }
}

/**
 * Git stops looking for trailers at a line starting with "---" followed by whitespace (patch divider), so such lines
 * in title/body are indented by one space.
 */
function neutraliseDividers(text: string): string {
  return text.replace(/^---(?=\s|$)/gm, ' ---');
}

export interface MessageParts {
  title: string;
  body?: string;
  trailers: Record<string, string>;
  releaseId: string;
}

/**
 * `title`, blank line, optional body, blank line, trailers (`Key: value`, Ferry-Release-Id first). Trailer values and
 * the title are forced onto one line; a caller-supplied Ferry-Release-Id trailer is replaced by the writer's.
 */
export function buildCommitMessage(parts: MessageParts): string {
  assertReleaseId(parts.releaseId);
  const title = neutraliseDividers(oneLine(parts.title));
  if (!title) throw new Error('commit title must not be empty');
  const lines: string[] = [`${RELEASE_ID_TRAILER}: ${parts.releaseId}`];
  for (const [key, value] of Object.entries(parts.trailers ?? {})) {
    if (!TRAILER_KEY_RE.test(key)) throw new Error(`invalid trailer key ${JSON.stringify(key)}`);
    if (key.toLowerCase() === RELEASE_ID_TRAILER.toLowerCase()) continue;
    const v = oneLine(String(value));
    if (!v) continue; // "Key:" with an empty value is not a trailer to git
    lines.push(`${key}: ${v}`);
  }
  let msg = title + '\n\n';
  const body = parts.body === undefined ? '' : neutraliseDividers(String(parts.body).replace(/\r\n?/g, '\n')).trim();
  if (body) msg += body + '\n\n';
  msg += lines.join('\n') + '\n';
  return msg;
}

export interface LoggedCommit {
  sha: string;
  committedAt: number; // unix seconds
  releaseIds: string[];
}

/** Format for `git log -z` understood by parseTrailerLog. */
export const TRAILER_LOG_FORMAT = `--format=%H%n%ct%n%(trailers:key=${RELEASE_ID_TRAILER},valueonly)`;

export function parseTrailerLog(out: string): LoggedCommit[] {
  const res: LoggedCommit[] = [];
  for (const rec of out.split('\0')) {
    const lines = rec.split('\n').filter((l) => l.length > 0);
    if (lines.length < 2) continue;
    const [sha, ct, ...ids] = lines;
    res.push({ sha: sha!.trim(), committedAt: Number(ct), releaseIds: ids.map((s) => s.trim()).filter(Boolean) });
  }
  return res;
}
