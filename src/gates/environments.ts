/**
 * Server-side configuration (the file named by FERRY_CONFIG): per environment, approvals, freeze windows, ordering,
 * the promotion chain, rollback rules and the GitOps layout (per-app Flux Kustomizations), plus the clusters,
 * automatic rollback and notifications that src/reconcile/config.ts defines and checks. Apps cannot loosen any of
 * it from their own files.
 *
 * Every object is strict: a misspelt key ("aproval") would otherwise silently leave an environment ungated. New
 * per-environment keys are added to EnvironmentSchema.
 */
import { z } from 'zod';
import { type FluxKustomizationConfig, FluxKustomizationSchema } from '../flux/kustomization';
import { EnvGitopsSchema } from '../gitops/branch-name';
import { validateName, zName } from '../names';
import { EnvReconcileShape, reconcileIssues, ReconcileTopLevelShape } from '../reconcile/config';
import { clockSeconds, isValidTimeZone, parseInstant, weekSeconds } from './freeze';
import type { AutoPromotion, FreezeWindow, Ordering, ReleaseGates } from './types';

/** Durations as Temporal takes them: 90s, 15m, 2h, 1d. */
const Duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 15m, 2h or 3d');

/** Names of API principals (token names); they appear in commit trailers and decisions, so one line, no spaces. */
export const PrincipalNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/, 'must be a principal name: letters, digits and . _ @ : - (no spaces)');

const TimeZone = z.string().refine(isValidTimeZone, { error: 'must be an IANA time zone such as Europe/Berlin or UTC' });

const ApprovalsSchema = z
  .strictObject({
    required: z.number().int().min(1).max(20).default(1),
    approvers: z.array(PrincipalNameSchema).min(1, 'name at least one approver'),
    fourEyes: z.boolean().default(true),
    timeout: Duration.default('72h'),
  })
  .superRefine((a, ctx) => {
    const distinct = new Set(a.approvers).size;
    if (a.required > distinct) ctx.addIssue({ code: 'custom', path: ['required'], message: `needs ${a.required} distinct approvers but only ${distinct} are listed` });
  });

const check = (fn: (v: string) => unknown) => (v: string) => {
  try {
    fn(v);
    return true;
  } catch {
    return false;
  }
};
const WeekPoint = z.string().refine(check(weekSeconds), { error: 'must be a weekday and time such as "fri 16:00"' });
const Clock = z.string().refine(check(clockSeconds), { error: 'must be a time of day such as "08:00"' });
const DateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i, 'must be an ISO date-time such as 2026-12-20T00:00 or 2026-12-20T00:00:00Z');

const FreezeSchema = z
  .strictObject({
    name: z.string().min(1).max(100).optional(),
    timeZone: TimeZone.default('UTC'),
    weekly: z.strictObject({ from: WeekPoint, to: WeekPoint }).optional(),
    daily: z.strictObject({ from: Clock, to: Clock }).optional(),
    from: DateTime.optional(),
    to: DateTime.optional(),
  })
  .superRefine((f, ctx) => {
    const forms = [f.weekly, f.daily, f.from ?? f.to].filter((x) => x !== undefined).length;
    if (forms !== 1) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of weekly {from, to}, daily {from, to}, or a one-off from/to' });
      return;
    }
    // (Malformed times were reported by the field schemas; compare only well-formed ones.)
    const same = (parse: (v: string) => number, a: string, b: string) => check(parse)(a) && check(parse)(b) && parse(a) === parse(b);
    if (f.weekly && same(weekSeconds, f.weekly.from, f.weekly.to)) ctx.addIssue({ code: 'custom', path: ['weekly'], message: 'from and to must differ' });
    if (f.daily && same(clockSeconds, f.daily.from, f.daily.to)) ctx.addIssue({ code: 'custom', path: ['daily'], message: 'from and to must differ' });
    if (f.from !== undefined || f.to !== undefined) {
      if (f.from === undefined || f.to === undefined) {
        ctx.addIssue({ code: 'custom', path: [f.from === undefined ? 'from' : 'to'], message: 'a one-off freeze needs both from and to' });
        return;
      }
      let start: number, end: number;
      try {
        start = parseInstant(f.from, f.timeZone);
        end = parseInstant(f.to, f.timeZone);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['from'], message: (err as Error).message });
        return;
      }
      if (!(end > start)) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    }
  });

const GateShape = {
  approvals: ApprovalsSchema.optional(),
  freezes: z.array(FreezeSchema).max(100).default([]),
  /** Who may release through a freeze as a hotfix. */
  hotfix: z.strictObject({ allowed: z.array(PrincipalNameSchema).min(1) }).optional(),
  ordering: z.enum(['queue', 'supersede']).default('queue'),
  promotion: z
    .strictObject({
      from: zName('env'),
      auto: z.boolean().default(false),
      soak: Duration.optional(),
    })
    .optional(),
  rollback: z.strictObject({ bypassApprovals: z.boolean().default(false) }).default({ bypassApprovals: false }),
  /** Per-app Flux Kustomizations under `<env>/flux/` (src/flux/kustomization.ts). */
  fluxKustomization: FluxKustomizationSchema.optional(),
};

