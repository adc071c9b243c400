// An OCI registry on 127.0.0.1 over HTTPS serving a fixture chart the way `helm push` stores it (an OCI image
// manifest tagged with the chart version, one chart layer), and plain HTTPS servers standing in for a registry's
// blob storage. The certificates come from a CA made with openssl for this process; Ferry's fetch is handed it
// through ChartSources.ca. Each repository of the registry can be told to misbehave; every request is recorded
// with its headers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveHelmBinary } from '../../server/tools';
import { FIXTURE_CHARTS } from './chart-repo';

export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

interface TestTls {
  ca: string;
  cert: string;
  key: string;
}

let made: TestTls | undefined;
/** A CA and a certificate it signed for 127.0.0.1 and localhost, made once per process (EC keys: fast). */
export function testTls(): TestTls {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-oci-tls-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=ferry-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.crt');
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  made = { ca: read('ca.crt'), cert: read('server.crt'), key: read('server.key') };
  fs.rmSync(dir, { recursive: true, force: true });
  return made;
}

export interface Recorded {
  path: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingServer {
  /** `https://127.0.0.1:<port>` (`http://` without TLS) */
  url: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that records every request with its headers; HTTPS with the test CA's certificate unless `tls` is false. */
export async function serveRecording(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: { tls?: boolean } = {}): Promise<RecordingServer> {
  const requests: Recorded[] = [];
  const recording = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    handler(req, res);
  };
  const tls = opts.tls ?? true;
  const server = tls ? https.createServer({ cert: testTls().cert, key: testTls().key }, recording) : http.createServer(recording);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface OciChart {
  name: string;
  version: string;
  archive: Buffer;
  /** `sha256:<hex>` of the archive. */
  digest: string;
}

/** A fixture chart packaged by the real helm. */
export function packageChart(name = 'webapp'): OciChart {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-oci-chart-'));
  const home = path.join(dir, '.h');
  execFileSync(resolveHelmBinary(), ['package', path.join(FIXTURE_CHARTS, name), '--destination', dir], {
    env: { ...process.env, HELM_CACHE_HOME: home, HELM_CONFIG_HOME: home, HELM_DATA_HOME: home }, stdio: 'pipe',
  });
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  const archive = fs.readFileSync(path.join(dir, file));
  fs.rmSync(dir, { recursive: true, force: true });
  return { name, version: file.slice(name.length + 1, -'.tgz'.length), archive, digest: `sha256:${createHash('sha256').update(archive).digest('hex')}` };
}

/** The manifest `helm push` writes for `chart`. */
export function chartManifest(chart: OciChart): Record<string, unknown> {
  const config = JSON.stringify({ name: chart.name, version: chart.version });
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: `sha256:${createHash('sha256').update(config).digest('hex')}`, size: config.length },
    layers: [{ mediaType: HELM_CHART_LAYER, digest: chart.digest, size: chart.archive.length }],
    annotations: { 'org.opencontainers.image.title': chart.name, 'org.opencontainers.image.version': chart.version },
  };
}

/** How one repository of the registry (the path before the chart name) behaves; by default it just serves. */
export interface RepositoryBehaviour {
  /** Answer 401 with a bearer challenge until a request carries the token; the realm defaults to this registry's /token. */
  bearer?: { realm?: string };
  /** Blobs are answered with a redirect to `<blobRedirect>/<digest>`. */
  blobRedirect?: string;
  /** What is served instead of the chart's manifest (serialised as JSON). */
  manifest?: (manifest: Record<string, unknown>) => unknown;
  /** Bytes served instead of the chart archive. */
  blob?: Buffer;
  /** How many manifest requests are answered 429 first. */
  busy?: number;
}

export interface OciRegistry extends RecordingServer {
  /** `oci://127.0.0.1:<port>` */
  oci: string;
  /** The token the registry's /token issues and its bearer repositories want. */
  token: string;
  chart: OciChart;
}

export async function startOciRegistry(repositories: Record<string, RepositoryBehaviour>, chart: OciChart = packageChart()): Promise<OciRegistry> {
  const token = `test-token-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16)}`;
  const busy = new Map(Object.entries(repositories).map(([repo, b]) => [repo, b.busy ?? 0]));
  const server = await serveRecording((req, res) => {
    const url = new URL(req.url ?? '/', 'https://registry');
    if (url.pathname === '/token') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const m = /^\/v2\/(.+)\/([^/]+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const behaviour = m ? repositories[m[1]!] : undefined;
    if (!m || !behaviour || m[2] !== chart.name) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
      return;
    }
    const [, repo, name, kind, ref] = m;
    if (behaviour.bearer && req.headers.authorization !== `Bearer ${token}`) {
      const realm = behaviour.bearer.realm ?? `${server.url}/token`;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="ferry-test",scope="repository:${repo}/${name}:pull"` }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (kind === 'manifests') {
      const left = busy.get(repo!) ?? 0;
      if (left > 0) {
        busy.set(repo!, left - 1);
        res.writeHead(429).end('slow down');
      } else if (ref !== chart.version.replace(/\+/g, '_')) {
        res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      } else {
        const manifest = chartManifest(chart);
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(JSON.stringify(behaviour.manifest ? behaviour.manifest(manifest) : manifest));
      }
    } else if (ref !== chart.digest) {
      res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    } else if (behaviour.blobRedirect) {
      res.writeHead(307, { location: `${behaviour.blobRedirect}/${ref}` }).end();
    } else {
      res.end(behaviour.blob ?? chart.archive);
    }
  });
  return { ...server, oci: `oci://127.0.0.1:${server.port}`, token, chart };
}

/** Blob storage: serves `chart`'s archive at any path, recording each request's headers. */
export function startBlobStorage(chart: OciChart): Promise<RecordingServer> {
  return serveRecording((_req, res) => void res.end(chart.archive));
}
