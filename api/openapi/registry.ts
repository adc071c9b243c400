import { z, type ZodObject, type ZodType } from 'zod';
import type { Role } from '../../src/auth/roles';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A schema with the name it gets under `components.schemas`. */
export interface Named {
  name: string;
  schema: ZodType;
}

export interface RouteDoc {
  method: Method;
  /** Express syntax: `/api/releases/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `token` (default): bearer token or `access_token`; `hmac`: Flux's X-Signature; `none`: open. */
  auth?: 'token' | 'hmac' | 'none';
  /** Roles that may call it (admin always may); left out: any authenticated caller. */
  roles?: Role[];
  /** The request acts on an environment, so environment limits apply. */
  envScoped?: boolean;
  query?: ZodObject;
  body?: Named | ZodType;
  /** The body may be left out (another form of the request passes everything in the query). */
  bodyOptional?: boolean;
  responses: Record<number, { description: string; schema?: Named | ZodType }>;
}

const ErrorSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  missing: z.object({ role: z.array(z.string()).optional(), env: z.string().optional() }).optional(),
});

const isNamed = (s: Named | ZodType): s is Named => typeof (s as Named).name === 'string' && 'schema' in s;

/** OpenAPI 3.1 from the route table; every schema is produced by zod from the ones the routes validate with. */
export function buildOpenApi(routes: RouteDoc[], info: { title: string; version: string }): Record<string, unknown> {
  const components: Record<string, unknown> = { Error: jsonSchema(ErrorSchema, 'output') };
  // A named schema used both as a request and as a response gets one component per direction (defaults differ).
  const firstUse = new Map<string, 'input' | 'output'>();
  const schemaRef = (s: Named | ZodType, io: 'input' | 'output') => {
    if (!isNamed(s)) return jsonSchema(s, io);
    const prior = firstUse.get(s.name);
    if (!prior) firstUse.set(s.name, io);
    const key = prior && prior !== io ? `${s.name}${io === 'input' ? 'Input' : 'Output'}` : s.name;
    components[key] ??= jsonSchema(s.schema, io);
    return { $ref: `#/components/schemas/${key}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of sortRoutes(routes)) {
    const openPath = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: unknown[] = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      for (const [name, field] of Object.entries(r.query.shape)) {
        const f = field as ZodType;
        const schema = jsonSchema(f, 'input');
        parameters.push({ name, in: 'query', required: !f.safeParse(undefined).success, ...(schema.description ? { description: schema.description } : {}), schema });
      }
    }
    const roles = r.roles ? [...r.roles, 'admin'] : undefined;
    const auth = r.auth ?? 'token';
    const notes = [
      r.description,
      auth === 'token' ? `Roles: ${roles ? roles.join(', ') : 'any'}${r.envScoped ? ' (environment limits apply)' : ''}.` : undefined,
      auth === 'hmac' ? 'Authenticated by the X-Signature HMAC of the body, not by a token.' : undefined,
    ].filter(Boolean);
    const responses: Record<string, unknown> = {};
    for (const [code, resp] of Object.entries(r.responses)) {
      responses[code] = { description: resp.description, ...(resp.schema ? { content: { 'application/json': { schema: schemaRef(resp.schema, 'output') } } } : {}) };
    }
    if (auth === 'token') {
      responses['401'] ??= { description: 'missing, unknown, revoked or expired token', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      if (roles || r.envScoped) responses['403'] ??= { description: 'the token lacks the role or the environment', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    if (r.body || r.query) responses['400'] ??= { description: 'invalid request: each failing field with the reason', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    paths[openPath] ??= {};
    paths[openPath][r.method] = {
      summary: r.summary,
      ...(notes.length ? { description: notes.join('\n\n') } : {}),
      tags: r.tags,
      operationId: operationId(r),
      ...(auth === 'token' ? { security: [{ bearer: [] }, { accessToken: [] }] } : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: !r.bodyOptional, content: { 'application/json': { schema: schemaRef(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Ferry: a GitOps release manager for Flux. Generated from the zod schemas the API validates with.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a Ferry API token, the bootstrap admin token, or an OIDC JWT' },
        accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'Gimlet-compatible alternative to the header' },
      },
    },
  };
}

function jsonSchema(s: ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

function operationId(r: RouteDoc): string {
  const words = r.path.replace(/^\/api\//, '/').split(/[/:{}.]+/).filter(Boolean);
  return [r.method, ...words].map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
}

const sortRoutes = (routes: RouteDoc[]) => [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));

/** `METHOD /path` keys, for comparing documentation with the real routes. */
export const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
