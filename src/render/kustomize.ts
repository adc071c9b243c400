import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ManifestDoc } from './manifests';
import { parseManifests, stringifyManifest } from './manifests';
import { cleanToolMessage, RenderError, runTool } from './tools';
import { cachedRegex, regexSyntaxProblem } from '../regex';

export interface Json6902 {
  target: Record<string, unknown>;
  operations: unknown[];
}

/**
 * Applies strategic-merge patches, then JSON 6902 patches, exactly as kustomize does, by running `kustomize build`
 * over a throw-away kustomization that holds only these resources and patches (no remote bases, root-only loads).
 */
export async function applyPatches(opts: {
  kustomize: string;
  docs: ManifestDoc[];
  strategicMerge: ManifestDoc[];
  json6902: Json6902[];
  source: string;
}): Promise<ManifestDoc[]> {
  // kustomize applies a JSON 6902 patch to whatever its target selects, and silently to nothing when it selects
  // nothing; a patch meant for a resource that is not there is a mistake worth stopping the release for.
  for (const [i, p] of opts.json6902.entries()) {
    if (p.target.labelSelector !== undefined || p.target.annotationSelector !== undefined) continue;
    const problem = targetProblem(p.target);
    if (problem) throw new RenderError(`${opts.source}: json6902Patches[${i}].target.${problem}`);
    if (!opts.docs.some((d) => selects(p.target, d))) {
      throw new RenderError(`${opts.source}: json6902Patches[${i}].target: ${describeTarget(p.target)} matches no resource to patch`);
    }
    // Each patch is matched against every resource; let the event loop serve others between patches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // A strategic-merge patch is given an explicit target (its kind and name, and its namespace only if it names
  // one): kustomize would otherwise match it by full id, so a patch without a namespace would miss the same
  // resource once the chart puts it in a namespace. The merge itself stays kustomize's.
  const smpTargets = opts.strategicMerge.map((doc, i) => {
    const slash = doc.apiVersion.indexOf('/');
    const target: Record<string, string> = {
      version: slash < 0 ? doc.apiVersion : doc.apiVersion.slice(slash + 1),
      kind: escapeRegex(doc.kind),
      name: escapeRegex(doc.metadata.name),
    };
    if (slash >= 0) target.group = doc.apiVersion.slice(0, slash);
    if (typeof doc.metadata.namespace === 'string' && doc.metadata.namespace !== '') target.namespace = escapeRegex(doc.metadata.namespace);
    if (!opts.docs.some((d) => selects(target, d))) {
      throw new RenderError(`${opts.source}: strategicMergePatches[${i}]: ${doc.kind} ${doc.metadata.namespace ? `${doc.metadata.namespace}/` : ''}${doc.metadata.name} matches no resource to patch`);
    }
    return target;
  });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-kustomize-'));
  try {
    await fs.writeFile(path.join(tmp, 'resources.yaml'), opts.docs.map(stringifyManifest).join('---\n'));
    const patches: Array<Record<string, unknown>> = [];
    for (const [i, doc] of opts.strategicMerge.entries()) {
      const file = `strategic-merge-${String(i + 1).padStart(3, '0')}.yaml`;
      await fs.writeFile(path.join(tmp, file), stringifyManifest(doc));
      patches.push({ path: file, target: smpTargets[i] });
    }
    for (const [i, p] of opts.json6902.entries()) {
      const file = `json6902-${String(i + 1).padStart(3, '0')}.json`;
      await fs.writeFile(path.join(tmp, file), JSON.stringify(p.operations));
      patches.push({ path: file, target: p.target });
    }
    const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['resources.yaml'], patches };
    await fs.writeFile(path.join(tmp, 'kustomization.yaml'), JSON.stringify(kustomization));
    const { stdout } = await runTool(opts.kustomize, ['build', '--load-restrictor', 'LoadRestrictionsRootOnly', tmp], { env: { HOME: tmp }, cwd: tmp, timeoutMs: 60_000 }).catch(
      (err: Error) => {
        throw new RenderError(`${opts.source}: patches could not be applied: ${cleanToolMessage(err.message, tmp)}`);
      },
    );
    return parseManifests(stdout, { source: `${opts.source} (after patches)` });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * kustomize's selector: each given field must match, as a whole-string regex (that is how kustomize reads them, with
 * Go's RE2 syntax, which is also what Ferry matches with).
 */
function selects(target: Record<string, unknown>, doc: ManifestDoc): boolean {
  const slash = doc.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : doc.apiVersion.slice(0, slash);
  const version = slash < 0 ? doc.apiVersion : doc.apiVersion.slice(slash + 1);
  const fields: Array<[unknown, string]> = [
    [target.group, group], [target.version, version], [target.kind, doc.kind], [target.name, doc.metadata.name],
    [target.namespace, doc.metadata.namespace ?? ''],
  ];
  return fields.every(([want, have]) => {
    if (typeof want !== 'string' || want === '') return true;
    return cachedRegex(`^(?:${want})$`).testExact(have);
  });
}

const SELECTOR_FIELDS = ['group', 'version', 'kind', 'name', 'namespace'] as const;

/** `<field>: <why>` for the first selector field that is not a regular expression Ferry accepts, else null. */
export function targetProblem(target: Record<string, unknown>): string | null {
  for (const field of SELECTOR_FIELDS) {
    const want = target[field];
    if (typeof want !== 'string' || want === '') continue;
    const problem = regexSyntaxProblem(`^(?:${want})$`);
    if (problem) return `${field} ${problem}`;
  }
  return null;
}

function describeTarget(t: Record<string, unknown>): string {
  return ['group', 'version', 'kind', 'namespace', 'name'].filter((k) => typeof t[k] === 'string').map((k) => `${k}=${t[k]}`).join(' ');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
