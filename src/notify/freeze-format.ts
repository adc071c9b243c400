/**
 * What notification targets receive when a person stops the line and when it moves again. Pure: no HTTP, no
 * secrets. GitHub commit statuses are about one source commit, so freezes are not sent there.
 */

export type FreezeEvent = 'freeze-started' | 'freeze-ended';

export interface NotifyFreeze {
  id: string;
  /** null: every environment. */
  env: string | null;
  reason: string;
  by: string;
  createdAt: string;
  until: string | null;
  endedBy?: string | null;
  endedAt?: string | null;
}

export function freezeHeadline(event: FreezeEvent, f: NotifyFreeze): string {
  const where = f.env ?? 'every environment';
  if (event === 'freeze-started') return `${where} frozen by ${f.by}${f.until ? ` until ${f.until}` : ''}: ${f.reason}`;
  return `${where} unfrozen${f.endedBy ? ` by ${f.endedBy}` : ' (freeze expired)'}; releases move again`;
}

/** Slack reads `<!channel>` and `<url|text>` in message text: a reason must not ping everyone or hide a link. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function freezeSlackMessage(event: FreezeEvent, f: NotifyFreeze, channel?: string): Record<string, unknown> {
  const text = slackEscape(freezeHeadline(event, f));
  const icon = event === 'freeze-started' ? ':octagonal_sign:' : ':arrow_forward:';
  return {
    ...(channel ? { channel } : {}), text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${icon} *${text}*` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `freeze ${f.id} · reason: ${slackEscape(f.reason.slice(0, 500))}` }] },
    ],
  };
}

export function freezeDiscordMessage(event: FreezeEvent, f: NotifyFreeze): Record<string, unknown> {
  const text = freezeHeadline(event, f);
  return {
    content: text,
    // A reason saying @everyone must not ping everyone.
    allowed_mentions: { parse: [] },
    embeds: [{
      title: text, color: event === 'freeze-started' ? 0xe01e5a : 0x2eb67d,
      fields: [
        { name: 'Environment', value: f.env ?? 'all', inline: true },
        { name: 'By', value: event === 'freeze-started' ? f.by : f.endedBy ?? 'expired', inline: true },
        { name: 'Reason', value: f.reason.slice(0, 1000) },
      ],
    }],
  };
}

export function freezeWebhookPayload(event: FreezeEvent, f: NotifyFreeze): Record<string, unknown> {
  return { type: 'freeze', event, freeze: f, summary: freezeHeadline(event, f) };
}

export function freezeGrafanaAnnotation(event: FreezeEvent, f: NotifyFreeze): Record<string, unknown> {
  return {
    time: Date.parse(event === 'freeze-started' ? f.createdAt : f.endedAt ?? f.until ?? f.createdAt),
    tags: ['freeze', f.env ?? 'all'],
    text: freezeHeadline(event, f),
  };
}
