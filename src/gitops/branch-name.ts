import { z } from 'zod';
/**
 * Branch names Ferry writes (FERRY_GITOPS_BRANCH, FERRY_GITOPS_BRANCH_<ENV>, an environment's `gitops.branch`). A
 * branch becomes a ref, a path under the repository's `refs/heads/` (direct local write reads and locks it there)
 * and part of a revision Flux reports back, so the rule is git's own ref-name rule narrowed to plain ASCII: no
 * `..`, no empty or dot-led component, nothing git would refuse or a path could escape with.
 */
const ALLOWED = /^[A-Za-z0-9._/-]+$/;

/** Why `name` is not a branch Ferry writes, or null when it is one. */
export function branchNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'must be a non-empty branch name';
  if (name.length > 200) return 'must be at most 200 characters';
  if (!ALLOWED.test(name)) return "may contain only letters, digits and . _ / -";
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'must not start or end with / or contain //';
  if (name.includes('..')) return 'must not contain ..';
  if (name.endsWith('.')) return 'must not end with .';
  if (name === 'HEAD' || name.startsWith('-')) return 'must not be HEAD or start with -';
  // Flux strips `refs/heads/` from the revisions it reports; a branch named like that could not be told apart.
  if (name.startsWith('refs/')) return 'must be a branch name, not a ref (no refs/ prefix)';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return 'no path component may start with .';
    if (part.endsWith('.lock')) return 'no path component may end with .lock';
  }
  return null;
}

/** An environment's own place in the GitOps repository (FERRY_CONFIG `environments.<env>.gitops`). */
export const EnvGitopsSchema = z.strictObject({
  branch: z.string().superRefine((v, ctx) => {
    const bad = branchNameProblem(v);
    if (bad) ctx.addIssue({ code: 'custom', message: bad });
  }),
});
