import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Artifact, EnvironmentFileSchema } from '../src/artifact/schema';
import { ChartStore } from '../src/render/charts';
import { renderEnvironment, type RenderOptions } from '../src/render/release-render';
import { resolveHelmBinary, resolveKustomizeBinary } from '../server/tools';
import { type ChartRepo, FIXTURE_CHARTS, startChartRepo } from './support/chart-repo';
import { parseChartRepositories } from '../src/render/chart-sources';
import { type OciRegistry, packageChart, startBlobStorage, startOciRegistry, testTls, type RecordingServer } from './support/oci-registry';

let repo: ChartRepo;
let dir: string;
let opts: RenderOptions;

before(async () => {
  repo = await startChartRepo();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-render-'));
  opts = { helm: resolveHelmBinary(), kustomize: resolveKustomizeBinary(), charts: new ChartStore({ cacheDir: path.join(dir, 'charts'), localRoot: FIXTURE_CHARTS, sources: parseChartRepositories(repo.url) }) };
});
after(async () => {
  await repo?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const artifact: Artifact = {
  id: 'acme-shop-0123456789ab-push-12345678',
  version: { sha: '0123456789abcdef0123456789abcdef01234567', repositoryName: 'acme/shop', branch: 'main', event: 'push' },
  vars: { IMAGE: 'registry.example.com/acme/shop', LOG_LEVEL: 'info' },
  items: [],
  environments: [],
};

function envFile(extra: Record<string, unknown>) {
  return EnvironmentFileSchema.parse({ app: 'shop', env: 'staging', namespace: 'shop', ...extra });
}

const chartFile = () => envFile({
  chart: { repository: repo.url, name: 'webapp', version: '0.3.1' },
  values: { image: { repository: '{{ .IMAGE }}', tag: '{{ .SHA }}' }, replicas: 2, env: { LOG_LEVEL: '{{ .LOG_LEVEL }}', REGION: '{{ .REGION }}' } },
  // Strategic merge: containers merge by name, so the sidecar the patch does not mention stays.
  strategicMergePatches: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: app
          resources:
            limits:
              memory: 256Mi
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  annotations:
    ferry.example.com/owner: "{{ .APP }}-team"
`,
  json6902Patches: [
    { target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'shop' }, patch: '- op: replace\n  path: /spec/replicas\n  value: 3\n' },
    { target: { version: 'v1', kind: 'Service', name: 'shop' }, patch: [{ op: 'add', path: '/spec/type', value: 'ClusterIP' }] },
  ],
  manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .APP }}-settings\ndata:\n  sha: "{{ .SHA }}"\n',
});

describe('rendering a Helm chart with values, both patch kinds and raw manifests', () => {
  test('chart, then strategic-merge and JSON 6902 patches, then manifests; one resource per file', async () => {
    const r = await renderEnvironment(artifact, chartFile(), { ...opts, envVars: { REGION: 'eu-west-1' } });
    assert.deepEqual(Object.keys(r.files), ['configmap-shop-settings.yaml', 'deployment-shop.yaml', 'service-shop.yaml', 'release.json']);
    const deployment = r.files['deployment-shop.yaml']!;
    assert.match(deployment, /image: registry\.example\.com\/acme\/shop:0123456789abcdef0123456789abcdef01234567/);
    assert.match(deployment, /replicas: 3/, 'JSON 6902 replaced the replicas the values set');
    assert.match(deployment, /memory: 256Mi/, 'strategic merge added the limits');
    assert.match(deployment, /name: sidecar/, 'strategic merge kept the container the patch did not name');
    assert.match(deployment, /name: REGION\n\s+value: eu-west-1/, 'per-environment variables reach values');
    assert.match(deployment, /namespace: shop/);
    const service = r.files['service-shop.yaml']!;
    assert.match(service, /ferry\.example\.com\/owner: shop-team/);
    assert.match(service, /type: ClusterIP/);
    assert.doesNotMatch(Object.keys(r.files).join(','), /test/, 'helm test hooks are not released');
    assert.match(r.files['configmap-shop-settings.yaml']!, /sha: "?0123456789abcdef/);
    assert.deepEqual(JSON.parse(r.files['release.json']!).chart, { repository: repo.url, name: 'webapp', version: '0.3.1' });
  });

  test('the same input renders byte-identical files, and the chart is fetched once', async () => {
    const first = await renderEnvironment(artifact, chartFile(), { ...opts, envVars: { REGION: 'eu' } });
    const second = await renderEnvironment(artifact, chartFile(), { ...opts, envVars: { REGION: 'eu' } });
    assert.equal(first.digest, second.digest);
    assert.deepEqual(first.files, second.files);
    // A new process (a new store on the same directory) finds the cached chart too.
    const restarted = new ChartStore({ cacheDir: path.join(dir, 'charts'), sources: parseChartRepositories(repo.url) });
    const third = await renderEnvironment(artifact, chartFile(), { ...opts, charts: restarted, envVars: { REGION: 'eu' } });
    assert.equal(third.digest, first.digest);
    assert.equal(restarted.fetches, 0);
    assert.equal(repo.requests.filter((u) => u.endsWith('.tgz')).length, 1, JSON.stringify(repo.requests));
  });

  test('a missing variable in values is an error naming it, the file and the field', async () => {
    await assert.rejects(renderEnvironment(artifact, chartFile(), opts), (err: Error) => {
      assert.match(err.message, /environment file staging\/shop/);
      assert.match(err.message, /values\.env\.REGION/);
      assert.match(err.message, /missing template variable "REGION"/);
      return true;
    });
  });

  test('a patch whose target does not exist fails, naming the patch', async () => {
    const file = envFile({ chart: { repository: repo.url, name: 'webapp', version: '0.3.1' }, json6902Patches: [{ target: { kind: 'Deployment', name: 'nope' }, patch: '- op: remove\n  path: /spec/replicas\n' }] });
    await assert.rejects(renderEnvironment(artifact, file, opts), /environment file staging\/shop: json6902Patches\[0\]\.target: kind=Deployment name=nope matches no resource/);
  });

  test('patches apply to raw manifests when there is no chart', async () => {
    const file = envFile({
      manifests: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: api\n          image: x\n',
      json6902Patches: [{ target: { kind: 'Deployment', name: 'api' }, patch: '[{"op": "replace", "path": "/spec/replicas", "value": 5}]' }],
    });
    const r = await renderEnvironment(artifact, file, opts);
    assert.match(r.files['deployment-api.yaml']!, /replicas: 5/);
  });
});

describe('charts from an OCI registry, pulled by Ferry itself', () => {
  let registry: OciRegistry;
  let storage: RecordingServer;
  let ociOpts: RenderOptions;

  before(async () => {
    const chart = packageChart();
    storage = await startBlobStorage(chart);
    registry = await startOciRegistry({
      charts: {},
      private: { bearer: {} },
      stored: { bearer: {}, blobRedirect: `${storage.url}/blobs` },
    }, chart);
    // The storage host is listed only because it is loopback: its address would be refused otherwise.
    const sources = { ...parseChartRepositories(`${registry.oci}/, ${storage.url}/`), ca: testTls().ca };
    ociOpts = { ...opts, charts: new ChartStore({ cacheDir: path.join(dir, 'oci'), sources }) };
  });
  after(async () => {
    await registry?.close();
    await storage?.close();
  });

  const ociFile = (repository: string) => envFile({ chart: { repository, name: 'webapp', version: '0.3.1' }, values: { image: { repository: 'nginx', tag: '1' } } });
  const paths = () => registry.requests.map((r) => r.path.replace(/sha256:[0-9a-f]{64}/, 'sha256:…'));

  test('an anonymous pull renders the chart with helm, as the HTTP repository\'s copy does; it is fetched once', async () => {
    const r = await renderEnvironment(artifact, ociFile(`${registry.oci}/charts`), ociOpts);
    const fromHttp = await renderEnvironment(artifact, envFile({ chart: { repository: repo.url, name: 'webapp', version: '0.3.1' }, values: { image: { repository: 'nginx', tag: '1' } } }), opts);
    assert.match(r.files['deployment-shop.yaml']!, /image: "?nginx:1"?/);
    assert.equal(r.files['deployment-shop.yaml'], fromHttp.files['deployment-shop.yaml']);
    assert.deepEqual(JSON.parse(r.files['release.json']!).chart, { repository: `${registry.oci}/charts`, name: 'webapp', version: '0.3.1' });
    assert.deepEqual(paths(), ['/v2/charts/webapp/manifests/0.3.1', '/v2/charts/webapp/blobs/sha256:…']);
    assert.equal(registry.requests[0]!.headers.accept, 'application/vnd.oci.image.manifest.v1+json');

    await renderEnvironment(artifact, ociFile(`${registry.oci}/charts`), ociOpts);
    assert.equal(registry.requests.length, 2);
  });

  test('a bearer challenge is answered with an anonymous token from the realm, sent back to the registry only', async () => {
    registry.requests.length = 0;
    const r = await renderEnvironment(artifact, ociFile(`${registry.oci}/private`), ociOpts);
    assert.match(r.files['deployment-shop.yaml']!, /nginx/);
    assert.deepEqual(paths(), [
      '/v2/private/webapp/manifests/0.3.1',
      `/token?service=ferry-test&scope=${encodeURIComponent('repository:private/webapp:pull')}`,
      '/v2/private/webapp/manifests/0.3.1',
      '/v2/private/webapp/blobs/sha256:…',
    ]);
    assert.deepEqual(registry.requests.map((q) => q.headers.authorization), [undefined, undefined, `Bearer ${registry.token}`, `Bearer ${registry.token}`]);
  });

  test('a blob redirected to another host is fetched there without the registry\'s token', async () => {
    registry.requests.length = 0;
    const r = await renderEnvironment(artifact, ociFile(`${registry.oci}/stored`), ociOpts);
    assert.match(r.files['deployment-shop.yaml']!, /nginx/);
    assert.equal(registry.requests.at(-1)!.headers.authorization, `Bearer ${registry.token}`);
    assert.deepEqual(storage.requests.map((q) => q.path), [`/blobs/${registry.chart.digest}`]);
    assert.equal(storage.requests[0]!.headers.authorization, undefined);
  });
});

describe('chart sources', () => {
  test('a local chart path below the chart root renders', async () => {
    const r = await renderEnvironment(artifact, envFile({ chart: { path: 'webapp' }, values: { image: { tag: '{{ .SHA }}' } } }), opts);
    assert.match(r.files['deployment-shop.yaml']!, /image: "?nginx:0123456789abcdef/);
    assert.deepEqual(JSON.parse(r.files['release.json']!).chart, { path: 'webapp' });
  });

  test('local chart paths cannot leave the chart root', async () => {
    for (const p of ['../../package.json', '/etc', 'webapp/../../..']) {
      await assert.rejects(renderEnvironment(artifact, envFile({ chart: { path: p } }), opts), /chart\.path/, p);
    }
    // A symlink inside the root that points outside it is refused too.
    const root = path.join(dir, 'root');
    await fs.mkdir(root, { recursive: true });
    await fs.symlink(FIXTURE_CHARTS, path.join(root, 'escape'));
    const charts = new ChartStore({ cacheDir: path.join(dir, 'c2'), localRoot: root });
    await assert.rejects(renderEnvironment(artifact, envFile({ chart: { path: 'escape/webapp' } }), { ...opts, charts }), /leads outside the chart root/);
    const noRoot = new ChartStore({ cacheDir: path.join(dir, 'c3') });
    await assert.rejects(renderEnvironment(artifact, envFile({ chart: { path: 'webapp' } }), { ...opts, charts: noRoot }), /FERRY_CHART_ROOT/);
  });

  test('repository charts need an exact version; git chart URLs are refused', async () => {
    await assert.rejects(renderEnvironment(artifact, envFile({ chart: { repository: repo.url, name: 'webapp', version: '^0.3' } }), opts), /chart\.version: "\^0\.3" is not an exact version/);
    await assert.rejects(
      renderEnvironment(artifact, envFile({ chart: { repository: repo.url, name: 'https://github.com/acme/charts.git?sha=abc&path=/web', version: '1.0.0' } }), opts),
      /git chart URLs are not supported/,
    );
    await assert.rejects(renderEnvironment(artifact, envFile({ chart: { repository: repo.url, name: 'webapp', version: '9.9.9' } }), opts), /chart webapp 9\.9\.9/);
    const missing = EnvironmentFileSchema.safeParse({ app: 'shop', env: 'staging', namespace: 'shop', chart: { name: 'webapp' } });
    assert.deepEqual(missing.error!.issues.map((i) => i.path.join('.')).sort(), ['chart.repository', 'chart.version']);
  });
});

test('a strategic-merge patch for a resource that is not there fails, naming the patch', async () => {
  const file = envFile({ manifests: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n', strategicMergePatches: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  x: "1"\n' });
  await assert.rejects(renderEnvironment(artifact, file, opts), /environment file staging\/shop: strategicMergePatches\[0\]: ConfigMap b matches no resource to patch/);
});

test('a strategic-merge patch without a namespace patches the resource the chart put in one', async () => {
  const file = envFile({
    manifests: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: web\n          image: x\n        - name: proxy\n          image: envoy\n',
    strategicMergePatches: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: z\n',
  });
  const r = await renderEnvironment(artifact, file, opts);
  assert.match(r.files['deployment-web.yaml']!, /image: z/);
  assert.match(r.files['deployment-web.yaml']!, /image: envoy\n\s+name: proxy/);
});
