import path from 'node:path';
import { z } from 'zod';
import { DurationSchema } from '../duration';
import { NAME_RE, NAME_RULE } from '../names';

/**
 * Clusters, per-environment reconciliation and notification settings: the part of the FERRY_CONFIG file
 * (src/config-files.ts) that reconciliation and notifications read. `ReconcileTopLevelShape` is spread into the
 * file's top-level object and `EnvReconcileShape` into each environment (src/gates/environments.ts); the checks
 * that tie the two together (`reconcileIssues`) and secret resolution stay here, next to the keys they concern.
 */

/** A secret is either written inline (discouraged) or named by an environment variable: `{ env: SLACK_URL }`. */
export const SecretRefSchema = z.union([
  z.string().min(1),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

const name = z.string().regex(NAME_RE, NAME_RULE);
const ObjectRefSchema = z.strictObject({ namespace: z.string().min(1).default('flux-system'), name: z.string().min(1) });

export const ClusterSchema = z.strictObject({
  /** HMAC key of this cluster's generic-hmac Provider. */
  webhookSecret: SecretRefSchema,
  /** Path of a kubeconfig file; with one, Ferry polls Flux's objects (the source of truth). */
  kubeconfig: z.string().min(1).optional(),
  /** kubeconfig context; the file's current context by default. */
  context: z.string().min(1).optional(),
  /** Kustomizations that apply the GitOps repository here; all must settle. Default: flux-system/flux-system. */
  kustomizations: z.array(ObjectRefSchema).min(1).optional(),
  /** The GitRepository those Kustomizations read; polled to explain a source that cannot fetch. */
  gitRepository: ObjectRefSchema.optional(),
  /** A Flux Receiver URL (contains a secret path) called after a commit when `requestReconcile` is `receiver`. */
  receiverUrl: SecretRefSchema.optional(),
  /** HMAC key of a generic-hmac Receiver, if it checks signatures. */
  receiverSecret: SecretRefSchema.optional(),
  /** After a commit, ask Flux to reconcile now: annotate objects via the API, or call the Receiver. */
  requestReconcile: z.enum(['annotate', 'receiver']).optional(),
});
export type ClusterConfig = z.infer<typeof ClusterSchema>;

const channel = z.string().min(1).max(80);
export const NotificationTargetSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('slack'), url: SecretRefSchema, channel: channel.optional() }),
  z.strictObject({ type: z.literal('discord'), url: SecretRefSchema }),
  z.strictObject({ type: z.literal('webhook'), url: SecretRefSchema }),
  z.strictObject({ type: z.literal('github'), token: SecretRefSchema, apiUrl: z.url().default('https://api.github.com') }),
  z.strictObject({ type: z.literal('grafana'), url: z.url(), token: SecretRefSchema }),
]);
export type NotificationTarget = z.infer<typeof NotificationTargetSchema>;
export type NotificationType = NotificationTarget['type'];

/** Per-environment keys, spread into FERRY_CONFIG's environment schema. */
export const EnvReconcileShape = {
  /** Clusters this environment runs on; a release succeeds only when every one has applied it. */
  clusters: z.array(name).default([]),
  /** Roll back once, automatically, when a release fails in reconciliation (docs/reconciliation.md). */
  autoRollback: z.boolean().default(false),
  notifications: z.array(NotificationTargetSchema).default([]),
};
const EnvReconcileSchema = z.strictObject(EnvReconcileShape);
export type EnvReconcileConfig = z.infer<typeof EnvReconcileSchema>;

const ReconcileSettingsSchema = z
  .strictObject({
    /** Interval between Kustomization status reads while a release waits. */
    pollInterval: DurationSchema.default('15s'),
    /** Public URL of Ferry, used in the manifests `GET /api/flux/manifests/:cluster` prints. */
    publicUrl: z.url().optional(),
  })
  .default({ pollInterval: '15s' });

/** Top-level keys, spread into FERRY_CONFIG's file schema. */
export const ReconcileTopLevelShape = {
  clusters: z.record(name, ClusterSchema).default({}),
  reconcile: ReconcileSettingsSchema,
};

/** What this module reads of the FERRY_CONFIG file; the whole file (EnvironmentsFile) satisfies it. */
export interface ReconcileFile {
  clusters: Record<string, ClusterConfig>;
  reconcile: z.infer<typeof ReconcileSettingsSchema>;
  environments: Record<string, EnvReconcileConfig>;
}

export const EMPTY_RECONCILE_FILE: ReconcileFile = { clusters: {}, reconcile: { pollInterval: '15s' }, environments: {} };

