// deploy/helm/ferry: lints strictly, renders Ferry's three processes from one image as the design requires, and
// every rendered Kubernetes object validates against Kubernetes' own OpenAPI schemas (kubernetes-models, offline).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { resolveHelmBinary } from '../server/tools';

const ROOT = path.resolve(__dirname, '..');
const CHART = path.join(ROOT, 'deploy/helm/ferry');
const helm = resolveHelmBinary();
const VALUES = { cloud: path.join(CHART, 'values-temporal-cloud.yaml'), selfHosted: path.join(CHART, 'values-self-hosted.yaml') };

type K8s = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };

function render(...args: string[]): K8s[] {
  const out = execFileSync(helm, ['template', 'ferry', CHART, '--namespace', 'ferry', ...args], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJS() as K8s).filter(Boolean);
}

/** Kubernetes' schemas for the core kinds, from the kubernetes-models package (no network). */
async function validate(obj: K8s): Promise<void> {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion : `v1`;
  const mod = (await import(`kubernetes-models/${group}`)) as Record<string, new (d: unknown) => { validate(): void }>;
  const Model = mod[obj.kind];
  assert.ok(Model, `no schema for ${obj.apiVersion} ${obj.kind}`);
  assert.doesNotThrow(() => new Model(obj).validate(), `${obj.kind} ${obj.metadata.name} is valid`);
}

const env = (c: any, name: string) => c.env.find((e: { name: string }) => e.name === name);

test('the chart lints strictly with each values file, and names what is missing without them', () => {
  for (const values of Object.values(VALUES)) {
    const r = spawnSync(helm, ['lint', '--strict', CHART, '-f', values], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
  // Rendering without the required settings stops with their names.
  const bare = spawnSync(helm, ['template', 'ferry', CHART], { encoding: 'utf8' });
  assert.notEqual(bare.status, 0);
  assert.match(bare.stdout + bare.stderr, /secrets\.adminToken\.name is required/);
});

test('three Deployments of one image: api, release-worker and exactly one Recreate writer, probed and locked down', async () => {
  // Asking for more writers changes nothing: there is no such value, and the writer's replica count is fixed.
  const objs = render('-f', VALUES.selfHosted, '--set', 'writer.replicas=3', '--set', 'api.replicas=3');
  for (const o of objs) if (!o.apiVersion.startsWith('monitoring.coreos.com')) await validate(o);

  const deployments = objs.filter((o) => o.kind === 'Deployment');
  assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['ferry-api', 'ferry-release-worker', 'ferry-writer']);
  const images = new Set(deployments.map((d) => d.spec.template.spec.containers[0].image));
  assert.equal(images.size, 1);
  const byRole = Object.fromEntries(deployments.map((d) => [env(d.spec.template.spec.containers[0], 'FERRY_ROLES').value, d]));
  assert.deepEqual(Object.keys(byRole).sort(), ['api', 'release-worker', 'writer']);
  assert.equal(byRole.writer.spec.replicas, 1);
  assert.equal(byRole.writer.spec.strategy.type, 'Recreate');
  assert.equal(byRole.api.spec.replicas, 3);

  for (const d of deployments) {
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    const port = env(c, 'FERRY_ROLES').value === 'api' ? 8080 : Number(env(c, 'FERRY_METRICS_PORT').value);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.terminationGracePeriodSeconds > 20, 'longer than FERRY_SHUTDOWN_GRACE');
    // Secrets only by reference.
    for (const name of ['FERRY_ADMIN_TOKEN', 'FERRY_FLUX_WEBHOOK_SECRET', 'DATABASE_URL']) {
      assert.ok(env(c, name).valueFrom.secretKeyRef.name, `${name} from a Secret`);
      assert.equal(env(c, name).value, undefined);
    }
    // Temporal over mutual TLS with the standard variables, the material from a mounted Secret.
    assert.equal(env(c, 'TEMPORAL_TLS').value, 'true');
    assert.equal(env(c, 'TEMPORAL_TLS_CLIENT_CERT_PATH').value, '/etc/ferry/temporal/tls.crt');
    assert.equal(env(c, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH').value, '/etc/ferry/temporal/ca.crt');
    assert.ok(pod.volumes.some((v: any) => v.name === 'temporal-tls' && v.secret.secretName === 'ferry-temporal-mtls'));
    assert.ok(pod.volumes.some((v: any) => v.name === 'deploy-key' && v.secret.secretName === 'ferry-deploy-key'));
    assert.match(env(c, 'GIT_SSH_COMMAND').value, /-i \/etc\/ferry\/deploy-key\/identity .*StrictHostKeyChecking=yes/);
    assert.equal(env(c, 'FERRY_CONFIG').value, '/etc/ferry/config/ferry.yaml');
    assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/tmp'), 'HOME is writable with a read-only root');
  }

  const config = objs.find((o) => o.kind === 'ConfigMap')!;
  assert.match(config.data!['ferry.yaml']!, /production:\n\s+approvals:\n\s+required: 2/);
  const service = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'ferry')!;
  assert.equal(service.spec.selector['app.kubernetes.io/component'], 'api');
  assert.deepEqual(objs.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name).sort(), ['ferry-api', 'ferry-release-worker']);
  assert.equal(objs.filter((o) => o.kind === 'NetworkPolicy').length, 2);
  const monitor = objs.find((o) => o.kind === 'ServiceMonitor')!;
  assert.deepEqual(monitor.spec.endpoints.map((e: any) => [e.port, e.path, e.authorization.credentials.name]), [['http', '/metrics', 'ferry'], ['metrics', '/metrics', 'ferry']]);
});

