import { type Duration, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import * as wf from '@temporalio/workflow';
import type { LaneActivities } from '../activities/lane-activities';
import type { NotifyActivities } from '../activities/notify-activities';
import type { ReconcileActivities } from '../activities/reconcile-activities';
import type { ReleaseActivities } from '../activities/release-activities';
import type { WriterActivities } from '../activities/writer-activities';
import type { ReleaseGates } from '../src/gates/types';
import type { NotifyEvent } from '../src/notify/format';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import { VerdictBook } from '../src/reconcile/verdicts';
import { type Decision, type DecisionKind, laneWorkflowId, type ReleaseState, type ReleaseStatus } from '../src/release/types';
import { autoPromoteWorkflow } from './auto-promote';
import { autoRollbackWorkflow } from './auto-rollback';
import {
  approveUpdate, autoRollbackWorkflowId, DECISION_REFUSALS, type DecisionRequest, type DecisionResult, FERRY_STATUS, type FluxVerdict, fluxVerdictSignal, freezeLiftedSignal,
  laneGrantSignal, laneLeaveSignal, laneSupersedeSignal, overrideFreezeUpdate, type ReleaseInput, rejectUpdate, releaseStateQuery,
} from './definitions';

// Infrastructure faults (database or git remote down) are retried patiently; content errors are non-retryable
// ApplicationFailures thrown by the activities themselves and end the release at once.
// The timeouts also bound how long a release waits after its worker crashed (SIGKILL, OOM) mid-activity before
// Temporal retries the activity elsewhere: see docs/reliability.md. Rendering a Helm chart may fetch it first.
const STEP = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 60 },
} as const;
const BOOKKEEPING = {
  startToCloseTimeout: '30 seconds',
  // The mirror in PostgreSQL must eventually be written, even across a long database outage.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
const NOTIFY = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
} as const;
const steps = wf.proxyActivities<ReleaseActivities & LaneActivities>(STEP);
const bookkeeping = wf.proxyActivities<ReleaseActivities & LaneActivities>(BOOKKEEPING);
const notifier = wf.proxyActivities<ReleaseActivities>(NOTIFY);
// The same three as local activities (the `local-release-steps` path): they run in the release worker while its
// workflow task is open and are recorded as markers, so a step costs the server no activity task and no extra
// workflow task. Same timeouts and retries; a local activity that keeps failing backs off on a server timer.
// Nothing that waits for another workflow runs locally: a local activity holds one of this worker's workflow task
// slots, which that workflow may need. So the lane is entered and left locally only when it is idle, and the GitOps
// write stays on the writer's own task queue.
const localSteps = wf.proxyLocalActivities<ReleaseActivities & LaneActivities>(STEP);
const localBookkeeping = wf.proxyLocalActivities<ReleaseActivities & LaneActivities>(BOOKKEEPING);
const localNotifier = wf.proxyLocalActivities<ReleaseActivities>(NOTIFY);

// One activity call per target, each with its own retries: a target that is down delays nobody else.
const targets = wf.proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: ['NotifyRejected'] },
});
// "Reconcile now" is a hint: Flux reconciles on its own interval anyway, so a few tries are enough.
const nudge = wf.proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});
const NO_RECONCILE: ReleaseReconcileSettings = { clusters: [], autoRollback: false, notifications: [], pollInterval: '15s' };

const UNGATED: ReleaseGates = { freezes: [], hotfixAllowed: [], ordering: 'queue' };
/**
 * What new runs record instead of each earlier patch id (docs/versioning.md). A later change that needs a patch adds
 * its own id as usual; when several have piled up, a new baseline folds them the same way.
 */
