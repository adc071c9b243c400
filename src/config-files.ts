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

export class ConfigFileError extends Error {}

export function readConfigFile<S extends ZodType>(variable: string, file: string, schema: S): z.infer<S> {
  const where = `${variable} (${path.resolve(file)})`;
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

export const NO_ENVIRONMENTS: EnvironmentsFile = { environments: {} };

export function loadEnvironmentsFile(file: string | undefined): EnvironmentsFile {
  return file ? readConfigFile('FERRY_CONFIG', file, EnvironmentsFileSchema) : NO_ENVIRONMENTS;
}

/**
 * Static API tokens kept in a file (FERRY_TOKENS_FILE), for deployments that manage people's tokens as
 * configuration rather than through the token API. Each names the principal that approvals, four-eyes checks and
 * commit trailers see, and the roles it holds (least privilege by default: ci).
 */
const TokensFileSchema = z.strictObject({
  tokens: z
    .array(z.strictObject({
      name: PrincipalNameSchema.refine((n) => n !== 'admin', { error: '"admin" is the admin token\'s name' }),
      token: z.string().min(16, 'must be at least 16 characters'),
      roles: z.array(RoleSchema).min(1).default(['ci']),
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
export type NamedToken = { name: string; token: string; roles: Role[] };

export function loadTokensFile(file: string | undefined): NamedToken[] {
  return file ? readConfigFile('FERRY_TOKENS_FILE', file, TokensFileSchema).tokens : [];
}
