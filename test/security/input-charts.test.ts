// Attacks through chart sources: a repository URL that makes Ferry fetch its own API or another internal port
// (SSRF), a hostile index.yaml or redirect pointing the download elsewhere, an OCI registry whose token realm or
// blob redirect points at an internal address or whose manifest and blob lie, a local chart linking to /etc/passwd,
// and a chart that can never load. Each must fail the release at once, with the reason, fetch nothing it was not
// allowed to and commit nothing; the app's next release must go ahead, and an allowed repository still renders.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChartRepo, FIXTURE_CHARTS, startChartRepo } from '../support/chart-repo';
import { HELM_CHART_LAYER, type OciRegistry, packageChart, startBlobStorage, serveRecording, startOciRegistry, testTls, type RecordingServer } from '../support/oci-registry';
import { deployment, makeArtifact, startStack, stopSharedTemporal, type Stack } from '../support/stack';

let stack: Stack;
let repo: ChartRepo;
let hostile: RecordingServer;
/** Stands in for PostgreSQL, Temporal or a metadata service: nothing may ever reach it. */
let victim: RecordingServer;
let chartRoot: string;
let evilArchive: Buffer;
let flakyHits = 0;
let registry: OciRegistry;
/** Blob storage the registry may redirect to: listed by host and port. */
let storage: RecordingServer;
/** Blob storage on a loopback port nobody listed: a redirect there must be refused before connecting. */
let unlistedStorage: RecordingServer;

