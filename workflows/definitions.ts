// Names shared by the workflows, the workers and the API. Wire names are an API: never rename them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ReleaseReconcileSettings } from '../src/reconcile/config';
import type { ClusterVerdict } from '../src/reconcile/verdicts';
import type { ReleaseState, ReleaseTrigger } from '../src/release/types';

export const FERRY_APP = defineSearchAttributeKey('FerryApp', SearchAttributeType.KEYWORD);
export const FERRY_ENV = defineSearchAttributeKey('FerryEnv', SearchAttributeType.KEYWORD);
export const FERRY_ARTIFACT_ID = defineSearchAttributeKey('FerryArtifactId', SearchAttributeType.KEYWORD);
export const FERRY_SHA = defineSearchAttributeKey('FerrySha', SearchAttributeType.KEYWORD);
export const FERRY_BRANCH = defineSearchAttributeKey('FerryBranch', SearchAttributeType.KEYWORD);
export const FERRY_STATUS = defineSearchAttributeKey('FerryStatus', SearchAttributeType.KEYWORD);
export const FERRY_SEARCH_ATTRIBUTES = [FERRY_APP, FERRY_ENV, FERRY_ARTIFACT_ID, FERRY_SHA, FERRY_BRANCH, FERRY_STATUS];

export interface ReleaseInput {
  releaseId: string;
  app: string;
  env: string;
  artifactId: string;
  sha: string;
  branch: string;
  trigger: ReleaseTrigger;
  releasedBy: string;
  /** Task queue of the single GitOps writer. */
  writerTaskQueue: string;
  awaitFlux: boolean;
  /** How long to wait for Flux before ending timed-out, e.g. '15m'. */
  fluxTimeout: string;
  /** Clusters to await, polling, notification target ids (issue 6); absent means any cluster, no targets. */
  reconcile?: ReleaseReconcileSettings;
}

/** A Flux verdict about a commit that is this release's commit or one of its descendants (per cluster). */
export type FluxVerdict = ClusterVerdict;

export interface FluxEventInput {
  eventId: string;
}

export const releaseStateQuery = defineQuery<ReleaseState>('releaseState');
export const fluxVerdictSignal = defineSignal<[FluxVerdict]>('fluxVerdict');

export interface ArtifactWorkflowInput {
  artifactId: string;
}

export interface BranchCleanupInput {
  repository: string;
  branch: string;
  requestedBy: string;
  /** Task queue of the single GitOps writer. */
  writerTaskQueue: string;
}

/** One artifact workflow per artifact, ever. */
export const artifactWorkflowId = (artifactId: string) => `artifact:${artifactId}`;
