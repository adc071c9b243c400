/**
 * Serialising writers of one repository+branch across processes (replicas, rolling deploys). The writer holds a
 * lease for the whole of a batch (fetch → build → push) and checks it just before pushing. Tokens grow by one per
 * grant, so a writer that gets `token === its previous token + 1` knows nobody else wrote in between and can skip
 * the fetch. git cannot check a token itself, so the non-force push stays the final guard: a writer that lost its
 * lease between the check and the push can at worst be rejected, never overwrite.
 */
export interface WriteLease {
  readonly token: bigint;
  /** Rejects when the lease may no longer be held (another holder took over, or the lock's session is gone). */
  check(): Promise<void>;
  release(): Promise<void>;
}

export interface WriteFence {
  acquire(key: string): Promise<WriteLease>;
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}
