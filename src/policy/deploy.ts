import type { Deploy, EnvironmentFile, SourceEvent, VersionSchema } from '../artifact/schema';
import type { z } from 'zod';
import { sanitizeDNSName } from '../names';
import { globMatches } from './glob';

export type Version = z.infer<typeof VersionSchema>;

/** The outcome of one set of conditions: `reasons` says what held (matched) or exactly what did not. */
export interface ConditionResult {
  matched: boolean;
  reasons: string[];
}

/** The branch an artifact is "from": a PR's source branch, else the branch CI gave (often empty for tags). */
export function artifactBranch(v: Pick<Version, 'event' | 'branch' | 'sourceBranch'>): string {
  if (v.event === 'pr') return v.sourceBranch || v.branch || '';
  return v.branch || '';
}

function eventsOf(d: Deploy): SourceEvent[] {
  if (d.event !== undefined) return Array.isArray(d.event) ? d.event : [d.event];
  return d.tag !== undefined ? ['tag'] : ['push'];
}

/**
 * Checks an environment file's `deploy` conditions against an artifact's version. Every given condition must hold;
 * each one that does not is reported by its field, so "why didn't my artifact deploy?" has a precise answer.
 */
export function evaluateDeploy(deploy: Deploy, v: Version, field = 'deploy'): ConditionResult {
  const given = ['branch', 'tag', 'event', 'targetBranch', 'commitMessagePatterns'].filter((k) => (deploy as Record<string, unknown>)[k] !== undefined);
  if (given.length === 0) return { matched: false, reasons: [`${field}: no conditions given; an empty deploy section releases nothing by itself`] };
  const failed: string[] = [];
  const held: string[] = [];
  const events = eventsOf(deploy);
  const eventField = deploy.event === undefined ? `${field}.event (implied by ${deploy.tag !== undefined ? 'tag' : 'branch'})` : `${field}.event`;
  if (!events.includes(v.event)) failed.push(`${eventField}: the artifact's event is "${v.event}", not ${events.map((e) => `"${e}"`).join(' or ')}`);
  else held.push(`event "${v.event}"`);

  if (deploy.branch !== undefined) {
    if (v.event === 'tag') failed.push(`${field}.branch: "${deploy.branch}" needs a push or pr artifact; this one is a tag`);
    else {
      const branch = artifactBranch(v);
      const what = v.event === 'pr' ? 'PR source branch' : 'branch';
      if (globMatches(deploy.branch, branch, 'branch')) held.push(`${what} "${branch}" matches "${deploy.branch}"`);
      else failed.push(`${field}.branch: ${what} "${branch}" does not match "${deploy.branch}"`);
    }
  }
  if (deploy.targetBranch !== undefined) {
    const target = v.targetBranch ?? '';
    if (v.event !== 'pr') failed.push(`${field}.targetBranch: "${deploy.targetBranch}" applies to pr artifacts; this one is a ${v.event}`);
    else if (globMatches(deploy.targetBranch, target, 'branch')) held.push(`PR target branch "${target}" matches "${deploy.targetBranch}"`);
    else failed.push(`${field}.targetBranch: PR target branch "${target}" does not match "${deploy.targetBranch}"`);
  }
  if (deploy.tag !== undefined) {
    const tag = v.tag ?? '';
    if (v.event !== 'tag' || tag === '') failed.push(`${field}.tag: "${deploy.tag}" needs a tag artifact; this one is a ${v.event}${v.event === 'tag' ? ' without a tag name' : ''}`);
    else if (globMatches(deploy.tag, tag, 'tag')) held.push(`tag "${tag}" matches "${deploy.tag}"`);
    else failed.push(`${field}.tag: tag "${tag}" does not match "${deploy.tag}"`);
  }
  if (deploy.commitMessagePatterns !== undefined && deploy.commitMessagePatterns.length > 0) {
    const r = evaluateMessage(deploy.commitMessagePatterns, v.message ?? '', `${field}.commitMessagePatterns`);
    if (r.matched) held.push(...r.reasons);
    else failed.push(...r.reasons);
  }
  return failed.length > 0 ? { matched: false, reasons: failed } : { matched: true, reasons: held };
}

/** At least one positive pattern must match (when any is given) and no negated one may exclude the message. */
function evaluateMessage(patterns: string[], message: string, field: string): ConditionResult {
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negative = patterns.filter((p) => p.startsWith('!'));
  const firstLine = JSON.stringify(message.split('\n')[0]!.slice(0, 80));
  const failed: string[] = [];
  if (positive.length > 0 && !positive.some((p) => globMatches(p, message, 'message'))) {
    failed.push(`${field}: the commit message ${firstLine} matches none of ${positive.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  for (const p of negative) if (!globMatches(p, message, 'message')) failed.push(`${field}: the commit message ${firstLine} is excluded by ${JSON.stringify(p)}`);
  return failed.length > 0 ? { matched: false, reasons: failed } : { matched: true, reasons: [`commit message ${firstLine} passes the commit message patterns`] };
}

/** `<app>-<sanitized branch>`, kept to one DNS label. */
export function previewAppName(app: string, branch: string): string {
  return sanitizeDNSName(`${app}-${branch}`);
}

/** A preview is deployed on pushes to any branch but the main one, and also needs any `deploy` conditions given. */
export function evaluatePreview(envFile: Pick<EnvironmentFile, 'deploy'>, v: Version, mainBranch: string): ConditionResult {
  const failed: string[] = [];
  if (v.event !== 'push') failed.push(`preview: previews deploy on push events; the artifact's event is "${v.event}"`);
  else if (!v.branch) failed.push('preview: the artifact has no branch');
  else if (v.branch === mainBranch) failed.push(`preview: the artifact is from the main branch "${mainBranch}", which never gets a preview`);
  const deploy = envFile.deploy ? evaluateDeploy(envFile.deploy, v) : { matched: true, reasons: [] };
  if (!deploy.matched) failed.push(...deploy.reasons);
  if (failed.length > 0) return { matched: false, reasons: failed };
  return { matched: true, reasons: [`preview of branch "${v.branch}"`, ...deploy.reasons] };
}

/** The app name a release of this environment file uses: previews get one per branch. */
export function releaseAppName(envFile: Pick<EnvironmentFile, 'app' | 'preview'>, v: Pick<Version, 'branch'>): string {
  return envFile.preview ? previewAppName(envFile.app, v.branch || 'no-branch') : envFile.app;
}
