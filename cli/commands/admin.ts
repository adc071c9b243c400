import fs from 'node:fs';
import path from 'node:path';
import type * as Yaml from 'yaml';
import type { CommandSpec } from '../command';
import { CliError, usageError } from '../errors';
import { ago, table } from '../output';

interface Token {
  id: string;
  name: string;
  owner: string;
  role: string;
  envs: string[] | null;
  repos?: string[] | null;
  apps?: string[] | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  token?: string;
}

/** Policies from a YAML or JSON file: one policy, a list, several YAML documents, or `{items: [...]}`. */
function readPolicies(file: string, cwd: string): Array<Record<string, unknown>> {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(path.resolve(cwd, file), 'utf8');
  } catch {
    throw new CliError(`cannot read ${file}`);
  }
  const out: Array<Record<string, unknown>> = [];
  // Loaded here, not at start-up: only this command parses YAML (see artifact-file.ts).
  const { parseAllDocuments } = require('yaml') as typeof Yaml;
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) throw new CliError(`${file}: not valid YAML/JSON: ${d.errors[0].message.split('\n')[0]}`);
    const v = d.toJS();
    const list = Array.isArray(v) ? v : v && Array.isArray(v.items) ? v.items : v ? [v] : [];
    for (const p of list) {
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new CliError(`${file}: every policy must be an object with kind, app and env`);
      out.push(p);
    }
  }
  if (out.length === 0) throw new CliError(`${file} holds no policy`);
  return out;
}

