import { useState } from 'preact/hooks';
import { call, get, post, q } from './api.mjs';
import { Confirm, html, short, When } from './ui.mjs';

const versionLine = (v, sha) => (v ? `${short(v.sha)}${v.branch ? ` on ${v.branch}` : ''}${v.authorName ? ` by ${v.authorName}` : ''}${v.message ? `: “${v.message.split('\n')[0]}”` : ''}` : short(sha));

/** Approve or reject a release waiting for approval, with an optional comment. */
export function DecisionButtons({ release, onDone }) {
  const [open, setOpen] = useState(null);
  const label = `${release.app} → ${release.env}`;
  return html`<span class="buttons">
    <button type="button" class="primary" onClick=${() => setOpen('approve')}>Approve</button>
    <button type="button" onClick=${() => setOpen('reject')}>Reject</button>
    ${open ? html`<${Confirm}
      title=${`${open === 'approve' ? 'Approve' : 'Reject'} ${label}`}
      confirmLabel=${open === 'approve' ? 'Approve' : 'Reject'} danger=${open === 'reject'} comment="optional"
      onConfirm=${(comment) => post(`/api/releases/${encodeURIComponent(release.id)}/${open}`, comment ? { comment } : {}).then(onDone)}
      onClose=${() => setOpen(null)}>
      <p>${open === 'approve'
        ? `Your approval counts towards the ${release.env} gate of ${short(release.sha)}; once the gate is met, Ferry commits the release to ${release.env}/${release.app}/.`
        : `The release ends “rejected”; nothing is committed to ${release.env}.`}</p>
    </${Confirm}>` : null}
  </span>`;
}

/** Release a frozen release through the freeze; the reason is required and audited. */
export function HotfixButton({ release, onDone }) {
  const [open, setOpen] = useState(false);
  return html`<span class="buttons">
    <button type="button" class="danger" onClick=${() => setOpen(true)}>Hotfix through freeze</button>
    ${open ? html`<${Confirm} title=${`Hotfix ${release.app} → ${release.env}`} confirmLabel="Release through the freeze" danger comment="required"
      onConfirm=${(comment) => post(`/api/releases/${encodeURIComponent(release.id)}/hotfix`, { comment }).then(onDone)}
      onClose=${() => setOpen(false)}>
      <p>Ferry commits ${short(release.sha)} to ${release.env}/${release.app}/ now, inside the freeze. Your name and reason go into the commit's trailers.</p>
    </${Confirm}>` : null}
  </span>`;
}

export function PromoteButton({ app, env, from, source, onDone }) {
  const [open, setOpen] = useState(false);
  return html`<span class="buttons">
    <button type="button" onClick=${() => setOpen(true)}>Promote from ${from}</button>
    ${open ? html`<${Confirm} title=${`Promote ${app} to ${env}`} confirmLabel="Promote"
      onConfirm=${() => post('/api/promote', { app, env }).then(onDone)} onClose=${() => setOpen(false)}>
      <p>Ferry releases what runs in ${from}, ${versionLine(source?.version, source?.artifactId)}, to ${env}: one commit to ${env}/${app}/, through ${env}'s gates.</p>
    </${Confirm}>` : null}
  </span>`;
}

/** Roll back to a chosen earlier release: lists the successful releases of this app and env other than the current one. */
export function RollbackButton({ app, env, current, onDone }) {
  const [open, setOpen] = useState(false);
  const [choices, setChoices] = useState(null);
  const [to, setTo] = useState(null);
  const start = async () => {
    setOpen(true);
    const { items } = await get(`/api/releases${q({ app, env, limit: 50 })}`);
    // What ran successfully (where Flux is not awaited, a finished `committed` is a success), newest first.
    const seen = new Set([current?.artifactId]);
    const earlier = items.filter((r) => (r.status === 'succeeded' || (r.status === 'committed' && r.finishedAt)) && !seen.has(r.artifactId) && seen.add(r.artifactId));
    setChoices(earlier);
    setTo(earlier[0]?.artifactId ?? null);
  };
  const chosen = choices?.find((c) => c.artifactId === to);
  return html`<span class="buttons">
    <button type="button" onClick=${start}>Roll back…</button>
    ${open ? html`<${Confirm} title=${`Roll back ${app} in ${env}`} confirmLabel="Roll back" danger
      onConfirm=${() => (to ? post('/api/rollback', { app, env, to }).then(onDone) : Promise.reject(new Error('Choose a release to roll back to.')))}
      onClose=${() => { setOpen(false); setChoices(null); }}>
      ${choices === null ? html`<p>Loading earlier releases…</p>`
        : choices.length === 0 ? html`<p>No earlier successful release of ${app} in ${env} to roll back to.</p>`
          : html`<fieldset><legend>Roll back to</legend>${choices.map((c) => html`<label class="choice">
              <input type="radio" name="to" value=${c.artifactId} checked=${c.artifactId === to} onChange=${() => setTo(c.artifactId)} />
              ${short(c.sha)} ${c.branch ? `on ${c.branch}` : ''} — released <${When} at=${c.finishedAt ?? c.updatedAt} /> by ${c.releasedBy}</label>`)}</fieldset>
            ${chosen ? html`<p>Ferry commits the manifests of ${short(chosen.sha)} (artifact ${chosen.artifactId}) to ${env}/${app}/ as a new release, replacing ${current ? short(current.version?.sha ?? current.artifactId) : 'what runs now'}.</p>` : null}`}
    </${Confirm}>` : null}
  </span>`;
}

/** Stop the line in one environment: releases into it wait, without a commit, until the freeze is lifted. */
export function FreezeButton({ env, onDone }) {
  const [open, setOpen] = useState(false);
  const [until, setUntil] = useState('');
  return html`<span class="buttons">
    <button type="button" class="danger" onClick=${() => setOpen(true)}>Stop the line</button>
    ${open ? html`<${Confirm} title=${`Freeze ${env}`} confirmLabel="Freeze" danger comment="required"
      onConfirm=${(reason) => post('/api/freezes', { env, reason, ...(until ? { until } : {}) }).then(onDone)}
      onClose=${() => setOpen(false)}>
      <p>Every release into ${env} waits as “frozen”, with nothing committed, until the freeze is lifted${until ? ` or ${until} has passed` : ''}. A hotfix override still passes. The environment's notification targets hear of it.</p>
      <label>Until (optional: a duration such as 2h, or an ISO date-time)<input name="until" value=${until} onInput=${(e) => setUntil(e.currentTarget.value.trim())} /></label>
    </${Confirm}>` : null}
  </span>`;
}

export function LiftButton({ freeze, onDone }) {
  const [open, setOpen] = useState(false);
  const where = freeze.env ?? 'every environment';
  return html`<span class="buttons">
    <button type="button" onClick=${() => setOpen(true)}>Lift</button>
    ${open ? html`<${Confirm} title=${`Lift the freeze of ${where}`} confirmLabel="Lift"
      onConfirm=${() => call('DELETE', `/api/freezes/${encodeURIComponent(freeze.id)}`).then(onDone)} onClose=${() => setOpen(false)}>
      <p>Releases held by this freeze (${freeze.reason}) go on in the order they arrived and commit to ${where}, unless another freeze holds them.</p>
    </${Confirm}>` : null}
  </span>`;
}
