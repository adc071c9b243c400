// Every call goes to Ferry's own API with the session cookie; changes carry the CSRF cookie's value in a header.
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function csrf() {
  const m = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('ferry_csrf='));
  return m ? decodeURIComponent(m.slice('ferry_csrf='.length)) : '';
}

export async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-ferry-csrf'] = csrf();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text };
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});

export async function signIn(token) {
  return call('POST', '/console/session', { token });
}

export async function signOut() {
  return call('DELETE', '/console/session');
}

export const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const out = s.toString();
  return out ? `?${out}` : '';
};
