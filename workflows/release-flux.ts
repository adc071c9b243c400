// Waiting for Flux to apply a release's commit: webhook verdicts (signals), stored events and cluster polling race
// each other, each cluster's first final word stands, and the Flux deadline ends the wait.
import type { Duration } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import { VerdictBook } from '../src/reconcile/verdicts';
import { type FluxVerdict, fluxVerdictSignal } from './definitions';
import { localBookkeeping, nudge, pollerUntil } from './release-proxies';
import type { Ending, ReleaseRun } from './release-run';

export class FluxWatch {
  private readonly book: VerdictBook;
  /** Set when a report changed the state while waiting, so the mirror shows progress per cluster. */
  private changed = false;

  constructor(private readonly run: ReleaseRun, private readonly rc: ReleaseReconcileSettings) {
    this.book = new VerdictBook(rc.clusters.map((c) => c.name));
    if (rc.clusters.length > 0) run.state.clusters = this.book.clusters;
    wf.setHandler(fluxVerdictSignal, (v) => this.accept(v));
  }

  private accept(v: FluxVerdict): void {
    // Late, duplicate or reordered reports are ignored.
    if (this.book.decided() || !this.book.accept(v)) return;
    this.changed = true;
    const { state } = this.run;
    if (!isTerminal(v) && (state.status === 'committed' || state.status === 'reconciling')) state.fluxStatus = v.reason;
  }

  /** Waits for Flux's verdict on `commit` and says how the release ends. */
  async settle(commit: string): Promise<Ending> {
    const { run, rc, book } = this;
    const { input, state } = run;
    const clusterNames = rc.clusters.map((c) => c.name).join(', ');
    run.show(`**Waiting for Flux** to apply \`${commit.slice(0, 12)}\`${clusterNames ? ` on ${clusterNames}` : ''}, up to ${input.fluxTimeout}.`);
    await run.enter('reconciling', `waiting up to ${input.fluxTimeout} for Flux${clusterNames ? ` on ${clusterNames}` : ''}`);
    for (const c of rc.clusters) {
      if (!c.requestReconcile) continue;
      // Fire and forget: awaited nowhere, so a cluster API that hangs cannot slow the release.
      nudge.requestReconcile({ cluster: c.name, at: run.now() }).catch((err) => wf.log.info('reconcile request failed', { cluster: c.name, error: String(err) }));
    }
    // Events that arrived before this release started waiting are stored; look at them first.
    for (const v of await localBookkeeping.checkFluxHistory({ releaseId: input.releaseId, commit, since: state.createdAt, env: input.env })) this.accept(v);
    // Polling is the source of truth where Ferry can read the cluster: it races the webhook signals, so a lost
    // webhook never leaves a release waiting. Each poll retries (BENIGN failures) until Flux decides or time is up.
    const polls = new wf.CancellationScope();
    if (!book.decided()) {
      const poller = pollerUntil(input.fluxTimeout, rc.pollInterval);
      for (const c of rc.clusters) {
        if (!c.poll) continue;
        polls.run(() => poller.pollCluster({ cluster: c.name, commit, app: input.app, env: input.env })).then((v) => this.accept(v), (err) => {
          if (!wf.isCancellation(err)) wf.log.info('polling gave up', { cluster: c.name, error: String(err) });
        });
      }
    }
    let timedOut = false;
    const deadline = new wf.CancellationScope();
    deadline.run(() => wf.sleep(input.fluxTimeout as Duration, { summary: `Flux deadline: ${input.fluxTimeout}` })).then(() => { timedOut = true; }, () => undefined);
    for (;;) {
      await wf.condition(() => book.decided() !== undefined || timedOut || this.changed);
      if (book.decided() || timedOut) break;
      this.changed = false;
      await run.mirror();
    }
    deadline.cancel();
    polls.cancel();
    run.show('');
    const v = book.decided();
    if (!v) {
      state.fluxStatus = state.fluxStatus ?? 'no event';
      const missing = book.pending();
      const on = missing.length ? ` on ${missing.join(', ')}` : '';
      return { status: 'timed-out', message: `Flux did not report on ${commit.slice(0, 12)}${on} within ${input.fluxTimeout}`, error: `timed out waiting for Flux reconciliation${on}` };
    }
    state.fluxStatus = v.reason;
    state.fluxOutcome = v.outcome as 'succeeded' | 'failed' | 'unhealthy';
    const where = v.cluster && v.cluster !== '*' ? ` on ${v.cluster}` : '';
    if (v.outcome === 'succeeded') return { status: 'succeeded', message: `Flux applied ${v.revision}${where}: ${v.message}`.slice(0, 500) };
    if (v.outcome === 'unhealthy') {
      // Applied but unhealthy: the manifests are live, and automatic rollback replaces them.
      return { status: 'failed', message: `Flux applied ${v.revision}${where} but health checks failed`, error: `Flux ${v.reason}${where} (applied but unhealthy): ${v.message}`.slice(0, 2000), rollBack: true };
    }
    return { status: 'failed', message: `Flux reported ${v.reason} for ${v.revision}${where}`, error: `Flux ${v.reason}${where}: ${v.message}`.slice(0, 2000), rollBack: true };
  }
}

function isTerminal(v: FluxVerdict): boolean {
  return v.outcome === 'succeeded' || v.outcome === 'failed' || v.outcome === 'unhealthy';
}
