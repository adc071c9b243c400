import * as wf from '@temporalio/workflow';
import { writerOn } from './release-proxies';
import type { AppRemovalInput } from './definitions';

/**
 * Someone asked to delete an app from an environment (Gimlet's `release delete`): one commit through the single
 * writer removes `<env>/<app>/` and the app's Flux Kustomization file; Flux then prunes what it applied.
 */
export async function appRemovalWorkflow(input: AppRemovalInput): Promise<{ dir: string; commit: string; status: string }> {
  const writer = writerOn(input.writerTaskQueue, '2 minutes');
  const info = wf.workflowInfo();
  const r = await writer.removeAppDirectory({
    changeId: `delete:${info.runId}:${input.env}/${input.app}`,
    env: input.env,
    app: input.app,
    reason: `${input.app} deleted from ${input.env} by ${input.requestedBy}`,
    requestedBy: input.requestedBy,
    notBefore: new Date(info.runStartTime.getTime()).toISOString(),
    trigger: 'delete',
  });
  return { dir: `${input.env}/${input.app}`, commit: r.commit, status: r.status };
}
