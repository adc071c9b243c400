// What follows a release's final state: auto-promotions, an automatic rollback, and notifications. None of it can
// change how the release ended.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { NotifyEvent } from '../src/notify/format';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import type { ReleaseState } from '../src/release/types';
import { autoPromoteWorkflow } from './auto-promote';
import { autoRollbackWorkflow } from './auto-rollback';
import { autoRollbackWorkflowId } from './definitions';
import { localNotifier, targets } from './release-proxies';
import type { ReleaseRun } from './release-run';

/** Notification targets run beside the release; their calls are awaited only after its final state is recorded. */
export class Notices {
  private readonly sent = new Map<string, Promise<unknown>>();

  constructor(private readonly run: ReleaseRun, private readonly rc: ReleaseReconcileSettings) {}

  tell(event: NotifyEvent): void {
    for (const t of this.rc.notifications) {
      if (event === 'started' && t.type !== 'github') continue;
      const release = notifyView(this.run.state);
      // A target's finished message waits for its started one, so GitHub never shows pending after success.
      const prev = this.sent.get(t.id) ?? Promise.resolve();
      this.sent.set(t.id, prev.then(() => targets.notifyTarget({ targetId: t.id, event, release })).catch((err) => {
        wf.log.warn('notification target failed', { releaseId: this.run.state.id, target: t.type, error: String(err) });
      }));
    }
  }

  /** The finished message to every target and the release's own notification; waits for all of them. */
  async finished(): Promise<void> {
    const { state } = this.run;
    this.tell('finished');
    try {
      await localNotifier.notifyRelease(state);
    } catch (err) {
      // A notification target being down must never change how the release ended.
      wf.log.warn('notification failed', { releaseId: state.id, error: String(err) });
    }
    await Promise.all(this.sent.values());
  }
}

/** Starts the auto-promotions that follow a successful release; each waits out its soak on its own. */
export async function scheduleAutoPromotions(run: ReleaseRun): Promise<void> {
  const { input } = run;
  for (const p of input.autoPromote ?? []) {
    try {
      await wf.startChild(autoPromoteWorkflow, {
        workflowId: `auto-promote:${p.env}:${input.releaseId}`,
        args: [{ app: input.app, fromEnv: input.env, env: p.env, artifactId: input.artifactId, sourceReleaseId: input.releaseId, ...(p.soak ? { soak: p.soak } : {}) }],
        // The soak timer outlives this release.
        parentClosePolicy: 'ABANDON',
        staticSummary: `promote ${input.app} ${input.env} → ${p.env}${p.soak ? ` after ${p.soak}` : ''}`,
      });
      run.note(`auto-promotion to ${p.env} ${p.soak ? `after a soak of ${p.soak}` : 'started'}`);
    } catch (err) {
      wf.log.warn('auto-promotion not started', { env: p.env, error: String(err) });
      run.note(`auto-promotion to ${p.env} not started: ${failureMessage(err)}`);
    }
  }
  if (input.autoPromote?.length) await run.record();
}

/** Once per failed release (the child's id), never for a rollback that failed itself: no loops. */
export async function rollBackAutomatically(run: ReleaseRun, rc: ReleaseReconcileSettings): Promise<void> {
  const { input } = run;
  if (!rc.autoRollback || input.trigger === 'rollback') return;
  let message: string;
  try {
    const child = await wf.startChild(autoRollbackWorkflow, {
      workflowId: autoRollbackWorkflowId(input.releaseId),
      args: [{ app: input.app, env: input.env, failedReleaseId: input.releaseId }],
      // A failed release that is run again must not roll back a second time.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      parentClosePolicy: 'ABANDON',
      staticSummary: `roll back ${input.app} in ${input.env} after ${input.releaseId} failed`,
    });
    const r = await child.result();
    message = r.rolledBack ? `automatic rollback started: ${r.releaseId} (back to ${r.artifactId})` : `no automatic rollback: ${r.reason}`;
  } catch (err) {
    message = err instanceof WorkflowExecutionAlreadyStartedError
      ? `automatic rollback already ran for this release (${autoRollbackWorkflowId(input.releaseId)})`
      : `automatic rollback not started: ${failureMessage(err)}`;
    wf.log.warn('automatic rollback not started', { releaseId: input.releaseId, error: String(err) });
  }
  run.note(message);
  await run.record();
}

/** The release as notification targets see it: no run bookkeeping, nothing secret. */
function notifyView(s: ReleaseState) {
  return {
    id: s.id, app: s.app, env: s.env, status: s.status, artifactId: s.artifactId, gitopsCommit: s.gitopsCommit, fluxStatus: s.fluxStatus,
    fluxOutcome: s.fluxOutcome ?? null, error: s.error, releasedBy: s.releasedBy, trigger: s.trigger, createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

/** The innermost cause is the one a person can act on ("variable FOO is not defined", not "activity failed"). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof wf.ActivityFailure || (e instanceof wf.TemporalFailure && e.cause)) e = (e as wf.TemporalFailure).cause;
  return e instanceof Error ? e.message : String(e);
}
