// The gates a release passes before its commit: approvals (approve/reject) and freeze windows (hotfix override).
// Decisions arrive as Updates whose synchronous validators refuse before anything is recorded.
import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import * as wf from '@temporalio/workflow';
import type { FreezeState, ReleaseGates } from '../src/gates/types';
import type { Decision } from '../src/release/types';
import {
  approveSignal, approveUpdate, DECISION_REFUSALS, type DecisionRequest, type DecisionResult, freezeLiftedSignal, overrideFreezeUpdate,
  rejectSignal, rejectUpdate,
} from './definitions';
import type { LaneSeat } from './release-lane';
import { localSteps } from './release-proxies';
import { decidedBy, type Ending, type ReleaseRun } from './release-run';
import { isRequester } from '../src/auth/four-eyes';

// The four-eyes rule's question, "is the person deciding the one who asked for the release?", compares principal ids.
export { isRequester } from '../src/auth/four-eyes';

const refuse = (type: string, message: string) => wf.ApplicationFailure.create({ type, message, nonRetryable: true });

/** Who may decide, what a decision looks like; throws the refusal the caller hears. */
function validateRequest(req: DecisionRequest, commentRequired: boolean): void {
  if (!req || typeof req.by !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/.test(req.by)) throw refuse(DECISION_REFUSALS.invalid, '"by" must name the principal deciding');
  if (req.byId !== undefined && (typeof req.byId !== 'string' || req.byId.length > 600 || /[\u0000-\u001f]/.test(req.byId))) throw refuse(DECISION_REFUSALS.invalid, '"byId" must be a principal id');
  if (req.comment !== undefined && (typeof req.comment !== 'string' || req.comment.length > 2000)) throw refuse(DECISION_REFUSALS.invalid, '"comment" must be a string of at most 2000 characters');
  if (commentRequired && !req.comment?.trim()) throw refuse(DECISION_REFUSALS.invalid, 'a hotfix override needs the reason in "comment"');
  if (req.channel !== undefined && req.channel !== 'api') throw refuse(DECISION_REFUSALS.invalid, '"channel" is set only by Ferry\'s API');
}

export class GateKeeper {
  private approval: 'approved' | 'rejected' | undefined;
  private hotfix: Decision | undefined;
  private waitedForApproval = false;
  /** A manual freeze was lifted somewhere: look at the freeze gate again now rather than at the next recheck. */
  private freezeLifted = false;

  constructor(private readonly run: ReleaseRun, private readonly lane: LaneSeat, private readonly gates: ReleaseGates) {
    wf.setHandler(approveUpdate, (req) => this.approve(req), { validator: (req) => this.validateApproval('approve', req) });
    wf.setHandler(rejectUpdate, (req) => this.reject(req), { validator: (req) => this.validateApproval('reject', req) });
    wf.setHandler(overrideFreezeUpdate, (req) => this.overrideFreeze(req), { validator: (req) => this.validateOverride(req) });
    wf.setHandler(approveSignal, (req) => this.signalled('approve', req));
    wf.setHandler(rejectSignal, (req) => this.signalled('reject', req));
    wf.setHandler(freezeLiftedSignal, () => {
      this.freezeLifted = true;
    });
  }

  /** A signalled decision goes through the Update's validator; a refusal is recorded, never dropped. */
  private async signalled(kind: 'approve' | 'reject', req: DecisionRequest): Promise<void> {
    try {
      this.validateApproval(kind, req);
    } catch (err) {
      await this.run.refuse(kind, req, err instanceof Error ? err.message : String(err));
      return;
    }
    // Only the API may say it is the API.
    const { channel: _ignored, ...viaTemporal } = req;
    await (kind === 'approve' ? this.approve(viaTemporal) : this.reject(viaTemporal));
  }

  /** Who overrode a freeze, for the commit's trailer. */
  get hotfixBy(): string | undefined {
    return this.hotfix ? decidedBy(this.hotfix) : undefined;
  }

