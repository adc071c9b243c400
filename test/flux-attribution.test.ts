/**
 * Which environment a Flux event speaks for (src/flux/attribution.ts), including events that try to speak for one
 * they do not apply, and the round trip through Flux for the objects Ferry writes and serves: the recorder copies the
 * annotation, notification-controller strips its prefix, and Ferry reads `ferry.env`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { eventSpeaksFor, FERRY_ENV_ANNOTATION, fluxEventEnv } from '../src/flux/attribution';
import { FluxEventSchema } from '../src/flux/event';
import { FluxKustomizationSchema, renderFluxKustomization } from '../src/flux/kustomization';
import { fluxSetupManifests } from '../src/reconcile/manifests';
import { type AlertModel, type Cluster, controllerEvent, deliver, type FluxObjectModel } from './support/flux-alert';

const ks = (namespace: string, name: string, env?: string) => ({ kind: 'Kustomization', namespace, name, env });
const OWN = { namespace: 'apps', name: 'prod-web' };

describe('eventSpeaksFor', () => {
  const rows: Array<[string, ReturnType<typeof ks>, { env: string }, typeof OWN | undefined, boolean]> = [
    ['the environment it names', ks('flux-system', 'ferry-staging', 'staging'), { env: 'staging' }, undefined, true],
    ['another environment of the same commit', ks('flux-system', 'ferry-staging', 'staging'), { env: 'dev' }, undefined, false],
    ['no environment at all', ks('flux-system', 'flux-system'), { env: 'dev' }, undefined, false],
    ['the app\'s own Kustomization, annotated', ks('apps', 'prod-web', 'prod'), { env: 'prod' }, OWN, true],
    ['the app\'s own Kustomization before the annotation existed', ks('apps', 'prod-web'), { env: 'prod' }, OWN, true],
    ['the root of a per-app environment', ks('flux-system', 'ferry-prod', 'prod'), { env: 'prod' }, OWN, false],
    ['another app\'s Kustomization', ks('apps', 'prod-api', 'prod'), { env: 'prod' }, OWN, false],
    // `prod-eu` + app `web` and `prod` + app `eu-web` share a name: the annotation tells them apart.
    ['a same-named Kustomization of another environment', ks('apps', 'prod-web', 'prod-eu'), { env: 'prod' }, OWN, false],
    ['the right name in the wrong namespace', ks('flux-system', 'prod-web', 'prod'), { env: 'prod' }, OWN, false],
    ['a HelmRelease named like the Kustomization', { ...ks('apps', 'prod-web', 'prod'), kind: 'HelmRelease' }, { env: 'prod' }, OWN, false],
  ];
  for (const [name, event, release, own, want] of rows) {
    test(`${want ? 'settles' : 'does not settle'}: ${name}`, () => assert.equal(eventSpeaksFor(event, release, own), want));
  }

  test('reads ferry.env only as a non-empty string', () => {
    assert.equal(fluxEventEnv({ 'ferry.env': 'dev' }), 'dev');
    assert.equal(fluxEventEnv({ 'ferry.env': '' }), undefined);
    assert.equal(fluxEventEnv({ 'ferry.env': 3 }), undefined);
    assert.equal(fluxEventEnv({ env: 'dev' }), undefined);
    assert.equal(fluxEventEnv(undefined), undefined);
  });
});

describe('the annotation survives Flux for what Ferry writes and serves', () => {
  const served = fluxSetupManifests({ cluster: 'c1', webhookSecret: { env: 'C1' }, publicUrl: 'https://ferry.test', envs: [{ env: 'staging' }, { env: 'prod', perApp: FluxKustomizationSchema.parse({ namespace: 'apps' }) }] });
  const docs = YAML.parseAllDocuments(served).map((d) => d.toJS());
  const alerts = docs.filter((d) => d.kind === 'Alert') as AlertModel[];
  const objects = docs.filter((d) => d.kind === 'Kustomization') as FluxObjectModel[];
  const perApp = YAML.parse(renderFluxKustomization('prod', 'web', FluxKustomizationSchema.parse({ namespace: 'apps' }))) as FluxObjectModel;
  const revision = `main@sha1:${'c'.repeat(40)}`;

  for (const [obj, env] of [[objects.find((o) => o.metadata.name === 'ferry-staging')!, 'staging'], [perApp, 'prod']] as const) {
    test(`${obj.metadata.namespace}/${obj.metadata.name} reports as ${env}, with the cluster from the Alert`, () => {
      assert.equal(obj.metadata.annotations?.[FERRY_ENV_ANNOTATION], env);
      const out = deliver({ alerts, objects: [...objects, perApp] }, controllerEvent(obj, { severity: 'error', reason: 'HealthCheckFailed', message: 'timeout', revision }));
      assert.equal(out.length, 1);
      const event = FluxEventSchema.parse(out[0]!.payload);
      assert.equal(fluxEventEnv(event.metadata), env);
      assert.equal(event.metadata?.cluster, 'c1');
      assert.equal(event.metadata?.revision, revision);
    });
  }

  test('an Alert eventMetadata ferry.env overrides the annotation, as notification-controller merges them', () => {
    const obj = objects.find((o) => o.metadata.name === 'ferry-staging')!;
    const pinned: AlertModel = { ...alerts[0]!, spec: { ...alerts[0]!.spec, eventMetadata: { 'ferry.env': 'dev' } } };
    const [{ payload }] = deliver({ alerts: [pinned], objects: [] }, controllerEvent(obj, { severity: 'info', reason: 'ReconciliationSucceeded', message: 'ok', revision }));
    assert.equal(fluxEventEnv(payload.metadata), 'dev');
  });
});

describe('notification-controller model (support/flux-alert.ts)', () => {
  const ks = (namespace: string, name: string, annotations?: Record<string, string>): FluxObjectModel => ({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { namespace, name, annotations, labels: { team: 'a' } } });
  const alert = (spec: Partial<AlertModel['spec']>): AlertModel => ({ metadata: { name: 'a', namespace: 'flux-system' }, spec: { providerRef: { name: 'p' }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec } });
  const ev = (obj: FluxObjectModel, message = 'Reconciliation finished') => controllerEvent(obj, { severity: 'info', reason: 'ReconciliationSucceeded', message, revision: `main@sha1:${'a'.repeat(40)}` });

  test('a source without namespace means the Alert\'s namespace', () => {
    const c: Cluster = { alerts: [alert({})], objects: [] };
    assert.equal(deliver(c, ev(ks('flux-system', 'x'))).length, 1);
    assert.equal(deliver(c, ev(ks('apps', 'x'))).length, 0);
    assert.equal(deliver({ alerts: [alert({ eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'apps' }] })], objects: [] }, ev(ks('apps', 'x'))).length, 1);
    // --no-cross-namespace-refs: the explicit source matches, the dispatch is refused.
    assert.equal(deliver({ alerts: [alert({ eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'apps' }] })], objects: [], noCrossNamespaceRefs: true }, ev(ks('apps', 'x'))).length, 0);
  });

  test('matchLabels, exclusionList and eventSeverity', () => {
    const obj = ks('flux-system', 'x');
    assert.equal(deliver({ alerts: [alert({ eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'a' } }] })], objects: [obj] }, ev(obj)).length, 1);
    assert.equal(deliver({ alerts: [alert({ eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'b' } }] })], objects: [obj] }, ev(obj)).length, 0);
    assert.equal(deliver({ alerts: [alert({ exclusionList: ['^Reconciliation'] })], objects: [] }, ev(obj)).length, 0);
    assert.equal(deliver({ alerts: [alert({ eventSeverity: 'error' })], objects: [] }, ev(obj)).length, 0);
  });

  test('metadata: unprefixed and checksum keys dropped; annotations < eventMetadata < controller keys, prefixes stripped', () => {
    const obj = ks('flux-system', 'x', { 'event.toolkit.fluxcd.io/ferry.env': 'dev', 'event.toolkit.fluxcd.io/team': 'a', 'other.io/x': 'dropped' });
    const emitted = ev(obj);
    emitted.metadata = { ...emitted.metadata, env: 'unprefixed', 'kustomize.toolkit.fluxcd.io/checksum': 'x' };
    const [{ payload }] = deliver({ alerts: [alert({ eventMetadata: { team: 'b', cluster: 'c1' } })], objects: [] }, emitted);
    assert.deepEqual(payload.metadata, { 'ferry.env': 'dev', team: 'b', cluster: 'c1', revision: `main@sha1:${'a'.repeat(40)}` });
  });
});
