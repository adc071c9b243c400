import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

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

export const WORKFLOWS_ENTRY = path.resolve(__dirname, '../workflows/index.ts');

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling takes seconds; every worker of the process (and every replay) shares one bundle. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: new DefaultLogger('WARN') });
  return bundle;
}
