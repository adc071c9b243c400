// Ferry's stored artifacts and releases in the JSON shapes Gimlet's clients decode (Go structs `dx.Artifact`,
// `dx.Manifest`, `dx.Release`). Go's decoder fails a whole list on one field of the wrong JSON type, so everything
// here is normalised to the type Gimlet declares, whatever was stored through Ferry's own, wider API.
import { createHash } from 'node:crypto';
import { type Artifact, canonicalJson, deriveArtifactId } from '../artifact/schema';
import type { ReleaseRow } from '../store/releases';

/**
 * Gimlet's `POST /api/artifact` stored a new artifact per push. Ferry's id for that route also covers the whole
 * body: the identical body (an HTTP retry) is the same artifact, a different body for the same commit (a CI job
 * re-run, whose `GITHUB_RUN_ATTEMPT` differs) is a new one. The prefix is Ferry's usual `<repo>-<sha12>-<event>`.
 */
export function gimletArtifactId(a: Pick<Artifact, 'version'> & Record<string, unknown>): string {
  const digest = createHash('sha256').update(canonicalJson({ ...a, id: undefined })).digest('hex').slice(0, 8);
  return deriveArtifactId(a.version.repositoryName, a.version.sha, a.version.event).replace(/-[0-9a-f]{8}$/, `-${digest}`);
}

/** Unix seconds from whatever `version.created` holds: unix seconds or milliseconds, or a date string. */
export function unixSeconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v > 1e11 ? v / 1000 : v);
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+$/.test(v.trim())) return unixSeconds(Number(v.trim()));
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** One environment file as `dx.Manifest` decodes it: `deploy.event` one string, json6902 `patch` a string. */
function gimletManifest(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e };
  if (isObject(e.deploy) && Array.isArray(e.deploy.event)) {
    // Gimlet's deploy policy has one event; a Ferry file with several shows its first (the listing is display only).
    out.deploy = { ...e.deploy, event: e.deploy.event[0] };
  }
  if (Array.isArray(e.json6902Patches)) {
    out.json6902Patches = e.json6902Patches.map((p) => (isObject(p) && typeof p.patch !== 'string' ? { ...p, patch: JSON.stringify(p.patch) } : p));
  }
  return out;
}

/** A stored artifact as `dx.Artifact`: `created` and `version.created` int64 seconds, env files decodable. */
export function toGimletArtifact(a: Artifact, createdAt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { created: versionCreated, ...version } = a.version;
  const seconds = unixSeconds(versionCreated);
  return {
    ...a,
    ...extra,
    id: a.id,
    created: unixSeconds(createdAt),
    version: { ...version, ...(seconds !== undefined ? { created: seconds } : {}) },
    environments: a.environments.map((e) => gimletManifest(e as Record<string, unknown>)),
    createdAt,
  };
}

/** What Gimlet shows of a release: `dx.Release`, plus Ferry's release id and status for people reading the JSON. */
export function toGimletRelease(r: ReleaseRow, artifact: Artifact | null, gitopsRepo: string, rolledBack: boolean): Record<string, unknown> {
  const v = artifact ? toGimletArtifact(artifact, r.createdAt).version : undefined;
  return {
    app: r.app,
    env: r.env,
    artifactId: r.artifactId,
    triggeredBy: r.releasedBy,
    version: v ?? null,
    gitopsRef: r.gitopsCommit ?? '',
    gitopsRepo,
    gitopsCommitStatus: r.fluxStatus ?? (r.status === 'succeeded' ? 'ReconciliationSucceeded' : ''),
    gitopsCommitStatusDesc: r.error ?? '',
    created: unixSeconds(r.createdAt),
    rolledBack,
    id: r.id,
    status: r.status,
    trigger: r.trigger,
  };
}
