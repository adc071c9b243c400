// A whole Ferry against real components: a Temporal dev server (createLocal with the installed CLI), PostgreSQL
// (a fresh database on the server the test runner started, or an embedded cluster), and a bare git remote.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../src/config';
import { signFluxBody } from '../../src/flux/signature';
import { type Logger, silentLogger } from '../../src/log';
import { startFerry, type FerryHandle, type FerryRoles } from '../../server/ferry';
import { resolveTemporalExecutable } from '../../server/tools';
import { FERRY_SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { installRuntime } from '../../worker/runtime';
import { provisionTestDatabase } from './database';
import { ADMIN_TOKEN, callApi } from './http';

export const FLUX_SECRET = 'test-flux-secret';
// The admin token lives with the HTTP helper that sends it by default.
export { ADMIN_TOKEN } from './http';

export interface Stack {
  dir: string;
  temporal: TestWorkflowEnvironment;
  databaseUrl: string;
  ferry: FerryHandle;
  url: string;
  api<T = any>(method: string, route: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: T }>;
  postFlux(event: unknown, opts?: { secret?: string }): Promise<{ status: number; body: any }>;
  git(...args: string[]): string;
  waitForRelease(id: string, statuses: string[], timeoutMs?: number): Promise<any>;
  stop(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  roles?: FerryRoles;
  /** Defaults to a silent logger; pass one to capture what Ferry logs. */
  log?: Logger;
  /** A CA Ferry's chart fetches trust instead of Node's (a local HTTPS registry's). */
  chartCa?: string;
}

let temporalEnv: Promise<TestWorkflowEnvironment> | undefined;
/** One dev server per test file (process): starting it costs a couple of seconds. */
export function sharedTemporal(): Promise<TestWorkflowEnvironment> {
  // Expected activity failures (bad manifests, a webhook answering 500) would otherwise flood the test output.
  installRuntime('ERROR');
  temporalEnv ??= TestWorkflowEnvironment.createLocal({
    server: { executable: resolveTemporalExecutable(), ip: '127.0.0.1', searchAttributes: FERRY_SEARCH_ATTRIBUTES, ui: false },
  });
  return temporalEnv;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-test-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  const temporal = await sharedTemporal();
  const provisioned = await provisionTestDatabase(dir);
  cleanups.push(provisioned.drop);
  const databaseUrl = provisioned.url;
  // Unique task queues keep stacks of one test file (sharing a dev server) from serving each other's work.
  const suffix = path.basename(dir);
  const config = loadConfig({
    FERRY_PORT: '0',
    FERRY_DATA_DIR: dir,
    FERRY_FLUX_WEBHOOK_SECRET: FLUX_SECRET,
    FERRY_TASK_QUEUE: `releases-${suffix}`,
    FERRY_WRITER_TASK_QUEUE: `gitops-writer-${suffix}`,
    ...opts.env,
  });
  if (opts.chartCa) config.chartSources = { ...config.chartSources, ca: opts.chartCa };
  const ferry = await startFerry(config, { databaseUrl, temporalAddress: temporal.address, namespace: 'default' }, { adminToken: ADMIN_TOKEN, roles: opts.roles, log: opts.log ?? silentLogger });
  const url = ferry.url ?? '';

  const api: Stack['api'] = (method, route, body, o = {}) => callApi(url, method, route, body, o);

  const stack: Stack = {
    dir, temporal, databaseUrl, ferry, url, api,
    async postFlux(event, o = {}) {
      const raw = JSON.stringify(event);
      const res = await fetch(`${url}/api/flux/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-signature': signFluxBody(Buffer.from(raw), o.secret ?? FLUX_SECRET) },
        body: raw,
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    git: (...args) => execFileSync('git', ['--git-dir', ferry.gitopsRepo, ...args], { encoding: 'utf8' }).trim(),
    async waitForRelease(id, statuses, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        last = await api('GET', `/api/releases/${encodeURIComponent(id)}`);
        if (last.status === 200 && statuses.includes(last.body.status)) return last.body;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`release ${id} did not reach ${statuses.join('|')} within ${timeoutMs} ms; last: ${JSON.stringify(last?.body)}`);
    },
    async stop() {
      await ferry.stop();
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Call once at the end of a test file. */
export async function stopSharedTemporal(): Promise<void> {
  if (temporalEnv) await (await temporalEnv).teardown();
  temporalEnv = undefined;
}

/**
 * One stack for all the tests of a file: started before them with `opts` (or, for options that take preparing, what
 * the function resolves to), stopped after them together with the file's dev server. Call the returned function
 * in tests and hooks, not at load time. Hooks the file registers after this call run once the stack is up (before)
 * and once it has stopped (after).
 */
export function useStack(opts: StackOptions | (() => Promise<StackOptions>) = {}): () => Stack {
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack(typeof opts === 'function' ? await opts() : opts);
  });
  after(async () => {
    await stack?.stop();
    await stopSharedTemporal();
  });
  return () => {
    if (!stack) throw new Error('the stack is not running: use it in tests and hooks, not at load time');
    return stack;
  };
}

let counter = 0;
/** A unique, valid artifact with one environment file per (app, env) given. */
export function makeArtifact(opts: { apps: Array<{ app: string; env: string; manifests?: string }>; sha?: string; branch?: string; repo?: string; vars?: Record<string, string> }) {
  counter += 1;
  const sha = opts.sha ?? `${Date.now().toString(16)}${process.pid.toString(16)}${counter.toString(16).padStart(6, '0')}`.padEnd(40, 'a').slice(0, 40);
  return {
    version: {
      sha,
      branch: opts.branch ?? 'main',
      event: 'push',
      repositoryName: opts.repo ?? 'acme/shop',
      authorName: 'Ada Lovelace',
      authorEmail: 'ada@example.com',
      committerName: 'Ada Lovelace',
      committerEmail: 'ada@example.com',
      message: 'Make the shop faster',
      url: `https://git.example.com/acme/shop/commit/${sha}`,
      created: '2026-11-23T10:00:00Z',
    },
    vars: { IMAGE: 'registry.example.com/acme/shop', ...opts.vars },
    environments: opts.apps.map((a) => ({
      app: a.app,
      env: a.env,
      namespace: a.env,
      manifests: a.manifests ?? deployment(a.app),
    })),
    items: [{ name: 'image', repository: 'registry.example.com/acme/shop', tag: sha }],
  };
}

export function deployment(app: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .APP }}
  labels:
    app: {{ .APP }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {{ .APP }}
  template:
    metadata:
      labels:
        app: {{ .APP }}
    spec:
      containers:
        - name: {{ .APP }}
          image: {{ .IMAGE }}:{{ .SHA }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .APP }}
spec:
  selector:
    app: {{ .APP }}
  ports:
    - port: 80
`;
}

/**
 * A Flux Kustomization event as notification-controller posts it. `env` is the environment the Kustomization applies
 * (metadata `ferry.env`, from the annotation on the Kustomizations Ferry serves); without it the event settles nothing.
 */
export function fluxEvent(reason: string, commit: string, opts: { severity?: 'info' | 'error'; message?: string; legacy?: boolean; env?: string } = {}) {
  const env = opts.env === undefined ? {} : { 'ferry.env': opts.env };
  return {
    involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: 'u-1', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
    severity: opts.severity ?? (reason === 'ReconciliationSucceeded' || reason === 'Progressing' ? 'info' : 'error'),
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    message: opts.message ?? (reason === 'ReconciliationSucceeded' ? 'Reconciliation finished in 1.2s, next run in 10m0s' : `${reason}: something happened`),
    reason,
    metadata: opts.legacy
      ? { 'kustomize.toolkit.fluxcd.io/revision': `main/${commit}`, ...env }
      : { revision: `main@sha1:${commit}`, ...(reason === 'ReconciliationSucceeded' ? { commit_status: 'update' } : {}), ...env },
    reportingController: 'kustomize-controller',
    reportingInstance: 'kustomize-controller-7d9c-abc',
  };
}
