// The API's route table for the OpenAPI description. test/api-description.test.ts compares it with the routes
// Express really serves, both ways: a route added without an entry here (or an entry without a route) fails it.
// To document a new route, add one entry, pointing at the zod schema the route validates its input with.
import { z } from 'zod';
import { ArtifactInputSchema } from '../../src/artifact/schema';
import { FluxEventSchema } from '../../src/flux/event';
import {
  ArtifactListQuerySchema, ArtifactTrackQuerySchema, GimletDeleteQuerySchema, GimletReleaseStatusSchema, GimletRollbackQuerySchema, ReleaseTrackQuerySchema,
} from '../routes/gimlet';
import { DecisionBodySchema } from '../routes/decisions';
import { SignInSchema } from '../console';
import { FreezeBodySchema, FreezeListQuerySchema } from '../routes/freezes';
import { HistoryQuerySchema, StatusQuerySchema } from '../routes/history';
import { DoraQuerySchema } from '../routes/insights';
import { BranchDeletedSchema, VarsSchema } from '../routes/policies';
import { PromoteSchema } from '../routes/promotion';
import { StartReleaseSchema } from '../routes/releases';
import { PolicyInputSchema } from '../../src/policy/policies';
import { CreatedTokenSchema, CreateTokenSchema, TokenListQuerySchema, TokenListSchema } from '../routes/tokens';
import type { RouteDoc } from './registry';
import {
  FluxAcceptedSchema, GimletArtifactSchema, HealthSchema, ReleaseSchema, RollbackRequestSchema, StartedReleaseSchema, StoredArtifactSchema,
} from './schemas';

const Artifact = { name: 'Artifact', schema: ArtifactInputSchema };
const Release = { name: 'Release', schema: ReleaseSchema };

