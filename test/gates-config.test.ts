// Environment config (FERRY_CONFIG), the named-tokens stopgap (FERRY_TOKENS_FILE) and freeze-window arithmetic.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { createAuthenticator } from '../api/auth';
import type { Db } from '../src/store/db';
import { ConfigError, loadConfig } from '../src/config';
import { autoPromotionsFrom, orderedEnvironments, resolveGates } from '../src/gates/environments';
import { freezeStateAt } from '../src/gates/freeze';
import type { FreezeWindow } from '../src/gates/types';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-gates-config-'));
let n = 0;
function file(content: unknown): string {
  const f = path.join(dir, `f${(n += 1)}.yaml`);
  fs.writeFileSync(f, typeof content === 'string' ? content : YAML.stringify(content));
  return f;
}
const withConfig = (environments: unknown) => loadConfig({ FERRY_CONFIG: file({ environments }) });

/** The start-up error for a config, which must name FERRY_CONFIG, the file and each failing field. */
function configError(content: unknown): string {
  const f = file(content);
  try {
    loadConfig({ FERRY_CONFIG: f });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.message.includes(`FERRY_CONFIG (${f})`), err.message);
    return err.message;
  }
  assert.fail('config was accepted');
}

describe('environment config', () => {
  test('without FERRY_CONFIG every environment is ungated', () => {
    const c = loadConfig({});
    assert.deepEqual(c.environments.environments, {});
    assert.deepEqual(resolveGates(c.environments, 'production', { rollback: false }), { freezes: [], hotfixAllowed: [], ordering: 'queue' });
    assert.deepEqual(c.tokens, []);
  });

  test('a full file is read with defaults filled in and resolved per release', () => {
    const c = withConfig({
      dev: { ordering: 'supersede' },
      staging: { promotion: { from: 'dev', auto: true, soak: '30m' } },
      production: {
        promotion: { from: 'staging' },
        approvals: { required: 2, approvers: ['alice', 'bob', 'carol'] },
        freezes: [{ name: 'weekend', timeZone: 'Europe/Berlin', weekly: { from: 'fri 16:00', to: 'mon 08:00' } }, { from: '2026-12-20T00:00', to: '2027-01-02T00:00', timeZone: 'Europe/Berlin' }],
        hotfix: { allowed: ['carol'] },
        rollback: { bypassApprovals: true },
      },
    });
    const prod = c.environments.environments.production;
    assert.equal(prod.approvals?.fourEyes, true);
    assert.equal(prod.approvals?.timeout, '72h');
    assert.equal(prod.ordering, 'queue');
    const gates = resolveGates(c.environments, 'production', { rollback: false });
    assert.equal(gates.approvals?.required, 2);
    assert.equal(gates.approvalsBypassed, undefined);
    assert.deepEqual(gates.freezes.map((f) => f.name), ['weekend', 'freeze 2']);
    assert.deepEqual(gates.hotfixAllowed, ['carol']);
    assert.match(resolveGates(c.environments, 'production', { rollback: true }).approvalsBypassed ?? '', /rollback/);
    assert.equal(resolveGates(c.environments, 'dev', { rollback: false }).ordering, 'supersede');
    assert.deepEqual(autoPromotionsFrom(c.environments, 'dev'), [{ env: 'staging', soak: '30m' }]);
    assert.deepEqual(autoPromotionsFrom(c.environments, 'staging'), []);
    assert.deepEqual(orderedEnvironments(c.environments), ['dev', 'staging', 'production']);
  });

  test('a bad file stops start-up naming the file, the field and the reason', () => {
    assert.match(configError({ environments: { production: { aprovals: { approvers: ['a'] } } } }), /environments\.production: Unrecognized key: "aprovals"/);
    assert.match(configError({ environments: { production: { approvals: { required: 3, approvers: ['a', 'b', 'a'] } } } }), /approvals\.required: needs 3 distinct approvers but only 2/);
    assert.match(configError({ environments: { production: { approvals: { approvers: [] } } } }), /approvals\.approvers: name at least one approver/);
    assert.match(configError({ environments: { production: { approvals: { approvers: ['a b'] } } } }), /approvers\.0: must be a principal name/);
    assert.match(configError({ environments: { staging: { promotion: { from: 'dev' } } } }), /environments\.staging\.promotion\.from: environment "dev" is not configured/);
    assert.match(configError({ environments: { a: { promotion: { from: 'b' } }, b: { promotion: { from: 'a' } } } }), /promotion chain loops/);
    assert.match(configError({ environments: { 'Prod!': {} } }), /env name must be/);
    assert.match(configError({ environments: { p: { ordering: 'random' } } }), /environments\.p\.ordering/);
    assert.match(configError({ environments: { p: { promotion: { from: 'p', soak: 'a while' } } } }), /soak: must be a duration/);
    assert.match(configError({ environments: { p: { freezes: [{ timeZone: 'Mars/Olympus', daily: { from: '22:00', to: '06:00' } }] } } }), /freezes\.0\.timeZone: must be an IANA time zone/);
    assert.match(configError({ environments: { p: { freezes: [{ weekly: { from: 'friday at four', to: 'mon 08:00' } }] } } }), /freezes\.0\.weekly\.from: must be a weekday and time/);
    assert.match(configError({ environments: { p: { freezes: [{ daily: { from: '22:00', to: '06:00' }, weekly: { from: 'fri 16:00', to: 'mon 08:00' } }] } } }), /give exactly one of/);
    assert.match(configError({ environments: { p: { freezes: [{ from: '2026-12-20T00:00Z', to: '2026-12-19T00:00Z' }] } } }), /freezes\.0\.to: must be after from/);
    assert.match(configError({ environments: { p: { freezes: [{ from: '2026-12-20T00:00Z' }] } } }), /freezes\.0\.to: a one-off freeze needs both/);
    assert.match(configError({ environments: { p: { freezes: [{ daily: { from: '25:00', to: '06:00' } }] } } }), /daily\.from: must be a time of day/);
    assert.match(configError({ environments: { p: { freezes: [{ daily: { from: '06:00', to: '06:00' } }] } } }), /freezes\.0\.daily: from and to must differ/);
    assert.match(configError({ environments: { p: { freezes: [{ from: '2026-02-30T00:00', to: '2026-03-02T00:00' }] } } }), /freezes\.0\.from: "2026-02-30T00:00" is not a valid date-time/);
    assert.match(configError('environments: {p: {}}\nenvironments: {}\n'), /not valid YAML/);
    assert.match(configError('environments: [1, 2]'), /environments: /);
    assert.throws(() => loadConfig({ FERRY_CONFIG: path.join(dir, 'missing.yaml') }), /FERRY_CONFIG .*missing\.yaml.*cannot read: ENOENT/);
  });
});

