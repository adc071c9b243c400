import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

let installed = false;
/** Runtime.install may run once per process and before any worker or native connection exists. */
export function installRuntime(level: 'WARN' | 'INFO' | 'ERROR' = 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level), shutdownSignals: [] });
}

export const WORKFLOWS_ENTRY = path.resolve(__dirname, '../workflows/index.ts');

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling takes seconds; every worker of the process (and every replay) shares one bundle. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: new DefaultLogger('WARN') });
  return bundle;
}
