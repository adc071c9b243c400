// The OpenAPI document against the routes Express really serves: every route documented, every documented route real.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Express } from 'express';
import { createApi } from '../api/app';
import type { ApiContext } from '../api/context';
import { buildOpenApi, routeKey } from '../api/openapi/registry';
import { ROUTE_DOCS } from '../api/openapi/routes';
import { silentLogger } from '../src/log';

/** Walks Express 5's router stack (mounted routers included) for `METHOD /path` of every route. */
function expressRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths: string[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) for (const m of Object.keys(layer.route.methods)) if (m !== '_all') found.add(routeKey(m, `${prefix}${p}`));
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, `${prefix}${mount}`);
      }
    }
  };
  walk((app as any).router.stack, '');
  return found;
}

// Building the app touches no backing service; the routes only use these when a request comes in.
const app = createApi({ log: silentLogger, maxBody: '1mb', awaitFlux: true, fluxTimeout: '15m', taskQueue: 'q', writerTaskQueue: 'w', authenticate: async () => null } as unknown as ApiContext);

test('every Express route is documented and every documented route exists', () => {
  const real = expressRoutes(app);
  const documented = new Set(ROUTE_DOCS.map((r) => routeKey(r.method, r.path)));
  assert.ok(real.size >= 10, `found only ${[...real].join(', ')}`);
  const undocumented = [...real].filter((k) => !documented.has(k));
  const phantom = [...documented].filter((k) => !real.has(k));
  assert.deepEqual(undocumented, [], 'routes missing from api/openapi/routes.ts');
  assert.deepEqual(phantom, [], 'documented routes Express does not serve');
  assert.equal(documented.size, ROUTE_DOCS.length, 'a route is documented twice');
});

test('the document is OpenAPI 3.1 built from the request schemas', () => {
  const doc = buildOpenApi(ROUTE_DOCS, { title: 'Ferry API', version: 'test' }) as any;
  assert.equal(doc.openapi, '3.1.0');
  const paths = Object.keys(doc.paths);
  assert.ok(paths.includes('/api/releases/{id}') && !paths.some((p) => p.includes(':')));
  // Request bodies come from the very zod schemas the routes validate with.
  const start = doc.components.schemas.StartRelease;
  assert.deepEqual(start.required, ['artifactId', 'env']);
  assert.ok(start.properties.artifactId.pattern);
  const artifact = doc.components.schemas.Artifact;
  assert.ok(artifact.properties.version.required.includes('sha'));
  assert.equal(doc.paths['/api/releases'].post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/StartRelease');
  assert.match(doc.paths['/api/releases'].post.description, /Roles: ci, deployer, admin \(environment limits apply\)/);
  assert.ok(doc.paths['/api/releases'].post.responses['403']);
  assert.deepEqual(doc.paths['/healthz'].get.security, []);
  const listParams = doc.paths['/api/artifacts'].get.parameters.map((p: { name: string; required: boolean }) => [p.name, p.required]);
  assert.deepEqual(listParams.find((p: [string, boolean]) => p[0] === 'sha'), ['sha', false]);
  const track = doc.paths['/api/eventReleaseTrack'].get.parameters;
  assert.deepEqual(track.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]), [['id', 'query', true]]);
  const operationIds = Object.values(doc.paths).flatMap((ops: any) => Object.values(ops).map((o: any) => o.operationId));
  assert.equal(new Set(operationIds).size, operationIds.length, 'operation ids are unique');
  // Every $ref resolves.
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z0-9]+/g) ?? [];
  for (const ref of refs) assert.ok(doc.components.schemas[ref.split('/').at(-1) as string], ref);
});