export const ROUTE_DOCS: RouteDoc[] = [
  {
    method: 'get', path: '/healthz', summary: 'Liveness: the process answers', tags: ['health'], auth: 'none',
    responses: { 200: { description: 'both answer', schema: HealthSchema }, 503: { description: 'one does not (named in the body)', schema: HealthSchema } },
  },
  {
    method: 'get', path: '/api/openapi.json', summary: 'This API description (OpenAPI 3.1)', tags: ['meta'],
    responses: { 200: { description: 'the document', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'post', path: '/api/artifacts', summary: 'Store a release artifact', tags: ['artifacts'], roles: ['ci', 'deployer'], body: Artifact,
    description: 'Idempotent: an identical re-push answers 200 with the stored artifact; another body under an existing id is a 409.',
    responses: {
      201: { description: 'stored', schema: { name: 'StoredArtifact', schema: StoredArtifactSchema } },
      200: { description: 'already stored, identical', schema: { name: 'StoredArtifact', schema: StoredArtifactSchema } },
      409: { description: 'a different artifact has this id' },
    },
  },
  {
    method: 'get', path: '/api/artifacts/:id', summary: 'One stored artifact', tags: ['artifacts'],
    responses: { 200: { description: 'the artifact', schema: { name: 'StoredArtifact', schema: StoredArtifactSchema } }, 404: { description: 'no such artifact' } },
  },
  {
    method: 'get', path: '/api/artifacts', summary: 'List artifacts, newest first (Gimlet-compatible)', tags: ['artifacts', 'gimlet'], query: ArtifactListQuerySchema,
    responses: { 200: { description: 'a JSON array, as Gimlet answers', schema: z.array(GimletArtifactSchema) } },
  },
  {
    method: 'post', path: '/api/releases', summary: 'Start a release of an artifact to an environment', tags: ['releases', 'gimlet'],
    roles: ['ci', 'deployer'], envScoped: true, body: { name: 'StartRelease', schema: StartReleaseSchema },
    description: "Also Gimlet's release request: its extra fields (`tenant`, `triggeredBy`) are ignored and the caller is recorded.",
    responses: {
      202: { description: 'started', schema: StartedReleaseSchema },
      200: { description: 'this release already runs or succeeded', schema: StartedReleaseSchema },
      404: { description: 'unknown artifact, or no environment file for the env/app' },
    },
  },
  {
    method: 'get', path: '/api/releases/:id', summary: 'One release with its timeline', tags: ['releases'],
    responses: { 200: { description: 'the release', schema: Release }, 404: { description: 'no such release' } },
  },
  {
    method: 'post', path: '/api/rollback', summary: 'Roll an app back in an environment', tags: ['releases', 'gimlet'],
    roles: ['deployer'], envScoped: true, query: GimletRollbackQuerySchema.partial(), body: { name: 'RollbackRequest', schema: RollbackRequestSchema }, bodyOptional: true,
    description: "Ferry's form is the JSON body. Gimlet's form has no body and passes `env`, `app` and `sha` (a GitOps commit) as query parameters; it is translated into Ferry's form.",
    responses: { 202: { description: 'rollback release started', schema: StartedReleaseSchema } },
  },
  {
    method: 'get', path: '/api/eventArtifactTrack', summary: 'Gimlet: what became of an artifact', tags: ['gimlet'], query: ArtifactTrackQuerySchema,
    responses: { 200: { description: "Gimlet's ReleaseStatus over every release of the artifact", schema: { name: 'GimletReleaseStatus', schema: GimletReleaseStatusSchema } }, 404: { description: 'no such artifact' } },
  },
  {
    method: 'get', path: '/api/eventReleaseTrack', summary: 'Gimlet: what became of a release request', tags: ['gimlet'], query: ReleaseTrackQuerySchema,
    responses: { 200: { description: "Gimlet's ReleaseStatus of one release", schema: { name: 'GimletReleaseStatus', schema: GimletReleaseStatusSchema } }, 404: { description: 'no such release' } },
  },
  {
    method: 'post', path: '/api/artifact', summary: "Gimlet: store an artifact (Gimlet's CLI and GitHub Action)", tags: ['gimlet', 'artifacts'],
    roles: ['ci', 'deployer'], body: Artifact,
    responses: {
      201: { description: 'stored', schema: GimletArtifactSchema },
      200: { description: 'already stored, identical', schema: GimletArtifactSchema },
      409: { description: 'a different artifact has this id' },
    },
  },
  {
    method: 'post', path: '/api/delete', summary: "Gimlet: delete an app from an environment (one commit removing its directory)", tags: ['gimlet'],
    roles: ['deployer'], envScoped: true, query: GimletDeleteQuerySchema,
    description: 'Answers once the removal is committed. Refused in environments whose releases need approval or that are frozen now.',
    responses: { 200: { description: 'removed (or nothing to remove)', schema: z.record(z.string(), z.unknown()) }, 409: { description: 'the environment needs approval or is frozen' }, 504: { description: 'still running after 2 minutes' } },
  },
  {
    method: 'post', path: '/api/tokens', summary: 'Create an API token (the secret is shown once)', tags: ['tokens'], roles: ['admin'],
    body: { name: 'CreateToken', schema: CreateTokenSchema },
    responses: { 201: { description: 'created', schema: { name: 'CreatedToken', schema: CreatedTokenSchema } }, 409: { description: 'a live token has this name' } },
  },
  {
    method: 'get', path: '/api/tokens', summary: 'List tokens (never their secrets)', tags: ['tokens'], roles: ['admin'], query: TokenListQuerySchema,
    responses: { 200: { description: 'the tokens', schema: TokenListSchema } },
  },
  {
    method: 'delete', path: '/api/tokens/:id', summary: 'Revoke a token by id or name; effective at once', tags: ['tokens'], roles: ['admin'],
    responses: { 204: { description: 'revoked' }, 404: { description: 'no live token with this id or name' } },
  },
  {
    method: 'post', path: '/api/flux/events', summary: 'Flux notification-controller events (generic-hmac provider)', tags: ['flux'], auth: 'hmac',
    body: { name: 'FluxEvent', schema: FluxEventSchema },
    responses: { 202: { description: 'stored (and settling waiting releases)', schema: FluxAcceptedSchema }, 401: { description: 'missing or invalid X-Signature' } },
  },
  {
    method: 'post', path: '/api/flux/events/:cluster', summary: 'Flux events from one cluster, verified with that cluster\'s secret', tags: ['flux'], auth: 'hmac',
    body: { name: 'FluxEvent', schema: FluxEventSchema },
    responses: { 202: { description: 'stored', schema: FluxAcceptedSchema }, 401: { description: 'missing or invalid X-Signature, or unknown cluster' } },
  },
  {
    method: 'get', path: '/api/flux/manifests/:cluster', summary: 'Secret, Provider, Alert and per-environment Kustomization YAML a cluster needs to report to Ferry (`default`: the single-secret setup)', tags: ['flux'],
    query: z.object({ env: z.string().optional().describe('environments this cluster applies, comma-separated (default: those naming it)') }),
    responses: { 200: { description: 'YAML (the Secret value is a placeholder)' }, 400: { description: 'a bad cluster or env name' }, 404: { description: 'no such cluster' } },
  },
  {
    method: 'get', path: '/readyz', summary: 'Readiness: PostgreSQL, Temporal and the GitOps remote answer', tags: ['health'], auth: 'none',
    responses: { 200: { description: 'ready', schema: z.record(z.string(), z.unknown()) }, 503: { description: 'a dependency is unreachable (named in the body)', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/metrics', summary: 'Prometheus metrics', tags: ['health'],
    responses: { 200: { description: 'Prometheus text format' } },
  },
  {
    method: 'get', path: '/api/policies', summary: 'Stored policies and the server-wide branch restrictions', tags: ['policies'], query: z.object({ app: z.string().optional() }),
    responses: { 200: { description: '{items}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/api/policies/:id', summary: 'One policy with its change history', tags: ['policies'],
    responses: { 200: { description: 'the policy', schema: z.record(z.string(), z.unknown()) }, 404: { description: 'no such policy' } },
  },
  {
    method: 'put', path: '/api/policies', summary: 'Create or replace a policy (auto-release or branch restriction)', tags: ['policies'], roles: ['admin'],
    body: { name: 'PolicyInput', schema: PolicyInputSchema },
    responses: { 201: { description: 'created', schema: z.record(z.string(), z.unknown()) }, 200: { description: 'replaced', schema: z.record(z.string(), z.unknown()) }, 409: { description: 'conflicts with another policy (both named)' } },
  },
  {
    method: 'delete', path: '/api/policies/:id', summary: 'Delete a stored policy', tags: ['policies'], roles: ['admin'],
    responses: { 204: { description: 'deleted' }, 403: { description: 'server-wide restrictions cannot be deleted' }, 404: { description: 'no such policy' } },
  },
  {
    method: 'get', path: '/api/artifacts/:id/decisions', summary: 'Why an artifact did (not) deploy, per environment file', tags: ['policies', 'artifacts'],
    responses: { 200: { description: 'decisions', schema: z.record(z.string(), z.unknown()) }, 404: { description: 'no such artifact' } },
  },
  {
    method: 'post', path: '/api/events/branch-deleted', summary: 'A branch was deleted: remove its preview environments', tags: ['policies'], roles: ['ci', 'deployer'],
    body: { name: 'BranchDeleted', schema: BranchDeletedSchema },
    responses: { 202: { description: 'cleanup started', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/api/env-vars/:env', summary: 'Template variables Ferry keeps for an environment', tags: ['policies'],
    responses: { 200: { description: 'the variables', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'put', path: '/api/env-vars/:env', summary: 'Set the template variables of an environment', tags: ['policies'], roles: ['admin'],
    body: { name: 'EnvVars', schema: VarsSchema },
    responses: { 200: { description: 'stored', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'post', path: '/api/releases/:id/approve', summary: 'Approve a release waiting for approval', tags: ['gates'], roles: ['approver'], envScoped: true,
    body: { name: 'Decision', schema: DecisionBodySchema }, bodyOptional: true,
    responses: { 200: { description: 'decided; the body says where the gate stands', schema: z.record(z.string(), z.unknown()) }, 403: { description: 'not allowed for this env (named)' }, 409: { description: 'the release is not waiting for this' } },
  },
  {
    method: 'post', path: '/api/releases/:id/reject', summary: 'Reject a release waiting for approval', tags: ['gates'], roles: ['approver'], envScoped: true,
    body: { name: 'Decision', schema: DecisionBodySchema }, bodyOptional: true,
    responses: { 200: { description: 'decided; the body says where the gate stands', schema: z.record(z.string(), z.unknown()) }, 403: { description: 'not allowed for this env (named)' }, 409: { description: 'the release is not waiting for this' } },
  },
  {
    method: 'post', path: '/api/releases/:id/hotfix', summary: 'Override a freeze as a hotfix (reason in comment)', tags: ['gates'], roles: ['deployer'], envScoped: true,
    body: { name: 'Decision', schema: DecisionBodySchema }, bodyOptional: true,
    responses: { 200: { description: 'decided; the body says where the gate stands', schema: z.record(z.string(), z.unknown()) }, 403: { description: 'not allowed for this env (named)' }, 409: { description: 'the release is not waiting for this' }, 422: { description: 'no reason given' } },
  },
  {
    method: 'get', path: '/api/releases', summary: 'Release history, newest first, paginated', tags: ['releases', 'gimlet'], query: HistoryQuerySchema,
    description: "Gimlet's `release list` gets Gimlet's shape instead (a JSON array of dx.Release, query `env` required, `app`, `git-repo`, `limit`, `offset`, `since`, `until`, `reverse`): chosen when the request has no Accept header, as Gimlet's Go client sends none, or a Gimlet-only parameter (docs/gimlet.md).",
    responses: { 200: { description: '{items, nextBefore}', schema: z.record(z.string(), z.unknown()) }, 400: { description: 'bad filter or cursor' } },
  },
  {
    method: 'get', path: '/api/status', summary: 'What runs where: per environment, the current release and any in flight', tags: ['releases', 'gimlet'], query: StatusQuerySchema,
    description: "With `env` (Gimlet's `release status`): a map of app to its last written release, in Gimlet's dx.Release shape.",
    responses: { 200: { description: '{app, environments}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'post', path: '/api/promote', summary: 'Release into env the artifact running in the environment before it', tags: ['releases'], roles: ['deployer'], envScoped: true,
    body: { name: 'Promote', schema: PromoteSchema },
    responses: { 202: { description: 'started', schema: StartedReleaseSchema }, 409: { description: 'nothing to promote yet, or still soaking' } },
  },
  {
    method: 'get', path: '/api/environments', summary: 'Server-side environment configuration (gates, ordering, promotion)', tags: ['gates'],
    responses: { 200: { description: '{environments}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/api/me', summary: 'Who the caller is, and per environment what the caller may do', tags: ['console'],
    responses: { 200: { description: '{name, actor, via, grants, environments: {env: {release, promote, rollback, approve, hotfix}}, temporalUiUrl, namespace}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/api/board', summary: 'Apps × environments: what runs in each cell and what is on its way', tags: ['console'],
    responses: { 200: { description: '{environments, apps: [{app, cells: {env: {current, inFlight}}}]}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/api/releases/:id/changes', summary: "A release's GitOps commit (message and trailers) and its files against what ran before", tags: ['console', 'releases'],
    responses: { 200: { description: '{id, commit, base, rendered, files: [{path, change, added, removed, hunks}]}', schema: z.record(z.string(), z.unknown()) }, 404: { description: 'no such release' } },
  },
  {
    method: 'get', path: '/api/stream', summary: 'Server-sent events: `release` {id} when a release changes, `resync` after a gap', tags: ['console'],
    responses: { 200: { description: 'text/event-stream' } },
  },
  {
    method: 'get', path: '/', summary: 'The web console (docs/console.md)', tags: ['console'], auth: 'none',
    responses: { 200: { description: 'HTML' } },
  },
  {
    method: 'get', path: '/index.html', summary: 'The web console (same as /)', tags: ['console'], auth: 'none',
    responses: { 200: { description: 'HTML' } },
  },
  {
    method: 'get', path: '/console/vendor/:file', summary: "The console's libraries (Preact, htm), served by Ferry itself", tags: ['console'], auth: 'none',
    responses: { 200: { description: 'JavaScript module' }, 404: { description: 'not one of them' } },
  },
  {
    method: 'post', path: '/console/session', summary: 'Sign the console in with an API token: sets the HttpOnly session cookie and the CSRF cookie', tags: ['console'], auth: 'none',
    body: { name: 'ConsoleSignIn', schema: SignInSchema },
    responses: { 200: { description: '{name, actor}', schema: z.record(z.string(), z.unknown()) }, 401: { description: 'unknown, expired or revoked token' }, 403: { description: 'cross-origin sign-in, or a token without a role' } },
  },
  {
    method: 'get', path: '/console/session', summary: 'Whether the browser is signed in: {signedIn, name?}', tags: ['console'], auth: 'none',
    responses: { 200: { description: '{signedIn: true, name} or {signedIn: false}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get', path: '/console/oidc/start', summary: 'Start the console sign-in through the identity provider (authorization code with PKCE)', tags: ['console'], auth: 'none',
    responses: { 302: { description: "to the identity provider's authorization endpoint" }, 404: { description: 'FERRY_OIDC_CLIENT_ID is not set' } },
  },
  {
    method: 'get', path: '/console/oidc/callback', summary: "The identity provider's redirect back: checks state, exchanges the code, sets the session", tags: ['console'], auth: 'none',
    responses: { 200: { description: 'signed in; the page continues to /' }, 400: { description: 'no sign-in in progress, or the state does not match' }, 401: { description: 'no ID token, or one Ferry does not accept' } },
  },
  {
    method: 'delete', path: '/console/session', summary: 'Sign the console out (needs the X-Ferry-CSRF header)', tags: ['console'], auth: 'none',
    responses: { 204: { description: 'signed out' }, 403: { description: 'missing or wrong CSRF header' } },
  },
  {
    method: 'post', path: '/api/freezes', summary: 'Stop the line: hold every release into env (or all) until lifted', tags: ['gates'],
    roles: ['deployer', 'approver'], envScoped: true, body: { name: 'Freeze', schema: FreezeBodySchema },
    description: '`all: true` needs a grant for every environment. Releases reaching the freeze gate wait as `frozen` with the reason and who froze it; a hotfix override passes as with configured windows.',
    responses: { 201: { description: 'the freeze, holding', schema: z.record(z.string(), z.unknown()) }, 400: { description: 'a field is missing or wrong (named)' }, 403: { description: 'not allowed for this env or for all' } },
  },
  {
    method: 'get', path: '/api/freezes', summary: 'Freezes holding now; with ended=true also recent ended ones', tags: ['gates'], query: FreezeListQuerySchema,
    responses: { 200: { description: '{items}', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'delete', path: '/api/freezes/:id', summary: 'Lift a freeze; the releases it held go on in order', tags: ['gates'], roles: ['deployer', 'approver'], envScoped: true,
    description: "Whoever started the freeze may lift it; anyone else needs approver (or admin) for what it freezes.",
    responses: { 200: { description: 'lifted', schema: z.record(z.string(), z.unknown()) }, 403: { description: 'not allowed' }, 404: { description: 'no such freeze' }, 409: { description: 'already ended' } },
  },
  {
    method: 'get', path: '/api/insights/dora', summary: 'DORA figures per app, env and window, with the counts behind them', tags: ['insights'], query: DoraQuerySchema,
    description: 'Definitions in docs/insights.md.',
    responses: { 200: { description: 'deploymentFrequency, leadTime, changeFailureRate, timeToRestore', schema: z.record(z.string(), z.unknown()) }, 400: { description: 'bad app, env or days (named)' } },
  },
];
