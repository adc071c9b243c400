import * as wf from '@temporalio/workflow';
import type { PolicyActivities } from '../activities/policy-activities';
import type { ArtifactWorkflowInput } from './definitions';

const policy = wf.proxyActivities<PolicyActivities>({
  startToCloseTimeout: '1 minute',
  // Database or Temporal briefly away: retry patiently; content problems are recorded as decisions, not thrown.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/**
 * One run per artifact (workflow id `artifact:<artifactId>`, never reused): decides every environment file of the
 * artifact and starts a release for each that matches. Each release id is started at most once, so an artifact
 * never starts the same release twice, even when this workflow's activities are retried.
 */
export async function artifactWorkflow(input: ArtifactWorkflowInput): Promise<{ released: string[]; refused: string[] }> {
  const { toRelease } = await policy.evaluateArtifact({ artifactId: input.artifactId });
  const results = await Promise.all(toRelease.map((t) => policy.startAutoRelease({ artifactId: input.artifactId, app: t.app, env: t.env })));
  return {
    released: results.flatMap((r) => (r.releaseId ? [r.releaseId] : [])),
    refused: results.flatMap((r) => (r.refused ? [r.refused] : [])),
  };
}
