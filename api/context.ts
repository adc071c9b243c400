import type { Client } from '@temporalio/client';
import type { Logger } from '../src/log';
import type { FerryMetrics } from '../src/metrics';
import type { Db } from '../src/store/db';
import type { Authenticator } from './auth';

/** Everything a route needs; built once per process by the server. */
export interface ApiContext {
  db: Db;
  temporal: Client;
  log: Logger;
  authenticate: Authenticator;
  taskQueue: string;
  writerTaskQueue: string;
  awaitFlux: boolean;
  fluxTimeout: string;
  fluxWebhookSecret?: string;
  maxBody: string;
  /** Process metrics (issue 8): HTTP counters are recorded when set. */
  metrics?: FerryMetrics;
  /** The GitOps remote, probed by /readyz. */
  gitopsRepo?: string;
  temporalMetricsAddress?: string;
}
