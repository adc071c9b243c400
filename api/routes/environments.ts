import { Router } from 'express';
import { freezeStateAt } from '../../src/gates/freeze';
import { freezeWindowsOf, gateConfigOf, orderedEnvironments } from '../../src/gates/environments';
import type { ApiContext } from '../context';

/** The server-side gate config as loaded at start-up, with each environment's freeze state now. */
export function environmentRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/environments', (_req, res) => {
    const now = Date.now();
    res.json({
      environments: orderedEnvironments(ctx.environments).map((name) => ({
        name,
        ...gateConfigOf(ctx.environments, name),
        freeze: freezeStateAt(freezeWindowsOf(ctx.environments, name), now),
      })),
    });
  });
  return r;
}
