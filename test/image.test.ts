// What can be checked of the image without a container engine: the tools it installs are the versions
// scripts/install-tools.sh pins, it runs compiled code only, as a non-root user, with writable paths named.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const installTools = fs.readFileSync(path.join(ROOT, 'scripts/install-tools.sh'), 'utf8');
const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith('FROM '));
const final = stages[stages.length - 1]!;

function pin(name: string): string {
  const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(installTools);
  assert.ok(m, `${name} in scripts/install-tools.sh`);
  return m[1]!;
}

test('helm and kustomize are built at the versions install-tools.sh pins, and copied into the final image', () => {
  for (const [tool, module, version] of [['helm', pin('HELM_MODULE'), pin('HELM_VERSION')], ['kustomize', pin('KUSTOMIZE_MODULE'), pin('KUSTOMIZE_VERSION')]] as const) {
    const arg = new RegExp(`^ARG ${tool.toUpperCase()}_VERSION=(\\S+)$`, 'm').exec(dockerfile);
    assert.equal(arg?.[1], version, `${tool}: the Dockerfile's ARG matches install-tools.sh`);
    const pkg = tool === 'helm' ? `${module}/cmd/helm` : module;
    assert.ok(dockerfile.includes(`go install`) && dockerfile.includes(`${pkg}@\${${tool.toUpperCase()}_VERSION}`), `${tool} is go-installed from ${pkg} at the pinned version`);
    assert.match(final, new RegExp(`COPY --from=tools [^\\n]*/out/${tool}[^\\n]* /usr/local/bin/`), `${tool} is in the final image`);
  }
  assert.match(final, /apt-get install[^\n]* git /, 'git is installed');
  // Signed GitOps commits: git runs gpg (through its agent) for openpgp, ssh-keygen for ssh.
  for (const pkg of ['openssh-client', 'gpg', 'gpg-agent']) assert.match(final, new RegExp(`apt-get install[^\\n]* ${pkg} `), `${pkg} is installed`);
});

test('the final image runs compiled JavaScript only, as a non-root user', () => {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(final);
  assert.ok(entry, 'an exec-form ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry[1]!), ['node', 'dist/server/main.js']);
  assert.doesNotMatch(final, /^CMD /m);
  // dist/server/main.js is what `npm run build` emits from server/main.ts.
  const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { include: string[] };
  assert.ok(build.include.includes('server'));
  assert.match(final, /COPY --from=build \/src\/dist \.\/dist/);
  assert.match(final, /npm ci --omit=dev/, 'no dev dependencies (tsx, typescript) in the final image');
  assert.doesNotMatch(final, /tsx|\.ts\b|COPY \. /, 'no sources or TypeScript runner in the final image');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.ok(!('tsx' in pkg.dependencies) && !('typescript' in pkg.dependencies), 'tsx and typescript are dev dependencies');
  const user = /^USER (\S+)$/m.exec(final);
  assert.ok(user && !['root', '0', '0:0'].includes(user[1]!), `runs as ${user?.[1]}`);
  // Read-only root file system: what Ferry writes goes to the data directory and HOME, both meant for volumes.
  assert.match(final, /FERRY_DATA_DIR=\/data/);
  assert.match(final, /HOME=\/tmp/);
  assert.match(final, /^VOLUME \/data$/m);
});
