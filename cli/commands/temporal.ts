import type { CommandSpec } from '../command';
import { CliError } from '../errors';

// The diagnostics read the same TEMPORAL_* settings (and profile file) as Ferry's processes, so a check passing
// here on a Ferry host or pod means Ferry will connect the same way. The Temporal client is loaded only by this
// command: every other command talks to Ferry's HTTP API and must start fast.
export const temporalCommands: CommandSpec[] = [
  {
    name: 'temporal check',
    summary: 'Connect to Temporal with the TEMPORAL_* settings Ferry uses; check the namespace and search attributes',
    options: {},
    examples: ['TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca.pem ferry temporal check'],
    async run(ctx) {
      // require, not import(): bin/ferry.js may run this file through tsx's CommonJS hook, which import() bypasses.
      const { loadTemporalProfile, connectClient } = require('../../server/temporal-profile') as typeof import('../../server/temporal-profile');
      const { FERRY_SEARCH_ATTRIBUTE_NAMES } = require('../../server/temporal-server') as typeof import('../../server/temporal-server');
      let profile: ReturnType<typeof loadTemporalProfile>;
      try {
        profile = loadTemporalProfile(ctx.env);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      if (!profile.address) throw new CliError('no Temporal server configured (set TEMPORAL_ADDRESS or TEMPORAL_PROFILE/TEMPORAL_CONFIG_FILE)');
      let connection: Awaited<ReturnType<typeof connectClient>>;
      try {
        connection = await connectClient(profile.address, profile.connection, 10_000);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      try {
        const { namespace } = profile;
        const info = await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace }).catch((err: Error) => {
          throw new CliError(`connected to ${profile.address}, but namespace ${namespace} cannot be described: ${err.message}`);
        });
        const attrs = await connection.operatorService.listSearchAttributes({ namespace }).catch(() => undefined);
        const present = attrs ? Object.keys(attrs.customAttributes ?? {}) : undefined;
        const missing = present ? FERRY_SEARCH_ATTRIBUTE_NAMES.filter((n) => !present.includes(n)) : undefined;
        const result = { address: profile.address, namespace, security: profile.describe, serverVersion: info.serverVersion ?? null, missingSearchAttributes: missing ?? null };
        if (ctx.json) return ctx.out.data(result);
        ctx.out.line(`Temporal    ${profile.address} (${profile.describe})`);
        ctx.out.line(`Server      ${info.serverVersion || 'version not reported'}`);
        ctx.out.line(`Namespace   ${namespace}: ok`);
        ctx.out.line(`Search attributes  ${missing === undefined ? 'cannot be listed with this connection' : missing.length ? `missing ${missing.join(', ')} (Ferry adds them at start-up where allowed)` : 'all present'}`);
      } finally {
        await connection.close();
      }
    },
  },
];
