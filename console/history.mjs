import { useEffect, useState } from 'preact/hooks';
import { get, q } from './api.mjs';
import { artifactLink, html, releaseLink, short, Status, When } from './ui.mjs';

const STATUSES = ['', 'pending', 'queued', 'rendering', 'awaiting-approval', 'frozen', 'committing', 'committed', 'reconciling', 'succeeded', 'failed', 'timed-out', 'rejected', 'expired', 'superseded'];

const toIso = (local) => (local ? new Date(local).toISOString() : undefined);

export function History({ params, tick }) {
  const [filters, setFilters] = useState({ app: params.get('app') ?? '', env: params.get('env') ?? '', status: params.get('status') ?? '', since: '', until: '' });
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [artifactId, setArtifactId] = useState('');
  const load = (before) => get(`/api/releases${q({ app: filters.app, env: filters.env, status: filters.status, since: toIso(filters.since), until: toIso(filters.until), limit: 50, before })}`)
    .then((p) => { setPage(before && page ? { items: [...page.items, ...p.items], nextBefore: p.nextBefore } : p); setError(null); }, (err) => setError(err.body?.issues ? err.body.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : err.message));
  useEffect(() => {
    load();
  }, [tick]);
  const field = (name, label, type = 'text') => html`<label>${label}<input name=${name} type=${type} value=${filters[name]} onInput=${(e) => setFilters({ ...filters, [name]: e.currentTarget.value })} /></label>`;
  return html`<section aria-labelledby="history-title">
    <h1 id="history-title">Releases</h1>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); load(); }}>
      ${field('app', 'App')}${field('env', 'Environment')}
      <label>Status<select name="status" value=${filters.status} onChange=${(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
        ${STATUSES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}</select></label>
      ${field('since', 'From', 'datetime-local')}${field('until', 'Until', 'datetime-local')}
      <button type="submit" class="primary">Filter</button>
    </form>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); if (artifactId.trim()) location.hash = artifactLink(artifactId.trim()); }}>
      <label>Why didn't my artifact deploy? Artifact id<input name="artifact" value=${artifactId} onInput=${(e) => setArtifactId(e.currentTarget.value)} /></label>
      <button type="submit">Explain</button>
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${page ? html`<div class="table-wrap"><table class="history">
      <thead><tr><th>When</th><th>App</th><th>Env</th><th>Version</th><th>Status</th><th>Trigger</th><th>By</th></tr></thead>
      <tbody>${page.items.map((r) => html`<tr>
        <td><${When} at=${r.createdAt} /></td><td>${r.app}</td><td>${r.env}</td>
        <td><a href=${releaseLink(r.id)}>${short(r.sha)}</a>${r.branch ? ` ${r.branch}` : ''}</td>
        <td><${Status} status=${r.status} /></td><td>${r.trigger}</td><td>${r.releasedBy}</td></tr>`)}</tbody>
    </table></div>
    ${page.items.length === 0 ? html`<p>No release matches.</p>` : null}
    ${page.nextBefore ? html`<button type="button" onClick=${() => load(page.nextBefore)}>More</button>` : null}` : html`<p class="loading">Loading…</p>`}
  </section>`;
}
