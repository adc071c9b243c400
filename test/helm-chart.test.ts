// deploy/helm/ferry: lints strictly, renders Ferry's three processes from one image as the design requires, and
// every rendered Kubernetes object validates against Kubernetes' own OpenAPI schemas (kubernetes-models, offline).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { resolveHelmBinary } from '../server/tools';
import { loadConfig } from '../src/config';
import { runGit, type RepoGit } from '../src/gitops/git';
import { signCommitChain } from '../src/gitops/signing';

const ROOT = path.resolve(__dirname, '..');
const CHART = path.join(ROOT, 'deploy/helm/ferry');
const helm = resolveHelmBinary();
const VALUES = { cloud: path.join(CHART, 'values-temporal-cloud.yaml'), selfHosted: path.join(CHART, 'values-self-hosted.yaml') };

type K8s = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };

function render(...args: string[]): K8s[] {
  const out = execFileSync(helm, ['template', 'ferry', CHART, '--namespace', 'ferry', ...args], { encoding: 'utf8' });
  // YAML 1.1, as Kubernetes reads it: `defaultMode: 0400` is octal there.
  return parseAllDocuments(out, { version: '1.1' }).map((d) => d.toJS() as K8s).filter(Boolean);
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

const SIGNING_ENV = ['FERRY_GITOPS_SIGNING_FORMAT', 'FERRY_GITOPS_SIGNING_KEY', 'GNUPGHOME'];
const signingValues = (format: string, more: string[] = []) => [
  '-f', VALUES.selfHosted, '--set', 'gitops.signing.enabled=true', '--set', `gitops.signing.format=${format}`,
  '--set', 'gitops.signing.secretName=ferry-signing', '--set', 'gitops.signing.secretKey=signing.asc', ...more,
];
const FINGERPRINT = '6F1DD5C15D4D92BB7259DB139EF41886D59BB416';
const pods = (objs: K8s[]) => Object.fromEntries(objs.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name.replace(/^ferry-/, ''), d.spec.template.spec]));

test('signing off: no signing key, variable or keyring in any pod', () => {
  for (const values of Object.values(VALUES)) {
    for (const [name, pod] of Object.entries(pods(render('-f', values)))) {
      assert.equal(pod.initContainers, undefined, name);
      for (const v of SIGNING_ENV) assert.equal(env(pod.containers[0], v), undefined, `${name}: ${v}`);
      assert.ok(!pod.volumes.some((v: any) => ['signing-key', 'gnupg'].includes(v.name)), name);
    }
  }
});

test('signing on: the key from its Secret reaches the writer alone, read-only with mode 0400, for both formats', async () => {
  for (const format of ['openpgp', 'ssh']) {
    const objs = render(...signingValues(format, format === 'openpgp' ? ['--set', `gitops.signing.fingerprint=${FINGERPRINT}`] : []));
    for (const o of objs) if (!o.apiVersion.startsWith('monitoring.coreos.com')) await validate(o);
    const byName = pods(objs);
    for (const name of ['api', 'release-worker']) {
      const pod = byName[name];
      assert.equal(pod.initContainers, undefined, `${format}: no init container in ${name}`);
      for (const v of SIGNING_ENV) assert.equal(env(pod.containers[0], v), undefined, `${format}: no ${v} in ${name}`);
      assert.ok(!pod.volumes.some((v: any) => ['signing-key', 'gnupg'].includes(v.name)), `${format}: no key in ${name}`);
    }

    const writer = byName.writer;
    const c = writer.containers[0];
    // Only the one key of the Secret, under a fixed file name, owner-read-only.
    const key = writer.volumes.find((v: any) => v.name === 'signing-key');
    assert.deepEqual(key.secret, { secretName: 'ferry-signing', defaultMode: 0o400, items: [{ key: 'signing.asc', path: 'key' }] });
    assert.equal(env(c, 'FERRY_GITOPS_SIGNING_FORMAT').value, format);
    const keyMounts = [...(writer.initContainers ?? []), ...writer.containers].flatMap((x: any) => x.volumeMounts.filter((m: any) => m.name === 'signing-key'));
    assert.ok(keyMounts.length > 0);
    for (const m of keyMounts) assert.deepEqual(m, { name: 'signing-key', mountPath: '/etc/ferry/signing', readOnly: true });

    if (format === 'ssh') {
      assert.equal(env(c, 'FERRY_GITOPS_SIGNING_KEY').value, '/etc/ferry/signing/key');
      assert.equal(env(c, 'GNUPGHOME'), undefined);
      assert.equal(writer.initContainers, undefined);
      assert.ok(!writer.volumes.some((v: any) => v.name === 'gnupg'));
    } else {
      // gpg needs a writable keyring: an init container imports the key into one in memory; Ferry sees only that.
      assert.equal(env(c, 'FERRY_GITOPS_SIGNING_KEY').value, FINGERPRINT);
      assert.equal(env(c, 'GNUPGHOME').value, '/run/ferry/gnupg/home');
      assert.ok(!c.volumeMounts.some((m: any) => m.name === 'signing-key'), 'the armored key stays in the init container');
      assert.deepEqual(writer.volumes.find((v: any) => v.name === 'gnupg').emptyDir, { medium: 'Memory', sizeLimit: '4Mi' });
      const [init] = writer.initContainers;
      assert.equal(writer.initContainers.length, 1);
      assert.equal(init.image, c.image);
      assert.deepEqual(init.securityContext, c.securityContext);
      assert.equal(env(init, 'GNUPGHOME').value, env(c, 'GNUPGHOME').value);
    }
  }
});

