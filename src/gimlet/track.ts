// Ferry releases seen through Gimlet's tracking shapes (`dx.ReleaseStatus` and `dx.Result`), so Gimlet's CLI and
// GitHub Action can follow what Ferry does. Gimlet's clients decide the end from these fields alone:
// any gitopsCommitStatus containing "Failed" is a failure, all results "ReconciliationSucceeded" is success.
import type { ArtifactReleaseRow } from '../store/artifact-list';

export interface GimletResult {
  app: string;
  env: string;
  hash: string;
  status: 'success' | 'failure' | 'pending';
  gitopsCommitStatus: string;
  gitopsCommitStatusDesc: string;
  statusDesc: string;
}

export interface GimletReleaseStatus {
  type?: string;
  status: 'new' | 'processed' | 'error';
  statusDesc: string;
  results: GimletResult[];
}

const ENDED = new Set(['succeeded', 'failed', 'timed-out']);

export function gimletResult(r: ArtifactReleaseRow, awaitFlux: boolean): GimletResult {
  const ended = ENDED.has(r.status) || (!awaitFlux && r.status === 'committed');
  const failed = r.status === 'failed' || r.status === 'timed-out';
  let gitopsCommitStatus = '';
  if (r.status === 'succeeded' || (ended && !failed)) {
    // Unchanged renders and servers that do not wait for Flux have no Flux reason; the release is still applied.
    gitopsCommitStatus = r.fluxStatus === 'ReconciliationSucceeded' ? r.fluxStatus : 'ReconciliationSucceeded';
  } else if (r.status === 'timed-out') {
    gitopsCommitStatus = 'FluxTimeoutFailed';
  } else if (failed) {
    gitopsCommitStatus = r.fluxStatus && /Failed/.test(r.fluxStatus) ? r.fluxStatus : 'ReleaseFailed';
  } else if (r.gitopsCommit) {
    gitopsCommitStatus = r.fluxStatus ?? 'NotReconciled';
  }
  return {
    app: r.app,
    env: r.env,
    hash: r.gitopsCommit ?? '',
    status: r.gitopsCommit ? 'success' : failed ? 'failure' : 'pending',
    gitopsCommitStatus,
    gitopsCommitStatusDesc: failed ? r.error ?? '' : '',
    statusDesc: r.error ?? r.status,
  };
}

const written = (r: ArtifactReleaseRow) => r.gitopsCommit !== null || ENDED.has(r.status);

/** One release request (`/api/eventReleaseTrack?id=`). */
export function releaseTrack(r: ArtifactReleaseRow & { trigger?: string }, awaitFlux: boolean): GimletReleaseStatus {
  const result = gimletResult(r, awaitFlux);
  const status = !written(r) ? 'new' : result.status === 'failure' ? 'error' : 'processed';
  return { type: r.trigger === 'rollback' ? 'rollback' : 'release', status, statusDesc: r.error ?? '', results: [result] };
}

/** Where the artifact's deploy policies are: not decided yet, decided (releases started or none), or broken. */
export type PolicyEvaluation = 'pending' | 'evaluated' | { failed: string };

/**
 * Everything released from one artifact (`/api/eventArtifactTrack?artifactId=`). `new` until the deploy policies
 * were evaluated and while a release they started has not written yet; then `processed` (`error` when every release
 * failed before writing). An artifact no policy released is `processed` with no results, as in Gimlet: the Action's
 * `deploy` mode waits for that before it makes its own release.
 */
export function artifactTrack(rows: ArtifactReleaseRow[], awaitFlux: boolean, policies: PolicyEvaluation = 'evaluated'): GimletReleaseStatus {
  if (typeof policies === 'object') return { status: 'error', statusDesc: `evaluating the deploy policies failed: ${policies.failed}`, results: [] };
  if (rows.length === 0) {
    return policies === 'pending'
      ? { status: 'new', statusDesc: 'the deploy policies are being evaluated', results: [] }
      : { status: 'processed', statusDesc: 'no deploy policy released this artifact', results: [] };
  }
  const results = rows.map((r) => gimletResult(r, awaitFlux));
  if (policies === 'pending' || rows.some((r) => !written(r))) return { status: 'new', statusDesc: '', results };
  if (results.every((r) => r.status === 'failure')) {
    return { status: 'error', statusDesc: rows.map((r) => `${r.env}/${r.app}: ${r.error ?? r.status}`).join('; '), results };
  }
  return { status: 'processed', statusDesc: '', results };
}
