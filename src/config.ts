import path from 'node:path';
import { z } from 'zod';
import { ConfigFileError, loadEnvironmentsFile, loadTokensFile, type NamedToken } from './config-files';
import type { EnvironmentsFile } from './gates/environments';

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
  FERRY_CONFIG: z.string().optional(),
  FERRY_TOKENS_FILE: z.string().optional(),
  FERRY_LANE_EVENTS_PER_RUN: z.coerce.number().int().min(1).max(100_000).default(1000),
  FERRY_LANE_HOLDER_CHECK: DurationSchema.default('10m'),
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
  /** Per-environment gates, ordering, promotion and rollback rules (FERRY_CONFIG); empty means ungated. */
  environments: EnvironmentsFile;
  /** Extra named API tokens (FERRY_TOKENS_FILE); a stopgap until tokens with roles exist. */
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
  let environments: EnvironmentsFile;
  let tokens: NamedToken[];
  try {
    environments = loadEnvironmentsFile(e.FERRY_CONFIG);
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
    fluxTimeout: e.FERRY_FLUX_TIMEOUT,
    notifyWebhookUrl: e.FERRY_NOTIFY_WEBHOOK_URL,
    maxBody: e.FERRY_MAX_BODY,
    taskQueue: e.FERRY_TASK_QUEUE,
    writerTaskQueue: e.FERRY_WRITER_TASK_QUEUE,
    temporalUiPort: e.FERRY_TEMPORAL_UI_PORT,
    environments,
    tokens,
    laneEventsPerRun: e.FERRY_LANE_EVENTS_PER_RUN,
    laneHolderCheck: e.FERRY_LANE_HOLDER_CHECK,
  };
}
