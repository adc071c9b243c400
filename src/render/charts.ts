import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Chart } from '../artifact/schema';
import { InvalidNameError, safeRelativePath } from '../names';
import { fetchHttpChart } from './chart-fetch';
import { CHART_REPOSITORIES_VAR, type ChartSources, ChartSourceError, repositoryAllowed } from './chart-sources';
import { fetchOciChart } from './oci-fetch';
import { RenderError } from './tools';

const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// An exact version: a range (^1.2, ~1, >=2) could render different charts over time under one cache entry.
const CHART_VERSION = /^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const REPOSITORY = /^(https?|oci):\/\/[^\s?#]+$/;

export interface ResolvedChart {
  dir: string;
  /** What release.json records about the chart. */
  ref: Record<string, string>;
}

export interface ChartStoreOptions {
  /** Where charts from repositories are kept, one directory per repository, name and version. */
  cacheDir: string;
  /** Local charts (`chart.path`) must lie below this directory; without it they are refused. */
  localRoot?: string;
  /** The chart repositories that may be fetched from (FERRY_CHART_REPOSITORIES); none when not given. */
  sources?: ChartSources;
}

/** A local chart holding more entries than this is refused rather than walked. */
const MAX_CHART_ENTRIES = 10_000;

/**
 * Finds the chart of an environment file: a local chart directory below the chart root, or a repository chart
 * that is fetched once and kept by repository, name and version (an archive, which helm reads without extracting).
 * Every failure is a RenderError, which ends the release at once: a transient one (a 503, a reset connection) has
 * already been retried a few times here.
 */
export class ChartStore {
  /** Fetches that reached the chart repository; the tests use it to see that the cache works. */
  fetches = 0;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly opts: ChartStoreOptions) {}

  private get sources(): ChartSources {
    return this.opts.sources ?? { allowed: [] };
  }

  helmEnv(): Record<string, string> {
    const home = path.join(this.opts.cacheDir, '.helm');
    return {
      HOME: home,
      HELM_CACHE_HOME: path.join(home, 'cache'),
      HELM_CONFIG_HOME: path.join(home, 'config'),
      HELM_DATA_HOME: path.join(home, 'data'),
    };
  }

  async resolve(chart: Chart, source: string): Promise<ResolvedChart> {
    if (chart.path !== undefined) return { dir: await this.local(chart.path, source), ref: { path: chart.path } };
    const { repository = '', name = '', version = '' } = chart;
    if (/:\/\/|\.git($|[?/])|[?&]path=/.test(name)) {
      throw new RenderError(`${source}: chart.name: git chart URLs are not supported; put the chart below the server's chart root (FERRY_CHART_ROOT) and name it with chart.path`);
    }
    if (!CHART_NAME.test(name)) throw new RenderError(`${source}: chart.name: "${name}" is not a chart name (letters, digits, ".", "_", "-")`);
    if (!CHART_VERSION.test(version)) throw new RenderError(`${source}: chart.version: "${version}" is not an exact version such as 1.4.2`);
    if (!REPOSITORY.test(repository)) throw new RenderError(`${source}: chart.repository: "${repository}" must be an http(s):// or oci:// URL`);
    if (/^[a-z]+:\/\/[^/]*@/i.test(repository)) {
      throw new ChartSourceError(`${source}: chart.repository: credentials in the URL are not accepted; the server's chart repositories are configured by the operator`);
    }
    if (!repositoryAllowed(this.sources, repository)) {
      throw new ChartSourceError(`${source}: chart.repository: "${repository}" is not one of the chart repositories this server may fetch from (${CHART_REPOSITORIES_VAR})`);
    }
    const key = createHash('sha256').update(`${repository}\0${name}\0${version}`).digest('hex').slice(0, 16);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(key, repository, name, version, source).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return { dir: await p, ref: { repository, name, version } };
  }

  private async local(chartPath: string, source: string): Promise<string> {
    const root = this.opts.localRoot;
    if (!root) throw new RenderError(`${source}: chart.path: local charts need the server's chart root (FERRY_CHART_ROOT), which is not set`);
    let rel: string;
    try {
      rel = safeRelativePath(chartPath.replace(/^\.\//, '').replace(/\/+$/, ''), 'chart.path');
    } catch (err) {
      if (err instanceof InvalidNameError) throw new RenderError(`${source}: ${err.message}`);
      throw err;
    }
    const rootReal = await fs.realpath(root);
    let real: string;
    try {
      real = await fs.realpath(path.join(rootReal, rel));
    } catch {
      throw new RenderError(`${source}: chart.path: no chart "${chartPath}" below the chart root`);
    }
    // A symlink inside the root must not lead out of it.
    if (real !== rootReal && !real.startsWith(rootReal + path.sep)) throw new RenderError(`${source}: chart.path: "${chartPath}" leads outside the chart root`);
    const stat = await fs.stat(path.join(real, 'Chart.yaml')).catch(() => null);
    if (!stat?.isFile()) throw new RenderError(`${source}: chart.path: "${chartPath}" is not a chart (no Chart.yaml)`);
    await this.linksStayInside(real, chartPath, source);
    return real;
  }

  /**
   * helm follows symbolic links when it loads a chart directory, so a link to /etc/passwd would be read by
   * `.Files.Get` and committed. Links are fine while they stay inside the chart.
   */
  private async linksStayInside(chartDir: string, chartPath: string, source: string): Promise<void> {
    let seen = 0;
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        if (++seen > MAX_CHART_ENTRIES) throw new RenderError(`${source}: chart.path: "${chartPath}" holds more than ${MAX_CHART_ENTRIES} files`);
        const full = path.join(dir, entry.name);
        if (entry.isSymbolicLink()) {
          const target = await fs.realpath(full).catch(() => null);
          if (target === null || (target !== chartDir && !target.startsWith(chartDir + path.sep))) {
            throw new ChartSourceError(`${source}: chart.path: ${path.relative(chartDir, full)} in "${chartPath}" is a link that leads outside the chart`);
          }
        } else if (entry.isDirectory()) {
          await walk(full);
        }
      }
    };
    await walk(chartDir);
  }

  private async fetch(key: string, repository: string, name: string, version: string, source: string): Promise<string> {
    const final = path.join(this.opts.cacheDir, key);
    const existing = await this.chartIn(final);
    if (existing) return existing;
    await fs.mkdir(this.opts.cacheDir, { recursive: true });
    const tmp = path.join(this.opts.cacheDir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(tmp);
    try {
      this.fetches += 1;
      const what = `${source}: chart ${name} ${version} from ${repository}`;
      const archive = repository.startsWith('oci://')
        ? await fetchOciChart(this.sources, repository, name, version, what)
        : await fetchHttpChart(this.sources, repository, name, version, what);
      await fs.writeFile(path.join(tmp, `${name}-${version}.tgz`), archive);
      await fs.writeFile(path.join(tmp, '.ferry-complete'), `${repository}\n${name}\n${version}\n`);
      try {
        await fs.rename(tmp, final);
      } catch (err) {
        // Another process cached the same chart first: theirs is as good as ours.
        if (!(await this.chartIn(final))) throw err;
      }
      const dir = await this.chartIn(final);
      if (!dir) throw new RenderError(`${source}: chart ${name} ${version} from ${repository} holds no chart directory`);
      return dir;
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** The chart archive inside a complete cache entry, or null. */
  private async chartIn(entry: string): Promise<string | null> {
    const names = await fs.readdir(entry).catch(() => null);
    if (!names?.includes('.ferry-complete')) return null;
    const charts = names.filter((n) => n.endsWith('.tgz'));
    return charts.length === 1 ? path.join(entry, charts[0]!) : null;
  }
}
