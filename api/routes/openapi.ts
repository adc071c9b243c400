import { Router } from 'express';
import { buildOpenApi } from '../openapi/registry';
import { ROUTE_DOCS } from '../openapi/routes';

const VERSION = (require('../../package.json') as { version: string }).version;

export function openApiRoutes(): Router {
  const r = Router();
  let doc: Record<string, unknown> | undefined;
  r.get('/openapi.json', (_req, res) => {
    doc ??= buildOpenApi(ROUTE_DOCS, { title: 'Ferry API', version: VERSION });
    res.json(doc);
  });
  return r;
}
