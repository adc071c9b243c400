// Prometheus metrics of one Ferry process. Each process (API, release worker, writer) has its own registry and
// serves it on /metrics; the Temporal SDK's runtime metrics are appended when its endpoint is configured.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { GitopsWriterStats } from './gitops/writer';
import type { DoraFigures } from './store/insights';

export interface FerryMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  releaseDuration: Histogram<'status'>;
  gitCommitLatency: Histogram<'status'>;
  gitBatchSize: Histogram;
  /** Release workflows this process started, by whether Temporal started them eagerly. */
  releaseStarts: Counter<'eager'>;
  /** Reports the counts of a GitopsWriter at every scrape. */
  watchWriter(stats: GitopsWriterStats): void;
  /** Reports releases by status at every scrape (the API process reads them from PostgreSQL). */
  watchReleases(count: () => Promise<Array<{ status: string; n: number }>>): void;
  /** Reports DORA figures per environment over a trailing window at every scrape (the API process). */
  watchDora(compute: () => Promise<DoraFigures[]>, windowSeconds: number): void;
}

/** DORA figures are one PostgreSQL statement; scrapes closer together than this share one answer. */
const DORA_CACHE_MS = 30_000;

export function createMetrics(): FerryMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ferry_' });
  const httpRequests = new Counter({
    name: 'ferry_http_requests_total', help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'ferry_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const releaseDuration = new Histogram({
    name: 'ferry_release_duration_seconds', help: 'Time from a release being requested to its final state',
    labelNames: ['status'] as const, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600], registers: [registry],
  });
  const gitCommitLatency = new Histogram({
    name: 'ferry_git_commit_latency_seconds', help: 'Time from a release reaching the writer to its commit being on the remote (queue + group commit + push)',
    labelNames: ['status'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry],
  });
  const gitBatchSize = new Histogram({
    name: 'ferry_git_batch_size', help: 'Release commits carried by the push that carried this release',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500], registers: [registry],
  });
  const releaseStarts = new Counter({
    name: 'ferry_release_starts_total', help: 'Release workflows started by this process; eager="true" when the first workflow task came back with the start call',
    labelNames: ['eager'] as const, registers: [registry],
  });

  const writers: GitopsWriterStats[] = [];
  const writerCounter = (name: string, help: string, key: keyof GitopsWriterStats) =>
    new Gauge({
      name, help, registers: [registry],
      collect() {
        this.set(writers.reduce((n, s) => n + s[key], 0));
      },
    });
  writerCounter('ferry_git_pushes_total', 'Successful pushes to the GitOps remote', 'pushes');
  writerCounter('ferry_git_push_attempts_total', 'Push attempts, failed ones included', 'pushAttempts');
  writerCounter('ferry_git_push_rejections_total', 'Pushes rejected because the remote moved', 'rejections');
  writerCounter('ferry_git_batches_total', 'Group-commit batches taken from the queue', 'batches');
  writerCounter('ferry_git_commits_total', 'Release commits that landed on the remote', 'commits');
  writerCounter('ferry_git_conflicts_total', 'Releases refused because another writer changed their directory', 'conflicts');

  let releaseCounter: (() => Promise<Array<{ status: string; n: number }>>) | undefined;
  new Gauge({
    name: 'ferry_releases', help: 'Releases by current status', labelNames: ['status'] as const, registers: [registry],
    async collect() {
      if (!releaseCounter) return;
      this.reset();
      // A database outage must not break the scrape of everything else.
      const rows = await releaseCounter().catch(() => []);
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });

  // DORA figures carry only an `env` label: apps (previews are `<app>-<branch>`) would make the series unbounded.
  let dora: { compute: () => Promise<DoraFigures[]>; windowSeconds: number; at: number; last?: Promise<DoraFigures[]> } | undefined;
  const doraNow = (): Promise<DoraFigures[]> => {
    if (!dora) return Promise.resolve([]);
    if (!dora.last || Date.now() - dora.at > DORA_CACHE_MS) {
      dora.at = Date.now();
      // A database outage must not break the scrape of everything else.
      dora.last = dora.compute().catch(() => []);
    }
    return dora.last;
  };
  const doraGauge = (name: string, help: string, labelNames: readonly string[], set: (g: Gauge<string>, f: DoraFigures) => void) =>
    new Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        if (!dora) return;
        this.reset();
        for (const f of await doraNow()) set(this, f);
      },
    });
  new Gauge({
    name: 'ferry_dora_window_seconds', help: 'Length of the trailing window the ferry_dora_* figures cover (FERRY_DORA_WINDOW)', registers: [registry],
    collect() {
      if (dora) this.set(dora.windowSeconds);
    },
  });
  doraGauge('ferry_dora_deployments', 'Succeeded releases that changed the environment within the window', ['env'], (g, f) => g.set({ env: f.env! }, f.deploymentFrequency.deployments));
  doraGauge('ferry_dora_lead_time_seconds', 'Lead time for changes (source commit to release succeeded) within the window, by quantile', ['env', 'quantile'], (g, f) => {
    if (f.leadTime.medianSeconds !== null) g.set({ env: f.env!, quantile: '0.5' }, f.leadTime.medianSeconds);
    if (f.leadTime.p90Seconds !== null) g.set({ env: f.env!, quantile: '0.9' }, f.leadTime.p90Seconds);
  });
  doraGauge('ferry_dora_changes', 'Releases that committed to the environment within the window', ['env'], (g, f) => g.set({ env: f.env! }, f.changeFailureRate.committed));
  doraGauge('ferry_dora_failed_changes', 'Of those, the ones Flux failed or that were rolled back', ['env'], (g, f) => g.set({ env: f.env! }, f.changeFailureRate.failed));
  doraGauge('ferry_dora_change_failure_ratio', 'Change failure rate within the window (failed changes / changes)', ['env'], (g, f) => {
    if (f.changeFailureRate.rate !== null) g.set({ env: f.env! }, f.changeFailureRate.rate);
  });
  doraGauge('ferry_dora_time_to_restore_seconds', 'Time from a failed change to the next success in the same app and environment, by quantile', ['env', 'quantile'], (g, f) => {
    if (f.timeToRestore.medianSeconds !== null) g.set({ env: f.env!, quantile: '0.5' }, f.timeToRestore.medianSeconds);
    if (f.timeToRestore.p90Seconds !== null) g.set({ env: f.env!, quantile: '0.9' }, f.timeToRestore.p90Seconds);
  });

  return {
    registry, httpRequests, httpDuration, releaseDuration, gitCommitLatency, gitBatchSize, releaseStarts,
    watchWriter: (stats) => void writers.push(stats),
    watchReleases: (count) => void (releaseCounter = count),
    watchDora: (compute, windowSeconds) => void (dora = { compute, windowSeconds, at: 0 }),
  };
}

/** Our registry's text plus the Temporal SDK runtime's own endpoint (core worker metrics), when it answers. */
export async function metricsText(metrics: FerryMetrics, temporalMetricsAddress?: string): Promise<string> {
  let text = await metrics.registry.metrics();
  if (temporalMetricsAddress) {
    try {
      const res = await fetch(`http://${temporalMetricsAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) text += `\n${await res.text()}`;
    } catch {
      // The SDK endpoint starts with the first worker; until then there is nothing to add.
    }
  }
  return text;
}
