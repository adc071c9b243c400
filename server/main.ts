// `npm start`: Ferry with everything embedded (or the services named by DATABASE_URL / TEMPORAL_ADDRESS).
import fs from 'node:fs/promises';
import { ConfigError, durationMs, loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { loadAdminToken } from './admin-token';
import { startFerry } from './ferry';
import { startPostgres } from './postgres';
import { loadTemporalProfile, TemporalConnectError } from './temporal-profile';
import { startTemporal } from './temporal-server';
import { portIsFree } from './tools';

async function main(): Promise<void> {
  const config = loadConfig();
  const temporalProfile = loadTemporalProfile();
  const log = createLogger();
  await fs.mkdir(config.dataDir, { recursive: true });
  const say = (m: string) => process.stdout.write(`${m}\n`);

  // The embedded servers' own output is for debugging; the summary below is what a person needs.
  const postgres = await startPostgres({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: (m) => log.debug(m) });
  // Temporal's usual ports when they are free, so the UI link stays the same across restarts.
  const temporal = await startTemporal({
    address: temporalProfile.address,
    namespace: temporalProfile.namespace,
    connection: temporalProfile.connection,
    dataDir: config.dataDir,
    port: (await portIsFree(7233)) ? 7233 : 0,
    ui: true,
    uiPort: config.temporalUiPort ?? ((await portIsFree(8233)) ? 8233 : 0),
    log: (m) => log.debug(m),
  }).catch(async (err) => {
    await postgres.stop();
    throw err;
  });
  const token = await loadAdminToken(config.dataDir, config.adminToken);
  const ferry = await startFerry(config, { databaseUrl: postgres.url, temporalAddress: temporal.address, namespace: temporal.namespace, temporalUiUrl: config.temporalUiUrl ?? temporal.uiUrl, temporalConnection: temporalProfile.connection }, { adminToken: token.token, log }).catch(async (err) => {
    await temporal.stop();
    await postgres.stop();
    throw err;
  });

  log.info('ferry ready', { roles: config.roles, url: ferry.url, opsUrl: ferry.opsUrl, pid: process.pid });
  say('');
  if (ferry.url) say(`Ferry API      ${ferry.url}`);
  say(`Roles          ${config.roles.join(', ')}`);
  say(`Temporal       ${temporal.address}, namespace ${temporal.namespace} (temporal ... --address ${temporal.address} --namespace ${temporal.namespace})`);
  say(`Temporal UI    ${temporal.uiUrl ?? '(external server: see its own UI)'}`);
  say(`GitOps repo    ${ferry.gitopsRepo} (branch ${config.gitopsBranch})`);
  if (token.generated) say(`Admin token    ${token.token}   (shown once; kept in ${token.file})`);
  else say(`Admin token    ${token.file ? `in ${token.file}` : 'from FERRY_ADMIN_TOKEN'}`);
  if (!config.fluxWebhookSecret) say('Flux events    disabled until FERRY_FLUX_WEBHOOK_SECRET is set');
  say('Press Ctrl-C to stop.');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second signal means "now": running activities are retried elsewhere by Temporal anyway.
      log.warn('second signal, exiting at once', { signal });
      process.exit(1);
    }
    stopping = true;
    const graceMs = durationMs(config.shutdownGrace);
    log.info('shutting down', { signal, graceMs });
    // Whatever hangs past the grace time (plus room for closing connections) must not keep the process alive.
    setTimeout(() => {
      log.error('shutdown took too long, exiting', { graceMs });
      process.exit(1);
    }, graceMs + 15_000).unref();
    await ferry.stop();
    await temporal.stop();
    await postgres.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`ferry: ${err instanceof ConfigError || err instanceof TemporalConnectError ? err.message : (err as Error).stack ?? err}\n`);
  process.exit(1);
});