  /**
   * Waits for the approvals the environment requires, until the rule's deadline. Returns the ending when the
   * release must stop here (rejected, expired, superseded).
   */
  async approvals(): Promise<Ending | undefined> {
    const { run, gates } = this;
    const rule = gates.approvals;
    if (!rule) return undefined;
    if (gates.approvalsBypassed) {
      await run.decide('approvals-bypassed', { by: 'ferry', comment: gates.approvalsBypassed, channel: 'api' }, 'approvals skipped');
      return undefined;
    }
    this.waitedForApproval = true;
    const deadline = new Date(Date.now() + msToNumber(rule.timeout as Duration)).toISOString();
    run.state.waiting = { kind: 'approval', required: rule.required, approvers: rule.approvers, fourEyes: rule.fourEyes, deadline };
    run.show([
      `**Awaiting approval**: ${rule.required} approval(s) from ${rule.approvers.join(', ')}${rule.fourEyes ? ` (four eyes: not ${run.input.releasedBy})` : ''}.`,
      `Deadline: ${deadline} (${rule.timeout}); without a decision the release ends \`expired\`.`,
    ].join('\n\n'));
    await run.enter('awaiting-approval', `needs ${rule.required} approval(s) from ${rule.approvers.join(', ')} by ${deadline}`);
    const decided = await wf.condition(() => this.approval !== undefined || this.lane.supersededBy !== undefined, rule.timeout as Duration, {
      summary: `approval deadline: ${rule.timeout}`,
    });
    run.state.waiting = null;
    run.show('');
    const superseded = this.lane.superseded();
    if (superseded) return superseded;
    if (!decided) {
      return { status: 'expired', message: `no decision within ${rule.timeout}: ${run.approvals().length} of ${rule.required} approval(s)`, error: `approval expired after ${rule.timeout}` };
    }
    if (this.approval === 'rejected') {
      const by = run.decisions.filter((d) => d.kind === 'reject').at(-1);
      return { status: 'rejected', message: `rejected by ${by?.by}${by?.comment ? `: ${by.comment}` : ''}`, error: `rejected by ${by?.by}` };
    }
    return undefined;
  }

  /**
   * Waits out freezes, the configured windows and those people started, unless a hotfix overrides them; checked
   * last, right before the commit. `known` is the answer that came back with the render: still current when no
   * approval was waited for since.
   */
  async freezes(known: FreezeState | undefined): Promise<Ending | undefined> {
    const { run, gates } = this;
    let answer = this.waitedForApproval ? undefined : known;
    while (this.hotfix === undefined) {
      this.freezeLifted = false;
      const freeze = answer ?? (await localSteps.checkFreeze({ windows: gates.freezes, at: run.now(), env: run.input.env }));
      answer = undefined;
      if (!freeze.frozen) break;
      const waiting = {
        kind: 'freeze' as const, window: freeze.window, until: freeze.until, hotfixAllowed: gates.hotfixAllowed,
        ...(freeze.freezeId ? { freezeId: freeze.freezeId, reason: freeze.reason, by: freeze.by } : {}),
      };
      const until = freeze.until ? `until ${freeze.until}` : 'until lifted';
      // A recheck that finds the same freeze records nothing new.
      if (run.state.status !== 'frozen' || JSON.stringify(run.state.waiting) !== JSON.stringify(waiting)) {
        run.state.waiting = waiting;
        run.show([
          `**Frozen** (${freeze.window})${freeze.freezeId ? ` by ${freeze.by}: ${freeze.reason}` : ''}, ${until}.`,
          `Hotfix override: ${gates.hotfixAllowed.length ? gates.hotfixAllowed.join(', ') : 'nobody'} (Update \`overrideFreeze\`).`,
        ].join('\n\n'));
        await run.enter('frozen', freeze.freezeId ? `frozen by ${freeze.by}: ${freeze.reason} ${until}` : `${freeze.window} freeze ${until}`);
      }
      // A manual freeze has no end to wait for: the release looks again when it is lifted (signal) or every recheck.
      const left = freeze.until ? Math.max(1000, Date.parse(freeze.until) - Date.now()) : undefined;
      const wait = freeze.recheckMs ? Math.min(left ?? freeze.recheckMs, freeze.recheckMs) : (left ?? 60_000);
      await wf.condition(() => this.hotfix !== undefined || this.lane.supersededBy !== undefined || this.freezeLifted, wait, {
        summary: freeze.until ? `end of the ${freeze.window} freeze` : `recheck of the ${freeze.window} freeze`,
      });
      const superseded = this.lane.superseded();
      if (superseded) return superseded;
    }
    if (run.state.waiting?.kind === 'freeze') {
      run.state.waiting = null;
      run.show('');
    }
    return undefined;
  }

