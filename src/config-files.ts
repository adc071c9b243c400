/**
 * Configuration files named by environment variables (FERRY_CONFIG, FERRY_TOKENS_FILE). Read once at start-up;
 * a missing, unparsable or invalid file stops start-up with the variable, the path and every failing field.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z, type ZodType } from 'zod';
import { type EnvironmentsFile, EnvironmentsFileSchema, PrincipalNameSchema } from './gates/environments';
import { type Role, RoleSchema } from './auth/roles';
import { ScopeListSchema } from './auth/scopes';
import { zName } from './names';
import { type ReconcileConfig, ReconcileConfigError, resolveReconcileConfig } from './reconcile/config';

export class ConfigFileError extends Error {}

const fileLabel = (variable: string, file: string) => `${variable} (${path.resolve(file)})`;

export function readConfigFile<S extends ZodType>(variable: string, file: string, schema: S): z.infer<S> {
  const where = fileLabel(variable, file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    // YAML is a superset of JSON, so either form is accepted; duplicate keys are errors.
    raw = YAML.parse(text, { uniqueKeys: true }) ?? {};
  } catch (err) {
    throw new ConfigFileError(`${where}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`);
    throw new ConfigFileError(`${where}: ${lines.join('; ')}`);
  }
  return parsed.data;
}

export const NO_ENVIRONMENTS: EnvironmentsFile = EnvironmentsFileSchema.parse({});

/**
 * FERRY_CONFIG: gates, promotion and rollback rules (`environments`) and, with their secrets resolved from `env`,
 * clusters, reconciliation and notifications (`reconcile`); both views share one parsed file.
 */
export function loadFerryConfigFile(file: string | undefined, env: NodeJS.ProcessEnv): { environments: EnvironmentsFile; reconcile: ReconcileConfig } {
  const environments = file ? readConfigFile('FERRY_CONFIG', file, EnvironmentsFileSchema) : NO_ENVIRONMENTS;
  try {
    return { environments, reconcile: resolveReconcileConfig(environments, env, file ? path.dirname(path.resolve(file)) : process.cwd()) };
  } catch (err) {
    if (err instanceof ReconcileConfigError && file) throw new ConfigFileError(`${fileLabel('FERRY_CONFIG', file)}: ${err.message}`);
    throw err;
  }
}

/**
 * Static API tokens kept in a file (FERRY_TOKENS_FILE), for deployments that manage people's tokens as
 * configuration rather than through the token API. Each names the principal that approvals, four-eyes checks and
 * commit trailers see, and the roles it holds (least privilege by default: ci), optionally limited to environments,
 * repositories and apps like a database token.
 */
const TokensFileSchema = z.strictObject({
  tokens: z
    .array(z.strictObject({
      name: PrincipalNameSchema.refine((n) => n !== 'admin', { error: '"admin" is the admin token\'s name' }),
      token: z.string().min(16, 'must be at least 16 characters'),
      roles: z.array(RoleSchema).min(1).default(['ci']),
      envs: z.array(zName('env')).min(1).optional(),
      repos: ScopeListSchema.optional(),
      apps: ScopeListSchema.optional(),
    }))
    .default([]),
}).superRefine((f, ctx) => {
  const names = new Set<string>();
  const tokens = new Set<string>();
  f.tokens.forEach((t, i) => {
    if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `duplicate name "${t.name}"` });
    if (tokens.has(t.token)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'token'], message: 'duplicate token' });
    names.add(t.name);
    tokens.add(t.token);
  });
});
export type NamedToken = { name: string; token: string; roles: Role[]; envs?: string[]; repos?: string[]; apps?: string[] };

export function loadTokensFile(file: string | undefined): NamedToken[] {
  return file ? readConfigFile('FERRY_TOKENS_FILE', file, TokensFileSchema).tokens : [];
}
