/**
 * How per-cluster Flux verdicts add up to a release outcome. Pure and import-free: the release workflow runs it.
 *
 * Rules: a cluster's first terminal verdict is final (a late or reordered event never overwrites it); a release
 * with named clusters fails as soon as one fails and succeeds only when every one succeeded; a release whose
 * environment names no clusters takes the first terminal verdict from any cluster (the single-cluster default).
 */

export type VerdictOutcome = 'succeeded' | 'failed' | 'unhealthy' | 'progressing' | 'waiting' | 'superseded';

export interface ClusterVerdict {
  outcome: VerdictOutcome;
  reason: string;
  message: string;
  /** The commit the verdict is about: the release commit or a descendant. */
  revision: string;
  /** Which cluster said so; null for events that carried no cluster. */
  cluster?: string | null;
  /** A webhook event or a status read (polling). */
  source?: 'event' | 'poll';
}

export const isTerminalOutcome = (o: VerdictOutcome): o is 'succeeded' | 'failed' | 'unhealthy' =>
  o === 'succeeded' || o === 'failed' || o === 'unhealthy';

/** Key used for events without a cluster, in environments that do not name clusters. */
export const ANY_CLUSTER = '*';

export class VerdictBook {
  /** Per cluster: its final verdict, or its latest non-terminal one. Plain JSON (goes into state and PostgreSQL). */
  readonly clusters: Record<string, ClusterVerdict> = {};
  private first: ClusterVerdict | undefined;

  constructor(private readonly required: readonly string[]) {
    for (const c of required) this.clusters[c] = { outcome: 'waiting', reason: 'NoReport', message: 'no report yet', revision: '', cluster: c };
  }

  /** Records a verdict; returns false when it was ignored (unknown cluster, or that cluster already settled). */
  accept(v: ClusterVerdict): boolean {
    const key = this.required.length > 0 ? v.cluster ?? '' : v.cluster ?? ANY_CLUSTER;
    if (this.required.length > 0 && !this.required.includes(key)) return false;
    const prev = this.clusters[key];
    if (prev && isTerminalOutcome(prev.outcome)) return false;
    this.clusters[key] = { ...v, cluster: v.cluster ?? null };
    if (isTerminalOutcome(v.outcome)) this.first ??= this.clusters[key];
    return true;
  }

  /** The deciding verdict once the release is settled, else undefined. */
  decided(): ClusterVerdict | undefined {
    if (this.required.length === 0) return this.first;
    const bad = this.required.map((c) => this.clusters[c]).find((v) => v.outcome === 'failed' || v.outcome === 'unhealthy');
    if (bad) return bad;
    if (this.required.every((c) => this.clusters[c].outcome === 'succeeded')) {
      const all = this.required.map((c) => this.clusters[c]);
      return { ...all[all.length - 1], message: all.map((v) => `${v.cluster}: ${v.message}`).join('; ').slice(0, 500) };
    }
    return undefined;
  }

  /** Clusters still without a final verdict. */
  pending(): string[] {
    return this.required.filter((c) => !isTerminalOutcome(this.clusters[c].outcome));
  }
}
