import dns from 'node:dns/promises';
import net from 'node:net';
import { RenderError } from './tools';

/**
 * Which chart repositories Ferry may fetch from (FERRY_CHART_REPOSITORIES), and where its connections may go.
 * The repository URL is chosen by whoever pushes the artifact, so without these checks a push could make the
 * server fetch its own API, the database's or Temporal's ports, or a cloud metadata address, and echo the answer
 * in logs and the release's error.
 *
 * - A repository must start with a listed prefix (`https://charts.example.com/`, `oci://ghcr.io/acme/`).
 * - Every connection (the index, the archive, each redirect, an OCI registry) goes only to addresses that are not
 *   loopback, private, link-local or otherwise special, unless its host is named by a listed entry: an operator
 *   who lists `http://chartmuseum.internal:8080/` means it.
 */
export const CHART_REPOSITORIES_VAR = 'FERRY_CHART_REPOSITORIES';

/** A chart source refused by configuration: never worth retrying. */
export class ChartSourceError extends RenderError {}

export interface ChartSources {
  /** Normalised prefixes, each ending in `/`. */
  allowed: string[];
  /**
   * Certificate authorities trusted for https connections in place of Node's own (the tests' local registries).
   * Not configurable: an operator with a private CA sets NODE_EXTRA_CA_CERTS, which Node adds to its own.
   */
  ca?: string | Buffer;
}

function normalise(url: string): string {
  const u = new URL(url);
  const base = `${u.protocol}//${u.host.toLowerCase()}${u.pathname}`;
  return base.endsWith('/') ? base : `${base}/`;
}

/** `https://a.example/charts, oci://ghcr.io/acme` (commas or whitespace); throws naming the bad entry. */
export function parseChartRepositories(text: string | undefined): ChartSources {
  const entries = (text ?? '').split(/[\s,]+/).filter((s) => s !== '');
  const allowed = entries.map((entry) => {
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      throw new Error(`${CHART_REPOSITORIES_VAR}: "${entry}" is not a URL`);
    }
    if (!['http:', 'https:', 'oci:'].includes(u.protocol)) throw new Error(`${CHART_REPOSITORIES_VAR}: "${entry}" must be an http(s):// or oci:// URL`);
    if (u.username || u.password || u.search || u.hash) throw new Error(`${CHART_REPOSITORIES_VAR}: "${entry}" must not hold credentials, a query or a fragment`);
    return normalise(entry);
  });
  return { allowed };
}

/** Whether `url` lies below a listed prefix (whole path segments: `…/acme/` does not admit `…/acme-evil/`). */
export function repositoryAllowed(sources: ChartSources, url: string): boolean {
  let candidate: string;
  try {
    candidate = normalise(url);
  } catch {
    return false;
  }
  return sources.allowed.some((prefix) => candidate.startsWith(prefix));
}

function hostListed(sources: ChartSources, host: string): boolean {
  return sources.allowed.some((prefix) => new URL(prefix).host === host.toLowerCase());
}

const SPECIAL = new net.BlockList();
for (const [net4, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL.addSubnet(net4, bits, 'ipv4');
for (const [net6, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) SPECIAL.addSubnet(net6, bits, 'ipv6');

/** Loopback, private, link-local, carrier-grade NAT, documentation, multicast and the like. */
export function specialAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return SPECIAL.check(mapped[1]!, 'ipv4');
  return SPECIAL.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves `url`'s host and returns the address to connect to (the connection is pinned to it, so a second DNS
 * answer cannot swap in another). Refused when any address is special and the host is not listed.
 */
export async function checkedAddress(sources: ChartSources, url: URL, what: string): Promise<CheckedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addresses = await dns.lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new RenderError(`${what}: the host "${host}" cannot be resolved (${(err as NodeJS.ErrnoException).code ?? 'DNS error'})`);
    }
  }
  if (addresses.length === 0) throw new RenderError(`${what}: the host "${host}" has no address`);
  const special = addresses.find((a) => specialAddress(a.address));
  if (special && !hostListed(sources, url.host)) {
    throw new ChartSourceError(
      `${what}: ${url.host} resolves to ${special.address}, a loopback, private or link-local address; Ferry connects there only when ${CHART_REPOSITORIES_VAR} names that host`,
    );
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
