import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config';
import {
  conflictBetween, effectiveRestriction, exampleBranches, parseServerRestrictions, type Policy, PolicyInputSchema, restrictionRefusal,
} from '../src/policy/policies';

const stored = (kind: Policy['kind'], spec: { branch?: string; branchRegex?: string }, app = 'shop', env = 'production'): Policy => ({
  id: `${kind}:${app}:${env}`, kind, app, env, ...spec, source: 'api', createdBy: 'ada', createdAt: null, updatedBy: 'ada', updatedAt: null,
});

describe('server-wide branch restrictions', () => {
  test('parse, with commas inside regexes', () => {
    const r = parseServerRestrictions('production=^main$,staging=^(main|release/.+)$,qa=^v[0-9]{1,3}$');
    assert.deepEqual(r.map((p) => [p.env, p.branchRegex, p.source, p.app]), [
      ['production', '^main$', 'server', '*'], ['staging', '^(main|release/.+)$', 'server', '*'], ['qa', '^v[0-9]{1,3}$', 'server', '*'],
    ]);
  });

  test('a bad entry stops start-up naming the variable', () => {
    assert.throws(() => loadConfig({ FERRY_BRANCH_RESTRICTIONS: 'production=^(main' }), /FERRY_BRANCH_RESTRICTIONS: the regex for "production" is not a valid regular expression/);
    assert.throws(() => loadConfig({ FERRY_BRANCH_RESTRICTIONS: 'Prod!=x' }), /FERRY_BRANCH_RESTRICTIONS/);
    assert.throws(() => loadConfig({ FERRY_BRANCH_RESTRICTIONS: 'a=x,a=y' }), /given twice/);
  });

  test('server-wide restrictions win over app-level ones', () => {
    const server = parseServerRestrictions('production=^main$');
    const app = stored('branch-restriction', { branchRegex: '^release/.+$' });
    assert.equal(effectiveRestriction('shop', 'production', server, [app])?.source, 'server');
    assert.equal(effectiveRestriction('shop', 'staging', server, [stored('branch-restriction', { branchRegex: 'x' }, 'shop', 'staging')])?.source, 'api');
    assert.equal(effectiveRestriction('other', 'staging', server, [app]), null);
  });

  test('refusals name the restriction and the branch', () => {
    const [r] = parseServerRestrictions('production=^main$');
    assert.equal(restrictionRefusal(r!, 'main'), null);
    assert.match(restrictionRefusal(r!, 'feature/x')!, /server-wide branch restriction for production \(\/\^main\$\/, from FERRY_BRANCH_RESTRICTIONS\) refuses branch "feature\/x"/);
    assert.match(restrictionRefusal(r!, '')!, /artifacts without a branch/);
  });
});

describe('conflicts between auto-release policies and restrictions', () => {
  const CASES: Array<[string, string, boolean]> = [
    ['main', '^main$', false],
    ['feature/*', '^main$', true],
    ['release/*', '^(main|release/.+)$', false],
    ['{main,develop}', '^main$', true],
    ['!main', '^main$', true],
    ['release/**', '^release/', false],
    ['*', '.*', false],
  ];
  for (const [glob, regex, conflicts] of CASES) {
    test(`auto-release "${glob}" vs restriction /${regex}/ ${conflicts ? 'conflict' : 'agree'}`, () => {
      const msg = conflictBetween(stored('auto-release', { branch: glob }), stored('branch-restriction', { branchRegex: regex }));
      if (!conflicts) return assert.equal(msg, null);
      assert.ok(msg, 'expected a conflict');
      assert.match(msg, /auto-release policy auto-release:shop:production/);
      assert.match(msg, /branch restriction branch-restriction:shop:production/);
    });
  }

  test('examples are real matches of the glob', () => {
    assert.ok(exampleBranches('feature/*').every((b) => b.startsWith('feature/') && !b.slice(8).includes('/')));
    assert.ok(exampleBranches('{main,develop}').includes('develop'));
  });
});

describe('policy input', () => {
  test('a bad policy names the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ kind: 'auto-release', app: 'shop', env: 'production' }, 'branch'],
      [{ kind: 'auto-release', app: 'Shop!', env: 'production', branch: 'main' }, 'app'],
      [{ kind: 'branch-restriction', app: 'shop', env: 'production', branchRegex: '(' }, 'branchRegex'],
      [{ kind: 'freeze', app: 'shop', env: 'production' }, 'kind'],
      [{ kind: 'auto-release', app: 'shop', env: 'production', branch: 'main', extra: 1 }, ''],
    ];
    for (const [body, field] of cases) {
      const r = PolicyInputSchema.safeParse(body);
      assert.equal(r.success, false, JSON.stringify(body));
      assert.equal(r.error!.issues[0]!.path.join('.'), field, JSON.stringify(r.error!.issues));
    }
  });
});
