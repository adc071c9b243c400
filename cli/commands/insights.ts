import type { CommandSpec } from '../command';
import { usageError } from '../errors';
import { ago, table } from '../output';

interface Freeze {
  id: string;
  env: string | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  until: string | null;
  endedAt: string | null;
  endedBy: string | null;
  active: boolean;
}

const scope = (f: Freeze) => f.env ?? 'all';

/** Seconds as people read a lead time: 45s, 12m, 3.5h, 2.1d. */
export function humanSeconds(s: number | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}

export const insightCommands: CommandSpec[] = [
  {
    name: 'freeze start',
    summary: 'Stop the line: hold every release into an environment (or all) until the freeze is lifted',
    args: '<env>|all',
    argsCount: [1, 1],
    options: {
      reason: { type: 'string', short: 'r', description: 'why (shown to everyone whose release waits)', placeholder: 'text' },
      until: { type: 'string', description: 'end on its own: an ISO date-time or a duration from now (4h, 2d)', placeholder: 'time' },
    },
    examples: ['ferry freeze start prod --reason "INC-42: checkout down"', 'ferry freeze start all --reason "year-end freeze" --until 2026-12-28T08:00:00Z'],
    async run(ctx) {
      if (!ctx.opts.reason) throw usageError('missing --reason: say why the line is stopped');
      const target = ctx.args[0];
      const body = { ...(target === 'all' ? { all: true } : { env: target }), reason: ctx.opts.reason, ...(ctx.opts.until ? { until: ctx.opts.until } : {}) };
      const f = await ctx.client().post<Freeze>('/api/freezes', body);
      if (ctx.json) return ctx.out.data(f);
      ctx.out.line(`freeze ${f.id}: ${scope(f)} frozen${f.until ? ` until ${f.until}` : ' until lifted'} (lift it with: ferry freeze end ${f.id})`);
    },
  },
  {
    name: 'freeze list',
    summary: 'Freezes holding now (--ended: and recent ended ones)',
    options: { ended: { type: 'boolean', description: 'also list freezes that ended' } },
    async run(ctx) {
      const res = await ctx.client().get<{ items: Freeze[] }>('/api/freezes', { ended: ctx.opts.ended ? 'true' : undefined });
      if (ctx.json) return ctx.out.data(res);
      ctx.out.line(table(['ID', 'ENV', 'STATE', 'BY', 'SINCE', 'UNTIL', 'REASON'], res.items.map((f) => [
        f.id, scope(f), f.active ? 'holding' : f.endedBy ? `lifted by ${f.endedBy}` : 'expired', f.createdBy, ago(f.createdAt), f.until ?? (f.active ? 'lifted' : null), f.reason,
      ])));
    },
  },
  {
    name: 'freeze end',
    summary: 'Lift a freeze; the releases it held go on in order',
    args: '<freeze-id>',
    argsCount: [1, 1],
    options: {},
    async run(ctx) {
      const f = await ctx.client().delete<Freeze & { releasesSignalled: number; stillFrozenBy: string[] }>(`/api/freezes/${encodeURIComponent(ctx.args[0])}`);
      if (ctx.json) return ctx.out.data(f);
      const still = f.stillFrozenBy.length ? `; ${scope(f)} is still frozen by ${f.stillFrozenBy.join(', ')}` : '';
      ctx.out.line(`freeze ${f.id} lifted: ${f.releasesSignalled} waiting release(s) told to go on${still}`);
    },
  },
  {
    name: 'insights',
    summary: 'DORA figures: deployment frequency, lead time, change failure rate, time to restore',
    options: {
      app: { type: 'string', short: 'a', description: 'only this app', placeholder: 'app' },
      env: { type: 'string', short: 'e', description: 'only this environment', placeholder: 'env' },
      days: { type: 'string', short: 'd', description: 'window: the last N days (default 30)', placeholder: 'n' },
    },
    examples: ['ferry insights --env prod', 'ferry insights --app shop --days 90 --output json'],
    async run(ctx) {
      const d = await ctx.client().get<Record<string, any>>('/api/insights/dora', { app: ctx.opts.app, env: ctx.opts.env, days: ctx.opts.days });
      if (ctx.json) return ctx.out.data(d);
      const df = d.deploymentFrequency;
      const lt = d.leadTime;
      const cfr = d.changeFailureRate;
      const ttr = d.timeToRestore;
      const pct = (x: number | null) => (x === null ? null : `${(x * 100).toFixed(1)}%`);
      ctx.out.line(`${d.filter.app ?? 'all apps'} in ${d.filter.env ?? 'all environments'}, last ${d.window.days} days (${d.window.from.slice(0, 10)} to ${d.window.to.slice(0, 10)})`);
      ctx.out.line(table(['METRIC', 'VALUE', 'FROM'], [
        ['deployment frequency', `${df.perDay.toFixed(2)}/day`, `${df.deployments} deployments`],
        ['lead time (median)', humanSeconds(lt.medianSeconds), `${lt.deployments} deployments with a source commit time`],
        ['lead time (p90)', humanSeconds(lt.p90Seconds), ''],
        ['change failure rate', pct(cfr.rate), `${cfr.failed} of ${cfr.committed} committed (flux ${cfr.fluxFailed}, rolled back ${cfr.rolledBack}, of which automatically ${cfr.autoRolledBack})`],
        ['time to restore (median)', humanSeconds(ttr.medianSeconds), `${ttr.restored} of ${ttr.failures} failures restored`],
        ['time to restore (p90)', humanSeconds(ttr.p90Seconds), ''],
      ]));
    },
  },
];
