// Gimlet's `release delete` ends in a GitOps commit, so the same decision as any release applies: a deployer token
// limited to other apps or repositories cannot remove an app, and nothing changes; one within its scope can.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeArtifact, useStack } from '../support/stack';
import { createToken, fingerprint, pathExists } from './authz-support';

const stack = useStack({ env: { FERRY_AWAIT_FLUX: 'false' } });

async function released(app: string): Promise<void> {
  const pushed = await stack().api('POST', '/api/artifacts', makeArtifact({ apps: [{ app, env: 'staging' }], repo: 'acme/shop' }));
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await stack().api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await stack().waitForRelease(started.body.id, ['committed']);
}

describe("Gimlet's release delete honours app and repository scopes", () => {
  test('a deployer limited to another app or repository is refused and nothing changes; one within scope deletes', async () => {
    await released('shop');
    const otherApp = await createToken(stack(), { name: 'cart-deployer', owner: 'dora', role: 'deployer', apps: ['cart'] });
    const otherRepo = await createToken(stack(), { name: 'tools-deployer', owner: 'dora', role: 'deployer', repos: ['acme/tools'] });
    const before = await fingerprint(stack());
    const tip = stack().git('rev-parse', 'main');
    for (const token of [otherApp, otherRepo]) {
      const refused = await stack().api('POST', '/api/delete?env=staging&app=shop', undefined, { token });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(refused.body.error, /may act on (apps|repositories)/);
    }
    assert.deepEqual(await fingerprint(stack()), before);
    assert.equal(stack().git('rev-parse', 'main'), tip);
    assert.ok(pathExists(stack(), 'staging/shop'));

    const allowed = await createToken(stack(), { name: 'shop-deployer', owner: 'erin', role: 'deployer', apps: ['shop'], repos: ['acme/*'] });
    const deleted = await stack().api('POST', '/api/delete?env=staging&app=shop', undefined, { token: allowed });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.ok(!pathExists(stack(), 'staging/shop'));
  });
});
