// Recorded workflow histories for the replay check. Stored as the History protobuf (base64) inside a small JSON
// file with a readable event list: the SDK's proto-JSON converter (historyFromJSON) fails in this install because
// @temporalio/common and @temporalio/proto each carry their own protobufjs copy.
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

export interface RecordedHistory {
  workflowType: string;
  workflowId: string;
  recordedAt: string;
  /** For reviewers: the event types in order. The replay uses `history` only. */
  events: string[];
  history: string;
}

export function encodeHistory(workflowType: string, workflowId: string, history: History): RecordedHistory {
  const Event = temporal.api.enums.v1.EventType;
  return {
    workflowType,
    workflowId,
    recordedAt: new Date().toISOString(),
    events: (history.events ?? []).map((e) => Event[e.eventType ?? 0] ?? String(e.eventType)),
    history: Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('base64'),
  };
}

export function decodeHistory(recorded: RecordedHistory): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.decode(Buffer.from(recorded.history, 'base64'));
}

/**
 * What a workflow told the server to do, in order: the events its commands produced (activities and local
 * activities by type, timers, children by type, search-attribute values, signals sent, how it ended), plus the
 * Updates it accepted. Workflow-task bookkeeping and incoming signals, whose placement depends on timing, are left out.
 */
export function commandsOf(history: temporal.api.history.v1.IHistory): string[] {
  const T = temporal.api.enums.v1.EventType;
  const out: string[] = [];
  const text = (p?: temporal.api.common.v1.IPayload | null) => (p?.data ? Buffer.from(p.data).toString('utf8') : '');
  for (const e of history.events ?? []) {
    const type = Number(e.eventType);
    const name = (T[type] ?? String(type)).replace(/^EVENT_TYPE_/, '');
    switch (type) {
      case T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        out.push(`${name} ${e.activityTaskScheduledEventAttributes?.activityType?.name}`);
        break;
      case T.EVENT_TYPE_MARKER_RECORDED: {
        const m = e.markerRecordedEventAttributes;
        if (m?.markerName === 'core_local_activity') {
          const data = JSON.parse(text(m.details?.data?.payloads?.[0]) || '{}');
          out.push(`${name} local ${data.activity_type ?? data.activityType}`);
        } else {
          out.push(`${name} ${m?.markerName}`);
        }
        break;
      }
      case T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        out.push(`${name} ${e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name}`);
        break;
      case T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        out.push(`${name} ${Object.entries(fields).map(([k, v]) => `${k}=${text(v)}`).sort().join(',')}`);
        break;
      }
      case T.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        out.push(`${name} ${e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName}`);
        break;
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        out.push(`${name} ${e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name}`);
        break;
      case T.EVENT_TYPE_TIMER_STARTED:
      case T.EVENT_TYPE_TIMER_CANCELED:
      case T.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
      case T.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      case T.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        out.push(name);
        break;
      default:
    }
  }
  return out;
}
