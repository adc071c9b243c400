import type { Client } from '@temporalio/client';
import type { EnvironmentsFile } from '../src/gates/environments';
import type { Logger } from '../src/log';
import type { Policy } from '../src/policy/policies';
import type { ReconcileConfig } from '../src/reconcile/config';
import type { FerryMetrics } from '../src/metrics';
import type { Db } from '../src/store/db';
import type { ReleaseChangeFeed } from '../src/store/release-changes';
import type { RepoLayout } from '../src/gitops/repos';
import type { Authenticator } from './auth';
import type { OidcSignInConfig } from './console-oidc';

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
  /** Clusters, their webhook secrets and per-env reconcile settings from FERRY_CONFIG, secrets resolved. */
  reconcile?: ReconcileConfig;
  maxBody: string;
  /** Server-wide branch restrictions (FERRY_BRANCH_RESTRICTIONS); they cannot be changed through the API. */
  branchRestrictions: Policy[];
  /** The branch that never gets preview environments (FERRY_MAIN_BRANCH). */
  mainBranch: string;
  /** Process metrics (issue 8): HTTP counters are recorded when set. */
  metrics?: FerryMetrics;
  /** The GitOps remote, probed by /readyz. */
  gitopsRepo?: string;
  /** Which repository and branch each environment writes (src/gitops/repos.ts); `ferry flux setup` shows it. */
  gitopsLayout?: RepoLayout;
  temporalMetricsAddress?: string;
  /** The FERRY_CONFIG file as parsed. Its reconcile keys may hold inline secrets: show gateConfigOf, never the file. */
  environments: EnvironmentsFile;
  /** Releases are started eagerly: the release worker shares this process and the client's connection. */
  eagerStart?: boolean;
  /** Counts each release workflow started, eager or not. */
  onStarted?: (eagerly: boolean) => void;
  /** Temporal namespace and UI, for links to a release's workflow page. */
  namespace?: string;
  temporalUiUrl?: string;
  /** FERRY_PUBLIC_URL: an https one makes the console's cookies Secure behind a TLS-terminating proxy. */
  publicUrl?: string;
  /** The console's sign-in through the identity provider, when FERRY_OIDC_CLIENT_ID is set. */
  oidcSignIn?: OidcSignInConfig;
  /** Announces changed releases to the console's live stream. */
  releaseFeed?: ReleaseChangeFeed;
}
