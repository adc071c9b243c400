// One way for tests to call Ferry's API: bearer token (the admin one unless told otherwise, none with null), JSON
// bodies, and the answer parsed as JSON when it is JSON (error pages and plain text stay strings).

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface ApiCallOptions {
  /** null sends no Authorization header */
  token?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function callApi<T = any>(baseUrl: string, method: string, route: string, body?: unknown, o: ApiCallOptions = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? ADMIN_TOKEN}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    ...(o.timeoutMs ? { signal: AbortSignal.timeout(o.timeoutMs) } : {}),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}