const RELEASE_BASELINE = 'release-baseline-2026-11';
type FinalStatus = 'succeeded' | 'failed' | 'timed-out' | 'rejected' | 'expired' | 'superseded';

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseState> {
  const writer = wf.proxyActivities<WriterActivities>({
    taskQueue: input.writerTaskQueue,
    // Queued behind other releases in a group commit plus one push; the writer itself retries rejected pushes.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  });
  const info = wf.workflowInfo();
  const gates = input.gates ?? UNGATED;
  const now = () => new Date(Date.now()).toISOString();
  const state: ReleaseState = {
    id: input.releaseId,
    app: input.app,
    env: input.env,
    artifactId: input.artifactId,
    sha: input.sha,
    branch: input.branch,
    trigger: input.trigger,
    releasedBy: input.releasedBy,
    status: 'pending',
    gitopsCommit: null,
    fluxStatus: null,
    error: null,
    timeline: [],
    createdAt: new Date(info.runStartTime.getTime()).toISOString(),
    updatedAt: now(),
    runId: info.runId,
    seq: 0,
    decisions: [],
    waiting: null,
    rollbackOf: input.rollbackOf ?? null,
    promotedFrom: input.promotedFrom ?? null,
    finishedAt: null,
  };
  const decisions = state.decisions as Decision[];
  // Runs started since `release-baseline-2026-11` take the new path of every earlier patch and record that with
  // one marker: each patch id a run records also costs it a TemporalChangeVersion upsert, a visibility write.
  // Short-circuiting matters: a new run must not record the older ids as well.
  const baseline = wf.patched(RELEASE_BASELINE);
  // Runs started before the lanes' fast path keep their lane workflow and their separate bookkeeping tasks.
  const fastPath = baseline || wf.patched('lane-fast-path');
  // Runs started before `local-release-steps` run their lane, render, mirror and notify steps as activity tasks.
  const local = baseline || (fastPath && wf.patched('local-release-steps'));
  const step = local ? localSteps : steps;
  const keep = local ? localBookkeeping : bookkeeping;
  const tell = local ? localNotifier : notifier;
  // Ordering lane: joined first, left when the release ends.
  const lane = laneWorkflowId(input.app, input.env);
  let inLane = false;
  let granted = false;
  let supersededBy: string | undefined;
  // Once the commit has started, a newer release can no longer supersede this one.
  let committing = false;
  let approval: 'approved' | 'rejected' | undefined;
  let hotfix: Decision | undefined;
  // Set only when Flux failed or found the release unhealthy: other failures (render, commit) changed no cluster.
  let reconcileFailed = false;

  const rc = input.reconcile ?? NO_RECONCILE;
  // Per-cluster verdicts: each cluster's first final word stands; late, duplicate or reordered reports are ignored.
  const book = new VerdictBook(rc.clusters.map((c) => c.name));
  if (rc.clusters.length > 0) state.clusters = book.clusters;
  // Set when a report changed the state while waiting, so the mirror in PostgreSQL shows progress per cluster.
  let changed = false;
  const accept = (v: FluxVerdict) => {
    if (book.decided() || !book.accept(v)) return;
    changed = true;
    if (!isTerminal(v) && (state.status === 'committed' || state.status === 'reconciling')) state.fluxStatus = v.reason;
  };

  wf.setHandler(releaseStateQuery, () => state);
  wf.setHandler(fluxVerdictSignal, accept);
  wf.setHandler(laneGrantSignal, () => {
    granted = true;
  });
  wf.setHandler(laneSupersedeSignal, ({ by }) => {
    if (!committing) supersededBy ??= by;
  });
  // A manual freeze was lifted somewhere: look at the freeze gate again now rather than at the next recheck.
  let freezeLifted = false;
  wf.setHandler(freezeLiftedSignal, () => {
    freezeLifted = true;
  });

  // Notifications run beside the release and are awaited only after its final state is recorded.
  const sent = new Map<string, Promise<unknown>>();
  function notifyTargets(event: NotifyEvent): void {
    for (const t of rc.notifications) {
      if (event === 'started' && t.type !== 'github') continue;
      const release = notifyView(state);
      // A target's finished message waits for its started one, so GitHub never shows pending after success.
      const prev = sent.get(t.id) ?? Promise.resolve();
      sent.set(t.id, prev.then(() => targets.notifyTarget({ targetId: t.id, event, release })).catch((err) => {
        wf.log.warn('notification target failed', { releaseId: state.id, target: t.type, error: String(err) });
      }));
    }
  }

  const approvals = () => decisions.filter((d) => d.kind === 'approve');
  const result = (decision: DecisionResult['decision']): DecisionResult => ({
    id: state.id,
    status: state.status,
    decision,
    approvals: approvals().map(({ by, at, comment }) => ({ by, at, ...(comment ? { comment } : {}) })),
    decisions: [...decisions],
  });
  const refuse = (type: string, message: string) => wf.ApplicationFailure.create({ type, message, nonRetryable: true });

  // Validators are synchronous and throw before the Update is accepted: the caller hears "no" at once and the
  // history keeps no trace of refused attempts.
  function validateRequest(req: DecisionRequest, commentRequired: boolean): void {
    if (!req || typeof req.by !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/.test(req.by)) throw refuse(DECISION_REFUSALS.invalid, '"by" must name the principal deciding');
    if (req.comment !== undefined && (typeof req.comment !== 'string' || req.comment.length > 2000)) throw refuse(DECISION_REFUSALS.invalid, '"comment" must be a string of at most 2000 characters');
    if (commentRequired && !req.comment?.trim()) throw refuse(DECISION_REFUSALS.invalid, 'a hotfix override needs the reason in "comment"');
  }
  function validateApproval(kind: 'approve' | 'reject', req: DecisionRequest): void {
    validateRequest(req, false);
    const rule = gates.approvals;
    if (state.status !== 'awaiting-approval' || approval !== undefined || supersededBy !== undefined || !rule) {
      throw refuse(DECISION_REFUSALS.notWaiting, `release is not waiting for approval (status ${state.status}${approval ? `, already ${approval}` : ''})`);
    }
    if (!rule.approvers.includes(req.by)) throw refuse(DECISION_REFUSALS.notAllowed, `${req.by} may not ${kind} releases to ${input.env} (approvers: ${rule.approvers.join(', ')})`);
    if (kind === 'approve' && rule.fourEyes && req.by === input.releasedBy) throw refuse(DECISION_REFUSALS.notAllowed, `four-eyes rule: ${req.by} requested this release and may not approve it`);
    if (kind === 'approve' && approvals().some((d) => d.by === req.by)) throw refuse(DECISION_REFUSALS.notWaiting, `${req.by} already approved this release`);
  }

  async function decide(kind: DecisionKind, req: DecisionRequest, message: string): Promise<void> {
    const d: Decision = { kind, by: req.by, at: now(), ...(req.comment?.trim() ? { comment: req.comment.trim() } : {}) };
    decisions.push(d);
    state.timeline.push({ status: state.status, at: d.at, decision: kind, by: d.by, message: `${message}${d.comment ? `: ${d.comment}` : ''}` });
    await record();
  }

  wf.setHandler(approveUpdate, async (req) => {
    const rule = gates.approvals;
    const count = approvals().length + 1;
    if (rule && count >= rule.required) approval = 'approved';
    await decide('approve', req, `approved by ${req.by} (${count} of ${rule?.required ?? 1})`);
    // The deciding approval answers with where the release went next (frozen, committing, ...).
    if (approval) await wf.condition(() => state.status !== 'awaiting-approval');
    return result(approval ?? 'pending');
  }, { validator: (req) => validateApproval('approve', req) });

  wf.setHandler(rejectUpdate, async (req) => {
    approval = 'rejected';
    await decide('reject', req, `rejected by ${req.by}`);
    await wf.condition(() => state.status !== 'awaiting-approval');
    return result('rejected');
  }, { validator: (req) => validateApproval('reject', req) });

  wf.setHandler(overrideFreezeUpdate, async (req) => {
    hotfix = { kind: 'hotfix', by: req.by, at: now(), comment: req.comment?.trim() };
    await decide('hotfix', req, `freeze overridden as a hotfix by ${req.by}`);
    await wf.condition(() => state.status !== 'frozen');
    return result('overridden');
  }, {
    validator: (req) => {
      validateRequest(req, true);
      if (state.status !== 'frozen' || hotfix !== undefined || supersededBy !== undefined) throw refuse(DECISION_REFUSALS.notWaiting, `release is not frozen (status ${state.status})`);
      if (!gates.hotfixAllowed.includes(req.by)) {
        throw refuse(DECISION_REFUSALS.notAllowed, `${req.by} may not override freezes in ${input.env}${gates.hotfixAllowed.length ? ` (allowed: ${gates.hotfixAllowed.join(', ')})` : ' (nobody may)'}`);
      }
    },
  });

  async function record(): Promise<void> {
    state.updatedAt = now();
    state.seq += 1;
    await bookkeeping.recordState(state);
  }

  /** Moves to `status` in the workflow; the mirror in PostgreSQL is written by whoever calls this. */
  function become(status: ReleaseStatus, message?: string, opts: { final?: boolean } = {}): void {
    state.status = status;
    state.updatedAt = now();
    if (opts.final) state.finishedAt = state.updatedAt;
    state.timeline.push({ status, at: state.updatedAt, ...(message ? { message } : {}) });
    // With local steps, `pending` (set when the run started) and `rendering` (inside the first workflow task, so
    // never visible in between) would be upserts nobody can observe.
    if (!local || (status !== 'pending' && status !== 'rendering')) wf.upsertSearchAttributes([{ key: FERRY_STATUS, value: status }]);
    state.seq += 1;
  }

  async function enter(status: ReleaseStatus, message?: string, opts: { final?: boolean } = {}): Promise<void> {
    become(status, message, opts);
    await keep.recordState(state);
  }

  /**
   * A final state is recorded before anything else happens (auto-promotion, rollback, notifications). With the lanes'
   * fast path the same activity also leaves the lane: one task instead of two.
   */
  async function enterFinal(status: ReleaseStatus, message: string): Promise<void> {
    if (!fastPath || !inLane) return enter(status, message, { final: true });
    become(status, message, { final: true });
    await leaveLane(true);
  }

  async function finish(status: FinalStatus, message: string, error?: string): Promise<ReleaseState> {
    if (error) state.error = error;
    state.waiting = null;
    await enterFinal(status, message);
    return await wrapUp(status === 'succeeded');
  }

  /** After the final state is recorded: free the lane first (notifications may retry for a while), then tell people. */
  async function wrapUp(succeeded: boolean): Promise<ReleaseState> {
    await leaveLane();
    if (succeeded) await scheduleAutoPromotions();
    if (reconcileFailed) await rollBackAutomatically();
    // The final state is recorded before this runs: a slow or broken target cannot hold the outcome back.
    notifyTargets('finished');
    try {
      await tell.notifyRelease(state);
    } catch (err) {
      // A notification target being down must never change how the release ended.
      wf.log.warn('notification failed', { releaseId: state.id, error: String(err) });
    }
    await Promise.all(sent.values());
    // An approval or rejection still writing its decision must finish before the run does, or its caller hears
    // that the workflow completed first. (With local steps the run can end within the same workflow task.)
    if (local) await wf.condition(wf.allHandlersFinished);
    return state;
  }

  async function leaveLane(record = false): Promise<void> {
    if (!inLane) return;
    inLane = false;
    if (fastPath) {
      const exit = { app: input.app, env: input.env, releaseId: input.releaseId, runId: info.runId, ...(record ? { record: state } : {}) };
      // An idle lane is left locally; an escalated one talks to its workflow, which is no work for a local activity.
      if (local && (await localBookkeeping.exitIdleLane(exit))) return;
      // Retried until it succeeds: a lane left behind would hold the releases queued after this one.
      await bookkeeping.exitLane(exit);
      return;
    }
    try {
      await wf.getExternalWorkflowHandle(lane).signal(laneLeaveSignal, { releaseId: input.releaseId, runId: info.runId });
    } catch (err) {
      wf.log.warn('could not leave the ordering lane', { lane, error: String(err) });
    }
  }

  async function scheduleAutoPromotions(): Promise<void> {
    for (const p of input.autoPromote ?? []) {
      try {
        await wf.startChild(autoPromoteWorkflow, {
          workflowId: `auto-promote:${p.env}:${input.releaseId}`,
          args: [{ app: input.app, fromEnv: input.env, env: p.env, artifactId: input.artifactId, sourceReleaseId: input.releaseId, ...(p.soak ? { soak: p.soak } : {}) }],
          // The soak timer outlives this release.
          parentClosePolicy: 'ABANDON',
          staticSummary: `promote ${input.app} ${input.env} → ${p.env}${p.soak ? ` after ${p.soak}` : ''}`,
        });
        state.timeline.push({ status: state.status, at: now(), message: `auto-promotion to ${p.env} ${p.soak ? `after a soak of ${p.soak}` : 'started'}` });
      } catch (err) {
        wf.log.warn('auto-promotion not started', { env: p.env, error: String(err) });
        state.timeline.push({ status: state.status, at: now(), message: `auto-promotion to ${p.env} not started: ${failureMessage(err)}` });
      }
    }
    if (input.autoPromote?.length) await record();
  }

  /** Once per failed release (the child's id), never for a rollback that failed itself: no loops. */
  async function rollBackAutomatically(): Promise<void> {
    if (!rc.autoRollback || input.trigger === 'rollback') return;
    // Histories recorded before automatic rollback existed replay without the child workflow.
    if (!baseline && !wf.patched('auto-rollback')) return;
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
    state.timeline.push({ status: state.status, at: now(), message: message.slice(0, 500) });
    await record();
  }

  const superseded = () => finish('superseded', `superseded by ${supersededBy} before it committed`);

  const requested = `requested by ${input.releasedBy} (${input.trigger})`;
  const ticketOf = { app: input.app, env: input.env, releaseId: input.releaseId, runId: info.runId, ordering: gates.ordering };
  if (!fastPath) await enter('pending', requested);
  else become('pending', requested);
  notifyTargets('started');
  try {
    // The fast path records `pending` in the same activity that joins the lane.
    const ticket = local
      // Claimed locally when the lane is idle; otherwise (null) the lane is joined by an activity task, as before.
      ? (await localSteps.enterIdleLane({ ...ticketOf, record: state })) ?? (await steps.enterLane({ ...ticketOf, record: state }))
      : fastPath ? await steps.enterLane({ ...ticketOf, record: state }) : await steps.joinLane(ticketOf);
    inLane = true;
    if (ticket.granted) granted = true;
    if (!granted && supersededBy === undefined) {
      state.waiting = { kind: 'lane', lane, ahead: ticket.ahead };
      await enter('queued', `waiting for ${ticket.ahead} earlier release(s) of ${input.app} to ${input.env} (${gates.ordering})`);
      await wf.condition(() => granted || supersededBy !== undefined);
      state.waiting = null;
    }
    if (supersededBy !== undefined) return await superseded();

    const renderInput = { releaseId: input.releaseId, artifactId: input.artifactId, app: input.app, env: input.env, freezes: gates.freezes };
    if (!fastPath) await enter('rendering');
    else become('rendering');
    // The fast path records `rendering` in the rendering activity itself.
    const render = await step.renderRelease(fastPath ? { ...renderInput, record: state } : renderInput);
    if (supersededBy !== undefined) return await superseded();

    const rule = gates.approvals;
    if (rule && gates.approvalsBypassed) {
      await decide('approvals-bypassed', { by: 'ferry', comment: gates.approvalsBypassed }, 'approvals skipped');
    } else if (rule) {
      const deadline = new Date(Date.now() + msToNumber(rule.timeout as Duration)).toISOString();
      state.waiting = { kind: 'approval', required: rule.required, approvers: rule.approvers, fourEyes: rule.fourEyes, deadline };
      await enter('awaiting-approval', `needs ${rule.required} approval(s) from ${rule.approvers.join(', ')} by ${deadline}`);
      const decided = await wf.condition(() => approval !== undefined || supersededBy !== undefined, rule.timeout as Duration);
      state.waiting = null;
      if (supersededBy !== undefined) return await superseded();
      if (!decided) {
        return await finish('expired', `no decision within ${rule.timeout}: ${approvals().length} of ${rule.required} approval(s)`, `approval expired after ${rule.timeout}`);
      }
      if (approval === 'rejected') {
        const by = decisions.filter((d) => d.kind === 'reject').at(-1);
        return await finish('rejected', `rejected by ${by?.by}${by?.comment ? `: ${by.comment}` : ''}`, `rejected by ${by?.by}`);
      }
    }

    // Freezes (configured windows and those people started) are checked last, right before the commit: approvals
    // may have taken days. Without an approval wait, the answer that came back with the render is still current.
    // A render without that answer was recorded before manual freezes: such runs checked only configured windows.
    let known = rule && !gates.approvalsBypassed ? undefined : render.freeze;
    while (hotfix === undefined && !(render.freeze === undefined && gates.freezes.length === 0)) {
      freezeLifted = false;
      const freeze = known ?? (await step.checkFreeze({ windows: gates.freezes, at: now(), env: input.env }));
      known = undefined;
      if (!freeze.frozen) break;
      const waiting = {
        kind: 'freeze' as const, window: freeze.window, until: freeze.until, hotfixAllowed: gates.hotfixAllowed,
        ...(freeze.freezeId ? { freezeId: freeze.freezeId, reason: freeze.reason, by: freeze.by } : {}),
      };
      const until = freeze.until ? ` until ${freeze.until}` : ' until lifted';
      const why = freeze.freezeId ? `frozen by ${freeze.by}: ${freeze.reason}${until}` : `${freeze.window} freeze${until}`;
      // A recheck that finds the same freeze records nothing new.
      if (state.status !== 'frozen' || JSON.stringify(state.waiting) !== JSON.stringify(waiting)) {
        state.waiting = waiting;
        wf.setCurrentDetails(`**Frozen** (${freeze.window})${freeze.freezeId ? ` by ${freeze.by}: ${freeze.reason}` : ''}, ${until.trim()}.\n\n`
          + `Hotfix override: ${gates.hotfixAllowed.length ? gates.hotfixAllowed.join(', ') : 'nobody'} (Update \`overrideFreeze\`).`);
        await enter('frozen', why);
      }
      const left = freeze.until ? Math.max(1000, Date.parse(freeze.until) - Date.now()) : undefined;
      const wait = freeze.recheckMs ? Math.min(left ?? freeze.recheckMs, freeze.recheckMs) : (left ?? 60_000);
      await wf.condition(() => hotfix !== undefined || supersededBy !== undefined || freezeLifted, wait);
      if (supersededBy !== undefined) return await superseded();
    }
    if (state.waiting?.kind === 'freeze') {
      state.waiting = null;
      wf.setCurrentDetails('');
    }

    if (supersededBy !== undefined) return await superseded();
    committing = true;
    const committingMessage = `${Object.keys(render.files).length} files, digest ${render.digest.slice(0, 12)}`;
    if (!fastPath) await enter('committing', committingMessage);
    else become('committing', committingMessage);
    // The fast path has the writer mirror `committing` before it writes.
    const commit = await writer.commitRelease({
      releaseId: input.releaseId,
      app: input.app,
      env: input.env,
      artifactId: input.artifactId,
      sha: input.sha,
      releasedBy: input.releasedBy,
      trigger: input.trigger,
      notBefore: state.createdAt,
      ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : {}),
      ...(input.promotedFrom ? { promotedFrom: input.promotedFrom } : {}),
      ...(approvals().length ? { approvedBy: approvals().map((d) => d.by) } : {}),
      ...(hotfix ? { hotfixBy: hotfix.by } : {}),
      ...(fastPath ? { record: state } : {}),
    });
    state.gitopsCommit = commit.commit;
    if (commit.status === 'unchanged') {
      return await finish('succeeded', `the GitOps repository already had these manifests at ${commit.commit.slice(0, 12)}; nothing to commit`);
    }
    // Deployments that do not await Flux end here: committed is their successful final state.
    const pushed = `${commit.status === 'already-committed' ? 'found existing commit' : 'pushed'} ${commit.commit}`;
    if (!input.awaitFlux) {
      await enterFinal('committed', pushed);
      return await wrapUp(true);
    }
    await enter('committed', pushed);

    const clusterNames = rc.clusters.map((c) => c.name).join(', ');
    await enter('reconciling', `waiting up to ${input.fluxTimeout} for Flux${clusterNames ? ` on ${clusterNames}` : ''}`);
    for (const c of rc.clusters) {
      if (!c.requestReconcile) continue;
      // Fire and forget: awaited nowhere, so a cluster API that hangs cannot slow the release.
      nudge.requestReconcile({ cluster: c.name, at: now() }).catch((err) => wf.log.info('reconcile request failed', { cluster: c.name, error: String(err) }));
    }
    // Events that arrived before this release started waiting are stored; look at them first.
    const history: FluxVerdict[] | FluxVerdict | null = await keep.checkFluxHistory({ releaseId: input.releaseId, commit: commit.commit, since: state.createdAt, env: input.env });
    // Histories recorded before issue 6 hold a single verdict or null here.
    for (const v of Array.isArray(history) ? history : history ? [history] : []) accept(v);
    // Polling is the source of truth where Ferry can read the cluster: it races the webhook signals, so a lost
    // webhook never leaves a release waiting. Each poll retries (BENIGN failures) until Flux decides or time is up.
    const polls = new wf.CancellationScope();
    if (!book.decided()) {
      const poller = wf.proxyActivities<ReconcileActivities>({
        startToCloseTimeout: '30 seconds',
        scheduleToCloseTimeout: input.fluxTimeout as Duration,
        retry: { initialInterval: rc.pollInterval as Duration, backoffCoefficient: 1, maximumInterval: rc.pollInterval as Duration, nonRetryableErrorTypes: ['ClusterNotConfigured'] },
      });
      for (const c of rc.clusters) {
        if (!c.poll) continue;
        polls.run(() => poller.pollCluster({ cluster: c.name, commit: commit.commit, ...(fastPath ? { app: input.app, env: input.env } : {}) })).then(accept, (err) => {
          if (!wf.isCancellation(err)) wf.log.info('polling gave up', { cluster: c.name, error: String(err) });
        });
      }
    }
    let timedOut = false;
    const deadline = new wf.CancellationScope();
    deadline.run(() => wf.sleep(input.fluxTimeout as Duration)).then(() => { timedOut = true; }, () => undefined);
    for (;;) {
      await wf.condition(() => book.decided() !== undefined || timedOut || changed);
      if (book.decided() || timedOut) break;
      // Runs that began before progress was mirrored must replay without this extra activity.
      if (!baseline && !wf.patched('mirror-flux-progress')) {
        await wf.condition(() => book.decided() !== undefined || timedOut);
        break;
      }
      changed = false;
      state.updatedAt = now();
      state.seq += 1;
      await keep.recordState(state);
    }
    const settled = book.decided() !== undefined;
    deadline.cancel();
    polls.cancel();
    const verdict = book.decided();
    if (!settled || !verdict) {
      state.fluxStatus = state.fluxStatus ?? 'no event';
      const missing = book.pending();
      const on = missing.length ? ` on ${missing.join(', ')}` : '';
      return await finish('timed-out', `Flux did not report on ${commit.commit.slice(0, 12)}${on} within ${input.fluxTimeout}`, `timed out waiting for Flux reconciliation${on}`);
    }
    const v: FluxVerdict = verdict;
    state.fluxStatus = v.reason;
    state.fluxOutcome = v.outcome as 'succeeded' | 'failed' | 'unhealthy';
    const where = v.cluster && v.cluster !== '*' ? ` on ${v.cluster}` : '';
    if (v.outcome === 'succeeded') return await finish('succeeded', `Flux applied ${v.revision}${where}: ${v.message}`.slice(0, 500));
    reconcileFailed = true;
    if (v.outcome === 'unhealthy') {
      // Applied but unhealthy: the manifests are live, and automatic rollback (wrapUp) replaces them.
      return await finish('failed', `Flux applied ${v.revision}${where} but health checks failed`, `Flux ${v.reason}${where} (applied but unhealthy): ${v.message}`.slice(0, 2000));
    }
    return await finish('failed', `Flux reported ${v.reason} for ${v.revision}${where}`, `Flux ${v.reason}${where}: ${v.message}`.slice(0, 2000));
  } catch (err) {
    if (wf.isCancellation(err)) {
      // A cancelled release must not keep the lane closed for the releases behind it.
      await wf.CancellationScope.nonCancellable(leaveLane);
      throw err;
    }
    return await finish('failed', 'release failed', failureMessage(err));
  }
}

/** The release as notification targets see it: no run bookkeeping, nothing secret. */
function notifyView(s: ReleaseState) {
  return {
    id: s.id, app: s.app, env: s.env, status: s.status, artifactId: s.artifactId, gitopsCommit: s.gitopsCommit, fluxStatus: s.fluxStatus,
    fluxOutcome: s.fluxOutcome ?? null, error: s.error, releasedBy: s.releasedBy, trigger: s.trigger, createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

function isTerminal(v: FluxVerdict): boolean {
  return v.outcome === 'succeeded' || v.outcome === 'failed' || v.outcome === 'unhealthy';
}

/** The innermost cause is the one a person can act on ("variable FOO is not defined", not "activity failed"). */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof wf.ActivityFailure || (e instanceof wf.TemporalFailure && e.cause)) e = (e as wf.TemporalFailure).cause;
  return e instanceof Error ? e.message : String(e);
}