/** Where the environment's manifests live; `branch` is FERRY_GITOPS_BRANCH_<ENV>'s twin (src/gitops/repos.ts). */
const LayoutShape = { gitops: EnvGitopsSchema.optional() };

export const EnvironmentSchema = z.strictObject({ ...GateShape, ...EnvReconcileShape, ...LayoutShape });
export type EnvironmentConfig = z.infer<typeof EnvironmentSchema>;
export type GateConfig = Pick<EnvironmentConfig, keyof typeof GateShape>;

export const EnvironmentsFileSchema = z
  .strictObject({
    ...ReconcileTopLevelShape,
    environments: z.record(z.string(), EnvironmentSchema).default({}),
  })
  .superRefine((file, ctx) => {
    for (const issue of reconcileIssues(file)) ctx.addIssue({ code: 'custom', ...issue });
    for (const [name, env] of Object.entries(file.environments)) {
      const bad = validateName('env', name);
      if (bad) ctx.addIssue({ code: 'custom', path: ['environments', name], message: bad });
      const from = env.promotion?.from;
      if (from === undefined) continue;
      if (!(from in file.environments)) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'promotion', 'from'], message: `environment "${from}" is not configured` });
        continue;
      }
      // Follow the chain back from here; meeting `name` again means a cycle.
      const seen = new Set([name]);
      let cur: string | undefined = from;
      while (cur !== undefined) {
        if (seen.has(cur)) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'promotion', 'from'], message: `promotion chain loops: ${[...seen, cur].join(' ← ')}` });
          break;
        }
        seen.add(cur);
        cur = file.environments[cur]?.promotion?.from;
      }
    }
  });
export type EnvironmentsFile = z.infer<typeof EnvironmentsFileSchema>;

export const UNGATED: EnvironmentConfig = EnvironmentSchema.parse({});

export function environmentConfig(file: EnvironmentsFile, env: string): EnvironmentConfig {
  return file.environments[env] ?? UNGATED;
}

/** The environment's per-app Flux Kustomization settings when the layout is switched on. */
export function fluxKustomizationOf(file: EnvironmentsFile | undefined, env: string): FluxKustomizationConfig | undefined {
  const cfg = file && Object.hasOwn(file.environments, env) ? file.environments[env]!.fluxKustomization : undefined;
  return cfg?.enabled ? cfg : undefined;
}

function freezeWindows(env: EnvironmentConfig): FreezeWindow[] {
  return env.freezes.map((f, i) => ({
    name: f.name ?? `freeze ${i + 1}`,
    timeZone: f.timeZone,
    ...(f.weekly ? { weekly: f.weekly } : {}),
    ...(f.daily ? { daily: f.daily } : {}),
    ...(f.from !== undefined ? { from: f.from, to: f.to } : {}),
  }));
}

/**
 * An environment's gate settings alone, for GET /api/environments. Listed key by key rather than by leaving out the
 * reconcile keys, because those hold secrets (notification URLs) and a new key must not show up unvetted.
 */
export function gateConfigOf(file: EnvironmentsFile, env: string): GateConfig {
  const cfg = environmentConfig(file, env);
  return Object.fromEntries(Object.keys(GateShape).filter((k) => Object.hasOwn(cfg, k)).map((k) => [k, cfg[k as keyof GateConfig]])) as GateConfig;
}

export function freezeWindowsOf(file: EnvironmentsFile, env: string): FreezeWindow[] {
  return freezeWindows(environmentConfig(file, env));
}

/** The gates one release into `env` must pass; decided when the release starts and fixed for its lifetime. */
export function resolveGates(file: EnvironmentsFile, env: string, opts: { rollback: boolean }): ReleaseGates {
  const cfg = environmentConfig(file, env);
  const gates: ReleaseGates = {
    freezes: freezeWindows(cfg),
    hotfixAllowed: cfg.hotfix?.allowed ?? [],
    ordering: cfg.ordering as Ordering,
  };
  if (cfg.approvals) {
    gates.approvals = { ...cfg.approvals };
    if (opts.rollback && cfg.rollback.bypassApprovals) gates.approvalsBypassed = `rollbacks to ${env} skip approvals (rollback.bypassApprovals)`;
  }
  return gates;
}

/** Environments that promote automatically out of `env` once a release there succeeds. */
export function autoPromotionsFrom(file: EnvironmentsFile, env: string): AutoPromotion[] {
  return Object.entries(file.environments)
    .filter(([, cfg]) => cfg.promotion?.from === env && cfg.promotion.auto)
    .map(([name, cfg]) => ({ env: name, ...(cfg.promotion?.soak ? { soak: cfg.promotion.soak } : {}) }));
}

/** Environments in chain order (sources before their targets), then the rest by name. */
export function orderedEnvironments(file: EnvironmentsFile): string[] {
  const names = Object.keys(file.environments).sort();
  const depth = (n: string): number => {
    let d = 0;
    for (let cur = file.environments[n]?.promotion?.from; cur !== undefined && d < names.length; cur = file.environments[cur]?.promotion?.from) d++;
    return d;
  };
  return names.sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
}