test('Temporal Cloud values: the API key comes from a Secret and turns TLS on; optional objects stay off', async () => {
  const objs = render('-f', VALUES.cloud);
  for (const o of objs) await validate(o);
  const api = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'ferry-api')!;
  const c = api.spec.template.spec.containers[0];
  assert.deepEqual(env(c, 'TEMPORAL_API_KEY').valueFrom.secretKeyRef, { name: 'ferry-temporal', key: 'api-key' });
  assert.equal(env(c, 'TEMPORAL_TLS').value, 'true');
  assert.equal(env(c, 'TEMPORAL_TLS_CLIENT_CERT_PATH'), undefined);
  assert.equal(objs.some((o) => ['ServiceMonitor', 'NetworkPolicy', 'ConfigMap'].includes(o.kind)), false);
  assert.equal(env(c, 'FERRY_GITOPS_TOKEN'), undefined);
  // An HTTPS remote with a token: the token from a Secret, handed to git by the askpass program in the image.
  const https = render('-f', VALUES.cloud, '--set', 'gitops.repo=https://github.com/acme/gitops.git', '--set', 'secrets.gitopsToken.name=ferry-git');
  const hc = https.find((o) => o.kind === 'Deployment' && o.metadata.name === 'ferry-writer')!.spec.template.spec.containers[0];
  assert.equal(env(hc, 'GIT_ASKPASS').value, '/app/bin/git-askpass-token');
  assert.deepEqual(env(hc, 'FERRY_GITOPS_TOKEN').valueFrom.secretKeyRef, { name: 'ferry-git', key: 'token' });
  assert.ok(fs.existsSync(path.join(ROOT, 'bin/git-askpass-token')));
});

test('the Flux example installs this chart with its values files', () => {
  const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/flux/helmrelease.yaml'), 'utf8')).map((d) => d.toJS());
  const release = docs.find((d) => d.kind === 'HelmRelease');
  assert.equal(release.apiVersion, 'helm.toolkit.fluxcd.io/v2');
  const spec = release.spec.chart.spec;
  assert.ok(fs.existsSync(path.join(ROOT, spec.chart, 'Chart.yaml')));
  for (const f of spec.valuesFiles) assert.ok(fs.existsSync(path.join(ROOT, f)), f);
  assert.equal(docs.find((d) => d.kind === 'GitRepository').metadata.name, spec.sourceRef.name);
  // Its values render.
  const values = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'ferry-hr-')), 'values.yaml');
  fs.writeFileSync(values, JSON.stringify(release.spec.values));
  assert.equal(render(...spec.valuesFiles.slice(1).flatMap((f: string) => ['-f', path.join(ROOT, f)]), '-f', values).filter((o) => o.kind === 'Deployment').length, 3);
});
