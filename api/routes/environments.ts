import { Router } from 'express';
import { freezeStateAt } from '../../src/gates/freeze';
import { freezeWindowsOf, gateConfigOf, orderedEnvironments } from '../../src/gates/environments';
import { manualFreezeState } from '../../src/gates/manual-freeze';
import { activeFreezes } from '../../src/store/freezes';
import type { ApiContext } from '../context';
import { asyncRoute } from '../errors';

/**
 * The server-side gate config as loaded at start-up, with each environment's freeze state now: the freezes people
 * started (from PostgreSQL) and the configured windows.
 */
export function environmentRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/environments', asyncRoute(async (_req, res) => {
    const now = Date.now();
    const holding = await activeFreezes(ctx.db);
    res.json({
      environments: orderedEnvironments(ctx.environments).map((name) => {
        const freezes = holding.filter((f) => f.env === null || f.env === name);
        const { recheckMs: _, ...freeze } = manualFreezeState(freezes, freezeStateAt(freezeWindowsOf(ctx.environments, name), now)) as Record<string, unknown>;
        return { name, ...gateConfigOf(ctx.environments, name), freeze, freezes };
      }),
    });
  }));
  return r;
}
