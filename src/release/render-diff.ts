import { structuredPatch } from 'diff';

export interface FileDiff {
  path: string;
  change: 'added' | 'removed' | 'changed';
  added: number;
  removed: number;
  /** Unified-diff hunks: a header line `@@ -a,b +c,d @@`, then lines starting with ' ', '+' or '-'. */
  hunks: Array<{ header: string; lines: string[] }>;
}

/** Files bigger than this are compared by size only: a diff of megabytes of YAML helps nobody in a browser. */
const MAX_DIFF_BYTES = 512 * 1024;

/**
 * What a release changes in the GitOps repository, file by file, against the render that ran before it (null when
 * nothing of this app ran in the environment yet). Unchanged files are left out.
 */
export function renderDiff(before: Record<string, string> | null, after: Record<string, string>): FileDiff[] {
  const paths = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after)])].sort();
  const out: FileDiff[] = [];
  for (const path of paths) {
    const a = before?.[path];
    const b = after[path];
    if (a === b) continue;
    const change = a === undefined ? 'added' : b === undefined ? 'removed' : 'changed';
    if ((a?.length ?? 0) + (b?.length ?? 0) > MAX_DIFF_BYTES) {
      out.push({ path, change, added: 0, removed: 0, hunks: [{ header: `@@ too large to show (${a?.length ?? 0} → ${b?.length ?? 0} bytes) @@`, lines: [] }] });
      continue;
    }
    const patch = structuredPatch(path, path, a ?? '', b ?? '', '', '', { context: 3 });
    let added = 0;
    let removed = 0;
    const hunks = patch.hunks.map((h) => {
      for (const l of h.lines) {
        if (l.startsWith('+')) added += 1;
        else if (l.startsWith('-')) removed += 1;
      }
      return { header: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, lines: h.lines.filter((l) => !l.startsWith('\\')) };
    });
    out.push({ path, change, added, removed, hunks });
  }
  return out;
}
