// Bundle entry for the release worker: every workflow type Ferry runs.
export { releaseWorkflow } from './release';
export { fluxEventWorkflow } from './flux-event';
export { artifactWorkflow } from './artifact';
export { branchCleanupWorkflow } from './branch-cleanup';
export { appRemovalWorkflow } from './app-removal';
export { laneWorkflow } from './lane';
export { autoPromoteWorkflow } from './auto-promote';
export { autoRollbackWorkflow } from './auto-rollback';
export { freezeNoticeWorkflow } from './freeze-notice';
