import path from 'node:path';
import { z } from 'zod';

/** Durations as Temporal and humans write them: 90s, 15m, 2h, 1d. */
export const DurationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 15m or 2h');

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
  FERRY_FLUX_TIMEOUT: DurationSchema.default('15m'),
  FERRY_NOTIFY_WEBHOOK_URL: z.url().optional(),
  FERRY_MAX_BODY: z.string().regex(/^\d+(b|kb|mb)$/i).default('5mb'),
  FERRY_TASK_QUEUE: z.string().default('ferry-releases'),
  FERRY_WRITER_TASK_QUEUE: z.string().default('gitops-writer'),
  FERRY_TEMPORAL_UI_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FERRY_OIDC_ISSUER: z.string().min(1).optional(),
  FERRY_OIDC_AUDIENCE: z.string().min(1).optional(),
  FERRY_OIDC_JWKS_URL: z.url().optional(),
  FERRY_OIDC_ROLES_CLAIM: z.string().min(1).default('ferry_roles'),
  FERRY_OIDC_NAME_CLAIM: z.string().min(1).default('email'),
});

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
  fluxTimeout: string;
  notifyWebhookUrl?: string;
  maxBody: string;
  taskQueue: string;
  writerTaskQueue: string;
  temporalUiPort?: number;
  /** People's JWTs are accepted only when issuer, audience and JWKS URL are all set. */
  oidc?: { issuer: string; audience: string; jwksUrl: string; rolesClaim: string; nameClaim: string };
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
  const oidcVars = [e.FERRY_OIDC_ISSUER, e.FERRY_OIDC_AUDIENCE, e.FERRY_OIDC_JWKS_URL];
  if (oidcVars.some(Boolean) && !oidcVars.every(Boolean)) {
    throw new ConfigError('invalid configuration: FERRY_OIDC_ISSUER, FERRY_OIDC_AUDIENCE and FERRY_OIDC_JWKS_URL must be set together');
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
    fluxTimeout: e.FERRY_FLUX_TIMEOUT,
    notifyWebhookUrl: e.FERRY_NOTIFY_WEBHOOK_URL,
    maxBody: e.FERRY_MAX_BODY,
    taskQueue: e.FERRY_TASK_QUEUE,
    writerTaskQueue: e.FERRY_WRITER_TASK_QUEUE,
    temporalUiPort: e.FERRY_TEMPORAL_UI_PORT,
    oidc: e.FERRY_OIDC_ISSUER && e.FERRY_OIDC_AUDIENCE && e.FERRY_OIDC_JWKS_URL
      ? { issuer: e.FERRY_OIDC_ISSUER, audience: e.FERRY_OIDC_AUDIENCE, jwksUrl: e.FERRY_OIDC_JWKS_URL, rolesClaim: e.FERRY_OIDC_ROLES_CLAIM, nameClaim: e.FERRY_OIDC_NAME_CLAIM }
      : undefined,
  };
}
