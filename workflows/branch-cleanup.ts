import * as wf from '@temporalio/workflow';
import { writerOn } from './release-proxies';
import type { PolicyActivities } from '../activities/policy-activities';
import type { BranchCleanupInput } from './definitions';

const policy = wf.proxyActivities<PolicyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/**
 * A branch was deleted: remove the directories of the previews that artifacts of that repository and branch created,
 * where the caller may act, from the GitOps repository, one commit per directory, through the single writer. Flux
 * then prunes the resources. What stays, and why, is part of the result.
 */
export async function branchCleanupWorkflow(
  input: BranchCleanupInput,
): Promise<{ removed: Array<{ dir: string; commit: string; status: string }>; refused?: Array<{ dir: string; reason: string }> }> {
  const writer = writerOn(input.writerTaskQueue, '2 minutes');
  const info = wf.workflowInfo();
  const notBefore = new Date(info.runStartTime.getTime()).toISOString();
  const targets = await policy.findBranchCleanups({ repository: input.repository, branch: input.branch, ...(input.actor ? { actor: input.actor } : {}) });
  const removed: Array<{ dir: string; commit: string; status: string }> = [];
  const refused: Array<{ dir: string; reason: string }> = [];
  for (const t of targets) {
    if (t.refused) {
      refused.push({ dir: `${t.env}/${t.app}`, reason: t.refused });
      continue;
    }
    const r = await writer.removeAppDirectory({
      changeId: `cleanup:${info.runId}:${t.env}/${t.app}`,
      env: t.env,
      app: t.app,
      reason: `branch "${input.branch}" of ${input.repository} was deleted: ${t.because}`,
      requestedBy: input.requestedBy,
      notBefore,
    });
    removed.push({ dir: `${t.env}/${t.app}`, commit: r.commit, status: r.status });
  }
  return { removed, ...(refused.length ? { refused } : {}) };
}
