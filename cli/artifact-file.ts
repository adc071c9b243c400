// Building the artifact a pipeline ships: version metadata from flags, the CI system and the git checkout (in that
// order of precedence), environment files (.ferry/*.yaml, or Gimlet's .gimlet/*.yaml as they are), variables and
// items. The JSON file is the same shape Gimlet's CLI writes, so either tool can push it.
import fs from 'node:fs';
import path from 'node:path';
import type * as Yaml from 'yaml';
import type * as Schema from '../src/artifact/schema';
import type { EnvironmentFile } from '../src/artifact/schema';
import { detectCi, type CiInfo } from './ci';
import { CliError, usageError } from './errors';
import { commitInfo, currentBranch, originRepository, tagAt } from './git';
// Loaded when first needed: the YAML parser and the schemas (zod) are most of the CLI's start-up time, and most
// commands never read an artifact file.
const yaml = (): typeof Yaml => require('yaml');
const schema = (): typeof Schema => require('../src/artifact/schema');

export const DEFAULT_ARTIFACT_FILE = 'ferry-artifact.json';
/** Where `deploy` looks for environment files when none are named. */
export const DEFAULT_ENV_DIRS = ['.ferry', '.gimlet'];

export interface ArtifactDoc {
  version: Record<string, unknown> & { sha: string; repositoryName: string };
  vars: Record<string, string>;
  items: Array<Record<string, unknown> & { name: string }>;
  environments: EnvironmentFile[];
  [extra: string]: unknown;
}

export interface VersionFlags {
  repository?: string;
  sha?: string;
  branch?: string;
  event?: string;
  'source-branch'?: string;
  'target-branch'?: string;
  tag?: string;
  url?: string;
}

export function buildVersion(cwd: string, flags: VersionFlags, env: Record<string, string | undefined> = process.env): { version: ArtifactDoc['version']; ci: CiInfo | null } {
  const ci = detectCi(env);
  const sha = flags.sha ?? ci?.sha ?? commitInfo(cwd)?.sha;
  if (!sha) throw new CliError(`cannot tell the commit: ${cwd} is not a git checkout and no CI variables name one (pass --sha)`);
  // The commit's own metadata; CI checkouts are often shallow, so fall back to HEAD when the PR head is absent.
  const commit = commitInfo(cwd, sha) ?? commitInfo(cwd);
  const origin = originRepository(cwd);
  const event = flags.event ?? ci?.event ?? (tagAt(cwd) && !currentBranch(cwd) ? 'tag' : 'push');
  if (!['push', 'tag', 'pr'].includes(event)) throw usageError(`--event must be push, tag or pr, not "${event}"`);
  const repositoryName = flags.repository ?? ci?.repositoryName ?? origin?.name ?? path.basename(path.resolve(cwd));
  const tag = flags.tag ?? ci?.tag ?? (event === 'tag' ? tagAt(cwd) ?? undefined : undefined);
  const branch = flags.branch ?? ci?.branch ?? (event === 'tag' ? '' : currentBranch(cwd) ?? '');
  const version: ArtifactDoc['version'] = {
    repositoryName,
    sha,
    branch,
    event,
    ...defined({
      sourceBranch: flags['source-branch'] ?? ci?.sourceBranch,
      targetBranch: flags['target-branch'] ?? ci?.targetBranch,
      tag,
      authorName: commit?.authorName,
      authorEmail: commit?.authorEmail,
      committerName: commit?.committerName,
      committerEmail: commit?.committerEmail,
      message: commit?.message,
      url: flags.url ?? ci?.url ?? (origin?.web ? `${origin.web}/commit/${sha}` : undefined),
    }),
  };
  // Unix seconds, as Gimlet writes it: Gimlet's clients cannot decode anything else from `GET /api/artifacts`.
  if (commit?.created) version.created = Math.floor(Date.parse(commit.created) / 1000);
  if (event === 'pr' && !version.targetBranch) {
    process.stderr.write('ferry: warning: pull request build without a target branch (pass --target-branch)\n');
  }
  const checked = schema().VersionSchema.safeParse(version);
  if (!checked.success) throw new CliError(`bad version metadata: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { version, ci };
}

function defined(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
}

export function newArtifact(version: ArtifactDoc['version'], ci: CiInfo | null): ArtifactDoc {
  const doc: ArtifactDoc = { version, vars: {}, items: [], environments: [] };
  if (ci) {
    doc.vars = { ...ci.vars, CI_PROVIDER: ci.provider, ...defined({ ACTOR: ci.actor, JOB_URL: ci.jobUrl, PR_NUMBER: ci.prNumber }) };
    doc.items.push({ name: 'ci', provider: ci.provider, ...defined({ jobUrl: ci.jobUrl, actor: ci.actor }) });
  }
  return doc;
}

/** `--env-file` values: files (several YAML documents each allowed) or folders of *.yaml / *.yml. */
export function readEnvFiles(paths: string[], cwd: string): EnvironmentFile[] {
  const files: string[] = [];
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      throw new CliError(`environment file ${p} does not exist`);
    }
    if (stat.isDirectory()) {
      files.push(...fs.readdirSync(abs).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(abs, f)));
    } else files.push(abs);
  }
  const out: EnvironmentFile[] = [];
  for (const file of files) {
    const shown = path.relative(cwd, file) || file;
    const docs = yaml().parseAllDocuments(fs.readFileSync(file, 'utf8'));
    for (const [i, d] of docs.entries()) {
      if (d.errors.length) throw new CliError(`${shown}: not valid YAML: ${d.errors[0].message.split('\n')[0]}`);
      const value = d.toJS();
      if (value === null || value === undefined) continue;
      const parsed = schema().EnvironmentFileSchema.safeParse(value);
      if (!parsed.success) {
        const where = docs.length > 1 ? ` (document ${i + 1})` : '';
        throw new CliError(`${shown}${where}: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(file)'}: ${x.message}`).join('; ')}`);
      }
      out.push(value as EnvironmentFile);
    }
  }
  return out;
}

