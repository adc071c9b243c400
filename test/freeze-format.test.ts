// What notification targets receive when the line stops and starts again; a reason is attacker-chosen text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freezeDiscordMessage, freezeHeadline, freezeSlackMessage, freezeWebhookPayload, type NotifyFreeze } from '../src/notify/freeze-format';
import { sourceCommitTime } from '../src/store/artifacts';

const freeze: NotifyFreeze = { id: '7', env: 'prod', reason: 'INC-42 <!channel> see <https://evil.example|docs>', by: 'alice', createdAt: '2026-12-07T10:00:00.000Z', until: null };

test('headlines say where, who and why; the end says who lifted it or that it expired', () => {
  assert.equal(freezeHeadline('freeze-started', { ...freeze, reason: 'INC-42' }), 'prod frozen by alice: INC-42');
  assert.equal(freezeHeadline('freeze-started', { ...freeze, env: null, reason: 'x', until: '2026-12-08T00:00:00.000Z' }), 'every environment frozen by alice until 2026-12-08T00:00:00.000Z: x');
  assert.equal(freezeHeadline('freeze-ended', { ...freeze, endedBy: 'bob' }), 'prod unfrozen by bob; releases move again');
  assert.equal(freezeHeadline('freeze-ended', freeze), 'prod unfrozen (freeze expired); releases move again');
});

test('a reason cannot ping a Slack channel or hide a link, nor mention everyone on Discord', () => {
  const slack = JSON.stringify(freezeSlackMessage('freeze-started', freeze, '#ops'));
  assert.doesNotMatch(slack, /<!channel>|<https:/);
  assert.match(slack, /&lt;!channel&gt;/);
  const discord = freezeDiscordMessage('freeze-started', { ...freeze, reason: '@everyone deploys stop' });
  assert.deepEqual(discord.allowed_mentions, { parse: [] });
  assert.deepEqual(freezeWebhookPayload('freeze-ended', { ...freeze, endedBy: 'bob' }).event, 'freeze-ended');
});

test('the source commit time is read from unix seconds, milliseconds or ISO, and nothing else', () => {
  assert.equal(sourceCommitTime(1_796_000_000), '2026-11-30T00:53:20.000Z');
  assert.equal(sourceCommitTime('1796000000'), '2026-11-30T00:53:20.000Z');
  assert.equal(sourceCommitTime(1_796_000_000_000), '2026-11-30T00:53:20.000Z');
  assert.equal(sourceCommitTime('2026-11-23T10:00:00Z'), '2026-11-23T10:00:00.000Z');
  for (const bad of [undefined, 'yesterday', '', -5, 12, '2026-13-45T99:00:00Z', Date.now() / 1000 + 7 * 86_400]) assert.equal(sourceCommitTime(bad as never), null, String(bad));
});
