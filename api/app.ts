import express from 'express';
import { requireToken } from './auth';
import type { ApiContext } from './context';
import { errorHandler, HttpError, refuseDeepJson } from './errors';
import { artifactRoutes } from './routes/artifacts';
import { decisionRoutes } from './routes/decisions';
import { environmentRoutes } from './routes/environments';
import { fluxRoutes } from './routes/flux';
import { freezeRoutes } from './routes/freezes';
import { gimletRoutes } from './routes/gimlet';
import { healthRoutes } from './routes/health';
import { policyRoutes } from './routes/policies';
import { httpMetrics } from './metrics';
import { openApiRoutes } from './routes/openapi';
import { historyRoutes } from './routes/history';
import { insightRoutes } from './routes/insights';
import { promotionRoutes } from './routes/promotion';
import { releaseRoutes } from './routes/releases';
import { tokenRoutes } from './routes/tokens';
import { boardRoutes } from './routes/board';
import { consoleRoutes } from './console';
import { consoleOidcRoutes } from './console-oidc';

export function createApi(ctx: ApiContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  if (ctx.metrics) app.use(httpMetrics(ctx.metrics));
  app.use(healthRoutes(ctx));
  app.use(consoleRoutes(ctx), consoleOidcRoutes(ctx));
  // Signed by Flux's HMAC instead of a bearer token; mounted before the JSON parser because it needs raw bytes.
  app.use('/api', fluxRoutes(ctx));
  app.use('/api', requireToken(ctx.authenticate), express.json({ limit: ctx.maxBody, strict: true, verify: refuseDeepJson }));
  app.use('/api', openApiRoutes());
  app.use('/api', artifactRoutes(ctx));
  // Before any other rollback route: it turns Gimlet-shaped rollbacks into Ferry's shape and checks the caller.
  app.use('/api', gimletRoutes(ctx));
  app.use('/api', releaseRoutes(ctx));
  app.use('/api', policyRoutes(ctx));
  app.use('/api', tokenRoutes(ctx));
  app.use('/api', decisionRoutes(ctx), historyRoutes(ctx), promotionRoutes(ctx), environmentRoutes(ctx), freezeRoutes(ctx), insightRoutes(ctx), boardRoutes(ctx, ctx.releaseFeed));
  app.use((req, _res, next) => next(new HttpError(404, `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(ctx.log));
  return app;
}
