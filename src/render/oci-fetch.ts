import { createHash } from 'node:crypto';
import { type Answer, answerError, checkedRequest, MAX_CHART_BYTES, retrying } from './chart-fetch';
import { type ChartSources, ChartSourceError } from './chart-sources';
import { RenderError } from './tools';

/**
 * Pulls a Helm chart from an OCI registry in Ferry itself, over the distribution API: the manifest tagged with the
 * chart's version, then the blob of its one chart layer. Every connection — registry, token service, the storage a
 * blob is redirected to — goes through checkedRequest (resolved, checked and pinned addresses, checked redirects).
 * The blob's bytes must hash to the digest the manifest names, which is what makes following a registry's redirect
 * to a storage host safe. Only anonymous pulls: a registry asking for credentials fails the release.
 */

export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
/** Room for the small error body of a 401 or 404 answered where a tiny chart was expected. */
const MIN_ANSWER_BYTES = 64 * 1024;
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
/** What helm before 3.7 pushed; helm still pulls it, and registries still hold such charts. */
export const LEGACY_HELM_CHART_LAYER = 'application/tar+gzip';
const CHART_LAYERS: readonly unknown[] = [HELM_CHART_LAYER, LEGACY_HELM_CHART_LAYER];
// The distribution spec's repository name: lowercase components joined by "/"; no "..", "%", "\", "?" or "#".
const REPOSITORY_NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TOKEN = /^[\x21-\x7e]{1,16384}$/;

interface Location {
  /** `https://host[:port]`, where the registry answers. */
  origin: string;
  /** Repository path and chart name: `acme/charts/webapp`. */
  repository: string;
  tag: string;
}

/**
 * Where `name` `version` lives below `oci://host/path`. The path is taken from the oci:// URL the allowlist
 * checked, never re-parsed as https (which would turn `\` into `/` and resolve `..` after the check).
 */
export function ociLocation(repository: string, name: string, version: string, what: string): Location {
  const url = new URL(repository);
  const full = [...url.pathname.split('/').filter((s) => s !== ''), name].join('/');
  if (!REPOSITORY_NAME.test(full)) {
    throw new RenderError(`${what}: "${full.slice(0, 300)}" is not an OCI repository name (lowercase letters and digits, separated by ".", "_", "-" or "/")`);
  }
  // helm tags a chart with its version; "+" is not allowed in a tag.
  const tag = version.replace(/\+/g, '_');
  if (!TAG.test(tag)) throw new RenderError(`${what}: version ${version.slice(0, 200)} does not make an OCI tag (at most 128 characters)`);
  let origin: string;
  try {
    origin = new URL(`https://${url.host}`).origin;
  } catch {
    throw new RenderError(`${what}: "${url.host}" is not a registry host`);
  }
  return { origin, repository: full, tag };
}

