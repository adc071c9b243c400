// Where and how Ferry reaches Temporal, read the way every Temporal SDK and the `temporal` CLI read it
// (@temporalio/envconfig): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*,
// and a TOML file (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml) with profiles (TEMPORAL_PROFILE).
// The API's client, the workers' native connection and `ferry temporal check` all connect through here, so one
// set of settings means the same thing to each of them.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Connection, type TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { ConfigError } from '../src/config';

/** Everything a connection needs besides the address. */
export interface TemporalConnectionSettings {
  tls?: TLSConfig | boolean | null;
  apiKey?: string;
  metadata?: NativeConnectionOptions['metadata'];
}

export interface TemporalProfile {
  /** Undefined: no server configured; `npm start` runs an embedded dev server. */
  address?: string;
  namespace: string;
  connection: TemporalConnectionSettings;
  /** For logs and errors: how the connection is secured, without any secret. */
  describe: string;
}

export class TemporalConfigError extends ConfigError {}
/** Connecting failed; the message says where, how and what to check (no stack needed). */
export class TemporalConnectError extends Error {}

const SECURITY_VARS = [
  'TEMPORAL_API_KEY', 'TEMPORAL_TLS', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_KEY_DATA', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA', 'TEMPORAL_TLS_SERVER_NAME',
];

/**
 * Reads the Temporal profile from the environment (and the config file it points at). A setting that cannot work —
 * a missing certificate file, half of a client certificate pair, TLS settings with no server to use them on — is a
 * TemporalConfigError naming it.
 */
export function loadTemporalProfile(env: NodeJS.ProcessEnv = process.env): TemporalProfile {
  // Like FERRY_* settings, an empty variable counts as unset (envconfig would take '' as an address).
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const fileNamed = vars.TEMPORAL_CONFIG_FILE !== undefined;
  // The SDK skips a missing file silently; a file the operator named must exist, or a typo would start Ferry on an
  // embedded server instead of the cluster the file describes.
  if (fileNamed && !fs.existsSync(vars.TEMPORAL_CONFIG_FILE!)) {
    throw new TemporalConfigError(`invalid Temporal configuration: cannot read TEMPORAL_CONFIG_FILE ${vars.TEMPORAL_CONFIG_FILE}`);
  }
  let options: ReturnType<typeof toClientOptions>;
  let tlsFiles: string[] = [];
  let hasClientCert = false;
  try {
    const profile = loadClientConfigProfile({ overrideEnvVars: vars, configFileStrict: fileNamed });
    const tls = profile.tls;
    if (tls && !tls.disabled) {
      if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
        throw new TemporalConfigError('invalid Temporal configuration: a client certificate needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or both client_cert and client_key in the profile)');
      }
      hasClientCert = Boolean(tls.clientCert);
      tlsFiles = [tls.serverCACert, tls.clientCert, tls.clientKey].flatMap((s) => (s && 'path' in s ? [s.path] : []));
    }
    options = toClientOptions(profile);
  } catch (err) {
    if (err instanceof TemporalConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && e.path) throw new TemporalConfigError(`invalid Temporal configuration: cannot read ${e.path}`);
    throw new TemporalConfigError(`invalid Temporal configuration: ${e.message}`);
  }
  const { address, tls, apiKey, metadata } = options.connectionOptions;
  if (!address && SECURITY_VARS.some((v) => vars[v] !== undefined)) {
    throw new TemporalConfigError('invalid Temporal configuration: TEMPORAL_TLS*/TEMPORAL_API_KEY are set but no server is (set TEMPORAL_ADDRESS or a profile with an address)');
  }
  const secured = tls === undefined || tls === false || tls === null ? 'plaintext' : 'TLS';
  const parts = [secured];
  if (secured === 'TLS') {
    const t = typeof tls === 'object' ? tls : undefined;
    parts.push(t?.serverRootCACertificate ? 'server CA from settings' : 'system CAs');
    if (hasClientCert) parts.push('client certificate');
    if (t?.serverNameOverride) parts.push(`server name ${t.serverNameOverride}`);
  }
  if (apiKey) parts.push('API key');
  return {
    address,
    namespace: options.namespace ?? 'default',
    connection: { tls, apiKey, metadata },
    describe: parts.join(', ') + (tlsFiles.length ? ` (${tlsFiles.join(', ')})` : ''),
  };
}

