import path from 'node:path';
import { z } from 'zod';
import { parseServerRestrictions, type Policy } from './policy/policies';
import { ConfigFileError, loadFerryConfigFile, loadTokensFile, type NamedToken } from './config-files';
import type { EnvironmentsFile } from './gates/environments';
import type { ReconcileConfig } from './reconcile/config';
import { DurationSchema, durationMs } from './duration';

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
  FERRY_GITOPS_BRANCH: z.string().regex(/^[A-Za-z0-9._/-]+$/).default('main'),
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
  FERRY_BRANCH_RESTRICTIONS: z.string().optional(),
  FERRY_MAIN_BRANCH: z.string().regex(/^[^\s]{1,255}$/).default('main'),
  FERRY_CHART_ROOT: z.string().optional(),
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
  FERRY_CONFIG: z.string().optional(),
  FERRY_TOKENS_FILE: z.string().optional(),
  FERRY_LANE_EVENTS_PER_RUN: z.coerce.number().int().min(1).max(100_000).default(1000),
  FERRY_LANE_HOLDER_CHECK: DurationSchema.default('10m'),
});

export const FERRY_ROLE_NAMES = ['api', 'release-worker', 'writer'] as const;
export type FerryRoleName = (typeof FERRY_ROLE_NAMES)[number];

/** FERRY_GITOPS_REPO_<ENV>: a repository of its own for one environment (key = env upper-cased, `-` → `_`). */
const ENV_REPO_PREFIX = 'FERRY_GITOPS_REPO_';


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
  /** Server-wide branch restrictions (FERRY_BRANCH_RESTRICTIONS): they win over app-level ones. */
  branchRestrictions: Policy[];
  /** The branch that never gets preview environments. */
  mainBranch: string;
  /** Directory that local charts (`chart.path`) must lie below; unset refuses local charts. */
  chartRoot?: string;
  /** env key (upper-case, `_` for `-`) → repository, from FERRY_GITOPS_REPO_<ENV> */
  gitopsRepoByEnv: Record<string, string>;
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
  const gitopsRepoByEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(blankless)) {
    if (!k.startsWith(ENV_REPO_PREFIX) || !v) continue;
    const key = k.slice(ENV_REPO_PREFIX.length);
    if (!/^[A-Z0-9][A-Z0-9_]*$/.test(key)) throw new ConfigError(`invalid configuration: ${k}: the environment part must be upper-case letters, digits and _`);
    gitopsRepoByEnv[key] = v;
  }
  const oidcVars = [e.FERRY_OIDC_ISSUER, e.FERRY_OIDC_AUDIENCE, e.FERRY_OIDC_JWKS_URL];
  if (oidcVars.some(Boolean) && !oidcVars.every(Boolean)) {
    throw new ConfigError('invalid configuration: FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and FERRY_OIDC_JWKS_URL must be set together');
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
    branchRestrictions,
    mainBranch: e.FERRY_MAIN_BRANCH,
    chartRoot: e.FERRY_CHART_ROOT === undefined ? undefined : path.resolve(e.FERRY_CHART_ROOT),
    gitopsRepoByEnv,
    gitRetryForMs: durationMs(e.FERRY_GIT_RETRY_FOR),
    roles: parseRoles(e.FERRY_ROLES),
    shutdownGrace: e.FERRY_SHUTDOWN_GRACE,
    allowClusterScoped: e.FERRY_ALLOW_CLUSTER_SCOPED,
    metricsPort: e.FERRY_METRICS_PORT,
    temporalMetricsAddress: e.FERRY_TEMPORAL_METRICS_ADDRESS,
    oidc: e.FERRY_OIDC_ISSUER && e.FERRY_OIDC_AUDIENCE && e.FERRY_OIDC_JWKS_URL
      ? { issuer: e.FERRY_OIDC_ISSUER, audience: e.FERRY_OIDC_AUDIENCE, jwksUrl: e.FERRY_OIDC_JWKS_URL, rolesClaim: e.FERRY_OIDC_ROLES_CLAIM, nameClaim: e.FERRY_OIDC_NAME_CLAIM }
      : undefined,
    environments: ferryConfig.environments,
    reconcile: ferryConfig.reconcile,
    tokens,
    laneEventsPerRun: e.FERRY_LANE_EVENTS_PER_RUN,
    laneHolderCheck: e.FERRY_LANE_HOLDER_CHECK,
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
