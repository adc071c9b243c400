import path from 'node:path';
import { z } from 'zod';
import { parseServerRestrictions, type Policy } from './policy/policies';
import { ConfigFileError, loadFerryConfigFile, loadTokensFile, type NamedToken } from './config-files';
import type { EnvironmentsFile } from './gates/environments';
import type { ReconcileConfig } from './reconcile/config';
import { DurationSchema, durationMs } from './duration';
import { branchNameProblem } from './gitops/branch-name';
import { envRepoKey } from './gitops/repos';
import { type ChartSources, parseChartRepositories } from './render/chart-sources';

export { DurationSchema, durationMs };

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const EnvSchema = z.object({
  FERRY_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  FERRY_HOST: z.string().default('127.0.0.1'),
  FERRY_DATA_DIR: z.string().default('./.ferry'),
  DATABASE_URL: z.string().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_CLI: z.string().optional(),
  FERRY_GITOPS_REPO: z.string().optional(),
  FERRY_GITOPS_BRANCH: z.string().superRefine((v, ctx) => {
    const bad = branchNameProblem(v);
    if (bad) ctx.addIssue({ code: 'custom', message: bad });
  }).default('main'),
  FERRY_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  FERRY_FLUX_WEBHOOK_SECRET: z.string().optional(),
  FERRY_AWAIT_FLUX: bool.default(true),
  FERRY_GIT_HELPER: bool.default(true),
  FERRY_GITOPS_DIRECT_WRITE: z.enum(['auto', 'true', 'false']).default('auto'),
  FERRY_GITOPS_SIGNING_KEY: z.string().regex(/^[^\s-][^\s]*$/, 'must be a key fingerprint or a key file path').optional(),
  FERRY_GITOPS_SIGNING_FORMAT: z.enum(['openpgp', 'ssh']).default('openpgp'),
  FERRY_FLUX_TIMEOUT: DurationSchema.default('15m'),
  FERRY_NOTIFY_WEBHOOK_URL: z.url().optional(),
  FERRY_MAX_BODY: z.string().regex(/^\d+(b|kb|mb)$/i).default('5mb'),
  FERRY_TASK_QUEUE: z.string().default('ferry-releases'),
  FERRY_WRITER_TASK_QUEUE: z.string().default('gitops-writer'),
  FERRY_TEMPORAL_UI_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FERRY_TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
  FERRY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  FERRY_BRANCH_RESTRICTIONS: z.string().optional(),
  FERRY_MAIN_BRANCH: z.string().regex(/^[^\s]{1,255}$/).default('main'),
  FERRY_CHART_ROOT: z.string().optional(),
  FERRY_CHART_REPOSITORIES: z.string().optional(),
  FERRY_GIT_RETRY_FOR: DurationSchema.default('5m'),
  FERRY_ROLES: z.string().default('api,release-worker,writer'),
  FERRY_SHUTDOWN_GRACE: DurationSchema.default('20s'),
  FERRY_ALLOW_CLUSTER_SCOPED: bool.default(true),
  FERRY_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FERRY_TEMPORAL_METRICS_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').optional(),
  FERRY_OIDC_ISSUER: z.string().min(1).optional(),
  FERRY_OIDC_AUDIENCE: z.string().min(1).optional(),
  FERRY_OIDC_JWKS_URL: z.url().optional(),
  FERRY_OIDC_ROLES_CLAIM: z.string().min(1).default('ferry_roles'),
  FERRY_OIDC_NAME_CLAIM: z.string().min(1).default('email'),
  FERRY_OIDC_CLIENT_ID: z.string().min(1).optional(),
  FERRY_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  FERRY_OIDC_AUTHORIZATION_URL: z.url({ protocol: /^https?$/ }).optional(),
  FERRY_OIDC_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
  FERRY_OIDC_SCOPES: z.string().min(1).default('openid email profile'),
  FERRY_CONFIG: z.string().optional(),
  FERRY_TOKENS_FILE: z.string().optional(),
  FERRY_LANE_EVENTS_PER_RUN: z.coerce.number().int().min(1).max(100_000).default(1000),
  FERRY_LANE_HOLDER_CHECK: DurationSchema.default('10m'),
  FERRY_FREEZE_RECHECK: DurationSchema.refine((d) => durationMs(d) >= 1000, 'must be at least 1s').default('5m'),
  FERRY_DORA_WINDOW: DurationSchema.refine((d) => durationMs(d) >= 3_600_000 && durationMs(d) <= 366 * 86_400_000, 'must be between 1h and 366d').default('30d'),
});

