import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanToolMessage, RenderError, runTool } from './tools';

/**
 * `helm template` of a chart directory with the given values. Values go in as JSON (valid YAML), written from a
 * plain object, so the same values always make the same file.
 */
export async function helmTemplate(opts: {
  helm: string;
  env: Record<string, string>;
  chartDir: string;
  releaseName: string;
  namespace: string;
  values: unknown;
  source: string;
}): Promise<string> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-helm-'));
  try {
    const valuesFile = path.join(tmp, 'values.json');
    await fs.writeFile(valuesFile, JSON.stringify(opts.values ?? {}));
    const { stdout } = await runTool(
      opts.helm,
      ['template', opts.releaseName, opts.chartDir, '--namespace', opts.namespace, '--values', valuesFile, '--include-crds', '--skip-tests'],
      { env: opts.env, cwd: tmp, timeoutMs: 120_000 },
    ).catch((err: Error) => {
      throw new RenderError(`${opts.source}: helm template failed: ${cleanToolMessage(err.message, tmp, opts.chartDir)}`);
    });
    return stdout;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
