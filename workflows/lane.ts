import { msToNumber } from '@temporalio/common/lib/time';
import * as wf from '@temporalio/workflow';
import type { LaneActivities } from '../activities/lane-activities';
import {
  type LaneEntry, type LaneInput, type LaneJoinResult, type LaneMessage, type LaneState, type LaneTicket,
  laneEnqueueUpdate, laneGrantSignal, laneLeaveSignal, laneStateQuery, laneSupersedeSignal,
} from './definitions';

const probe = wf.proxyActivities<LaneActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const LEFT_MEMORY = 500;

/**
 * The ordering lane of one app in one env (`lane:<app>:<env>`): an entity workflow through which releases pass one
 * at a time, so they never overtake or interleave. A release joins with the `enqueue` Update (update-with-start,
 * from an activity) and learns at once whether the lane was free; otherwise the lane signals `laneGrant` when its
 * turn comes. The holder signals `leave` when it has ended.
 *
 * Under `supersede`, a newcomer removes every queued release (they end `superseded`) and asks the holder to step
 * aside; the holder decides itself, because only it knows whether it has started committing — a committed release
 * is never cancelled. The lane only ever acts on what releases report, so it never guesses.
 *
 * All decisions happen in handlers, synchronously, on plain-JSON state; the main loop only sends the signals those
 * decisions produced, checks now and then that the holder still runs, and continues as new with the state.
 */
export async function laneWorkflow(input: LaneInput): Promise<void> {
  const st: LaneState = input.state ?? { holder: null, queue: [], outbox: [], left: [], granted: 0 };
  const eventsPerRun = input.eventsPerRun ?? 1000;
  const holderCheckMs = msToNumber((input.holderCheck ?? '10 minutes') as Parameters<typeof msToNumber>[0]);
  let events = 0;
  // The holder is probed after holding the lane for holderCheck, and every holderCheck after that, however busy the
  // lane is otherwise.
  let probedHolder: string | null = null;
  let probeDue = 0;

  const key = (e: { releaseId: string; runId: string }) => `${e.releaseId}@${e.runId}`;
  const same = (a: { releaseId: string; runId: string }, b: { releaseId: string; runId: string }) => key(a) === key(b);
  const now = () => new Date(Date.now()).toISOString();

  function remember(e: { releaseId: string; runId: string }): void {
    st.left.push(key(e));
    if (st.left.length > LEFT_MEMORY) st.left.splice(0, st.left.length - LEFT_MEMORY);
  }

  function advance(): void {
    while (!st.holder && st.queue.length > 0) {
      st.holder = st.queue.shift() ?? null;
      if (st.holder) {
        st.granted += 1;
        st.outbox.push({ kind: 'grant', to: st.holder });
      }
    }
  }

  function enqueue(t: LaneTicket): LaneJoinResult {
    events += 1;
    if (st.holder && same(st.holder, t)) return { granted: true, ahead: 0 };
    const at = st.queue.findIndex((e) => same(e, t));
    if (at >= 0) return { granted: false, ahead: at + (st.holder ? 1 : 0) };
    // A late duplicate of a join whose release has already left: it waits for nothing, so do not queue it again.
    if (st.left.includes(key(t))) return { granted: false, ahead: 0 };
    // Only one run of a release runs at a time, so an entry of another run of the same release is stale.
    if (st.holder && st.holder.releaseId === t.releaseId) {
      remember(st.holder);
      st.holder = null;
    }
    st.queue = st.queue.filter((e) => e.releaseId !== t.releaseId);

    const entry: LaneEntry = { ...t, since: now() };
    if (t.ordering === 'supersede') {
      for (const q of st.queue) st.outbox.push({ kind: 'supersede', to: q, by: t.releaseId });
      st.queue = [];
      if (st.holder) st.outbox.push({ kind: 'supersede', to: st.holder, by: t.releaseId });
    }
    if (!st.holder && st.queue.length === 0) {
      st.holder = entry;
      st.granted += 1;
      return { granted: true, ahead: 0 };
    }
    st.queue.push(entry);
    advance();
    const ahead = st.queue.findIndex((e) => same(e, entry));
    return st.holder && same(st.holder, entry) ? { granted: true, ahead: 0 } : { granted: false, ahead: ahead + (st.holder ? 1 : 0) };
  }

  function leave(l: { releaseId: string; runId: string }): void {
    events += 1;
    remember(l);
    if (st.holder && same(st.holder, l)) {
      st.holder = null;
      advance();
    } else {
      st.queue = st.queue.filter((e) => !same(e, l));
    }
  }

  wf.setHandler(laneStateQuery, () => st);
  wf.setHandler(laneEnqueueUpdate, enqueue);
  wf.setHandler(laneLeaveSignal, leave);

  const rotate = () => events >= eventsPerRun || wf.workflowInfo().continueAsNewSuggested;

  async function send(m: LaneMessage): Promise<void> {
    const target = wf.getExternalWorkflowHandle(m.to.releaseId, m.to.runId || undefined);
    try {
      if (m.kind === 'grant') await target.signal(laneGrantSignal, { lane: wf.workflowInfo().workflowId });
      else await target.signal(laneSupersedeSignal, { by: m.by ?? '' });
    } catch (err) {
      // The release is gone (terminated, or ended without leaving): it cannot hold the lane.
      wf.log.warn('lane signal not delivered', { releaseId: m.to.releaseId, kind: m.kind, error: String(err) });
      if (m.kind === 'grant' && st.holder && same(st.holder, m.to)) leave(m.to);
    }
  }

  for (;;) {
    if (st.holder && key(st.holder) !== probedHolder) {
      probedHolder = key(st.holder);
      probeDue = Date.now() + holderCheckMs;
    }
    if (st.holder) await wf.condition(() => st.outbox.length > 0 || rotate(), Math.max(1, probeDue - Date.now()));
    else await wf.condition(() => st.outbox.length > 0 || rotate());

    while (st.outbox.length > 0) {
      const m = st.outbox.shift() as LaneMessage;
      await send(m);
    }

    if (st.holder && key(st.holder) === probedHolder && Date.now() >= probeDue) {
      // A holder that was terminated never says goodbye, and would block the lane for ever.
      const h = st.holder;
      probeDue = Date.now() + holderCheckMs;
      const running = await probe.releaseRunning({ workflowId: h.releaseId, runId: h.runId });
      if (!running && st.holder && same(st.holder, h)) {
        wf.log.warn('lane holder no longer runs; passing the lane on', { releaseId: h.releaseId });
        leave(h);
      }
    }

    if (rotate() && st.outbox.length === 0) {
      await wf.condition(wf.allHandlersFinished);
      if (st.outbox.length === 0) await wf.continueAsNew<typeof laneWorkflow>({ ...input, state: st });
    }
  }
}
