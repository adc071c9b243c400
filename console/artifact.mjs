import { useEffect, useState } from 'preact/hooks';
import { get } from './api.mjs';
import { html, releaseLink, short, When } from './ui.mjs';

/** One environment file's decision, in plain words. */
function explain(d) {
  if (d.releaseId) return `released (${d.source === 'policy' ? 'an auto-release policy matched' : 'its deploy rule matched'})`;
  if (d.refused) return `refused: ${d.reasons.join('; ')}`;
  if (d.matched) return 'matched, but no release was started';
  return d.reasons.length ? `not released: ${d.reasons.join('; ')}` : 'not released: it has no deploy rule and no auto-release policy matches';
}

export function ArtifactPage({ id, tick }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const path = `/api/artifacts/${encodeURIComponent(id)}`;
    Promise.all([get(path), get(`${path}/decisions`)]).then(([artifact, decisions]) => { setData({ artifact, decisions }); setError(null); }, (err) => setError(err.message));
  }, [id, tick]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const v = data.artifact.version;
  const decisions = Array.isArray(data.decisions) ? data.decisions : data.decisions.decisions ?? [];
  return html`<article>
    <h1>Artifact ${short(v.sha)}</h1>
    <p>${v.repositoryName}${v.branch ? ` · ${v.branch}` : ''} · ${v.event}${v.authorName ? ` · ${v.authorName}` : ''}${v.message ? html` · “${v.message.split('\n')[0]}”` : ''}</p>
    <p><code>${data.artifact.id}</code></p>
    <h2>What Ferry decided, per environment file</h2>
    ${decisions.length === 0 ? html`<p>No decisions recorded yet: the artifact's policies have not been evaluated.</p>`
      : html`<ul class="decisions">${decisions.map((d) => html`<li><strong>${d.app} → ${d.env}</strong>: ${explain(d)}
          ${d.releaseId ? html` — <a href=${releaseLink(d.releaseId)}>the release</a>` : null} <${When} at=${d.decidedAt} /></li>`)}</ul>`}
  </article>`;
}