/** The chart layer's digest and size from a manifest; anything else is refused without quoting it. */
export function chartLayer(body: Buffer, what: string): { digest: string; size: number } {
  let manifest: unknown;
  try {
    manifest = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RenderError(`${what}: the manifest is not JSON`);
  }
  const m = manifest as { schemaVersion?: unknown; mediaType?: unknown; layers?: unknown } | null;
  if (typeof m !== 'object' || m === null || m.schemaVersion !== 2 || !Array.isArray(m.layers) || (m.mediaType !== undefined && m.mediaType !== OCI_MANIFEST)) {
    throw new RenderError(`${what}: the registry's answer is not an OCI image manifest`);
  }
  const layers = (m.layers as unknown[]).filter((l): l is { digest?: unknown; size?: unknown } => typeof l === 'object' && l !== null && CHART_LAYERS.includes((l as { mediaType?: unknown }).mediaType));
  if (layers.length !== 1) {
    throw new RenderError(`${what}: the manifest has ${layers.length === 0 ? 'no' : layers.length} Helm chart layers (${HELM_CHART_LAYER}); a chart has exactly one`);
  }
  const { digest, size } = layers[0]!;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new RenderError(`${what}: the chart layer's digest is not a sha256 digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new RenderError(`${what}: the chart layer's size is not a number of bytes`);
  if (size > MAX_CHART_BYTES) throw new RenderError(`${what}: the chart layer is ${size} bytes, more than ${MAX_CHART_BYTES}`);
  return { digest, size };
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters; null for any other scheme. */
function bearerChallenge(header: string): Record<string, string> | null {
  const m = /^\s*Bearer\s+(.*)$/is.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const [, key, value] of m[1]!.matchAll(/([A-Za-z]+)\s*=\s*"([^"]*)"/g)) params[key!.toLowerCase()] = value!;
  return params;
}

/** One pull: the registry's address, the token once one was issued, and the deadline of this attempt. */
class RegistrySession {
  private token?: string;

  constructor(
    private readonly sources: ChartSources,
    private readonly at: Location,
    private readonly what: string,
    private readonly deadline: number,
  ) {}

  /** GET `/v2/<repository>/<path>`, answering a bearer challenge from the registry once. */
  async get(path: string, maxBytes: number, headers: Record<string, string>, label: string): Promise<Buffer> {
    const url = `${this.at.origin}/v2/${this.at.repository}/${path}`;
    const what = `${this.what}: ${label}`;
    const send = () => checkedRequest(this.sources, url, maxBytes, what, {
      headers,
      authorization: this.token === undefined ? undefined : `Bearer ${this.token}`,
      deadline: this.deadline,
    });
    let answer = await send();
    // Only the registry's own challenge counts: a host it redirected to cannot make Ferry fetch a token for it.
    if (answer.status === 401 && this.token === undefined && answer.url.origin === this.at.origin) {
      this.token = await this.anonymousToken(answer, what);
      answer = await send();
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    if ((answer.status === 401 || answer.status === 403) && answer.url.origin === this.at.origin) {
      throw new RenderError(`${what}: ${answer.url.host}${answer.url.pathname} answered ${answer.status}: the registry wants credentials, and Ferry pulls charts anonymously only`);
    }
    if (answer.status === 404 && label === 'manifest') {
      throw new RenderError(`${what}: ${answer.url.host}${answer.url.pathname} answered 404: the registry has no such chart or version`);
    }
    throw answerError(answer, what);
  }

  /**
   * An anonymous token from the realm the challenge names. The realm is the registry's choice and need not be
   * listed (Docker Hub's is auth.docker.io): it must be https and pass the address checks, and it gets no
   * credentials — there are none.
   */
  private async anonymousToken(challenge: Answer, what: string): Promise<string> {
    const header = challenge.headers['www-authenticate'] ?? '';
    const params = bearerChallenge(header);
    if (!params) throw new RenderError(`${what}: ${challenge.url.host} wants credentials (not a bearer challenge), and Ferry pulls charts anonymously only`);
    let realm: URL;
    try {
      realm = new URL(params.realm ?? '');
    } catch {
      throw new RenderError(`${what}: ${challenge.url.host}'s challenge names no token realm URL`);
    }
    if (realm.protocol !== 'https:') throw new ChartSourceError(`${what}: the token realm ${realm.host}${realm.pathname} is not https`);
    if (params.service !== undefined) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? `repository:${this.at.repository}:pull`);
    const answer = await checkedRequest(this.sources, realm.toString(), MAX_TOKEN_ANSWER_BYTES, `${what}: token`, { headers: { accept: 'application/json' }, deadline: this.deadline });
    if (answer.status < 200 || answer.status >= 300) throw answerError(answer, `${what}: token`);
    let token: unknown;
    try {
      const body = JSON.parse(answer.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = body.token ?? body.access_token;
    } catch {
      // Left undefined: refused below without quoting the body.
    }
    if (typeof token !== 'string' || !TOKEN.test(token)) throw new RenderError(`${what}: the token service at ${answer.url.host}${answer.url.pathname} gave no usable token`);
    return token;
  }
}

/**
 * The chart archive of `name` `version` from the registry `repository` (`oci://host/path`), retried as
 * `retrying` says (each attempt starts the pull over); every failure that remains is a RenderError.
 */
export async function fetchOciChart(sources: ChartSources, repository: string, name: string, version: string, what: string, attempts = 3): Promise<Buffer> {
  const at = ociLocation(repository, name, version, what);
  return retrying(attempts, async (deadline) => {
    const session = new RegistrySession(sources, at, what, deadline);
    const manifest = await session.get(`manifests/${at.tag}`, MAX_MANIFEST_BYTES, { accept: OCI_MANIFEST }, 'manifest');
    const layer = chartLayer(manifest, what);
    const blob = await session.get(`blobs/${layer.digest}`, Math.max(layer.size, MIN_ANSWER_BYTES), {}, 'chart layer');
    if (blob.length !== layer.size || `sha256:${createHash('sha256').update(blob).digest('hex')}` !== layer.digest) {
      throw new RenderError(`${what}: the chart layer's bytes do not match the digest the manifest names`);
    }
    return blob;
  });
}
