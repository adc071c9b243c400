// Gimlet's CLI (cli-v0.25.0) and GitHub Action: the recorded pipeline (test/fixtures/gimlet/cli-v0.25.0) replayed against a
// fresh stack; see test/support/gimlet-replay.ts.
import { after, before, test } from 'node:test';
import { replay, simulateFlux } from './support/gimlet-replay';
import { startStack, stopSharedTemporal, type Stack } from './support/stack';

let stack: Stack;
let stopFlux: (() => Promise<void>) | undefined;
before(async () => {
  stack = await startStack({ env: { FERRY_FLUX_TIMEOUT: '5m' } });
  stopFlux = simulateFlux(stack);
});
after(async () => {
  await stopFlux?.();
  await stack?.stop();
  await stopSharedTemporal();
});

test('cli-v0.25.0: push, auto-deploy, track --wait, deploy, re-run, PR, tag, list, status, rollback, release make, delete', { timeout: 600_000 }, async () => {
  await replay(stack, 'cli-v0.25.0');
});
