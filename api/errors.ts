import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError, type ZodType, type z } from 'zod';
import { jsonNestingProblem } from '../src/nesting';

/** An error with an HTTP status whose message is safe to show the caller. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

export function issuesOf(err: ZodError): Array<{ path: string; message: string }> {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}

/** Validates and returns the body; a 400 names every failing field and why. */
export function parseBody<S extends ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw r.error;
  return r.data;
}

export const asyncRoute =
  (fn: (...args: Parameters<RequestHandler>) => Promise<unknown>): RequestHandler =>
  (req, res, next) => {
    fn(req, res, next).catch(next);
  };

/** express.json's verify hook: deeply nested bodies are a 400 before they are parsed (see src/nesting.ts). */
export function refuseDeepJson(_req: unknown, _res: unknown, buf: Buffer): void {
  const problem = jsonNestingProblem(buf);
  if (problem) throw Object.assign(new Error(problem), { status: 400 });
}

export function errorHandler(log: { error: (m: string, f?: Record<string, unknown>) => void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof ZodError) {
      res.status(400).json({ error: 'invalid request', issues: issuesOf(err) });
      return;
    }
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...err.details });
      return;
    }
    // body-parser errors carry their own status (400 malformed JSON, 413 too large, 415 charset).
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : undefined;
    if (status) {
      const message = status === 413 ? 'request body too large' : status === 400 ? `malformed request body: ${err.message}` : err.message;
      res.status(status).json({ error: message });
      return;
    }
    if (isUnavailable(err)) {
      res.status(503).json({ error: 'a backing service is unavailable, try again' });
      return;
    }
    log.error('request failed', { method: req.method, path: req.path, error: String(err?.stack ?? err) });
    res.status(500).json({ error: 'internal error' });
  };
}

/** Database or Temporal unreachable: the caller should retry, so say 503 rather than 500. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string | number; message?: string; name?: string };
  const code = String(e?.code ?? '');
  return (
    // 53300: PostgreSQL has no connection slot left, which passes like the other cases here.
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '53300', '57P01', '57P03', '08006', '08001', '08003'].includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect|UNAVAILABLE|ServiceError/i.test(`${e?.name} ${e?.message}`)
  );
}