describe('static tokens from FERRY_TOKENS_FILE', () => {
  test('tokens map to distinct principals; the admin token stays admin', async () => {
    const c = loadConfig({ FERRY_TOKENS_FILE: file({ tokens: [{ name: 'alice', token: 'alice-token-0123456789', roles: ['deployer', 'approver'] }, { name: 'bob', token: 'bob-token-0123456789ab' }] }) });
    // Static and admin tokens resolve without the database; a token of neither kind that is not a Ferry token
    // (ferry_<id>_<secret>) is refused before any lookup.
    const auth = createAuthenticator({ db: undefined as unknown as Db, adminToken: 'admin-token-0123456789', staticTokens: c.tokens });
    const alice = await auth('alice-token-0123456789');
    assert.equal(alice?.name, 'alice');
    assert.deepEqual(alice?.grants.map((g) => g.role), ['deployer', 'approver']);
    assert.deepEqual((await auth('bob-token-0123456789ab'))?.grants.map((g) => g.role), ['ci'], 'least privilege by default');
    assert.equal((await auth('admin-token-0123456789'))?.role, 'admin');
    assert.equal(await auth('nobody-token-0123456789'), null);
  });

  test('a bad tokens file stops start-up', () => {
    const bad = (tokens: unknown, re: RegExp) => assert.throws(() => loadConfig({ FERRY_TOKENS_FILE: file({ tokens }) }), (e: Error) => e instanceof ConfigError && /FERRY_TOKENS_FILE/.test(e.message) && re.test(e.message));
    bad([{ name: 'alice', token: 'short' }], /tokens\.0\.token: must be at least 16/);
    bad([{ name: 'admin', token: 'x'.repeat(20) }], /tokens\.0\.name: "admin"/);
    bad([{ name: 'a', token: 'x'.repeat(20) }, { name: 'a', token: 'y'.repeat(20) }], /tokens\.1\.name: duplicate name/);
    bad([{ name: 'a', token: 'x'.repeat(20) }, { name: 'b', token: 'x'.repeat(20) }], /tokens\.1\.token: duplicate token/);
  });
});

