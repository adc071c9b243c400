import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleOption } from '@temporalio/worker';

let installed = false;
/**
 * Runtime.install may run once per process and before any worker or native connection exists.
 * `metricsAddress` (host:port, keep it on 127.0.0.1) makes the SDK's core serve its Prometheus metrics there;
 * Ferry's own /metrics appends them, so only Ferry's authenticated endpoint needs to be reachable.
 */
export function installRuntime(level: 'WARN' | 'INFO' | 'ERROR' = 'WARN', metricsAddress?: string): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level),
    shutdownSignals: [],
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
}

const COMPILED = path.extname(__filename) === '.js';
export const WORKFLOWS_ENTRY = path.resolve(__dirname, COMPILED ? '../workflows/index.js' : '../workflows/index.ts');
/** Written by `npm run build` (scripts/build.js) from the compiled workflows next to it. */
export const PREBUILT_BUNDLE = path.resolve(__dirname, '../workflow-bundle.js');

let bundle: Promise<WorkflowBundleOption> | undefined;
/**
 * The compiled build loads the bundle made at build time; from sources (tests, `npm run dev`) the bundle is made
 * here, which takes seconds and a bundler's memory, once per process: every worker (and every replay) shares it.
 */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  bundle ??= COMPILED && fs.existsSync(PREBUILT_BUNDLE)
    ? fs.promises.readFile(PREBUILT_BUNDLE, 'utf8').then((code) => ({ code }))
    : bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: new DefaultLogger('WARN') });
  return bundle;
}
