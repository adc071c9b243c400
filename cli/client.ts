import { CliError, EXIT } from './errors';

export interface ClientOptions {
  server: string;
  token?: string;
  timeoutMs?: number;
}

/** The Ferry HTTP API, with every failure turned into one line a person can act on. */
export class FerryClient {
  readonly server: string;

  constructor(private readonly opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
  }

  get<T = any>(path: string, query?: Record<string, string | number | undefined | null>): Promise<T> {
    return this.request<T>('GET', withQuery(path, query));
  }

  post<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  delete<T = any>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.opts.token) throw new CliError('no API token: set FERRY_TOKEN or pass --token', EXIT.usage);
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}`, accept: 'application/json', 'user-agent': 'ferry-cli' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach Ferry at ${this.server}: ${networkReason(err)}`, EXIT.error, { unreachable: true });
    }
    const text = await res.text();
    let parsed: any = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.ok) return parsed as T;
    throw new CliError(describeFailure(method, path, res.status, parsed, this.server), EXIT.error, { status: res.status, body: parsed });
  }
}

function withQuery(path: string, query?: Record<string, string | number | undefined | null>): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer within 30s';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

function describeFailure(method: string, path: string, status: number, body: any, server: string): string {
  const msg = typeof body === 'object' && body && typeof body.error === 'string' ? body.error : typeof body === 'string' && body.length < 300 ? body.trim() : '';
  const issues = Array.isArray(body?.issues) ? body.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`).join('; ') : '';
  const detail = [msg, issues].filter(Boolean).join(': ') || 'no details';
  if (status === 401) return `${server} did not accept the token (401): ${detail}; check FERRY_TOKEN`;
  if (status === 403) return `not allowed (403): ${detail.replace(/^forbidden: /, '')}`;
  if (status === 404 && /^no route /.test(msg)) return `this Ferry server has no ${method} ${path.split('?')[0]} (404): is it an older version?`;
  if (status >= 500) return `Ferry failed (${status}): ${detail}`;
  return `${detail} (${status})`;
}
