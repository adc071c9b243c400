// Helpers for the gates, ordering and promotion tests: config files, named principals, releases and replays.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import YAML from 'yaml';
import { workflowBundle } from '../../worker/runtime';
import { fluxEvent, makeArtifact, type Stack } from './stack';

/** Distinct principals for four-eyes and approver-list tests (FERRY_TOKENS_FILE). */
export const PEOPLE = {
  alice: 'token-of-alice-0123456789',
  bob: 'token-of-bob-0123456789ab',
  carol: 'token-of-carol-0123456789',
  mallory: 'token-of-mallory-01234567',
} as const;
export type Person = keyof typeof PEOPLE;

/**
 * Writes FERRY_CONFIG and FERRY_TOKENS_FILE into a temp dir; returns the env for startStack. `topLevel` holds the
 * file's other keys (`clusters`, `reconcile`).
 */
export async function configEnv(environments: Record<string, unknown>, extra: Record<string, string> = {}, topLevel: Record<string, unknown> = {}): Promise<Record<string, string>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-gates-config-'));
  const config = path.join(dir, 'ferry.yaml');
  const tokens = path.join(dir, 'tokens.yaml');
  await fs.writeFile(config, YAML.stringify({ ...topLevel, environments }));
  await fs.writeFile(tokens, YAML.stringify({ tokens: Object.entries(PEOPLE).map(([name, token]) => ({ name, token, roles: ['deployer', 'approver'] })) }));
  return { FERRY_CONFIG: config, FERRY_TOKENS_FILE: tokens, ...extra };
}

export const as = (who: Person) => ({ token: PEOPLE[who] });

export async function pushArtifact(stack: Stack, apps: Array<{ app: string; env: string }>): Promise<string> {
  const pushed = await stack.api('POST', '/api/artifacts', makeArtifact({ apps }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  return pushed.body.id as string;
}

/** Pushes an artifact for app in env and releases it as `who` (admin when omitted). */
export async function release(stack: Stack, app: string, env: string, who?: Person): Promise<{ artifactId: string; releaseId: string }> {
  const artifactId = await pushArtifact(stack, [{ app, env }]);
  const started = await stack.api('POST', '/api/releases', { artifactId, env }, who ? as(who) : {});
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return { artifactId, releaseId: started.body.id as string };
}

export const enc = encodeURIComponent;

export async function getRelease(stack: Stack, id: string): Promise<any> {
  const r = await stack.api('GET', `/api/releases/${enc(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function trailersOf(stack: Stack, commit: string): Record<string, string> {
  const out = stack.git('log', '-1', '--format=%(trailers:only,unfold)', commit);
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

/** Replays up to `max` histories of a workflow type (closed and running) against the current workflow code. */
export async function replayWorkflows(stack: Stack, workflowType: string, max = 5): Promise<number> {
  let replayed = 0;
  const bundle = await workflowBundle();
  for await (const h of stack.ferry.temporal.workflow.list({ query: `WorkflowType = "${workflowType}"` }).intoHistories()) {
    await Worker.runReplayHistory({ workflowBundle: bundle }, h.history, h.workflowId);
    replayed += 1;
    if (replayed >= max) break;
  }
  return replayed;
}

/**
 * Plays Flux for end-to-end tests: every release that reaches `reconciling` (optionally only one app in one env)
 * gets a ReconciliationSucceeded event for its commit, once. Stop it before the stack.
 */
export function fluxResponder(stack: Stack, only?: { app: string; env: string }): { stop(): Promise<void> } {
  let running = true;
  const answered = new Set<string>();
  const filter = only ? `&app=${encodeURIComponent(only.app)}&env=${encodeURIComponent(only.env)}` : '';
  const loop = (async () => {
    while (running) {
      const r = await stack.api('GET', `/api/releases?status=reconciling&limit=200${filter}`);
      for (const rel of r.body.items ?? []) {
        // One answer per environment and commit: each environment's Kustomization reports for itself.
        const key = `${rel.env} ${rel.gitopsCommit}`;
        if (answered.has(key)) continue;
        answered.add(key);
        await stack.postFlux(fluxEvent('ReconciliationSucceeded', rel.gitopsCommit, { env: rel.env }));
      }
      await new Promise((res) => setTimeout(res, 150));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
