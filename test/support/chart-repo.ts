// A Helm chart repository on 127.0.0.1 serving the charts the test suite ships (test/fixtures/charts), packaged
// with the real helm. It records every request, so tests can see what was fetched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveHelmBinary } from '../../server/tools';

export const FIXTURE_CHARTS = path.resolve(__dirname, '../fixtures/charts');

export interface ChartRepo {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startChartRepo(charts: string[] = ['webapp']): Promise<ChartRepo> {
  const helm = resolveHelmBinary();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-chart-repo-'));
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const name = path.basename(decodeURIComponent((req.url ?? '').split('?')[0]!));
    fs.readFile(path.join(dir, name)).then(
      (body) => {
        res.setHeader('content-type', name.endsWith('.yaml') ? 'text/yaml' : 'application/gzip');
        res.end(body);
      },
      () => {
        res.statusCode = 404;
        res.end('not found');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = { ...process.env, HELM_CACHE_HOME: path.join(dir, '.h'), HELM_CONFIG_HOME: path.join(dir, '.h'), HELM_DATA_HOME: path.join(dir, '.h') };
  for (const c of charts) execFileSync(helm, ['package', path.join(FIXTURE_CHARTS, c), '--destination', dir], { env, stdio: 'pipe' });
  execFileSync(helm, ['repo', 'index', dir, '--url', url], { env, stdio: 'pipe' });
  return {
    url,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