  private result(decision: DecisionResult['decision']): DecisionResult {
    const { run } = this;
    return {
      id: run.state.id,
      status: run.state.status,
      decision,
      approvals: run.approvals().map(({ by, at, comment }) => ({ by, at, ...(comment ? { comment } : {}) })),
      decisions: [...run.decisions],
    };
  }

  private validateApproval(kind: 'approve' | 'reject', req: DecisionRequest): void {
    validateRequest(req, false);
    const { run } = this;
    const rule = this.gates.approvals;
    if (run.state.status !== 'awaiting-approval' || this.approval !== undefined || this.lane.supersededBy !== undefined || !rule) {
      throw refuse(DECISION_REFUSALS.notWaiting, `release is not waiting for approval (status ${run.state.status}${this.approval ? `, already ${this.approval}` : ''})`);
    }
    if (!rule.approvers.includes(req.by)) throw refuse(DECISION_REFUSALS.notAllowed, `${req.by} may not ${kind} releases to ${run.input.env} (approvers: ${rule.approvers.join(', ')})`);
    if (kind === 'approve' && rule.fourEyes && isRequester(req, run.input)) throw refuse(DECISION_REFUSALS.notAllowed, `four-eyes rule: ${req.by} requested this release and may not approve it`);
    if (kind === 'approve' && run.approvals().some((d) => d.by === req.by)) throw refuse(DECISION_REFUSALS.notWaiting, `${req.by} already approved this release`);
  }

  private validateOverride(req: DecisionRequest): void {
    validateRequest(req, true);
    const { run, gates } = this;
    if (run.state.status !== 'frozen' || this.hotfix !== undefined || this.lane.supersededBy !== undefined) throw refuse(DECISION_REFUSALS.notWaiting, `release is not frozen (status ${run.state.status})`);
    if (!gates.hotfixAllowed.includes(req.by)) {
      throw refuse(DECISION_REFUSALS.notAllowed, `${req.by} may not override freezes in ${run.input.env}${gates.hotfixAllowed.length ? ` (allowed: ${gates.hotfixAllowed.join(', ')})` : ' (nobody may)'}`);
    }
  }

  private async approve(req: DecisionRequest): Promise<DecisionResult> {
    const rule = this.gates.approvals;
    const count = this.run.approvals().length + 1;
    if (rule && count >= rule.required) this.approval = 'approved';
    await this.run.decide('approve', req, `approved by ${req.by} (${count} of ${rule?.required ?? 1})`);
    // The deciding approval answers with where the release went next (frozen, committing, ...).
    if (this.approval) await wf.condition(() => this.run.state.status !== 'awaiting-approval');
    return this.result(this.approval ?? 'pending');
  }

  private async reject(req: DecisionRequest): Promise<DecisionResult> {
    this.approval = 'rejected';
    await this.run.decide('reject', req, `rejected by ${req.by}`);
    await wf.condition(() => this.run.state.status !== 'awaiting-approval');
    return this.result('rejected');
  }

  private async overrideFreeze(req: DecisionRequest): Promise<DecisionResult> {
    this.hotfix = this.run.decision('hotfix', req, `freeze overridden as a hotfix by ${req.by}`);
    await this.run.record();
    await wf.condition(() => this.run.state.status !== 'frozen');
    return this.result('overridden');
  }
}