/** Cross-field problems, with the path of the offending field; the file schema reports them as its own issues. */
export function reconcileIssues(cfg: ReconcileFile): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  for (const [env, e] of Object.entries(cfg.environments)) {
    e.clusters.forEach((c, i) => {
      if (!Object.hasOwn(cfg.clusters, c)) issues.push({ path: ['environments', env, 'clusters', i], message: `unknown cluster "${c}"` });
    });
  }
  for (const [c, cl] of Object.entries(cfg.clusters)) {
    if (cl.requestReconcile === 'annotate' && !cl.kubeconfig) issues.push({ path: ['clusters', c, 'requestReconcile'], message: 'annotate needs a kubeconfig' });
    if (cl.requestReconcile === 'receiver' && !cl.receiverUrl) issues.push({ path: ['clusters', c, 'requestReconcile'], message: 'receiver needs receiverUrl' });
  }
  return issues;
}

/**
 * The loaded file with every secret resolved, held only in process memory. Nothing in here may reach a log, an
 * API answer or a Temporal payload; workflows get `ReleaseReconcileSettings`, which names targets by id.
 */
export interface ReconcileConfig {
  file: ReconcileFile;
  /** Resolves a secret reference; throws naming the variable (never the value) when it is unset. */
  secret(ref: SecretRef): string;
  /** Webhook secret of a configured cluster, or undefined when the cluster is unknown. */
  clusterSecret(cluster: string): string | undefined;
  /** Notification target by its id (`<env>#<index>`). */
  target(id: string): NotificationTarget | undefined;
}

/** What a release workflow needs to know, with no secrets: clusters to await and notification target ids. */
export interface ReleaseReconcileSettings {
  clusters: Array<{ name: string; poll: boolean; requestReconcile: boolean }>;
  autoRollback: boolean;
  notifications: Array<{ id: string; type: NotificationType }>;
  pollInterval: string;
}

/** The one secret each target type carries (a webhook URL is a secret: whoever has it can post). */
export function targetSecretRef(t: NotificationTarget): SecretRef {
  return t.type === 'github' || t.type === 'grafana' ? t.token : t.url;
}

export class ReconcileConfigError extends Error {}

/**
 * Resolves every secret of a validated file once, so a missing variable stops start-up instead of a release, and
 * makes kubeconfig paths absolute (relative ones are relative to `baseDir`, the file's directory). Errors name the
 * field and the variable, never a value.
 */
export function resolveReconcileConfig(file: ReconcileFile, env: NodeJS.ProcessEnv, baseDir: string): ReconcileConfig {
  for (const c of Object.values(file.clusters)) if (c.kubeconfig) c.kubeconfig = path.resolve(baseDir, c.kubeconfig);
  const secret = (ref: SecretRef): string => {
    if (typeof ref === 'string') return ref;
    const v = env[ref.env];
    if (!v) throw new ReconcileConfigError(`environment variable ${ref.env} is not set`);
    return v;
  };
  for (const [n, c] of Object.entries(file.clusters)) {
    try {
      secret(c.webhookSecret);
      if (c.receiverUrl) secret(c.receiverUrl);
      if (c.receiverSecret) secret(c.receiverSecret);
    } catch (err) {
      throw new ReconcileConfigError(`clusters.${n}: ${(err as Error).message}`);
    }
  }
  for (const [e, ec] of Object.entries(file.environments)) {
    ec.notifications.forEach((t, i) => {
      try {
        secret(targetSecretRef(t));
      } catch (err) {
        throw new ReconcileConfigError(`environments.${e}.notifications.${i}: ${(err as Error).message}`);
      }
    });
  }
  return {
    file,
    secret,
    clusterSecret: (cluster) => (Object.hasOwn(file.clusters, cluster) ? secret(file.clusters[cluster].webhookSecret) : undefined),
    target: (id) => {
      const hash = id.lastIndexOf('#');
      const envName = id.slice(0, hash);
      const ec = Object.hasOwn(file.environments, envName) ? file.environments[envName] : undefined;
      return ec?.notifications[Number(id.slice(hash + 1))];
    },
  };
}

/** The workflow input for one environment. An environment without clusters accepts a verdict from any cluster. */
export function reconcileSettingsFor(cfg: ReconcileConfig | undefined, env: string): ReleaseReconcileSettings {
  const file = cfg?.file;
  const ec = file && Object.hasOwn(file.environments, env) ? file.environments[env] : undefined;
  return {
    clusters: (ec?.clusters ?? []).map((n) => {
      const c = file!.clusters[n];
      return { name: n, poll: Boolean(c.kubeconfig), requestReconcile: Boolean(c.requestReconcile) };
    }),
    autoRollback: ec?.autoRollback ?? false,
    notifications: (ec?.notifications ?? []).map((t, i) => ({ id: `${env}#${i}`, type: t.type })),
    pollInterval: file?.reconcile.pollInterval ?? '15s',
  };
}
