import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../src/log';
import {
  discordMessage, githubStatus, grafanaAnnotation, type NotifyEvent, type NotifyInput, type NotifyRelease, type NotifySource,
  slackMessage, webhookPayload,
} from '../src/notify/format';
import {
  type FreezeEvent, freezeDiscordMessage, freezeGrafanaAnnotation, freezeSlackMessage, freezeWebhookPayload, type NotifyFreeze,
} from '../src/notify/freeze-format';
import { type ReconcileConfig, targetSecretRef } from '../src/reconcile/config';
import { getArtifact } from '../src/store/artifacts';
import type { Db } from '../src/store/db';

export interface NotifyActivityDeps {
  db: Db;
  reconcile: ReconcileConfig;
  log: Logger;
}

/** Which events each target type reports: only GitHub statuses follow the release from its start. */
export const TARGET_EVENTS: Record<string, readonly NotifyEvent[]> = {
  github: ['started', 'finished'],
  slack: ['finished'],
  discord: ['finished'],
  webhook: ['finished'],
  grafana: ['finished'],
};

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'ferry', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
}

export function createNotifyActivities(deps: NotifyActivityDeps) {
  const { db, reconcile, log } = deps;
  return {
    /**
     * Sends one event of one release to one target (its own activity with its own retries). Errors name the
     * target type and status only: the URL or token is a secret.
     */
    async notifyTarget(input: { targetId: string; event: NotifyEvent; release: NotifyRelease }): Promise<string> {
      const target = reconcile.target(input.targetId);
      if (!target) return 'target no longer configured';
      if (!TARGET_EVENTS[target.type].includes(input.event)) return 'event not sent to this target';
      const stored = await getArtifact(db, input.release.artifactId);
      const v = stored?.artifact.version;
      const source: NotifySource = {
        sha: v?.sha ?? '', repositoryName: v?.repositoryName ?? '', tag: v?.tag, authorName: v?.authorName, message: v?.message, url: v?.url,
      };
      const n: NotifyInput = { event: input.event, release: input.release, source };
      const secret = reconcile.secret(targetSecretRef(target));
      let status: number;
      switch (target.type) {
        case 'slack':
          status = await post(secret, slackMessage(n, target.channel));
          break;
        case 'discord':
          status = await post(secret, discordMessage(n));
          break;
        case 'webhook':
          status = await post(secret, webhookPayload(n));
          break;
        case 'grafana':
          status = await post(`${target.url.replace(/\/$/, '')}/api/annotations`, grafanaAnnotation(n), { authorization: `Bearer ${secret}` });
          break;
        case 'github': {
          const s = githubStatus(n);
          if (!s || !source.sha) return 'no GitHub repository for this artifact';
          status = await post(`${target.apiUrl.replace(/\/$/, '')}/repos/${s.owner}/${s.repo}/statuses/${s.sha}`, s.body, {
            authorization: `Bearer ${secret}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28',
          });
          break;
        }
      }
      if (status < 200 || status >= 300) {
        // 4xx other than rate limits will not get better by retrying (bad token, unknown repo).
        const retryable = status >= 500 || status === 429 || status === 408;
        const msg = `${target.type} notification answered ${status}`;
        throw retryable ? ApplicationFailure.retryable(msg, 'NotifyFailed') : ApplicationFailure.nonRetryable(msg, 'NotifyRejected');
      }
      log.debug('notification sent', { target: target.type, event: input.event, releaseId: input.release.id });
      return `${target.type} answered ${status}`;
    },

    /** Tells one target that a person stopped the line, or that it moves again. */
    async notifyFreeze(input: { targetId: string; event: FreezeEvent; freeze: NotifyFreeze }): Promise<string> {
      const target = reconcile.target(input.targetId);
      if (!target) return 'target no longer configured';
      const secret = reconcile.secret(targetSecretRef(target));
      const { event, freeze } = input;
      let status: number;
      switch (target.type) {
        case 'slack':
          status = await post(secret, freezeSlackMessage(event, freeze, target.channel));
          break;
        case 'discord':
          status = await post(secret, freezeDiscordMessage(event, freeze));
          break;
        case 'webhook':
          status = await post(secret, freezeWebhookPayload(event, freeze));
          break;
        case 'grafana':
          status = await post(`${target.url.replace(/\/$/, '')}/api/annotations`, freezeGrafanaAnnotation(event, freeze), { authorization: `Bearer ${secret}` });
          break;
        case 'github':
          return 'freezes are not sent to GitHub commit statuses';
      }
      if (status < 200 || status >= 300) {
        const retryable = status >= 500 || status === 429 || status === 408;
        const msg = `${target.type} notification answered ${status}`;
        throw retryable ? ApplicationFailure.retryable(msg, 'NotifyFailed') : ApplicationFailure.nonRetryable(msg, 'NotifyRejected');
      }
      log.debug('notification sent', { target: target.type, event, freezeId: freeze.id });
      return `${target.type} answered ${status}`;
    },
  };
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