/**
 * The rendered writer pod, run on this machine: its volumes become directories (the Secret holding `secretFile`
 * with the rendered mode), its init container runs as rendered, and its agent dies with it as a container's
 * processes do. Returns the writer container's environment with the paths mapped.
 */
function runWriterPod(pod: any, secretFile: string, dir: string): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const v of pod.volumes) {
    dirs[v.name] = path.join(dir, v.name);
    fs.mkdirSync(dirs[v.name]!, { recursive: true });
  }
  const key = pod.volumes.find((v: any) => v.name === 'signing-key').secret;
  const keyFile = path.join(dirs['signing-key']!, key.items[0].path);
  fs.copyFileSync(secretFile, keyFile);
  fs.chmodSync(keyFile, key.defaultMode);
  // Each mount path, longest first, once: a mapped path is not mapped again.
  const local = (container: any) => {
    const byPath = new Map<string, string>(container.volumeMounts.map((m: any) => [m.mountPath, dirs[m.name]!]));
    const paths = [...byPath.keys()].sort((x, y) => y.length - x.length).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const mounted = new RegExp(`(?:${paths.join('|')})(?=/|\\s|$)`, 'g');
    return (s: string) => s.replace(mounted, (p) => byPath.get(p)!);
  };
  const envOf = (container: any) => Object.fromEntries(container.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, local(container)(e.value)]));
  for (const init of pod.initContainers ?? []) {
    const initEnv = { ...process.env, ...envOf(init) };
    const r = spawnSync(init.command[0], init.command.slice(1).map(local(init)), { env: initEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const agent = /^D (\d+)$/m.exec(execFileSync('gpg-connect-agent', ['getinfo pid', '/bye'], { env: initEnv, encoding: 'utf8' }));
    if (agent) process.kill(Number(agent[1]), 'SIGKILL');
  }
  return envOf(pod.containers[0]);
}

async function signsAndVerifies(writerEnv: Record<string, string>, dir: string, verifyArgs: string[]): Promise<string> {
  const signing = loadConfig({ FERRY_DATA_DIR: dir, ...Object.fromEntries(SIGNING_ENV.filter((k) => k in writerEnv).map((k) => [k, writerEnv[k]])) }).gitopsSigning;
  assert.ok(signing, 'the writer starts with signing on');
  const repo = path.join(dir, 'repo.git');
  await runGit(['init', '--bare', '--quiet', repo]);
  const git: RepoGit = (args, opts = {}) => runGit(args, { gitDir: repo, ...opts });
  const tree = (await git(['mktree'], { input: '' })).stdout.trim();
  const ident = { GIT_AUTHOR_NAME: 'Ferry', GIT_AUTHOR_EMAIL: 'ferry@example.test', GIT_COMMITTER_NAME: 'Ferry', GIT_COMMITTER_EMAIL: 'ferry@example.test' };
  const unsigned = (await git(['commit-tree', tree, '-m', 'release'], { env: ident })).stdout.trim();
  const gnupg: Record<string, string> = writerEnv.GNUPGHOME ? { GNUPGHOME: writerEnv.GNUPGHOME } : {};
  const [signed] = await signCommitChain(git, [unsigned], signing, gnupg);
  const r = spawnSync('git', ['--git-dir', repo, ...verifyArgs, 'verify-commit', '-v', signed!], { env: { ...process.env, ...gnupg }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

test('the rendered writer pod signs: its init container imports the OpenPGP key, and Ferry signs with what it sets', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chart-signing-'));
  const keyring = path.join(dir, 'keyring');
  fs.mkdirSync(keyring, { mode: 0o700 });
  const gpg = (args: string[], home = keyring) => execFileSync('gpg', ['--batch', ...args], { env: { ...process.env, GNUPGHOME: home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let podHome: string | undefined;
  try {
    gpg(['--passphrase', '', '--quick-gen-key', 'Ferry Chart <ferry@example.test>', 'ed25519', 'sign', 'never']);
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--list-secret-keys', '--with-colons']))![1]!;
    const exported = path.join(dir, 'signing.asc');
    fs.writeFileSync(exported, gpg(['--armor', '--export-secret-keys', fingerprint]));
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: keyring } });

    const pod = pods(render(...signingValues('openpgp', ['--set', `gitops.signing.fingerprint=${fingerprint}`]))).writer;
    const writerEnv = runWriterPod(pod, exported, path.join(dir, 'pod'));
    podHome = writerEnv.GNUPGHOME;
    assert.match(await signsAndVerifies(writerEnv, dir, []), /Good signature from "Ferry Chart <ferry@example.test>"/);
    // A key the writer cannot use without a passphrase stops the pod before Ferry starts.
    gpg(['--pinentry-mode', 'loopback', '--passphrase', 'secret', '--quick-gen-key', 'Locked <locked@example.test>', 'ed25519', 'sign', 'never']);
    const locked = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--list-secret-keys', '--with-colons', 'locked@example.test']))![1]!;
    fs.writeFileSync(exported, gpg(['--pinentry-mode', 'loopback', '--passphrase', 'secret', '--armor', '--export-secret-keys', locked]));
    const lockedPod = pods(render(...signingValues('openpgp', ['--set', `gitops.signing.fingerprint=${locked}`]))).writer;
    assert.throws(() => runWriterPod(lockedPod, exported, path.join(dir, 'locked-pod')), /signing failed/);
  } finally {
    for (const home of [keyring, podHome, path.join(dir, 'locked-pod/gnupg/home')]) {
      if (home && fs.existsSync(home)) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the rendered writer pod signs with an SSH key file from the Secret', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chart-signing-'));
  try {
    const key = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry', '-f', key]);
    const allowed = path.join(dir, 'allowed_signers');
    fs.writeFileSync(allowed, `ferry@example.test namespaces="git" ${fs.readFileSync(`${key}.pub`, 'utf8')}`);
    const writerEnv = runWriterPod(pods(render(...signingValues('ssh'))).writer, key, path.join(dir, 'pod'));
    assert.match(await signsAndVerifies(writerEnv, dir, ['-c', `gpg.ssh.allowedSignersFile=${allowed}`]), /Good "git" signature for ferry@example.test/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('signing values the writer could not start with are refused, naming the value', () => {
  const refused: Array<[string[], RegExp]> = [
    [['--set', 'gitops.signing.enabled=true', '--set', `gitops.signing.fingerprint=${FINGERPRINT}`], /gitops\.signing\.secretName is required/],
    [signingValues('x509'), /gitops\.signing\.format must be openpgp or ssh, not x509/],
    [signingValues('openpgp'), /gitops\.signing\.fingerprint must be the OpenPGP key's fingerprint/],
    [signingValues('openpgp', ['--set', 'gitops.signing.fingerprint=--output=/tmp/x']), /gitops\.signing\.fingerprint must be/],
    [signingValues('openpgp', ['--set', 'gitops.signing.fingerprint=6F1D D5C1 5D4D 92BB 7259  DB13 9EF4 1886 D59B B416']), /gitops\.signing\.fingerprint must be/],
    [signingValues('ssh', ['--set', `gitops.signing.fingerprint=${FINGERPRINT}`]), /gitops\.signing\.fingerprint is for openpgp only/],
    [signingValues('ssh', ['--set', 'gitops.signing.secretKey=../../etc/passwd']), /gitops\.signing\.secretKey must be a Secret key name/],
    // Two sources for one variable: the later would silently win.
    [signingValues('ssh', ['--set', 'env.FERRY_GITOPS_SIGNING_KEY=/elsewhere']), /env\.FERRY_GITOPS_SIGNING_KEY conflicts with gitops\.signing/],
    [signingValues('ssh', ['--set', 'extraEnv[0].name=GNUPGHOME', '--set', 'extraEnv[0].value=/tmp']), /extraEnv GNUPGHOME conflicts with gitops\.signing/],
  ];
  for (const [args, message] of refused) {
    const r = spawnSync(helm, ['template', 'ferry', CHART, '-f', VALUES.selfHosted, ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, args.join(' '));
    assert.equal(r.stdout, '', 'nothing rendered');
    assert.match(r.stderr, message);
  }
});
