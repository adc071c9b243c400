// Local HTTP servers that record what they receive: notification targets and a Kubernetes API for Flux objects.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface Recorder {
  url: string;
  requests: RecordedRequest[];
  /** Status to answer per path prefix (default 200). */
  statusFor: Map<string, number>;
  waitFor(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function readBody(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : null);
      } catch {
        resolve(text);
      }
    });
  });
}

async function waitFor<T>(list: T[], pred: (r: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = list.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no matching request within ${timeoutMs} ms; got ${JSON.stringify(list.map((r) => (r as RecordedRequest).path))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRecorder(): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const statusFor = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    let status = 200;
    for (const [prefix, s] of statusFor) if ((req.url ?? '').startsWith(prefix)) status = s;
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  const url = await listen(server);
  return {
    url, requests, statusFor,
    waitFor: (pred, t) => waitFor(requests, pred, t),
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

export interface FakeKube {
  url: string;
  requests: RecordedRequest[];
  /** Objects by `<plural>/<namespace>/<name>`. */
  objects: Map<string, any>;
  kubeconfig(token?: string): string;
  waitFor(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/**
 * Answers GET and merge-PATCH for namespaced custom objects the way the API server does
 * (`/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`), 404 with a Status otherwise.
 */
export async function startFakeKube(): Promise<FakeKube> {
  const requests: RecordedRequest[] = [];
  const objects = new Map<string, any>();
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    res.setHeader('content-type', 'application/json');
    const m = /^\/apis\/[^/]+\/[^/]+\/namespaces\/([^/]+)\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
    const key = m ? `${m[2]}/${m[1]}/${m[3]}` : '';
    const obj = objects.get(key);
    if (!obj || req.headers.authorization !== 'Bearer kube-token') {
      const code = obj ? 401 : 404;
      res.statusCode = code;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: code === 404 ? 'NotFound' : 'Unauthorized', code }));
      return;
    }
    if (req.method === 'PATCH') {
      obj.metadata.annotations = { ...obj.metadata.annotations, ...body?.metadata?.annotations };
    }
    res.end(JSON.stringify(obj));
  });
  const url = await listen(server);
  return {
    url, requests, objects,
    kubeconfig: (token = 'kube-token') => `apiVersion: v1
kind: Config
# The client refuses plain http unless TLS checks are off; this fake speaks http on 127.0.0.1 only.
clusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: ferry, user: {token: ${token}}}]
contexts: [{name: fake, context: {cluster: fake, user: ferry}}]
current-context: fake
`,
    waitFor: (pred, t) => waitFor(requests, pred, t),
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

/** A Kustomization as kustomize-controller v1 reports it. */
export function kustomization(namespace: string, name: string, s: { generation?: number; observed?: number; ready?: [string, string, string?]; stalled?: boolean; applied?: string; attempted?: string } = {}) {
  const conditions: any[] = [];
  if (s.ready) conditions.push({ type: 'Ready', status: s.ready[0], reason: s.ready[1], message: s.ready[2] ?? '' });
  if (s.stalled) conditions.push({ type: 'Stalled', status: 'True', reason: 'InvalidCELExpression', message: 'bad expression' });
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
    metadata: { name, namespace, generation: s.generation ?? 1, annotations: {} },
    status: {
      observedGeneration: s.observed ?? s.generation ?? 1,
      conditions,
      ...(s.applied ? { lastAppliedRevision: s.applied } : {}),
      ...(s.attempted ? { lastAttemptedRevision: s.attempted } : {}),
    },
  };
}
