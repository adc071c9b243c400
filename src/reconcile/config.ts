import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { DurationSchema } from '../config';
import { NAME_RE, NAME_RULE } from '../names';

/**
 * Clusters, per-environment reconciliation and notification settings. Read today from its own file
 * (FERRY_RECONCILE_CONFIG) so it does not collide with the FERRY_CONFIG loader being built alongside; the
 * top-level keys (`clusters`, `environments.<env>.{clusters, autoRollback, notifications}`, `reconcile`) are
 * chosen so that folding it into FERRY_CONFIG is a schema merge: `ReconcileTopLevelShape` spreads into the
 * top-level object and `EnvReconcileShape` into the per-environment object.
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

/** Per-environment keys; spread into FERRY_CONFIG's environment schema when the files are folded. */
export const EnvReconcileShape = {
  /** Clusters this environment runs on; a release succeeds only when every one has applied it. */
  clusters: z.array(name).default([]),
  /** Roll back once, automatically, when a release fails in reconciliation (docs/reconciliation.md). */
  autoRollback: z.boolean().default(false),
  notifications: z.array(NotificationTargetSchema).default([]),
};
export const EnvReconcileSchema = z.strictObject(EnvReconcileShape);

export const ReconcileTopLevelShape = {
  clusters: z.record(name, ClusterSchema).default({}),
  reconcile: z
    .strictObject({
      /** Interval between Kustomization status reads while a release waits. */
      pollInterval: DurationSchema.default('15s'),
      /** Public URL of Ferry, used in the manifests `GET /api/flux/manifests/:cluster` prints. */
      publicUrl: z.url().optional(),
    })
    .default({ pollInterval: '15s' }),
};

export const ReconcileFileSchema = z
  .strictObject({ ...ReconcileTopLevelShape, environments: z.record(name, EnvReconcileSchema).default({}) })
  .superRefine((cfg, ctx) => {
    for (const [env, e] of Object.entries(cfg.environments)) {
      e.clusters.forEach((c, i) => {
        if (!cfg.clusters[c]) ctx.addIssue({ code: 'custom', path: ['environments', env, 'clusters', i], message: `unknown cluster "${c}"` });
      });
    }
    for (const [c, cl] of Object.entries(cfg.clusters)) {
      if (cl.requestReconcile === 'annotate' && !cl.kubeconfig) ctx.addIssue({ code: 'custom', path: ['clusters', c, 'requestReconcile'], message: 'annotate needs a kubeconfig' });
      if (cl.requestReconcile === 'receiver' && !cl.receiverUrl) ctx.addIssue({ code: 'custom', path: ['clusters', c, 'requestReconcile'], message: 'receiver needs receiverUrl' });
    }
  });
export type ReconcileFile = z.infer<typeof ReconcileFileSchema>;

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

export function parseReconcileConfig(text: string, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): ReconcileConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new ReconcileConfigError(`reconcile config is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = ReconcileFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ReconcileConfigError(`invalid reconcile config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const file = parsed.data;
  for (const c of Object.values(file.clusters)) if (c.kubeconfig) c.kubeconfig = path.resolve(baseDir, c.kubeconfig);
  const secret = (ref: SecretRef): string => {
    if (typeof ref === 'string') return ref;
    const v = env[ref.env];
    if (!v) throw new ReconcileConfigError(`environment variable ${ref.env} is not set`);
    return v;
  };
  // Resolve everything once so a missing variable stops start-up instead of a release.
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

export function loadReconcileConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ReconcileConfig {
  if (!file) return parseReconcileConfig('{}', env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReconcileConfigError(`cannot read FERRY_RECONCILE_CONFIG ${file}: ${(err as Error).message}`);
  }
  return parseReconcileConfig(text, env, path.dirname(path.resolve(file)));
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
