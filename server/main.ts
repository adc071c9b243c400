// `npm start`: Ferry with everything embedded (or the services named by DATABASE_URL / TEMPORAL_ADDRESS).
import fs from 'node:fs/promises';
import { ConfigError, loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { loadAdminToken } from './admin-token';
import { startFerry } from './ferry';
import { startPostgres } from './postgres';
import { startTemporal } from './temporal-server';
import { portIsFree } from './tools';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger();
  await fs.mkdir(config.dataDir, { recursive: true });
  const say = (m: string) => process.stdout.write(`${m}\n`);

  // The embedded servers' own output is for debugging; the summary below is what a person needs.
  const postgres = await startPostgres({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: (m) => log.debug(m) });
  // Temporal's usual ports when they are free, so the UI link stays the same across restarts.
  const temporal = await startTemporal({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
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
  const ferry = await startFerry(config, { databaseUrl: postgres.url, temporalAddress: temporal.address, namespace: temporal.namespace }, { adminToken: token.token, log }).catch(async (err) => {
    await temporal.stop();
    await postgres.stop();
    throw err;
  });

  say('');
  say(`Ferry API      ${ferry.url}`);
  say(`Temporal UI    ${temporal.uiUrl ?? '(external server: see its own UI)'}`);
  say(`GitOps repo    ${ferry.gitopsRepo} (branch ${config.gitopsBranch})`);
  if (token.generated) say(`Admin token    ${token.token}   (shown once; kept in ${token.file})`);
  else say(`Admin token    ${token.file ? `in ${token.file}` : 'from FERRY_ADMIN_TOKEN'}`);
  if (!config.fluxWebhookSecret) say('Flux events    disabled until FERRY_FLUX_WEBHOOK_SECRET is set');
  say('Press Ctrl-C to stop.');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
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
  process.stderr.write(`ferry: ${err instanceof ConfigError ? err.message : (err as Error).stack ?? err}\n`);
  process.exit(1);
});