/** The API's client connection (JavaScript gRPC). */
export async function connectClient(address: string, settings: TemporalConnectionSettings, connectTimeout?: number): Promise<Connection> {
  try {
    return await Connection.connect({ address, ...settings, ...(connectTimeout ? { connectTimeout } : {}) });
  } catch (err) {
    throw connectError(address, settings, err, await tlsHandshakeProblem(address, settings));
  }
}

/** The workers' native (Rust) connection. */
export async function connectNative(address: string, settings: TemporalConnectionSettings): Promise<NativeConnection> {
  try {
    // Loaded here: the worker package brings the native runtime, which the API-only paths never need.
    const { NativeConnection: Native } = await import('@temporalio/worker');
    return await Native.connect({ address, ...settings });
  } catch (err) {
    throw connectError(address, settings, err, await tlsHandshakeProblem(address, settings));
  }
}

/** One line saying where the connection went, how it was secured, what failed and what to check. */
export function connectError(address: string, settings: TemporalConnectionSettings, err: unknown, handshake?: string): Error {
  const said = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  const reason = handshake ? `TLS handshake failed: ${handshake} (${said})` : said;
  const secured = settings.tls ? 'over TLS' : 'in plaintext';
  let hint = '';
  if (/certificate required/i.test(reason)) {
    hint = '; the server requires a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)';
  } else if (/alert (unknown ca|bad certificate|certificate unknown|decrypt error)|refusing the client certificate/i.test(reason)) {
    hint = '; the server does not accept this client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH): it must chain to a CA the server trusts';
  } else if (/certificate|UnknownIssuer|unknown ?ca|self[- ]signed|handshake|tls|alert/i.test(reason)) {
    hint = settings.tls
      ? '; check TEMPORAL_TLS_SERVER_CA_CERT_PATH (the CA that signed the server certificate) and TEMPORAL_TLS_SERVER_NAME'
      : '; the server may require TLS (TEMPORAL_TLS=true)';
  } else if (/unauthenticated|permission|api key|authorization/i.test(reason)) {
    hint = '; check TEMPORAL_API_KEY or the client certificate and the namespace';
  }
  const wrapped = new TemporalConnectError(`cannot connect to Temporal at ${address} ${secured}: ${reason}${hint}`);
  wrapped.cause = err;
  return wrapped;
}

/**
 * After a failed connection: a TLS handshake of our own with the same settings, for its reason. The gRPC client
 * only reports that no connection was made before its deadline, which does not tell a wrong CA from a dead server.
 */
async function tlsHandshakeProblem(address: string, settings: TemporalConnectionSettings): Promise<string | undefined> {
  if (!settings.tls) return undefined;
  const t = typeof settings.tls === 'object' ? settings.tls : {};
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) return undefined;
  const servername = t.serverNameOverride ?? (net.isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    const socket = tls.connect({
      host, port, servername, ALPNProtocols: ['h2'],
      ...(t.serverRootCACertificate ? { ca: Buffer.from(t.serverRootCACertificate) } : {}),
      ...(t.clientCertPair ? { cert: Buffer.from(t.clientCertPair.crt), key: Buffer.from(t.clientCertPair.key) } : {}),
      ...(t.serverNameOverride ? { checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(t.serverNameOverride!, cert) } : {}),
    });
    const done = (problem: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(undefined), 5_000);
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? undefined : handshakeReason(e)));
    // TLS 1.3 servers refuse a client certificate after the handshake: wait a moment for that alert.
    socket.once('secureConnect', () => {
      // Some servers drop a refused client certificate without an alert: the handshake "succeeds", then the
      // connection ends.
      socket.once('end', () => done(t.clientCertPair ? 'the server closed the connection right after the handshake, refusing the client certificate' : undefined));
      socket.resume();
      setTimeout(() => done(undefined), 500);
    });
  });
}

/** OpenSSL's reason without its error-stack framing: `tlsv13 alert certificate required`. */
function handshakeReason(e: NodeJS.ErrnoException): string {
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(e.message);
  return (ssl ? ssl[1] : e.message).replace(/\s+/g, ' ').trim();
}
