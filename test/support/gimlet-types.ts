// The JSON types Gimlet's CLI decodes Ferry's answers into, written down from the Go structs of gimlet-io/gimlet
// (`pkg/dx`: Artifact, Version, Manifest, Release, ReleaseStatus, Result; the same at tag cli-v0.25.0 and at
// 8ad151ed for every field below). `decodeAs` fails where Go's encoding/json fails: a string where an int64 is
// declared, an object where a slice is, a fraction into an int. Unknown fields are ignored and `null` leaves a field
// at its zero value, as in Go.

export type GoType =
  | 'string'
  | 'int64'
  | 'bool'
  | 'any'
  /** dx.GitEvent: a custom UnmarshalJSON that reads a JSON string. */
  | 'gitEvent'
  | { struct: Record<string, GoType> }
  | { slice: GoType }
  | { map: GoType };

const struct = (fields: Record<string, GoType>): GoType => ({ struct: fields });
const slice = (of: GoType): GoType => ({ slice: of });
const map = (of: GoType): GoType => ({ map: of });

export const Version = struct({
  repositoryName: 'string', sha: 'string', created: 'int64', branch: 'string', event: 'gitEvent',
  sourceBranch: 'string', targetBranch: 'string', tag: 'string', authorName: 'string', authorEmail: 'string',
  committerName: 'string', committerEmail: 'string', message: 'string', url: 'string',
});

export const Manifest = struct({
  app: 'string', env: 'string', namespace: 'string',
  deploy: struct({ tag: 'string', branch: 'string', event: 'gitEvent', commitMessagePatterns: slice('string') }),
  cleanup: struct({ app: 'string', event: 'string', branch: 'string' }),
  chart: struct({ repository: 'string', name: 'string', version: 'string' }),
  preview: 'bool',
  tenant: struct({ name: 'string' }),
  values: map('any'),
  strategicMergePatches: 'string',
  json6902Patches: slice(struct({ patch: 'string', target: struct({ group: 'string', version: 'string', kind: 'string', name: 'string' }) })),
  manifests: 'string',
  dependencies: slice('any'),
});

export const Artifact = struct({
  id: 'string', created: 'int64', version: Version, context: map('string'), environments: slice(Manifest),
  cueEnvironments: slice('string'), items: slice(map('any')), vars: map('string'), fake: 'bool',
});

export const Release = struct({
  app: 'string', env: 'string', artifactId: 'string', triggeredBy: 'string', version: Version,
  gitopsRef: 'string', gitopsRepo: 'string', gitopsCommitStatus: 'string', gitopsCommitStatusDesc: 'string',
  gitopsCommitCreated: 'int64', created: 'int64', rolledBack: 'bool',
});

export const Result = struct({
  app: 'string', hash: 'string', status: 'string', gitopsCommitStatus: 'string', gitopsCommitStatusDesc: 'string',
  env: 'string', statusDesc: 'string', triggeredDeployRequestID: 'string',
});

export const ReleaseStatus = struct({ type: 'string', status: 'string', statusDesc: 'string', results: slice(Result) });

/** What each CLI call decodes the answer into (pkg/client/client.go). */
export const ANSWER_TYPES = {
  artifactPush: Artifact,
  artifactList: slice(Artifact),
  track: ReleaseStatus,
  releaseList: slice(Release),
  releaseStatus: map(Release),
  /** release make, rollback and delete decode into map[string]interface{}; make and rollback then read `id` as a string. */
  idAnswer: map('any'),
} as const;

/** Problems Go's decoder would report, by JSON path; empty when the value decodes. */
export function decodeAs(value: unknown, type: GoType, at = '$'): string[] {
  if (value === null) return [];
  const kind = Array.isArray(value) ? 'array' : typeof value;
  const wrong = (want: string) => [`${at}: cannot unmarshal ${kind} into Go value of type ${want}`];
  if (type === 'any') return [];
  if (type === 'string' || type === 'gitEvent') return kind === 'string' ? [] : wrong('string');
  if (type === 'bool') return kind === 'boolean' ? [] : wrong('bool');
  if (type === 'int64') {
    if (kind !== 'number') return wrong('int64');
    return Number.isInteger(value) ? [] : [`${at}: cannot unmarshal number ${value} into Go value of type int64`];
  }
  if ('slice' in type) {
    if (kind !== 'array') return wrong('slice');
    return (value as unknown[]).flatMap((v, i) => decodeAs(v, type.slice, `${at}[${i}]`));
  }
  if (kind !== 'object') return wrong('slice' in type ? 'slice' : 'map' in type ? 'map' : 'struct');
  const obj = value as Record<string, unknown>;
  if ('map' in type) return Object.entries(obj).flatMap(([k, v]) => decodeAs(v, type.map, `${at}.${k}`));
  // Go matches field names case-insensitively; Ferry's answers use Gimlet's exact names, which is what we check.
  return Object.entries(type.struct).flatMap(([k, t]) => (k in obj ? decodeAs(obj[k], t, `${at}.${k}`) : []));
}