const describePolicy = (p: Record<string, unknown>) =>
  Object.entries(p).filter(([k, v]) => v !== null && v !== undefined && !['id', 'kind', 'app', 'env', 'source', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');

export const adminCommands: CommandSpec[] = [
  {
    name: 'policy list',
    summary: 'Release policies (auto-release, branch restrictions, gates)',
    options: { app: { type: 'string', short: 'a', description: 'only this app', placeholder: 'app' } },
    async run(ctx) {
      const res = await ctx.client().get<{ items: Array<Record<string, unknown>> }>('/api/policies', { app: ctx.opts.app });
      if (ctx.json) return ctx.out.data(res);
      ctx.out.line(table(['ID', 'KIND', 'APP', 'ENV', 'SETTINGS'], res.items.map((p) => [String(p.id), String(p.kind), String(p.app), String(p.env), describePolicy(p)])));
    },
  },
  {
    name: 'policy apply',
    summary: 'Create or update policies from a YAML/JSON file (admin)',
    options: { file: { type: 'string', short: 'f', description: 'policy file ("-" for stdin)', placeholder: 'path' } },
    examples: ['ferry policy apply -f policies/shop.yaml'],
    async run(ctx) {
      if (!ctx.opts.file) throw usageError('missing --file');
      const stored = [];
      for (const p of readPolicies(ctx.opts.file, ctx.cwd)) stored.push(await ctx.client().put<Record<string, unknown>>('/api/policies', p));
      if (ctx.json) return ctx.out.data({ items: stored });
      for (const p of stored) ctx.out.line(`applied ${p.kind} ${p.app}/${p.env} (${p.id})`);
    },
  },
  {
    name: 'policy delete',
    summary: 'Delete policies by id (admin)',
    args: '<policy-id>...',
    argsCount: [1, 100],
    options: {},
    async run(ctx) {
      for (const id of ctx.args) await ctx.client().delete(`/api/policies/${encodeURIComponent(id)}`);
      if (ctx.json) return ctx.out.data({ deleted: ctx.args });
      ctx.out.line(`deleted ${ctx.args.join(', ')}`);
    },
  },
  {
    name: 'flux setup',
    summary: "The Secret, Provider, Alert and per-environment Kustomizations a cluster's Flux needs to report to Ferry (apply them with kubectl); `default` is the single-secret setup",
    args: '<cluster>',
    argsCount: [1, 1],
    options: {
      env: { type: 'string', short: 'e', multiple: true, description: 'the environments this cluster applies (repeat or comma-separate; default: those naming it)', placeholder: 'env' },
    },
    examples: ['ferry flux setup eu | kubectl apply -f -', 'ferry flux setup default --env dev,staging'],
    async run(ctx) {
      const cluster = ctx.args[0];
      const envs = (ctx.opts.env as string[] | undefined)?.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
      const query = envs?.length ? `?env=${envs.map(encodeURIComponent).join(',')}` : '';
      const manifests = await ctx.client().get<string>(`/api/flux/manifests/${encodeURIComponent(cluster)}${query}`);
      if (ctx.json) return ctx.out.data({ cluster, manifests });
      process.stdout.write(manifests);
    },
  },
  {
    name: 'token create',
    summary: 'Create an API token (admin); the secret is printed once',
    options: {
      name: { type: 'string', description: 'unique name, e.g. shop-ci', placeholder: 'name' },
      role: { type: 'string', description: 'ci, deployer, approver or admin', placeholder: 'role', choices: ['ci', 'deployer', 'approver', 'admin'] },
      owner: { type: 'string', description: 'person or bot it acts for (default: you)', placeholder: 'owner' },
      env: { type: 'string', short: 'e', multiple: true, description: 'limit to these environments (repeat or comma-separate)', placeholder: 'env' },
      repo: { type: 'string', multiple: true, description: 'limit to artifacts of these repositories, e.g. acme/* (repeat or comma-separate)', placeholder: 'repo' },
      app: { type: 'string', multiple: true, description: 'limit to these apps, e.g. shop-* (repeat or comma-separate)', placeholder: 'app' },
      expires: { type: 'string', description: 'lifetime, e.g. 90d, 12h (default: no expiry)', placeholder: 'duration' },
    },
    examples: ['ferry token create --name shop-ci --role ci --env staging --repo acme/shop', 'ferry token create --name ada --role deployer --owner ada@example.com --env staging,prod --expires 90d'],
    async run(ctx) {
      if (!ctx.opts.name || !ctx.opts.role) throw usageError('missing --name or --role');
      const list = (v: unknown) => (v as string[] | undefined)?.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
      const [envs, repos, apps] = [list(ctx.opts.env), list(ctx.opts.repo), list(ctx.opts.app)];
      const t = await ctx.client().post<Token>('/api/tokens', {
        name: ctx.opts.name, role: ctx.opts.role, ...(ctx.opts.owner ? { owner: ctx.opts.owner } : {}), ...(envs?.length ? { envs } : {}),
        ...(repos?.length ? { repos } : {}), ...(apps?.length ? { apps } : {}),
        ...(ctx.opts.expires ? { expiresIn: ctx.opts.expires } : {}),
      });
      if (ctx.json) return ctx.out.data(t);
      ctx.out.line(`token ${t.name} (${t.id}): role ${t.role}${t.envs ? ` in ${t.envs.join(', ')}` : ''}${t.repos ? `, repositories ${t.repos.join(', ')}` : ''}${t.apps ? `, apps ${t.apps.join(', ')}` : ''}, owner ${t.owner}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}`);
      ctx.out.line(`secret (shown once): ${t.token}`);
    },
  },
  {
    name: 'token list',
    summary: 'API tokens (admin); never their secrets',
    options: { all: { type: 'boolean', description: 'include revoked tokens' } },
    async run(ctx) {
      const res = await ctx.client().get<{ items: Token[] }>('/api/tokens', { all: ctx.opts.all ? 'true' : undefined });
      if (ctx.json) return ctx.out.data(res);
      ctx.out.line(table(['ID', 'NAME', 'ROLE', 'ENVS', 'OWNER', 'EXPIRES', 'LAST USED', 'STATE'], res.items.map((t) => [
        t.id, t.name, t.role, t.envs ? t.envs.join(',') : 'all', t.owner, t.expiresAt ? t.expiresAt.slice(0, 10) : 'never', ago(t.lastUsedAt) ?? 'never',
        t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? 'expired' : 'live',
      ])));
    },
  },
  {
    name: 'token revoke',
    summary: 'Revoke a token by id or name (admin); takes effect at once',
    args: '<id|name>',
    argsCount: [1, 1],
    options: {},
    async run(ctx) {
      await ctx.client().delete(`/api/tokens/${encodeURIComponent(ctx.args[0])}`);
      if (ctx.json) return ctx.out.data({ revoked: ctx.args[0] });
      ctx.out.line(`revoked ${ctx.args[0]}`);
    },
  },
];
