import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { parse as parseYaml } from 'yaml';
import { type ChartSources, ChartSourceError, type CheckedAddress, checkedAddress, repositoryAllowed, CHART_REPOSITORIES_VAR } from './chart-sources';
import { RenderError } from './tools';

/**
 * Fetches a chart from an HTTP chart repository in Ferry itself (index.yaml, then the archive it names), so that
 * every connection, redirect and index-chosen URL passes the checks of ./chart-sources, and helm is handed a local
 * archive instead of a URL a caller chose. The checked GET and the retry rule here serve OCI registries too
 * (./oci-fetch).
 */

export const MAX_INDEX_BYTES = 20 * 1024 * 1024;
export const MAX_CHART_BYTES = 20 * 1024 * 1024;
const MAX_REDIRECTS = 5;
/**
 * All attempts of one fetch end within this: the render activity has one minute before Temporal would time it out
 * and retry it, which is exactly the long retrying a chart that cannot be fetched must not get.
 */
export const FETCH_DEADLINE_MS = 40_000;
const REQUEST_TIMEOUT_MS = 15_000;

/** Worth another try soon: the repository answered 429/502/503/504, or the connection broke or timed out. */
export class TransientFetchError extends Error {}

/** A final (non-redirect) answer and the URL that gave it. */
export interface Answer {
  status: number;
  body: Buffer;
  headers: IncomingHttpHeaders;
  url: URL;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /**
   * Sent only while the request stays on the start URL's origin: a registry's bearer token must not follow a
   * redirect to its storage host (or anywhere else).
   */
  authorization?: string;
  deadline?: number;
}

interface Connection {
  pinned: CheckedAddress;
  headers: Record<string, string>;
  ca?: string | Buffer;
  maxBytes: number;
  what: string;
  timeoutMs: number;
}