before(async () => {
  victim = await serveRecording((_req, res) => void res.end('secret internal answer'), { tls: false });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-input-charts-'));
  // A chart whose archive climbs out of its directory: helm refuses to load it, every time.
  await fs.mkdir(path.join(work, 'evil', 'templates'), { recursive: true });
  await fs.writeFile(path.join(work, 'evil', 'Chart.yaml'), 'apiVersion: v2\nname: evil\nversion: 1.0.0\n');
  await fs.writeFile(path.join(work, 'evil', 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\n');
  execFileSync('tar', ['-czf', path.join(work, 'evil.tgz'), '--transform', 's,^evil,evil/../../escape,', 'evil'], { cwd: work, stdio: 'pipe' });
  evilArchive = await fs.readFile(path.join(work, 'evil.tgz'));

  hostile = await serveRecording((req, res) => {
    const at = (req.url ?? '').split('?')[0];
    const index = (url: string) => `apiVersion: v1\nentries:\n  webapp:\n    - name: webapp\n      version: 1.0.0\n      urls: ["${url}"]\n  evil:\n    - name: evil\n      version: 1.0.0\n      urls: ["evil-1.0.0.tgz"]\n`;
    if (at === '/redirect/index.yaml') {
      res.writeHead(302, { location: `http://localhost:${victim.port}/internal` }).end();
    } else if (at === '/elsewhere/index.yaml') {
      res.end(index(`http://127.0.0.1:${victim.port}/webapp-1.0.0.tgz`));
    } else if (at === '/evil/index.yaml') {
      res.end(index('webapp-1.0.0.tgz'));
    } else if (at === '/evil/evil-1.0.0.tgz') {
      res.end(evilArchive);
    } else if (at === '/flaky/index.yaml') {
      flakyHits += 1;
      res.writeHead(503).end('try later');
    } else {
      res.writeHead(404).end('not found');
    }
  }, { tls: false });
  repo = await startChartRepo();

  const chart = packageChart();
  storage = await startBlobStorage(chart);
  unlistedStorage = await startBlobStorage(chart);
  const tampered = Buffer.from(chart.archive);
  tampered[tampered.length - 1] ^= 1;
  const layer = (mediaType: string, size: number) => [{ mediaType, digest: chart.digest, size }];
  registry = await startOciRegistry({
    charts: {},
    busy: { busy: 1 },
    stored: { blobRedirect: `${storage.url}/blobs` },
    'stored-elsewhere': { blobRedirect: `${unlistedStorage.url}/blobs` },
    tampered: { blob: tampered },
    'realm-metadata': { bearer: { realm: 'https://169.254.169.254/latest/api/token' } },
    'realm-internal': { bearer: { realm: `https://127.0.0.1:${victim.port}/token` } },
    'no-chart-layer': { manifest: (m) => ({ ...m, layers: layer('application/vnd.oci.image.layer.v1.tar+gzip', chart.archive.length) }) },
    'huge-layer': { manifest: (m) => ({ ...m, layers: layer(HELM_CHART_LAYER, 20 * 1024 * 1024 + 1) }) },
    'huge-manifest': { manifest: (m) => ({ ...m, annotations: { padding: 'x'.repeat(1024 * 1024) } }) },
  }, chart);

  chartRoot = path.join(work, 'charts');
  await fs.cp(path.join(FIXTURE_CHARTS, 'webapp'), path.join(chartRoot, 'leaky'), { recursive: true });
  await fs.symlink('/etc/passwd', path.join(chartRoot, 'leaky', 'passwd'));
  await fs.writeFile(path.join(chartRoot, 'leaky', 'templates', 'leak.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  passwd: {{ .Files.Get "passwd" | quote }}\n');

  stack = await startStack({
    env: { FERRY_AWAIT_FLUX: 'false', FERRY_CHART_ROOT: chartRoot, FERRY_CHART_REPOSITORIES: `${hostile.url}/, ${repo.url}, ${registry.oci}/, ${storage.url}/` },
    chartCa: testTls().ca,
  });
});
after(async () => {
  await stack?.stop();
  await repo?.close();
  await hostile?.close();
  await victim?.close();
  await registry?.close();
  await storage?.close();
  await unlistedStorage?.close();
  await stopSharedTemporal();
});

/** Pushes one environment file with `chart`, releases it and waits for the end; the release row comes back. */
async function releaseChart(app: string, chart: Record<string, unknown>): Promise<{ id: string; status: string; error: string | null }> {
  const base = makeArtifact({ apps: [] });
  const pushed = await stack.api('POST', '/api/artifacts', { ...base, environments: [{ app, env: 'staging', namespace: 'staging', chart, values: { image: { repository: 'nginx', tag: '1' } } }] });
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return stack.waitForRelease(started.body.id, ['committed', 'failed'], 60_000);
}

function commitsOf(releaseId: string): number {
  const out = stack.git('log', '--format=%H', `--grep=${releaseId}`, '--fixed-strings', '--all');
  return out === '' ? 0 : out.split('\n').length;
}

async function assertRefused(release: { id: string; status: string; error: string | null }, why: RegExp): Promise<void> {
  assert.equal(release.status, 'failed', JSON.stringify(release));
  assert.match(release.error ?? '', why);
  assert.equal(commitsOf(release.id), 0);
  assert.equal((await stack.ferry.db.query('SELECT 1 FROM release_renders WHERE release_id = $1', [release.id])).rowCount, 0);
}

describe('chart sources are under the server\'s control', () => {
  test('a repository that is not listed (Ferry\'s own API, an internal port) is refused without a connection', async () => {
    await assertRefused(await releaseChart('ssrf-self', { repository: `${stack.url}/api`, name: 'webapp', version: '1.0.0' }), /is not one of the chart repositories this server may fetch from \(FERRY_CHART_REPOSITORIES\)/);
    await assertRefused(await releaseChart('ssrf-victim', { repository: `oci://127.0.0.1:${victim.port}/charts`, name: 'webapp', version: '1.0.0' }), /FERRY_CHART_REPOSITORIES/);
    // user@host would make a listed host's name the user part of a URL to another host.
    await assertRefused(await releaseChart('ssrf-prefix', { repository: `${hostile.url}@127.0.0.1:${victim.port}/`, name: 'webapp', version: '1.0.0' }), /credentials in the URL are not accepted/);
    assert.deepEqual(victim.requests, []);
  });

  test('a redirect from a listed repository to an internal address is refused', async () => {
    await assertRefused(await releaseChart('ssrf-redirect', { repository: `${hostile.url}/redirect`, name: 'webapp', version: '1.0.0' }), new RegExp(`localhost:${victim.port} resolves to 127\\.0\\.0\\.1, a loopback, private or link-local address`));
    assert.deepEqual(victim.requests, []);
  });

  test('an index.yaml pointing the archive to an unlisted URL is refused', async () => {
    await assertRefused(await releaseChart('ssrf-index', { repository: `${hostile.url}/elsewhere`, name: 'webapp', version: '1.0.0' }), new RegExp(`index\\.yaml points the archive to 127\\.0\\.0\\.1:${victim.port}/webapp-1\\.0\\.0\\.tgz, which FERRY_CHART_REPOSITORIES does not list`));
    assert.deepEqual(victim.requests, []);
  });

  test('a local chart linking out of itself is refused; /etc/passwd is never committed', async () => {
    await assertRefused(await releaseChart('leaky', { path: 'leaky' }), /chart\.path: passwd in "leaky" is a link that leads outside the chart/);
    assert.doesNotMatch(stack.git('log', '-p', '--all'), /root:x:0:0/);
  });
});

describe('a chart that cannot be used fails its release at once, and the app moves on', () => {
  test('a chart that illegally references its parent directory fails at once; the next release of the app commits', async () => {
    const started = Date.now();
    const bad = await releaseChart('stuck', { repository: `${hostile.url}/evil`, name: 'evil', version: '1.0.0' });
    await assertRefused(bad, /chart illegally references parent directory/);
    assert.ok(Date.now() - started < 50_000, 'not retried for long');

    const base = makeArtifact({ apps: [{ app: 'stuck', env: 'staging', manifests: deployment('stuck') }] });
    const pushed = await stack.api('POST', '/api/artifacts', base);
    const next = await stack.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
    assert.equal((await stack.waitForRelease(next.body.id, ['committed', 'failed'], 60_000)).status, 'committed');
  });

  test('a repository answering 503 is tried three times, then the release fails saying so', async () => {
    const release = await releaseChart('flaky', { repository: `${hostile.url}/flaky`, name: 'webapp', version: '1.0.0' });
    await assertRefused(release, /index\.yaml: 127\.0\.0\.1:\d+\/flaky\/index\.yaml answered 503 \(gave up after 3 attempts\)/);
    assert.equal(flakyHits, 3);
  });

  test('a chart from a listed repository still renders and commits', async () => {
    const release = await releaseChart('good-chart', { repository: repo.url, name: 'webapp', version: '0.3.1' });
    assert.equal(release.status, 'committed', JSON.stringify(release));
    assert.equal(commitsOf(release.id), 1);
  });
});

describe('an OCI registry\'s answers are checked like an HTTP repository\'s', () => {
  const oci = (repository: string, name = 'webapp', version = '0.3.1') => ({ repository: `${registry.oci}/${repository}`, name, version });
  const hits = (repository: string) => registry.requests.filter((r) => r.path.startsWith(`/v2/${repository}/`)).length;

  test('a blob redirect is followed to a listed storage host and refused to an unlisted loopback port', async () => {
    const good = await releaseChart('oci-stored', oci('stored'));
    assert.equal(good.status, 'committed', JSON.stringify(good));
    assert.equal(storage.requests.length, 1);

    const refused = await releaseChart('oci-stored-elsewhere', oci('stored-elsewhere'));
    await assertRefused(refused, new RegExp(`chart layer: 127\\.0\\.0\\.1:${unlistedStorage.port} resolves to 127\\.0\\.0\\.1, a loopback, private or link-local address`));
    assert.deepEqual(unlistedStorage.requests, []);
  });

  test('a token realm at a metadata address or an unlisted internal port is refused without a connection', async () => {
    await assertRefused(await releaseChart('oci-realm-metadata', oci('realm-metadata')), /manifest: token: 169\.254\.169\.254 resolves to 169\.254\.169\.254, a loopback, private or link-local address/);
    await assertRefused(await releaseChart('oci-realm-internal', oci('realm-internal')), new RegExp(`manifest: token: 127\\.0\\.0\\.1:${victim.port} resolves to 127\\.0\\.0\\.1`));
    assert.deepEqual(victim.requests, []);
  });

  test('a chart layer whose bytes differ from the digest in the manifest is refused', async () => {
    await assertRefused(await releaseChart('oci-tampered', oci('tampered')), /the chart layer's bytes do not match the digest the manifest names/);
  });

  test('a manifest without a chart layer, with an oversize layer or oversize itself is refused', async () => {
    await assertRefused(await releaseChart('oci-no-layer', oci('no-chart-layer')), /the manifest has no Helm chart layers \(application\/vnd\.cncf\.helm\.chart\.content\.v1\.tar\+gzip\)/);
    await assertRefused(await releaseChart('oci-huge-layer', oci('huge-layer')), /the chart layer is 20971521 bytes, more than 20971520/);
    assert.equal(hits('huge-layer'), 1, 'the oversize blob is never requested');
    await assertRefused(await releaseChart('oci-huge-manifest', oci('huge-manifest')), /manifest: 127\.0\.0\.1:\d+\/v2\/huge-manifest\/webapp\/manifests\/0\.3\.1 is larger than 1048576 bytes/);
  });

  test('a registry answering 429 is tried again and the chart commits; a 404 fails at once naming the chart', async () => {
    const busy = await releaseChart('oci-busy', oci('busy'));
    assert.equal(busy.status, 'committed', JSON.stringify(busy));
    assert.equal(hits('busy'), 3, 'manifest (429), manifest, blob');

    const missing = await releaseChart('oci-missing', oci('charts', 'missing', '1.0.0'));
    await assertRefused(missing, /chart missing 1\.0\.0 from oci:\/\/127\.0\.0\.1:\d+\/charts: manifest: 127\.0\.0\.1:\d+\/v2\/charts\/missing\/manifests\/1\.0\.0 answered 404: the registry has no such chart or version/);
    assert.equal(hits('charts/missing'), 1, 'not retried');
  });
});
