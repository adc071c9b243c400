// docker-compose.yml cannot run here (no Docker engine), so it is checked against the Compose specification's
// rules for the parts it uses (a zod model of the spec's service, volume and dependency shapes: unknown keys are
// refused as the spec's JSON schema does) and against what Ferry needs: pinned images, Temporal on PostgreSQL with
// every search attribute registered, the API and workers as separate services, a single writer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { FERRY_SEARCH_ATTRIBUTE_NAMES } from '../server/temporal-server';
import { loadConfig } from '../src/config';

const stringOrList = z.union([z.string(), z.array(z.string())]);
const envValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Service = z.strictObject({
  image: z.string().optional(),
  build: z.union([z.string(), z.strictObject({ context: z.string(), dockerfile: z.string().optional(), args: z.record(z.string(), z.string()).optional() })]).optional(),
  command: stringOrList.optional(),
  entrypoint: stringOrList.optional(),
  environment: z.union([z.record(z.string(), envValue), z.array(z.string())]).optional(),
  ports: z.array(z.union([z.string().regex(/^(\d+(\.\d+){3}:)?\d+(-\d+)?(:\d+(-\d+)?)?(\/(tcp|udp))?$/), z.number()])).optional(),
  volumes: z.array(z.string().regex(/^[^:]+:\/[^:]*(:(ro|rw))?$/)).optional(),
  depends_on: z.union([
    z.array(z.string()),
    z.record(z.string(), z.strictObject({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']), restart: z.boolean().optional(), required: z.boolean().optional() })),
  ]).optional(),
  healthcheck: z.strictObject({
    test: stringOrList, interval: z.string().regex(/^\d+(ms|s|m|h)$/).optional(), timeout: z.string().optional(),
    retries: z.number().int().positive().optional(), start_period: z.string().optional(), disable: z.boolean().optional(),
  }).optional(),
  restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
  stop_grace_period: z.string().regex(/^\d+(ms|s|m|h)$/).optional(),
}).refine((s) => s.image !== undefined || s.build !== undefined, 'a service needs image or build');
const Compose = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/).optional(),
  services: z.record(z.string().regex(/^[a-zA-Z0-9._-]+$/), Service),
  volumes: z.record(z.string(), z.union([z.null(), z.strictObject({ driver: z.string().optional(), external: z.boolean().optional(), name: z.string().optional() })])).optional(),
}).catchall(z.unknown()).superRefine((c, ctx) => {
  for (const key of Object.keys(c)) {
    if (!['name', 'services', 'volumes'].includes(key) && !key.startsWith('x-')) ctx.addIssue({ code: 'custom', path: [key], message: 'not a top-level key of the Compose specification' });
  }
});

const file = path.join(__dirname, '..', 'docker-compose.yml');
const compose = Compose.parse(parse(fs.readFileSync(file, 'utf8'), { merge: true }));
const services = compose.services;

test('docker-compose.yml follows the Compose specification shapes and references only what it declares', () => {
  for (const [name, s] of Object.entries(services)) {
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    for (const d of deps) assert.ok(d in services, `${name} depends on unknown service ${d}`);
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0];
      if (!source.startsWith('.') && !source.startsWith('/')) assert.ok(source in (compose.volumes ?? {}), `${name} uses undeclared volume ${source}`);
    }
  }
});

test('every image is pinned to an exact version', () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.build) continue;
    assert.match(s.image ?? '', /^[a-z0-9./-]+:\d+(\.\d+)+$/, `${name}: ${s.image}`);
  }
  assert.match(fs.readFileSync(path.join(__dirname, '..', 'Dockerfile'), 'utf8'), /^FROM node:\d+\.\d+[\w.-]*$/m);
});

test('Temporal runs on the PostgreSQL service with every Ferry search attribute registered', () => {
  const env = services.temporal.environment as Record<string, unknown>;
  assert.equal(env.POSTGRES_SEEDS, 'postgres');
  assert.match(String(env.DB), /^postgres/);
  const registration = JSON.stringify(services['temporal-search-attributes'].command);
  for (const a of FERRY_SEARCH_ATTRIBUTE_NAMES) assert.ok(registration.includes(a), a);
  assert.ok(services['temporal-ui']);
});

test('Ferry runs as API, release worker and one writer, each with a valid configuration', () => {
  const roles = Object.values(services).map((s) => (s.environment as Record<string, string> | undefined)?.FERRY_ROLES).filter(Boolean);
  assert.deepEqual(roles.sort(), ['api', 'release-worker', 'writer']);
  for (const [name, s] of Object.entries(services)) {
    const env = s.environment as Record<string, string> | undefined;
    if (!env?.FERRY_ROLES) continue;
    assert.ok(s.build, `${name} is built from the repository's Dockerfile`);
    // Compose interpolation defaults stand in for the user's values.
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, '$1')]));
    assert.doesNotThrow(() => loadConfig(resolved), name);
    assert.ok(Number.parseInt(s.stop_grace_period ?? '10', 10) > Number.parseInt(env.FERRY_SHUTDOWN_GRACE ?? '20', 10), `${name}: stop_grace_period must exceed FERRY_SHUTDOWN_GRACE`);
  }
});
