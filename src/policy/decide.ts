import type { Artifact, EnvironmentFile } from '../artifact/schema';
import { artifactBranch, type ConditionResult, evaluateDeploy, evaluatePreview, releaseAppName } from './deploy';
import { globMatches } from './glob';
import { describePolicy, effectiveRestriction, type Policy, restrictionRefusal } from './policies';

/** Whether one environment file of an artifact releases by itself, and why (not). */
export interface Decision {
  app: string;
  env: string;
  /** The app name the release uses: `<app>-<branch>` for previews. */
  releaseApp: string;
  matched: boolean;
  reasons: string[];
  /** What made it match: the file's `deploy` conditions, its preview flag, or a stored auto-release policy. */
  source: 'deploy' | 'preview' | 'policy' | null;
  /** It matched, but a branch restriction refuses the artifact's branch. */
  refused: boolean;
}

export interface DecisionContext {
  /** Server-wide branch restrictions (they win over app-level ones). */
  serverRestrictions: Policy[];
  /** Stored policies of the artifact's apps. */
  policies: Policy[];
  /** The branch that never gets previews. */
  mainBranch: string;
}

/** A stored auto-release policy releases pushes whose branch matches its glob. */
export function evaluateAutoRelease(policy: Policy, v: Artifact['version']): ConditionResult {
  const name = describePolicy(policy);
  if (v.event !== 'push') return { matched: false, reasons: [`${name}: applies to push artifacts; this one is a ${v.event}`] };
  const branch = v.branch ?? '';
  if (globMatches(policy.branch ?? '', branch, 'branch')) return { matched: true, reasons: [`${name}: branch "${branch}" matches`] };
  return { matched: false, reasons: [`${name}: branch "${branch}" does not match "${policy.branch}"`] };
}

/**
 * An environment file releases automatically when its own conditions match (`deploy`, or `preview`) OR a stored
 * auto-release policy for its app and env matches: either the app team (in the file) or an operator (through the
 * API) can turn auto-release on. A matching file is then still subject to the branch restriction, which wins.
 */
export function decide(artifact: Artifact, envFile: EnvironmentFile, ctx: DecisionContext): Decision {
  const v = artifact.version;
  const base = { app: envFile.app, env: envFile.env, releaseApp: releaseAppName(envFile, v) };
  const autoPolicy = ctx.policies.find((p) => p.kind === 'auto-release' && p.app === envFile.app && p.env === envFile.env);
  const sources: Array<{ source: Decision['source']; result: ConditionResult }> = [];
  if (envFile.preview) {
    // A preview's own rule decides alone: a policy must not turn the main branch into a `<app>-main` preview.
    const preview = evaluatePreview(envFile, v, ctx.mainBranch);
    if (!preview.matched && autoPolicy) preview.reasons.push(`${describePolicy(autoPolicy)} does not apply to preview environment files`);
    sources.push({ source: 'preview', result: preview });
  } else {
    if (envFile.deploy) sources.push({ source: 'deploy', result: evaluateDeploy(envFile.deploy, v) });
    if (autoPolicy) sources.push({ source: 'policy', result: evaluateAutoRelease(autoPolicy, v) });
  }

  if (sources.length === 0) {
    return { ...base, matched: false, source: null, refused: false, reasons: [`no deploy conditions in the environment file and no auto-release policy for ${envFile.app} in ${envFile.env}: release it manually`] };
  }
  const hit = sources.find((s) => s.result.matched);
  if (!hit) return { ...base, matched: false, source: null, refused: false, reasons: sources.flatMap((s) => s.result.reasons) };

  const restriction = effectiveRestriction(envFile.app, envFile.env, ctx.serverRestrictions, ctx.policies);
  const refusal = restrictionRefusal(restriction, artifactBranch(v));
  if (refusal) return { ...base, matched: false, source: hit.source, refused: true, reasons: [...hit.result.reasons, refusal] };
  return { ...base, matched: true, source: hit.source, refused: false, reasons: hit.result.reasons };
}

/**
 * Decisions for every environment file of an artifact. A file that no longer passes the schema (stored before a
 * stricter version) is reported with its problems instead of stopping the others.
 */
export function decideArtifact(
  artifact: Artifact,
  ctx: DecisionContext,
  parse: (raw: unknown) => { success: true; data: EnvironmentFile } | { success: false; problems: string[] },
): Decision[] {
  return artifact.environments.map((raw) => {
    const parsed = parse(raw);
    if (!parsed.success) {
      const r = raw as { app?: string; env?: string };
      return { app: String(r.app), env: String(r.env), releaseApp: String(r.app), matched: false, source: null, refused: false, reasons: parsed.problems };
    }
    return decide(artifact, parsed.data, ctx);
  });
}