export const FERRY_ROLE_NAMES = ['api', 'release-worker', 'writer'] as const;
export type FerryRoleName = (typeof FERRY_ROLE_NAMES)[number];

/** FERRY_GITOPS_REPO_<ENV>: a repository of its own for one environment (key = env upper-cased, `-` → `_`). */
const ENV_REPO_PREFIX = 'FERRY_GITOPS_REPO_';
/** FERRY_GITOPS_BRANCH_<ENV>: a branch of its own for one environment (same key). */
const ENV_BRANCH_PREFIX = 'FERRY_GITOPS_BRANCH_';


export interface FerryConfig {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  temporalAddress?: string;
  temporalNamespace: string;
  temporalCli?: string;
  /** Git URL or path of the GitOps repository; undefined means the bare repo inside dataDir. */
  gitopsRepo?: string;
  gitopsBranch: string;
  adminToken?: string;
  fluxWebhookSecret?: string;
  awaitFlux: boolean;
  /** Run git commands from a small helper process instead of forking Ferry's own (src/gitops/git-helper.ts). */
  gitHelper: boolean;
  /**
   * Write local bare GitOps repositories without git's transport (GitopsWriterOptions.directLocalWrite): `auto` only
   * the embedded default repository, `true` every repository on a local path, `false` none.
   */
  gitopsDirectWrite: 'auto' | 'true' | 'false';
  /** Sign every GitOps commit (src/gitops/signing.ts). */
  gitopsSigning?: { format: 'openpgp' | 'ssh'; key: string };
  fluxTimeout: string;
  notifyWebhookUrl?: string;
  maxBody: string;
  taskQueue: string;
  writerTaskQueue: string;
  temporalUiPort?: number;
  /** Where people open the Temporal UI; the console links each release's workflow page there. */
  temporalUiUrl?: string;
  /** The URL people reach Ferry at (through a proxy, say); when it is https, the console's cookies are Secure. */
  publicUrl?: string;
  /** Server-wide branch restrictions (FERRY_BRANCH_RESTRICTIONS): they win over app-level ones. */
  branchRestrictions: Policy[];
  /** The branch that never gets preview environments. */
  mainBranch: string;
  /** Directory that local charts (`chart.path`) must lie below; unset refuses local charts. */
  chartRoot?: string;
  /** Chart repositories Ferry may fetch from (FERRY_CHART_REPOSITORIES); empty refuses repository charts. */
  chartSources: ChartSources;
  /** env key (upper-case, `_` for `-`) → repository, from FERRY_GITOPS_REPO_<ENV> */
  gitopsRepoByEnv: Record<string, string>;
  /** env key → branch, from FERRY_GITOPS_BRANCH_<ENV> and the environments' `gitops.branch` in FERRY_CONFIG */
  gitopsBranchByEnv: Record<string, string>;
  /** how long the writer keeps retrying an unreachable or rejecting remote before the activity retries */
  gitRetryForMs: number;
  /** Which parts this process runs (FERRY_ROLES); all by default. */
  roles: FerryRoleName[];
  /** How long SIGTERM waits for running activities and requests before they are cut off. */
  shutdownGrace: string;
  /** May a release write cluster-scoped resources such as Namespace or ClusterRole? */
  allowClusterScoped: boolean;
  /** Worker-only processes serve /healthz, /readyz and /metrics on this port when set. */
  metricsPort?: number;
  /** Where the Temporal SDK runtime serves its Prometheus metrics (loopback only), e.g. 127.0.0.1:9464. */
  temporalMetricsAddress?: string;
  /** People's JWTs are accepted only when issuer, audience and JWKS URL are all set. */
  oidc?: { issuer: string; audience: string; jwksUrl: string; rolesClaim: string; nameClaim: string };
  /** The console's sign-in through the identity provider (authorization code with PKCE); needs `oidc`. */
  oidcSignIn?: { clientId: string; clientSecret?: string; authorizationUrl?: string; tokenUrl?: string; scopes: string };
  /** The FERRY_CONFIG file: per-environment gates, ordering, promotion and rollback rules; empty means ungated. */
  environments: EnvironmentsFile;
  /** The same file's clusters, reconciliation and notification settings, with secrets resolved (memory only). */
  reconcile: ReconcileConfig;
  /** Static API tokens from a file (FERRY_TOKENS_FILE), each with a name and roles. */
  tokens: NamedToken[];
  /** Events an ordering lane handles before it continues as new. */
  laneEventsPerRun: number;
  /** How often a lane checks that the release holding it still runs (a terminated one never leaves). */
  laneHolderCheck: string;
  /** How often a release held by a manual freeze looks again in case the "lifted" signal was lost. */
  freezeRecheckMs: number;
  /** The window of the DORA figures on /metrics. */
  doraWindowMs: number;
}

