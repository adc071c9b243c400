// Ferry against a Temporal reached only through TLS: a dev server behind a local TLS terminator (ALPN h2, piping to
// the dev server's plaintext port), configured with nothing but the standard TEMPORAL_* variables.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { Cluster } from './support/processes';
import { makeArtifact } from './support/stack';
import { cliEnv, startCli } from './support/cli';
import { connectNative, loadTemporalProfile, TemporalConfigError } from '../server/temporal-profile';

const SERVER_NAME = 'temporal.ferry.test';
let cluster: Cluster;
let certs: Record<'ca' | 'otherCa' | 'serverCert' | 'serverKey' | 'clientCa' | 'clientCert' | 'clientKey' | 'strangerCert' | 'strangerKey', string>;
const terminators: tls.Server[] = [];

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and certificates signed by it, all written to dir (EC keys: fast to make). */
function makeCerts(dir: string): typeof certs {
  const ca = (name: string) => {
    openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  };
  const leaf = (name: string, signer: string, ext: string) => {
    openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
      '-keyout', `${name}.key`, '-out', `${name}.csr`);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial',
      '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  ca('server-ca');
  ca('other-ca');
  ca('client-ca');
  leaf('server', 'server-ca', `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'client-ca', 'extendedKeyUsage=clientAuth\n');
  // Signed by a CA the terminator does not trust.
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => path.join(dir, f);
  return {
    ca: p('server-ca.crt'), otherCa: p('other-ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'),
    clientCa: p('client-ca.crt'), clientCert: p('client.crt'), clientKey: p('client.key'),
    strangerCert: p('stranger.crt'), strangerKey: p('stranger.key'),
  };
}

/** A TLS terminator on 127.0.0.1 in front of the dev server; counts the TLS sessions it accepted. */
async function startTerminator(requireClientCert: boolean): Promise<{ address: string; sessions: () => number }> {
  let sessions = 0;
  const server = tls.createServer(
    {
      key: fs.readFileSync(certs.serverKey),
      cert: fs.readFileSync(certs.serverCert),
      ALPNProtocols: ['h2'],
      ...(requireClientCert ? { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(certs.clientCa) } : {}),
    },
    (socket) => {
      sessions += 1;
      const upstream = net.connect(cluster.temporalPort, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', close);
      upstream.on('error', close);
      socket.on('close', close);
      upstream.on('close', close);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  terminators.push(server);
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, sessions: () => sessions };
}

before(async () => {
  cluster = await Cluster.start();
  const dir = path.join(cluster.dir, 'certs');
  fs.mkdirSync(dir);
  certs = makeCerts(dir);
});

after(async () => {
  for (const t of terminators) t.close();
  await cluster?.stop();
});

async function releaseThrough(name: string): Promise<string> {
  const artifact = makeArtifact({ apps: [{ app: name, env: 'staging' }] });
  const pushed = await cluster.api('POST', '/api/artifacts', artifact);
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  const started = await cluster.api('POST', '/api/releases', { artifactId: pushed.body.id, env: 'staging' });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const done = await cluster.waitForReleases([started.body.id], 90_000);
  assert.equal(done.get(started.body.id).status, 'committed', JSON.stringify(done.get(started.body.id)));
  assert.equal(cluster.commitsByRelease().get(started.body.id), 1);
  return started.body.id;
}

/** Starts a Ferry process with the given TEMPORAL_* variables; resolves to why it failed to start, if it did. */
async function spawnFailing(name: string, env: Record<string, string>): Promise<string> {
  try {
    await cluster.spawn(name, ['api', 'release-worker', 'writer'], env);
  } catch (err) {
    return (err as Error).message;
  }
  await cluster.kill(name);
  assert.fail(`${name} started although it should not have`);
}

test('a release goes end to end through TLS with the server CA checked', async () => {
  const terminator = await startTerminator(false);
  await cluster.spawn('server-ca', ['api', 'release-worker', 'writer'], {
    TEMPORAL_ADDRESS: terminator.address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
  });
  try {
    const ready = await cluster.api('GET', '/readyz', undefined, { token: null });
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    await releaseThrough('tls-ca');
    assert.ok(terminator.sessions() >= 2, 'the client and the workers connected through the terminator');
  } finally {
    await cluster.kill('server-ca');
  }
});

test('with mutual TLS a release goes through with a client certificate; none or a stranger\'s is refused', async () => {
  const terminator = await startTerminator(true);
  const base = { TEMPORAL_ADDRESS: terminator.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME };

  const without = await spawnFailing('no-client-cert', base);
  assert.match(without, /cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS: TLS handshake failed: tlsv13 alert certificate required .*requires a client certificate/);
  const stranger = await spawnFailing('stranger', { ...base, TEMPORAL_TLS_CLIENT_CERT_PATH: certs.strangerCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKey });
  assert.match(stranger, /cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS: TLS handshake failed: .*does not accept this client certificate/);

  const withCert = { ...base, TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey };
  // The CLI's diagnostics read the same settings.
  const check = await startCli(['temporal', 'check', '-o', 'json'], { cwd: cluster.dir, env: cliEnv(withCert) }).result;
  assert.equal(check.code, 0, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout).missingSearchAttributes, []);
  assert.match(JSON.parse(check.stdout).security, /^TLS, server CA from settings, client certificate, server name temporal\.ferry\.test/);
  const refused = await startCli(['temporal', 'check'], { cwd: cluster.dir, env: cliEnv(base) }).result;
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^ferry: cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS: TLS handshake failed: tlsv13 alert certificate required[^\n]*\n$/);

  await cluster.spawn('mtls', ['api', 'release-worker', 'writer'], withCert);
  try {
    await releaseThrough('tls-mutual');
  } finally {
    await cluster.kill('mtls');
  }
});

test('a server certificate from another CA is refused with an error that says what to check', async () => {
  const terminator = await startTerminator(false);
  const reason = await spawnFailing('wrong-ca', {
    TEMPORAL_ADDRESS: terminator.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCa, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
  });
  assert.match(reason, /ferry: cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS: .*certificate.*check TEMPORAL_TLS_SERVER_CA_CERT_PATH/);

  // The workers' native connection says the same.
  const profile = loadTemporalProfile({ TEMPORAL_ADDRESS: terminator.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCa, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });
  await assert.rejects(connectNative(profile.address!, profile.connection), /cannot connect to Temporal at .* over TLS: .*check TEMPORAL_TLS_SERVER_CA_CERT_PATH/);

  // Plaintext to a TLS port fails too, and says TLS may be needed.
  await assert.rejects(connectNative(terminator.address, {}), /in plaintext/);
});

test('profiles: a TOML file and TEMPORAL_PROFILE select the server; env vars override it; bad settings are named', () => {
  const file = path.join(cluster.dir, 'temporal.toml');
  fs.writeFileSync(file, [
    '[profile.default]', 'address = "127.0.0.1:1"', '',
    '[profile.cloud]', 'address = "acme.a1b2c.tmprl.cloud:7233"', 'namespace = "acme.a1b2c"', 'api_key = "k-secret"', '',
    '[profile.mtls]', 'address = "temporal.internal:7233"', 'namespace = "ferry"',
    '[profile.mtls.tls]', `client_cert_path = "${certs.clientCert}"`, `client_key_path = "${certs.clientKey}"`, `server_ca_cert_path = "${certs.ca}"`, '',
  ].join('\n'));
  const cloud = loadTemporalProfile({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
  assert.equal(cloud.address, 'acme.a1b2c.tmprl.cloud:7233');
  assert.equal(cloud.namespace, 'acme.a1b2c');
  assert.equal(cloud.connection.apiKey, 'k-secret');
  assert.equal(cloud.connection.tls, true, 'an API key turns TLS on with the system CAs');
  assert.doesNotMatch(cloud.describe, /k-secret/);

  const mtls = loadTemporalProfile({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls', TEMPORAL_NAMESPACE: 'other' });
  assert.equal(mtls.namespace, 'other');
  const t = mtls.connection.tls as { clientCertPair?: { crt: Buffer }; serverRootCACertificate?: Buffer };
  assert.deepEqual(Buffer.from(t.clientCertPair!.crt), fs.readFileSync(certs.clientCert));
  assert.deepEqual(Buffer.from(t.serverRootCACertificate!), fs.readFileSync(certs.ca));

  // Without any setting there is no server: `npm start` embeds one.
  const none = loadTemporalProfile({ HOME: cluster.dir });
  assert.equal(none.address, undefined);
  assert.equal(none.namespace, 'default');
  assert.equal(loadTemporalProfile({ HOME: cluster.dir, TEMPORAL_ADDRESS: '' }).address, undefined);

  assert.throws(() => loadTemporalProfile({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' }), (e: Error) => e instanceof TemporalConfigError && /Profile 'nope' not found/.test(e.message));
  assert.throws(() => loadTemporalProfile({ TEMPORAL_CONFIG_FILE: path.join(cluster.dir, 'missing.toml') }), /cannot read .*missing\.toml/);
  assert.throws(() => loadTemporalProfile({ HOME: cluster.dir, TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert }), /needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
  assert.throws(() => loadTemporalProfile({ HOME: cluster.dir, TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' }), /nonexistent\/ca\.pem/);
  assert.throws(() => loadTemporalProfile({ HOME: cluster.dir, TEMPORAL_API_KEY: 'k' }), /no server is/);
});
