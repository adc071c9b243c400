import fs from 'node:fs';
import path from 'node:path';
import {
  addToArtifact, type ArtifactDoc, buildVersion, DEFAULT_ARTIFACT_FILE, defaultEnvDir, newArtifact, readArtifactFile, writeArtifactFile,
} from '../artifact-file';
import type { CommandSpec, Ctx, OptionSpec } from '../command';
import { short } from '../output';

const FILE: Record<string, OptionSpec> = {
  file: { type: 'string', short: 'f', description: `artifact file (FERRY_ARTIFACT_FILE; default ${DEFAULT_ARTIFACT_FILE}; "-" for stdout)`, placeholder: 'path' },
};

export const ADD_OPTIONS: Record<string, OptionSpec> = {
  'env-file': { type: 'string', multiple: true, description: 'environment file or folder (.ferry/*.yaml, Gimlet .gimlet/*.yaml); repeatable', placeholder: 'path' },
  var: { type: 'string', multiple: true, description: 'template variable KEY=value; repeatable', placeholder: 'k=v' },
  field: { type: 'string', multiple: true, description: 'a field of one new item (name=CI url=...); repeatable', placeholder: 'k=v' },
  item: { type: 'string', multiple: true, description: 'item NAME=value, e.g. image=registry/app:tag; repeatable', placeholder: 'name=value' },
};

export const VERSION_OPTIONS: Record<string, OptionSpec> = {
  repository: { type: 'string', description: 'owner/name (default: from CI, else the origin remote)', placeholder: 'owner/name' },
  sha: { type: 'string', description: 'commit (default: from CI, else HEAD)', placeholder: 'sha' },
  branch: { type: 'string', description: 'branch (default: from CI, else the checked-out branch)', placeholder: 'branch' },
  event: { type: 'string', description: 'push, tag or pr (default: from CI)', placeholder: 'event', choices: ['push', 'tag', 'pr'] },
  'source-branch': { type: 'string', description: 'pull request source branch', placeholder: 'branch' },
  'target-branch': { type: 'string', description: 'pull request target branch', placeholder: 'branch' },
  tag: { type: 'string', description: 'tag name for tag builds', placeholder: 'tag' },
  url: { type: 'string', description: 'link to the commit or pull request', placeholder: 'url' },
};

export const artifactFile = (ctx: Ctx): string => ctx.opts.file ?? ctx.env.FERRY_ARTIFACT_FILE ?? DEFAULT_ARTIFACT_FILE;

function summary(doc: ArtifactDoc): string {
  const v = doc.version;
  const where = v.event === 'pr' ? `pr ${v.sourceBranch ?? v.branch} → ${v.targetBranch ?? '?'}` : v.event === 'tag' ? `tag ${v.tag}` : `push on ${v.branch || '(no branch)'}`;
  const envs = doc.environments.map((e) => `${e.app}/${e.env}`).join(', ') || 'none';
  return `${v.repositoryName} ${short(v.sha)} (${where}); environments: ${envs}`;
}

/** A fresh artifact from the checkout, CI and flags; used by `artifact create` and by `deploy` without a file. */
export function createArtifact(ctx: Ctx, opts: { defaultEnvFiles?: boolean } = {}): ArtifactDoc {
  const { version, ci } = buildVersion(ctx.cwd, ctx.opts, ctx.env);
  const doc = newArtifact(version, ci);
  const envFiles: string[] = ctx.opts['env-file'] ?? [];
  if (opts.defaultEnvFiles && envFiles.length === 0) {
    const dir = defaultEnvDir(ctx.cwd);
    if (dir) envFiles.push(dir);
  }
  addToArtifact(doc, { ...ctx.opts, 'env-file': envFiles }, ctx.cwd);
  return doc;
}

export async function pushArtifact(ctx: Ctx, doc: ArtifactDoc): Promise<{ id: string; [k: string]: unknown }> {
  // 201 new, 200 identical re-push: both fine; the body carries the id either way.
  return ctx.client().post('/api/artifacts', doc);
}

export const artifactCommands: CommandSpec[] = [
  {
    name: 'artifact create',
    summary: 'Write an artifact file from this checkout, the CI variables and flags',
    options: { ...FILE, ...VERSION_OPTIONS, ...ADD_OPTIONS },
    examples: ['ferry artifact create --env-file .ferry/ --item image=registry.example.com/shop:$GIT_SHA'],
    async run(ctx) {
      const doc = createArtifact(ctx);
      const file = artifactFile(ctx);
      if (file !== '-') writeArtifactFile(file, ctx.cwd, doc);
      if (ctx.json) ctx.out.data(doc);
      else if (file === '-') writeArtifactFile(file, ctx.cwd, doc);
      else ctx.out.line(`wrote ${file}: ${summary(doc)}`);
    },
  },
  {
    name: 'artifact add',
    summary: 'Add environment files, variables and items to the artifact file',
    options: { ...FILE, ...ADD_OPTIONS },
    examples: ['ferry artifact add --env-file .ferry/staging.yaml --var IMAGE=registry.example.com/shop --item image=registry.example.com/shop:1.4.2'],
    async run(ctx) {
      const file = artifactFile(ctx);
      const doc = readArtifactFile(file, ctx.cwd);
      const added = addToArtifact(doc, ctx.opts, ctx.cwd);
      writeArtifactFile(file, ctx.cwd, doc);
      if (ctx.json) ctx.out.data(doc);
      else ctx.out.line(`updated ${file}: +${added.envs} environment file(s), +${added.vars} variable(s), +${added.items} item(s)`);
    },
  },
  {
    name: 'artifact push',
    summary: 'Store the artifact file in Ferry (idempotent: pushing it again changes nothing)',
    options: { ...FILE },
    async run(ctx) {
      const file = artifactFile(ctx);
      const doc = readArtifactFile(file, ctx.cwd);
      const res = await pushArtifact(ctx, doc);
      if (ctx.json) ctx.out.data(res);
      else ctx.out.line(`pushed artifact ${res.id}: ${summary(res as unknown as ArtifactDoc)}`);
    },
  },
];

export const artifactFileExists = (ctx: Ctx) => fs.existsSync(path.resolve(ctx.cwd, artifactFile(ctx)));
