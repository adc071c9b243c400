/**
 * What each notification target receives, built from the release and its artifact. Pure: no HTTP, no secrets
 * (URLs and tokens are added by the activity that sends).
 */

export type NotifyEvent = 'started' | 'finished';

export interface NotifyRelease {
  id: string;
  app: string;
  env: string;
  status: string;
  artifactId: string;
  gitopsCommit: string | null;
  fluxStatus: string | null;
  fluxOutcome?: string | null;
  error: string | null;
  releasedBy: string;
  trigger: string;
  createdAt: string;
  updatedAt: string;
}

export interface NotifySource {
  sha: string;
  repositoryName: string;
  tag?: string;
  authorName?: string;
  message?: string;
  url?: string;
}

export interface NotifyInput {
  event: NotifyEvent;
  release: NotifyRelease;
  source: NotifySource;
}

/** What people call the version: the tag if CI gave one, else the short commit. */
export function versionLabel(s: NotifySource): string {
  return s.tag ?? s.sha.slice(0, 12);
}

/** A link to the source commit: CI's URL, else GitHub's layout for `owner/repo`. */
export function commitLink(s: NotifySource): string | null {
  if (s.url && /^https?:\/\//.test(s.url)) return s.url;
  return /^[\w.-]+\/[\w.-]+$/.test(s.repositoryName) ? `https://github.com/${s.repositoryName}/commit/${s.sha}` : null;
}

export function durationText(fromIso: string, toIso: string): string {
  const ms = Math.max(0, Date.parse(toIso) - Date.parse(fromIso));
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

const STATUS_WORDS: Record<string, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  'timed-out': 'timed out',
  committed: 'committed',
};

/** "shop 1.4.0 to prod succeeded", with "(applied but unhealthy)" when Flux said so. */
export function headline(n: NotifyInput): string {
  const { release: r, source } = n;
  if (n.event === 'started') return `${r.app} ${versionLabel(source)} to ${r.env} started`;
  const word = STATUS_WORDS[r.status] ?? r.status;
  const unhealthy = r.fluxOutcome === 'unhealthy' ? ' (applied but unhealthy)' : '';
  return `${r.app} ${versionLabel(source)} to ${r.env} ${word}${unhealthy}`;
}

const emoji = (status: string) => (status === 'succeeded' || status === 'committed' ? ':white_check_mark:' : status === 'timed-out' ? ':hourglass:' : ':x:');

/** Slack incoming-webhook body: a text fallback plus blocks people can scan. */
export function slackMessage(n: NotifyInput, channel?: string): Record<string, unknown> {
  const { release: r, source } = n;
  const link = commitLink(source);
  const commit = link ? `<${link}|${source.sha.slice(0, 12)}>` : source.sha.slice(0, 12);
  const fields = [
    `*App*\n${r.app}`,
    `*Environment*\n${r.env}`,
    `*Version*\n${versionLabel(source)}`,
    `*Author*\n${source.authorName ?? 'unknown'}`,
    `*Commit*\n${commit}`,
    `*Status*\n${r.status}${r.fluxOutcome === 'unhealthy' ? ' (unhealthy)' : ''}`,
    `*Duration*\n${durationText(r.createdAt, r.updatedAt)}`,
    `*Released by*\n${r.releasedBy}`,
  ];
  const blocks: Array<Record<string, unknown>> = [
    { type: 'section', text: { type: 'mrkdwn', text: `${emoji(r.status)} *${headline(n)}*` } },
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) },
  ];
  if (source.message) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: source.message.split('\n')[0].slice(0, 200) }] });
  if (r.error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Error*\n${r.error.slice(0, 500)}` } });
  return { ...(channel ? { channel } : {}), text: headline(n), blocks };
}

/** Discord webhook body: one embed, green or red. */
export function discordMessage(n: NotifyInput): Record<string, unknown> {
  const { release: r, source } = n;
  const link = commitLink(source);
  const ok = r.status === 'succeeded' || r.status === 'committed';
  return {
    content: headline(n),
    embeds: [{
      title: headline(n),
      ...(link ? { url: link } : {}),
      color: ok ? 0x2eb67d : 0xe01e5a,
      fields: [
        { name: 'App', value: r.app, inline: true },
        { name: 'Environment', value: r.env, inline: true },
        { name: 'Version', value: versionLabel(source), inline: true },
        { name: 'Author', value: source.authorName ?? 'unknown', inline: true },
        { name: 'Status', value: r.status, inline: true },
        { name: 'Duration', value: durationText(r.createdAt, r.updatedAt), inline: true },
        ...(r.error ? [{ name: 'Error', value: r.error.slice(0, 1000) }] : []),
      ],
    }],
  };
}

/** Generic JSON webhook: the release, the source and the event, for machines. */
export function webhookPayload(n: NotifyInput): Record<string, unknown> {
  return { type: 'release', event: n.event, release: n.release, source: n.source, summary: headline(n) };
}

export type GithubState = 'pending' | 'success' | 'failure' | 'error';

/** GitHub commit status on the SOURCE commit, context `ferry/<env>`. */
export function githubStatus(n: NotifyInput): { owner: string; repo: string; sha: string; body: { state: GithubState; context: string; description: string } } | null {
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(n.source.repositoryName);
  if (!m) return null;
  const r = n.release;
  const state: GithubState = n.event === 'started' ? 'pending' : r.status === 'succeeded' || r.status === 'committed' ? 'success' : r.status === 'timed-out' ? 'error' : 'failure';
  // GitHub caps descriptions at 140 characters.
  return { owner: m[1], repo: m[2], sha: n.source.sha, body: { state, context: `ferry/${r.env}`, description: headline(n).slice(0, 140) } };
}

/** Grafana annotation spanning the release, tagged so dashboards can filter by app and env. */
export function grafanaAnnotation(n: NotifyInput): Record<string, unknown> {
  const r = n.release;
  return {
    time: Date.parse(r.createdAt),
    timeEnd: Date.parse(r.updatedAt),
    tags: ['deployment', r.app, r.env],
    text: `${headline(n)}${commitLink(n.source) ? ` — ${commitLink(n.source)}` : ''}`,
  };
}
