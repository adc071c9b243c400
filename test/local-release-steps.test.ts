// The release workflow's local steps against real Temporal, PostgreSQL and git: a
// release's lane (while idle), render, mirror and notify steps run as local activities inside its workflow tasks, so
// the server sees one activity task per release (the GitOps write, on the writer's queue) and two workflow tasks, and
// operators still find the right status in the mirror and in Temporal's search attributes. A busy lane is joined
// through an activity task.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../worker/runtime';
import { FERRY_STATUS } from '../workflows/definitions';
import { as, configEnv, enc, release, replayWorkflows } from './support/gates';
import { makeArtifact, useStack } from './support/stack';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const T = temporal.api.enums.v1.EventType;
const EventType = {
  ActivityScheduled: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  WorkflowTaskCompleted: T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  MarkerRecorded: T.EVENT_TYPE_MARKER_RECORDED,
  UpsertSearchAttributes: T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
} as const;

const stack = useStack(async () => {
  const env = await configEnv({
    local: { ordering: 'queue' },
    gated: { approvals: { required: 1, approvers: ['bob'], timeout: '10m' } },
    // Frozen all day, every day: only a hotfix gets through.
    sealed: { freezes: [{ name: 'always', timeZone: 'UTC', daily: { from: '00:00', to: '23:59' } }], hotfix: { allowed: ['carol'] } },
  }, { FERRY_AWAIT_FLUX: 'false', FERRY_TASK_QUEUE: 'releases-local-steps' });
  return { env };
});

const FINAL = ['committed', 'succeeded', 'failed'];

async function releaseOf(app: string, manifests?: string): Promise<string> {
  const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env: 'local', manifests }] }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const artifactId = pushed.body.id as string;
  const started = await stack().api('POST', '/api/releases', { artifactId, env: 'local' });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return started.body.id as string;
}

async function eventsOf(workflowId: string): Promise<HistoryEvent[]> {
  // The mirror shows the final state from inside the last workflow task; its markers are in the history once it ends.
  const handle = stack().ferry.temporal.workflow.getHandle(workflowId);
  // A release that failed or was rejected fails its run; its history is what counts here.
  await handle.result().catch(() => undefined);
  return (await handle.fetchHistory()).events ?? [];
}
const ofType = (events: HistoryEvent[], type: number) => events.filter((e) => Number(e.eventType) === type);

