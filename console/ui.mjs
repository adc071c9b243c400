import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

const FINAL = new Set(['succeeded', 'failed', 'timed-out', 'rejected', 'expired', 'superseded']);
export const isFinal = (s) => FINAL.has(s);

export function Status({ status }) {
  return html`<span class=${`status status-${status}`}>${status}</span>`;
}

export const short = (sha) => (sha ? String(sha).slice(0, 7) : '');

export function When({ at }) {
  if (!at) return null;
  const d = new Date(at);
  return html`<time datetime=${d.toISOString()} title=${d.toLocaleString()}>${ago(d)}</time>`;
}

export function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 0) return `in ${dur(-s)}`;
  if (s < 10) return 'just now';
  return `${dur(s)} ago`;
}

function dur(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export const releaseLink = (id) => `#/release/${encodeURIComponent(id)}`;
export const artifactLink = (id) => `#/artifact/${encodeURIComponent(id)}`;

/** What a release waits for, in words a person can act on. */
export function waitingText(w) {
  if (!w) return '';
  if (w.kind === 'approval') return `needs ${w.required} approval${w.required === 1 ? '' : 's'} from ${w.approvers.join(', ')}${w.fourEyes ? ' (not the person who released it)' : ''}, until ${new Date(w.deadline).toLocaleString()}`;
  if (w.kind === 'freeze') return `frozen by ${w.window} until ${new Date(w.until).toLocaleString()}${w.hotfixAllowed?.length ? `; hotfix: ${w.hotfixAllowed.join(', ')}` : ''}`;
  if (w.kind === 'lane') return `queued behind ${w.ahead} earlier release${w.ahead === 1 ? '' : 's'}`;
  return JSON.stringify(w);
}

/**
 * A confirmation dialog: says what will happen, takes an optional or required comment, and runs `action` on
 * confirm; the error (if any) stays in the dialog.
 */
export function Confirm({ title, children, confirmLabel, comment, onConfirm, onClose, danger }) {
  const ref = useRef(null);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    if (comment === 'required' && !text.trim()) {
      setError('A reason is required.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onConfirm(text.trim());
      ref.current?.close();
      onClose();
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return html`<dialog ref=${ref} class="confirm" onClose=${onClose} aria-labelledby="confirm-title">
    <form method="dialog" onSubmit=${submit}>
      <h2 id="confirm-title">${title}</h2>
      <div class="confirm-body">${children}</div>
      ${comment ? html`<label>${comment === 'required' ? 'Reason (required)' : 'Comment (optional)'}
        <textarea name="comment" rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea></label>` : null}
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="actions">
        <button type="button" onClick=${() => { ref.current?.close(); }}>Cancel</button>
        <button type="submit" class=${danger ? 'danger' : 'primary'} disabled=${busy}>${confirmLabel}</button>
      </div>
    </form>
  </dialog>`;
}
