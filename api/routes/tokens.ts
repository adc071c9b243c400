import { Router } from 'express';
import { z } from 'zod';
import { RoleSchema } from '../../src/auth/roles';
import { generateToken, parseDurationMs } from '../../src/auth/tokens';
import { zName } from '../../src/names';
import { insertToken, listTokens, revokeToken, TokenNameTakenError } from '../../src/store/tokens';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { asyncRoute, HttpError, parseBody } from '../errors';

const TokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" and "-"');

export const CreateTokenSchema = z
  .object({
    name: TokenName,
    owner: z.string().min(1).max(200).optional().describe('person or bot the token acts for; defaults to the caller'),
    role: RoleSchema,
    envs: z.array(zName('env')).min(1).max(100).optional().describe('limit the token to these environments; every environment when left out'),
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

/** Token administration; admin only. */
export function tokenRoutes(ctx: ApiContext): Router {
  const r = Router();
  const admin = requireRole(['admin']);

  r.post('/tokens', admin, asyncRoute(async (req, res) => {
    const body = parseBody(CreateTokenSchema, req.body);
    const expiresAt = body.expiresAt ? new Date(body.expiresAt) : body.expiresIn ? new Date(Date.now() + (parseDurationMs(body.expiresIn) ?? 0)) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new HttpError(400, 'invalid request', { issues: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const fresh = generateToken();
    try {
      const row = await insertToken(ctx.db, {
        id: fresh.id, name: body.name, owner: body.owner ?? req.principal?.name ?? 'unknown', role: body.role,
        envs: body.envs ? [...new Set(body.envs)].sort() : null, secretHash: fresh.secretHash, createdBy: actorOf(req), expiresAt,
      });
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
    const row = await revokeToken(ctx.db, String(req.params.id), actorOf(req));
    if (!row) throw new HttpError(404, `no live token with id or name "${req.params.id}"`);
    ctx.log.info('token revoked', { tokenId: row.id, tokenName: row.name, by: actorOf(req) });
    res.status(204).end();
  }));

  return r;
}
