// Imported by the release workflow: pure and deterministic, no imports.

/**
 * Whether whoever decides is whoever asked for the release. Same stable principal id (two tokens of one owner,
 * the pusher behind an auto-release), or the same name as approver lists spell it (a decision that arrived
 * without an id, or the same person through two identity sources under one name). Display strings such as
 * `alice (token alice-deploy)` are never compared to names.
 */
export function isRequester(decider: { by: string; byId?: string }, release: { releasedBy: string; releasedById?: string; releasedByName?: string }): boolean {
  if (decider.byId !== undefined && release.releasedById !== undefined && decider.byId === release.releasedById) return true;
  if (release.releasedByName !== undefined && decider.by === release.releasedByName) return true;
  return decider.by === release.releasedBy;
}
