import type { Server } from 'node:http';
import express from 'express';
import { errorHandler } from '../api/errors';
import { type HealthDeps, healthRoutes } from '../api/routes/health';
import { silentLogger } from '../src/log';
import { listen } from './ferry';

/** /healthz, /readyz and /metrics for a process without the API role (a worker Deployment's probes and scrape). */
export function startOpsServer(deps: HealthDeps, port: number, host: string): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(deps));
  app.use((_req, res) => void res.status(404).json({ error: 'not found' }));
  app.use(errorHandler(silentLogger));
  return listen(app, port, host);
}
