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