export function defaultEnvDir(cwd: string): string | null {
  for (const dir of DEFAULT_ENV_DIRS) {
    const abs = path.join(cwd, dir);
    if (fs.existsSync(abs) && fs.statSync(abs).isDirectory() && fs.readdirSync(abs).some((f) => /\.ya?ml$/.test(f))) return dir;
  }
  return null;
}

const KEY_VALUE = /^([^=]+)=(.*)$/s;
export function keyValue(flag: string, text: string): [string, string] {
  const m = KEY_VALUE.exec(text);
  if (!m) throw usageError(`--${flag} takes key=value, got "${text}"`);
  return [m[1].trim(), m[2]];
}

export interface AddFlags {
  'env-file'?: string[];
  var?: string[];
  field?: string[];
  item?: string[];
}

/** Applies `artifact add` flags. An environment file for an app/env already present replaces the old one. */
export function addToArtifact(doc: ArtifactDoc, flags: AddFlags, cwd: string): { envs: number; vars: number; items: number } {
  const envs = readEnvFiles(flags['env-file'] ?? [], cwd);
  for (const e of envs) {
    doc.environments = doc.environments.filter((x) => !(x.app === e.app && x.env === e.env));
    doc.environments.push(e);
  }
  for (const v of flags.var ?? []) {
    const [k, val] = keyValue('var', v);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw usageError(`--var ${k}: variable names are letters, digits and _, not starting with a digit`);
    doc.vars[k] = val;
  }
  let items = 0;
  if (flags.field?.length) {
    const item: Record<string, unknown> = {};
    for (const f of flags.field) {
      const [k, val] = keyValue('field', f);
      item[k] = val;
    }
    doc.items.push({ name: typeof item.name === 'string' ? item.name : `item-${doc.items.length + 1}`, ...item });
    items += 1;
  }
  for (const it of flags.item ?? []) {
    const [name, value] = keyValue('item', it);
    doc.items = doc.items.filter((x) => x.name !== name);
    doc.items.push({ name, value, ...imageRef(value) });
    items += 1;
  }
  return { envs: envs.length, vars: flags.var?.length ?? 0, items };
}

/** `registry.example.com:5000/acme/shop:1.2` → repository and tag, when the value looks like an image. */
export function imageRef(value: string): { repository?: string; tag?: string } {
  const at = value.lastIndexOf(':');
  if (at <= 0 || at < value.lastIndexOf('/') || /\s/.test(value)) return {};
  return { repository: value.slice(0, at), tag: value.slice(at + 1) };
}

export function readArtifactFile(file: string, cwd: string): ArtifactDoc {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch {
    throw new CliError(`no artifact file at ${file}: run "ferry artifact create" first`);
  }
  try {
    const doc = JSON.parse(text) as ArtifactDoc;
    doc.vars ??= {};
    doc.items ??= [];
    doc.environments ??= [];
    return doc;
  } catch {
    throw new CliError(`${file} is not valid JSON`);
  }
}

export function writeArtifactFile(file: string, cwd: string, doc: ArtifactDoc): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (file === '-') process.stdout.write(text);
  else fs.writeFileSync(path.resolve(cwd, file), text);
}
