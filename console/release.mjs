import { useEffect, useState } from 'preact/hooks';
import { get } from './api.mjs';
import { DecisionButtons, HotfixButton } from './actions.mjs';
import { artifactLink, html, isFinal, releaseLink, short, Status, waitingText, When } from './ui.mjs';

function Diff({ changes, dir }) {
  if (!changes.rendered) return html`<p>Not rendered yet.</p>`;
  if (changes.files.length === 0) return html`<p>No file changes against ${changes.base ? html`<a href=${releaseLink(changes.base.id)}>${short(changes.base.sha)}</a>` : 'the repository'}.</p>`;
  return html`<div class="diff">
    <p>${changes.base ? html`Against <a href=${releaseLink(changes.base.id)}>${short(changes.base.sha)}</a>, which ran before:` : 'First release of this app here: every file is new.'}</p>
    ${changes.files.map((f) => html`<details open=${changes.files.length <= 5}>
      <summary><code>${dir}${f.path}</code> <span class=${`change change-${f.change}`}>${f.change}</span> <span class="plus">+${f.added}</span> <span class="minus">−${f.removed}</span></summary>
      <pre>${f.hunks.map((hunk) => html`<span class="hunk">${hunk.header}\n</span>${hunk.lines.map((l) => html`<span class=${l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'ctx'}>${l}\n</span>`)}`)}</pre>
    </details>`)}
  </div>`;
}

export function ReleasePage({ id, me, tick }) {
  const [release, setRelease] = useState(null);
  const [changes, setChanges] = useState(null);
  const [artifact, setArtifact] = useState(null);
  const [error, setError] = useState(null);
  const path = `/api/releases/${encodeURIComponent(id)}`;
  const reload = async () => {
    try {
      const r = await get(path);
      setRelease(r);
      const [c, a] = await Promise.all([get(`${path}/changes`), artifact ? Promise.resolve(artifact) : get(`/api/artifacts/${encodeURIComponent(r.artifactId)}`).catch(() => null)]);
      setChanges(c);
      setArtifact(a);
      setError(null);
    } catch (err) {
      setError(err.message);
    }
  };
  useEffect(() => {
    reload();
  }, [id, tick]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!release) return html`<p class="loading">Loading…</p>`;
  const actions = me.environments?.[release.env] ?? {};
  const v = artifact?.version;
  const temporalUrl = me.temporalUiUrl ? `${me.temporalUiUrl}/namespaces/${encodeURIComponent(me.namespace)}/workflows/${encodeURIComponent(release.id)}` : null;
  return html`<article class="release">
    <h1>${release.app} → ${release.env} <${Status} status=${release.status} /></h1>
    <p class="version-line">
      <a href=${artifactLink(release.artifactId)}>${short(release.sha)}</a>${release.branch ? ` on ${release.branch}` : ''}${v?.authorName ? ` by ${v.authorName}` : ''}${v?.message ? html`: “${v.message.split('\n')[0]}”` : ''}
    </p>
    <p class="links">${[
      `${release.trigger} release by ${release.releasedBy}`,
      temporalUrl && html`<a href=${temporalUrl} rel="noreferrer noopener" target="_blank">Temporal workflow</a>`,
      v?.url && html`<a href=${v.url} rel="noreferrer noopener" target="_blank">CI run</a>`,
      release.rollbackOf && html`rolls back <a href=${releaseLink(release.rollbackOf)}>${release.rollbackOf}</a>`,
      release.promotedFrom && html`promoted from <a href=${releaseLink(release.promotedFrom)}>${release.promotedFrom}</a>`,
    ].filter(Boolean).map((part, i) => html`${i ? ' · ' : ''}${part}`)}</p>
    ${release.error ? html`<p class="error" role="alert">${release.error}</p>` : null}
    ${release.waiting && !isFinal(release.status) ? html`<p class="waiting">Waiting: ${waitingText(release.waiting)}</p>` : null}
    ${release.status === 'awaiting-approval' && actions.approve ? html`<${DecisionButtons} release=${release} onDone=${reload} />` : null}
    ${release.status === 'frozen' && actions.hotfix ? html`<${HotfixButton} release=${release} onDone=${reload} />` : null}

    <h2>Timeline</h2>
    <ol class="timeline">${release.timeline.map((t) => html`<li><${Status} status=${t.status} /> <${When} at=${t.at} />${t.by ? ` by ${t.by}` : ''}${t.message ? html` — ${t.message}` : ''}</li>`)}</ol>

    ${release.decisions?.length ? html`<h2>Decisions</h2>
      <ul class="decisions">${release.decisions.map((d) => html`<li><strong>${d.kind}</strong> by ${d.by} <${When} at=${d.at} />${d.comment ? html`: “${d.comment}”` : ''}</li>`)}</ul>` : null}

    <h2>Flux</h2>
    ${release.clusters && Object.keys(release.clusters).length
      ? html`<table class="verdicts"><thead><tr><th>Cluster</th><th>Outcome</th><th>Reason</th><th>Message</th></tr></thead>
          <tbody>${Object.entries(release.clusters).map(([c, x]) => html`<tr><td>${c}</td><td>${x.outcome}</td><td>${x.reason}</td><td>${x.message}</td></tr>`)}</tbody></table>`
      : html`<p>${release.fluxStatus ?? (release.gitopsCommit ? 'no word from Flux yet' : 'nothing committed yet')}</p>`}

    <h2>GitOps commit</h2>
    ${changes?.commit ? html`<p><code>${changes.commit.sha}</code></p>${changes.commit.message ? html`<pre class="commit-message">${changes.commit.message}</pre>` : null}`
      : html`<p>${release.gitopsCommit ? html`<code>${release.gitopsCommit}</code>` : 'none yet'}</p>`}

    <h2>Changes</h2>
    ${changes ? html`<${Diff} changes=${changes} dir=${`${release.env}/${release.app}/`} />` : html`<p class="loading">Loading…</p>`}
  </article>`;
}