export class ConfigError extends Error {}

/** Reads FERRY_* and friends; a bad value stops start-up with the variable's name and the reason. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FerryConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(blankless);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  if (blankless.FERRY_RECONCILE_CONFIG) {
    // Ignoring it would silently drop cluster secrets, multi-cluster waits and notifications.
    throw new ConfigError('invalid configuration: FERRY_RECONCILE_CONFIG is no longer read; move its keys into the FERRY_CONFIG file (docs/reconciliation.md)');
  }
  let branchRestrictions: Policy[];
  try {
    branchRestrictions = parseServerRestrictions(e.FERRY_BRANCH_RESTRICTIONS);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  let chartSources: ChartSources;
  try {
    chartSources = parseChartRepositories(e.FERRY_CHART_REPOSITORIES);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  const gitopsRepoByEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(blankless)) {
    if (!k.startsWith(ENV_REPO_PREFIX) || !v) continue;
    const key = k.slice(ENV_REPO_PREFIX.length);
    if (!/^[A-Z0-9][A-Z0-9_]*$/.test(key)) throw new ConfigError(`invalid configuration: ${k}: the environment part must be upper-case letters, digits and _`);
    gitopsRepoByEnv[key] = v;
  }
  const gitopsBranchByEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(blankless)) {
    if (!k.startsWith(ENV_BRANCH_PREFIX) || !v) continue;
    const key = k.slice(ENV_BRANCH_PREFIX.length);
    if (!/^[A-Z0-9][A-Z0-9_]*$/.test(key)) throw new ConfigError(`invalid configuration: ${k}: the environment part must be upper-case letters, digits and _`);
    const bad = branchNameProblem(v);
    if (bad) throw new ConfigError(`invalid configuration: ${k}: ${bad}`);
    gitopsBranchByEnv[key] = v;
  }
  const oidcVars = [e.FERRY_OIDC_ISSUER, e.FERRY_OIDC_AUDIENCE, e.FERRY_OIDC_JWKS_URL];
  if (oidcVars.some(Boolean) && !oidcVars.every(Boolean)) {
    throw new ConfigError('invalid configuration: FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and FERRY_OIDC_JWKS_URL must be set together');
  }
  if (e.FERRY_OIDC_CLIENT_ID && !e.FERRY_OIDC_ISSUER) {
    throw new ConfigError('invalid configuration: FERRY_OIDC_CLIENT_ID needs FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and FERRY_OIDC_JWKS_URL');
  }
  let ferryConfig: ReturnType<typeof loadFerryConfigFile>;
  let tokens: NamedToken[];
  try {
    ferryConfig = loadFerryConfigFile(e.FERRY_CONFIG, env);
    tokens = loadTokensFile(e.FERRY_TOKENS_FILE);
  } catch (err) {
    if (err instanceof ConfigFileError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
  // The same setting in two places must agree: silently preferring one would write an environment to a branch its
  // Flux does not read.
  for (const [env, cfg] of Object.entries(ferryConfig.environments.environments)) {
    const branch = cfg.gitops?.branch;
    if (branch === undefined) continue;
    const key = envRepoKey(env);
    const fromVar = gitopsBranchByEnv[key];
    if (fromVar !== undefined && fromVar !== branch) {
      throw new ConfigError(`invalid configuration: ${ENV_BRANCH_PREFIX}${key} (${fromVar}) and FERRY_CONFIG environments.${env}.gitops.branch (${branch}) disagree`);
    }
    gitopsBranchByEnv[key] = branch;
  }
  return {
    port: e.FERRY_PORT,
    host: e.FERRY_HOST,
    dataDir: path.resolve(e.FERRY_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalCli: e.TEMPORAL_CLI,
    gitopsRepo: e.FERRY_GITOPS_REPO,
    gitopsBranch: e.FERRY_GITOPS_BRANCH,
    adminToken: e.FERRY_ADMIN_TOKEN,
    fluxWebhookSecret: e.FERRY_FLUX_WEBHOOK_SECRET,
    awaitFlux: e.FERRY_AWAIT_FLUX,
    gitHelper: e.FERRY_GIT_HELPER,
    gitopsDirectWrite: e.FERRY_GITOPS_DIRECT_WRITE,
    gitopsSigning: e.FERRY_GITOPS_SIGNING_KEY ? { format: e.FERRY_GITOPS_SIGNING_FORMAT, key: e.FERRY_GITOPS_SIGNING_KEY } : undefined,
    fluxTimeout: e.FERRY_FLUX_TIMEOUT,
    notifyWebhookUrl: e.FERRY_NOTIFY_WEBHOOK_URL,
    maxBody: e.FERRY_MAX_BODY,
    taskQueue: e.FERRY_TASK_QUEUE,
    writerTaskQueue: e.FERRY_WRITER_TASK_QUEUE,
    temporalUiPort: e.FERRY_TEMPORAL_UI_PORT,
    temporalUiUrl: e.FERRY_TEMPORAL_UI_URL?.replace(/\/+$/, ''),
    publicUrl: e.FERRY_PUBLIC_URL?.replace(/\/+$/, ''),
    branchRestrictions,
    mainBranch: e.FERRY_MAIN_BRANCH,
    chartRoot: e.FERRY_CHART_ROOT === undefined ? undefined : path.resolve(e.FERRY_CHART_ROOT),
    chartSources,
    gitopsRepoByEnv,
    gitopsBranchByEnv,
    gitRetryForMs: durationMs(e.FERRY_GIT_RETRY_FOR),
    roles: parseRoles(e.FERRY_ROLES),
    shutdownGrace: e.FERRY_SHUTDOWN_GRACE,
    allowClusterScoped: e.FERRY_ALLOW_CLUSTER_SCOPED,
    metricsPort: e.FERRY_METRICS_PORT,
    temporalMetricsAddress: e.FERRY_TEMPORAL_METRICS_ADDRESS,
    oidcSignIn: e.FERRY_OIDC_CLIENT_ID
      ? {
        clientId: e.FERRY_OIDC_CLIENT_ID, scopes: e.FERRY_OIDC_SCOPES,
        ...(e.FERRY_OIDC_CLIENT_SECRET ? { clientSecret: e.FERRY_OIDC_CLIENT_SECRET } : {}),
        ...(e.FERRY_OIDC_AUTHORIZATION_URL ? { authorizationUrl: e.FERRY_OIDC_AUTHORIZATION_URL } : {}),
        ...(e.FERRY_OIDC_TOKEN_URL ? { tokenUrl: e.FERRY_OIDC_TOKEN_URL } : {}),
      }
      : undefined,
    oidc: e.FERRY_OIDC_ISSUER && e.FERRY_OIDC_AUDIENCE && e.FERRY_OIDC_JWKS_URL
      ? { issuer: e.FERRY_OIDC_ISSUER, audience: e.FERRY_OIDC_AUDIENCE, jwksUrl: e.FERRY_OIDC_JWKS_URL, rolesClaim: e.FERRY_OIDC_ROLES_CLAIM, nameClaim: e.FERRY_OIDC_NAME_CLAIM }
      : undefined,
    environments: ferryConfig.environments,
    reconcile: ferryConfig.reconcile,
    tokens,
    laneEventsPerRun: e.FERRY_LANE_EVENTS_PER_RUN,
    laneHolderCheck: e.FERRY_LANE_HOLDER_CHECK,
    freezeRecheckMs: durationMs(e.FERRY_FREEZE_RECHECK),
    doraWindowMs: durationMs(e.FERRY_DORA_WINDOW),
  };
}

function parseRoles(list: string): FerryRoleName[] {
  const roles = list.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !(FERRY_ROLE_NAMES as readonly string[]).includes(r));
  if (unknown.length || roles.length === 0) {
    throw new ConfigError(`invalid configuration: FERRY_ROLES: expected a comma-separated list of ${FERRY_ROLE_NAMES.join(', ')}; got "${list}"`);
  }
  return [...new Set(roles)] as FerryRoleName[];
}
