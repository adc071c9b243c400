import type { Client } from '@temporalio/client';
import type { EnvironmentsFile } from '../src/gates/environments';
import type { Logger } from '../src/log';
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
  /** Server-side environment config (FERRY_CONFIG): gates, ordering, promotion, rollback. */
  environments: EnvironmentsFile;
}