function request(url: URL, c: Connection): Promise<Omit<Answer, 'url'>> {
  const { pinned, maxBytes, what, timeoutMs } = c;
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, {
      // The address was checked; connect to exactly it (TLS still verifies the certificate for the host name).
      lookup: (_host, opts, cb) => {
        if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: pinned.address, family: pinned.family }]);
        else cb(null, pinned.address, pinned.family);
      },
      headers: { 'user-agent': 'ferry', accept: '*/*', ...c.headers },
      ...(c.ca !== undefined && url.protocol === 'https:' ? { ca: c.ca } : {}),
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy();
          reject(new RenderError(`${what}: ${url.host}${url.pathname} is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', (err) => reject(new TransientFetchError(`${what}: ${url.host}: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new TransientFetchError(`${what}: ${url.host} did not answer within ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof TransientFetchError || err instanceof RenderError) reject(err);
      else if (err.code === 'ECONNRESET' || err.code === 'ETIMEDOUT' || err.code === 'EPIPE') reject(new TransientFetchError(`${what}: ${url.host}: ${err.code}`));
      else reject(new RenderError(`${what}: ${url.host} cannot be reached (${err.code ?? err.message})`));
    });
  });
}

/**
 * GET with checked, pinned connections and checked redirects (at most MAX_REDIRECTS); the first answer that is
 * not a redirect comes back whatever its status.
 */
export async function checkedRequest(sources: ChartSources, start: string, maxBytes: number, what: string, opts: RequestOptions = {}): Promise<Answer> {
  const deadline = opts.deadline ?? Date.now() + REQUEST_TIMEOUT_MS;
  let url = new URL(start);
  const origin = url.origin;
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ChartSourceError(`${what}: ${url.protocol} URLs are not fetched`);
    if (url.username || url.password) throw new ChartSourceError(`${what}: URLs with credentials are not fetched`);
    const pinned = await checkedAddress(sources, url, what);
    const left = deadline - Date.now();
    if (left <= 0) throw new TransientFetchError(`${what}: ${url.host} did not answer in time`);
    const headers = { ...opts.headers, ...(opts.authorization !== undefined && url.origin === origin ? { authorization: opts.authorization } : {}) };
    const res = await request(url, { pinned, headers, ca: sources.ca, maxBytes, what, timeoutMs: Math.min(REQUEST_TIMEOUT_MS, left) });
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      if (hop >= MAX_REDIRECTS) throw new RenderError(`${what}: more than ${MAX_REDIRECTS} redirects`);
      url = new URL(res.headers.location, url);
      continue;
    }
    return { ...res, url };
  }
}

/** The error for an answer that is not 2xx: 429/502/503/504 are worth another try, the rest are final. */
export function answerError(answer: Answer, what: string): Error {
  const where = `${answer.url.host}${answer.url.pathname}`;
  if ([429, 502, 503, 504].includes(answer.status)) return new TransientFetchError(`${what}: ${where} answered ${answer.status}`);
  return new RenderError(`${what}: ${where} answered ${answer.status}`);
}

/** GET with checked, pinned connections and checked redirects; non-2xx answers become errors naming `what`. */
export async function checkedGet(sources: ChartSources, start: string, maxBytes: number, what: string, deadline = Date.now() + REQUEST_TIMEOUT_MS): Promise<Buffer> {
  const answer = await checkedRequest(sources, start, maxBytes, what, { deadline });
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  throw answerError(answer, what);
}

/**
 * Runs `fetch` until it succeeds or fails for good: a TransientFetchError is retried (`attempts` in all, pauses of
 * 1 s and 2 s, all within FETCH_DEADLINE_MS); what remains is thrown as a RenderError, which fails the release.
 */
export async function retrying<T>(attempts: number, fetch: (deadline: number) => Promise<T>): Promise<T> {
  const deadline = Date.now() + FETCH_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(deadline);
    } catch (err) {
      if (!(err instanceof TransientFetchError)) throw err;
      const pause = 1000 * 2 ** (attempt - 1);
      if (attempt >= attempts || Date.now() + pause >= deadline) throw new RenderError(`${err.message} (gave up after ${attempt} attempts)`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

interface IndexEntry {
  version?: unknown;
  urls?: unknown;
  digest?: unknown;
}

/** The archive URL (absolute) and its sha256 digest, if the index gives one, for `name` at `version`. */
export function findInIndex(indexText: string, indexUrl: string, name: string, version: string, what: string): { url: string; digest?: string } {
  let index: { entries?: Record<string, IndexEntry[]> };
  try {
    index = parseYaml(indexText, { maxAliasCount: 1000 }) as typeof index;
  } catch {
    // The parser's message quotes the text; say no more than that it is not an index.
    throw new RenderError(`${what}: index.yaml is not valid YAML`);
  }
  const versions = index?.entries?.[name];
  if (!Array.isArray(versions)) throw new RenderError(`${what}: the repository has no chart "${name}"`);
  const bare = (v: string) => v.replace(/^v/, '');
  const entry = versions.find((e) => typeof e?.version === 'string' && bare(e.version) === bare(version));
  if (!entry) throw new RenderError(`${what}: the repository has no version ${version} of chart "${name}"`);
  const first = Array.isArray(entry.urls) ? entry.urls[0] : undefined;
  if (typeof first !== 'string' || first === '') throw new RenderError(`${what}: index.yaml gives no URL for ${name} ${version}`);
  let url: string;
  try {
    url = new URL(first, indexUrl).toString();
  } catch {
    throw new RenderError(`${what}: index.yaml gives "${first.slice(0, 200)}", not a URL`);
  }
  const digest = typeof entry.digest === 'string' && /^[0-9a-f]{64}$/i.test(entry.digest) ? entry.digest.toLowerCase() : undefined;
  return { url, digest };
}

/**
 * The chart archive of `name` `version` from the HTTP repository `repository`, retried as `retrying` says; every
 * failure that remains is a RenderError: the release fails with it.
 */
export async function fetchHttpChart(sources: ChartSources, repository: string, name: string, version: string, what: string, attempts = 3): Promise<Buffer> {
  return retrying(attempts, async (deadline) => {
    const indexUrl = `${repository.replace(/\/+$/, '')}/index.yaml`;
    const index = await checkedGet(sources, indexUrl, MAX_INDEX_BYTES, `${what}: index.yaml`, deadline);
    const found = findInIndex(index.toString('utf8'), indexUrl, name, version, what);
    if (!repositoryAllowed(sources, found.url)) {
      throw new ChartSourceError(`${what}: index.yaml points the archive to ${new URL(found.url).host}${new URL(found.url).pathname}, which ${CHART_REPOSITORIES_VAR} does not list`);
    }
    const archive = await checkedGet(sources, found.url, MAX_CHART_BYTES, `${what}: archive`, deadline);
    if (found.digest && createHash('sha256').update(archive).digest('hex') !== found.digest) {
      throw new RenderError(`${what}: the archive's sha256 differs from the digest index.yaml gives`);
    }
    return archive;
  });
}
