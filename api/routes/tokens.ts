import { Router } from 'express';
import { z } from 'zod';
import { RoleSchema } from '../../src/auth/roles';
import { grantDenial, isUnlimitedAdmin } from '../../src/auth/authorize';
import { normaliseScope, ScopeListSchema } from '../../src/auth/scopes';
import { generateToken, parseDurationMs } from '../../src/auth/tokens';
import { zName } from '../../src/names';
import { insertToken, listTokens, liveToken, revokeToken, TokenNameTakenError } from '../../src/store/tokens';
import { actorOf, forbidden, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

const TokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" and "-"');

export const CreateTokenSchema = z
  .object({
    name: TokenName,
    owner: z.string().min(1).max(200).optional().describe('person or bot the token acts for; defaults to the caller'),
    role: RoleSchema,
    envs: z.array(zName('env')).min(1).max(100).optional().describe('limit the token to these environments; every environment when left out'),
    repos: ScopeListSchema.optional().describe('limit the token to artifacts of these repositories (`acme/shop`, `acme/*`); every repository when left out'),
    apps: ScopeListSchema.optional().describe('limit the token to these apps (`shop`, `shop-*`); every app when left out'),
    expiresIn: z.string().refine((v) => parseDurationMs(v) !== null, 'must be a duration such as 90m, 12h, 30d or 8w').optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((t) => !(t.expiresIn && t.expiresAt), { path: ['expiresAt'], message: 'give expiresIn or expiresAt, not both' });

export const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.string(),
  role: RoleSchema,
  envs: z.array(z.string()).nullable(),
  repos: z.array(z.string()).nullable(),
  apps: z.array(z.string()).nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export const CreatedTokenSchema = TokenSchema.extend({ token: z.string().describe('the secret; shown only in this response') });
export const TokenListSchema = z.object({ items: z.array(TokenSchema) });
export const TokenListQuerySchema = z.object({ all: z.enum(['true', 'false']).optional().describe('include revoked tokens') });

/**
 * Token administration; admin only, and only within the caller's own rights: an admin limited to some
 * environments, repositories or apps creates and revokes tokens inside those limits, so rights never grow along a
 * chain of tokens.
 */
export function tokenRoutes(ctx: ApiContext): Router {
  const r = Router();
  const admin = requireRole(['admin']);

  r.post('/tokens', admin, asyncRoute(async (req, res) => {
    const body = parseBody(CreateTokenSchema, req.body);
    const expiresAt = body.expiresAt ? new Date(body.expiresAt) : body.expiresIn ? new Date(Date.now() + (parseDurationMs(body.expiresIn) ?? 0)) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new HttpError(400, 'invalid request', { issues: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const caller = req.principal!;
    const rights = {
      role: body.role, envs: body.envs ? [...new Set(body.envs)].sort() : null, repos: normaliseScope(body.repos), apps: normaliseScope(body.apps),
    };
    const refused = grantDenial(caller, rights);
    if (refused) throw forbidden(refused, 'create this token');
    // A token's owner is the identity four-eyes and approver lists see: only an admin without limits may mint one
    // for somebody else, or a limited admin could approve their own release under another name.
    const owner = body.owner ?? caller.name;
    if (owner !== caller.name && !isUnlimitedAdmin(caller)) {
      throw forbidden({ missing: 'owner', message: `${caller.actor} may create tokens for itself ("${caller.name}") only, not for "${owner}"` }, 'create this token');
    }
    const fresh = generateToken();
    try {
      const row = await insertToken(ctx.db, { id: fresh.id, name: body.name, owner, ...rights, secretHash: fresh.secretHash, createdBy: actorOf(req), expiresAt });
      ctx.log.info('token created', { tokenId: row.id, tokenName: row.name, role: row.role, envs: row.envs, by: actorOf(req) });
      res.status(201).json({ ...row, token: fresh.token });
    } catch (err) {
      if (err instanceof TokenNameTakenError) throw new HttpError(409, err.message);
      throw err;
    }
  }));

  r.get('/tokens', admin, asyncRoute(async (req, res) => {
    const q = parseBody(TokenListQuerySchema, req.query);
    res.json({ items: await listTokens(ctx.db, { includeRevoked: q.all === 'true' }) });
  }));

  r.delete('/tokens/:id', admin, asyncRoute(async (req, res) => {
    const target = await liveToken(ctx.db, String(req.params.id));
    if (!target) throw new HttpError(404, `no live token with id or name "${req.params.id}"`);
    const refused = grantDenial(req.principal!, target);
    if (refused) throw forbidden(refused, `revoke token "${target.name}"`);
    const row = await revokeToken(ctx.db, target.id, actorOf(req));
    if (!row) throw new HttpError(404, `no live token with id or name "${req.params.id}"`);
    ctx.log.info('token revoked', { tokenId: row.id, tokenName: row.name, by: actorOf(req) });
    res.status(204).end();
  }));

  return r;
}