describe('freeze windows', () => {
  const weekend: FreezeWindow = { name: 'weekend', timeZone: 'Europe/Berlin', weekly: { from: 'fri 16:00', to: 'mon 08:00' } };
  const at = (iso: string) => Date.parse(iso);

  test('a weekly window in a time zone: Friday 16:00 to Monday 08:00 Berlin time', () => {
    // November: Berlin is UTC+1.
    assert.deepEqual(freezeStateAt([weekend], at('2026-11-20T14:59:59Z')), { frozen: false });
    assert.deepEqual(freezeStateAt([weekend], at('2026-11-20T15:00:00Z')), { frozen: true, window: 'weekend', until: '2026-11-23T07:00:00.000Z' });
    assert.deepEqual(freezeStateAt([weekend], at('2026-11-22T12:00:00Z')), { frozen: true, window: 'weekend', until: '2026-11-23T07:00:00.000Z' });
    assert.deepEqual(freezeStateAt([weekend], at('2026-11-23T07:00:00Z')), { frozen: false });
    assert.deepEqual(freezeStateAt([weekend], at('2026-11-25T12:00:00Z')), { frozen: false });
  });

  test('wall-clock hours hold across daylight-saving changes', () => {
    // Clocks go back on Sunday 2026-10-25: Friday 16:00 is UTC+2, Monday 08:00 is UTC+1.
    assert.deepEqual(freezeStateAt([weekend], at('2026-10-23T14:00:00Z')), { frozen: true, window: 'weekend', until: '2026-10-26T07:00:00.000Z' });
    assert.deepEqual(freezeStateAt([weekend], at('2026-10-23T13:59:00Z')), { frozen: false });
    // Clocks go forward on Sunday 2026-03-29: Friday is UTC+1, Monday UTC+2.
    assert.deepEqual(freezeStateAt([weekend], at('2026-03-27T17:00:00Z')), { frozen: true, window: 'weekend', until: '2026-03-30T06:00:00.000Z' });
  });

  test('daily windows across midnight, one-off ranges, and windows that touch', () => {
    const nights: FreezeWindow = { name: 'nights', timeZone: 'America/New_York', daily: { from: '22:00', to: '06:00' } };
    assert.deepEqual(freezeStateAt([nights], at('2026-11-23T04:00:00Z')), { frozen: true, window: 'nights', until: '2026-11-23T11:00:00.000Z' });
    assert.deepEqual(freezeStateAt([nights], at('2026-11-23T12:00:00Z')), { frozen: false });
    const yearEnd: FreezeWindow = { name: 'year end', timeZone: 'Europe/Berlin', from: '2026-12-20T00:00', to: '2027-01-02T00:00' };
    assert.deepEqual(freezeStateAt([yearEnd], at('2026-12-24T12:00:00Z')), { frozen: true, window: 'year end', until: '2027-01-01T23:00:00.000Z' });
    assert.deepEqual(freezeStateAt([yearEnd], at('2026-12-19T22:59:59Z')), { frozen: false });
    const absolute: FreezeWindow = { name: 'launch', timeZone: 'UTC', from: '2026-11-19T09:00:00+01:00', to: '2026-11-20T15:00:00Z' };
    // Thursday's launch freeze runs straight into the weekend one: one stretch, named after where it starts.
    assert.deepEqual(freezeStateAt([weekend, absolute], at('2026-11-19T10:00:00Z')), { frozen: true, window: 'launch', until: '2026-11-23T07:00:00.000Z' });
    assert.deepEqual(freezeStateAt([], at('2026-11-19T10:00:00Z')), { frozen: false });
  });
});
