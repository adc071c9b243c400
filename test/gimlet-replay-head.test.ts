// Gimlet's CLI (head-8ad151ed) and GitHub Action: the recorded pipeline (test/fixtures/gimlet/head-8ad151ed) replayed against a
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

test('head-8ad151ed: push, auto-deploy, track --wait, deploy, re-run, PR, tag, list, status, rollback, release make, delete', { timeout: 600_000 }, async () => {
  await replay(stack, 'head-8ad151ed');
});
