// Gimlet's CLI (cli-v0.25.0) and GitHub Action: the recorded pipeline (test/fixtures/gimlet/cli-v0.25.0) replayed against a
// fresh stack; see test/support/gimlet-replay.ts.
import { replayRecordedPipeline } from './support/gimlet-replay';

replayRecordedPipeline('cli-v0.25.0');
