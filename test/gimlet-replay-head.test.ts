// Gimlet's CLI (head-8ad151ed) and GitHub Action: the recorded pipeline (test/fixtures/gimlet/head-8ad151ed) replayed against a
// fresh stack; see test/support/gimlet-replay.ts.
import { replayRecordedPipeline } from './support/gimlet-replay';

replayRecordedPipeline('head-8ad151ed');