/** The activity type named in each local activity's marker, in history order. */
function localActivities(events: HistoryEvent[]): string[] {
  return ofType(events, EventType.MarkerRecorded)
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      const marker = JSON.parse(Buffer.from(data ?? []).toString('utf8'));
      return String(marker.activity_type ?? marker.activityType);
    });
}
const scheduled = (events: HistoryEvent[]) => ofType(events, EventType.ActivityScheduled).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
/** The patch ids the run recorded (`core_patch` markers), in history order. */
function patchMarkers(events: HistoryEvent[]): string[] {
  return ofType(events, EventType.MarkerRecorded)
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? []).toString('utf8')).id);
}
const changeVersionUpserts = (events: HistoryEvent[]) => ofType(events, EventType.UpsertSearchAttributes)
  .filter((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TemporalChangeVersion);
// Patches upsert TemporalChangeVersion too; only Ferry's status upserts are counted.
const upsertedStatuses = (events: HistoryEvent[]) => ofType(events, EventType.UpsertSearchAttributes)
  .map((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[FERRY_STATUS.name])
  .filter((payload) => payload)
  .map((payload) => JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8')));

describe('local release steps', () => {
  test('a committed release costs the server one activity task (the GitOps write) and two workflow tasks', async () => {
    // The app's first release: its lane is new to PostgreSQL, and no lane workflow runs for it.
    const id = await releaseOf('parcel');
    const done = await stack().waitForRelease(id, FINAL);
    assert.equal(done.status, 'committed', JSON.stringify(done.timeline));
    assert.deepEqual(done.timeline.map((t: { status: string }) => t.status), ['pending', 'rendering', 'committing', 'committed']);
    assert.match(done.gitopsCommit, /^[0-9a-f]{40}$/);
    assert.equal(stack().git('log', '-1', '--format=%H', 'main', '--', 'local/parcel'), done.gitopsCommit);

    const events = await eventsOf(id);
    assert.deepEqual(scheduled(events), ['commitRelease']);
    assert.deepEqual(localActivities(events), ['enterIdleLane', 'renderRelease', 'exitIdleLane', 'notifyRelease']);
    assert.equal(ofType(events, EventType.WorkflowTaskCompleted).length, 2);
    // `pending` is set when the run starts and `rendering` never outlives a workflow task: only two upserts remain.
    assert.deepEqual(upsertedStatuses(events), ['committing', 'committed']);
    // One path, no patch: no patch marker and no TemporalChangeVersion upsert (each would be a visibility write).
    assert.deepEqual(patchMarkers(events), []);
    assert.equal(changeVersionUpserts(events).length, 0);
    const described = await stack().ferry.temporal.workflow.getHandle(id).describe();
    assert.equal(described.typedSearchAttributes.get(FERRY_STATUS), 'committed');
  });

  test('a render failure ends the release in its first workflow task, with the template error and no GitOps write', async () => {
    const before = stack().git('rev-parse', 'main');
    const id = await releaseOf('parcel', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .MISSING }}}\n');
    const done = await stack().waitForRelease(id, FINAL);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /MISSING/);
    assert.equal(done.gitopsCommit, null);
    const events = await eventsOf(id);
    assert.deepEqual(scheduled(events), []);
    assert.deepEqual(localActivities(events), ['enterIdleLane', 'renderRelease', 'exitIdleLane', 'notifyRelease']);
    assert.equal(ofType(events, EventType.WorkflowTaskCompleted).length, 1);
    assert.equal((await stack().ferry.temporal.workflow.getHandle(id).describe()).typedSearchAttributes.get(FERRY_STATUS), 'failed');
    assert.equal(stack().git('rev-parse', 'main'), before);
  });

  test('concurrent releases of one app still pass one at a time and each lands once', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, () => releaseOf('crate')));
    const done = await Promise.all(ids.map((id) => stack().waitForRelease(id, FINAL, 120_000)));
    assert.deepEqual(done.map((d) => d.status), Array(4).fill('committed'));
    const commits = stack().git('log', '--format=%H', 'main', '--', 'local/crate').split('\n');
    assert.equal(commits.length, 4);
    assert.deepEqual([...new Set(done.map((d) => d.gitopsCommit))].sort(), [...commits].sort());
    // The lane was busy for all but the first: they joined it through the enterLane activity task.
    const joined = await Promise.all(ids.map(async (id) => scheduled(await eventsOf(id)).includes('enterLane')));
    assert.ok(joined.filter(Boolean).length >= 1, 'no release found the lane busy');
  });

  // SDK 1.24 cannot replay a local activity that ran inside an Update handler (docs/performance.md): decisions keep
  // their activity task, while the main path's local steps run beside the handler. Their histories must replay.
  test('approve, reject and hotfix Updates beside local steps: each caller hears the outcome, and the run waits for it', async () => {
    const approved = await release(stack(), 'gate', 'gated', 'alice');
    assert.equal((await stack().waitForRelease(approved.releaseId, ['awaiting-approval'])).status, 'awaiting-approval');
    const ok = await stack().api('POST', `/api/releases/${enc(approved.releaseId)}/approve`, { comment: 'fine' }, as('bob'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.decision, 'approved');
    assert.equal((await stack().waitForRelease(approved.releaseId, FINAL)).status, 'committed');

    const rejected = await release(stack(), 'gate', 'gated', 'alice');
    await stack().waitForRelease(rejected.releaseId, ['awaiting-approval']);
    const no = await stack().api('POST', `/api/releases/${enc(rejected.releaseId)}/reject`, { comment: 'not today' }, as('bob'));
    assert.equal(no.status, 200, JSON.stringify(no.body));
    assert.equal(no.body.decision, 'rejected');
    const done = await stack().waitForRelease(rejected.releaseId, ['rejected', ...FINAL]);
    assert.equal(done.status, 'rejected');
    assert.match(done.error, /rejected by bob/);

    const hot = await release(stack(), 'gate', 'sealed', 'alice');
    await stack().waitForRelease(hot.releaseId, ['frozen']);
    const over = await stack().api('POST', `/api/releases/${enc(hot.releaseId)}/hotfix`, { comment: 'INC-7' }, as('carol'));
    assert.equal(over.status, 200, JSON.stringify(over.body));
    assert.equal((await stack().waitForRelease(hot.releaseId, FINAL)).status, 'committed');

    for (const id of [approved.releaseId, rejected.releaseId, hot.releaseId]) {
      const handle = stack().ferry.temporal.workflow.getHandle(id);
      await handle.result().catch(() => undefined);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handle.fetchHistory(), id);
      // The decision's own mirror write stayed an activity task.
      assert.ok(scheduled(await eventsOf(id)).includes('recordState'), id);
    }
  });

  test('the histories of this file replay deterministically', async () => {
    const replayed = await replayWorkflows(stack(), 'releaseWorkflow', 20);
    assert.equal(replayed, 9, 'every release of this file');
  });
});
