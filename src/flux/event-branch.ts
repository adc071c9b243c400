/**
 * Branch attribution of Flux events. With a branch per environment, each environment's Flux source tracks its own
 * branch and its events name that branch in their revision (`env/staging@sha1:<sha>`). Commit ancestry alone cannot
 * keep environments apart once someone merges one environment's branch into another's (promotion by merge): the
 * merged commits are then ancestors of the other branch's tip, and an event there would settle releases that never
 * ran there. So an event that names a branch Ferry writes settles only releases of environments on that branch.
 */
import { branchOfRevision } from './revision';

/**
 * True when `revision` names one of the `written` branches (the branches Ferry writes for any environment) that is
 * not `own` (the branch of the release's environment). A revision naming no branch, or a branch Ferry does not
 * write (a tag, a mirror), is left to the commit-ancestry check.
 */
export function revisionNamesOtherBranch(revision: string | null | undefined, own: string, written: Iterable<string>): boolean {
  const branch = branchOfRevision(revision);
  if (branch === null || branch === own) return false;
  for (const w of written) if (w === branch) return true;
  return false;
}
