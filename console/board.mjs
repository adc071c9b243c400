import { useEffect, useState } from 'preact/hooks';
import { get } from './api.mjs';
import { DecisionButtons, FreezeButton, HotfixButton, LiftButton, PromoteButton, RollbackButton } from './actions.mjs';
import { html, releaseLink, short, Status, waitingText, When } from './ui.mjs';

function Version({ current }) {
  const v = current.version;
  return html`<div class="version">
    <a href=${releaseLink(current.id)} class="sha">${short(v?.sha ?? current.artifactId)}</a>
    ${v?.branch ? html` <span class="branch">${v.branch}</span>` : null}
    ${v?.authorName ? html` <span class="author">${v.authorName}</span>` : null}
    ${v?.message ? html`<div class="message" title=${v.message}>${v.message.split('\n')[0]}</div>` : null}
    <div class="meta">since <${When} at=${current.since} />${v?.url ? html` · <a href=${v.url} rel="noreferrer noopener" target="_blank">CI</a>` : null}</div>
    <div class="flux">${current.clusters && Object.keys(current.clusters).length
      ? Object.entries(current.clusters).map(([c, verdict]) => html`<span class="cluster">${c}: ${verdict.outcome}</span>`)
      : html`<span class="cluster">Flux: ${current.fluxOutcome ?? current.fluxStatus ?? current.status}</span>`}</div>
  </div>`;
}

function Cell({ app, env, cell, actions, board, reload }) {
  const current = cell?.current;
  const inFlight = cell?.inFlight ?? [];
  const source = env.promotesFrom ? board.apps.find((a) => a.app === app)?.cells[env.promotesFrom]?.current : null;
  return html`<td data-app=${app} data-env=${env.name}>
    ${current ? html`<${Version} current=${current} />` : html`<span class="empty">not released</span>`}
    ${inFlight.map((r) => html`<div class="inflight">
      <a href=${releaseLink(r.id)}>${short(r.sha)}</a> <${Status} status=${r.status} />
      ${r.waiting ? html`<div class="waiting">${waitingText(r.waiting)}</div>` : null}
      ${r.status === 'awaiting-approval' && actions.approve ? html`<${DecisionButtons} release=${{ ...r, app, env: env.name }} onDone=${reload} />` : null}
      ${r.status === 'frozen' && actions.hotfix ? html`<${HotfixButton} release=${{ ...r, app, env: env.name }} onDone=${reload} />` : null}
    </div>`)}
    <div class="cell-actions">
      ${actions.promote && source ? html`<${PromoteButton} app=${app} env=${env.name} from=${env.promotesFrom} source=${source} onDone=${reload} />` : null}
      ${actions.rollback && current ? html`<${RollbackButton} app=${app} env=${env.name} current=${current} onDone=${reload} />` : null}
    </div>
  </td>`;
}

/** The freezes holding an environment: its own and those of every environment. */
const freezesOf = (board, env) => (board.freezes ?? []).filter((f) => f.env === env || f.env === null);

export function Board({ me, tick }) {
  const [board, setBoard] = useState(null);
  const [error, setError] = useState(null);
  const reload = () => get('/api/board').then((b) => { setBoard(b); setError(null); }, (err) => setError(err.message));
  useEffect(() => {
    reload();
  }, [tick]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!board) return html`<p class="loading">Loading…</p>`;
  if (board.apps.length === 0) return html`<p>Nothing released yet. Push an artifact and release it (README: “Ship and release an artifact”).</p>`;
  return html`<section aria-labelledby="board-title">
    <h1 id="board-title">What runs where</h1>
    <div class="table-wrap"><table class="board">
      <thead><tr><th scope="col">App</th>${board.environments.map((e) => html`<th scope="col" data-env=${e.name}>${e.name}
        ${freezesOf(board, e.name).map((f) => html`<div class="frozen-banner" role="status">Frozen by ${f.createdByName}: ${f.reason}${f.until ? html`, until <${When} at=${f.until} />` : ', until lifted'}
          ${e.actions.lift || f.createdByName === me.name ? html` <${LiftButton} freeze=${f} onDone=${reload} />` : null}</div>`)}
        ${e.actions.freeze ? html`<div><${FreezeButton} env=${e.name} onDone=${reload} /></div>` : null}</th>`)}</tr></thead>
      <tbody>${board.apps.map((a) => html`<tr>
        <th scope="row"><a href=${`#/history?app=${encodeURIComponent(a.app)}`}>${a.app}</a></th>
        ${board.environments.map((e) => html`<${Cell} app=${a.app} env=${e} cell=${a.cells[e.name]} actions=${a.actions[e.name]} board=${board} reload=${reload} />`)}
      </tr>`)}</tbody>
    </table></div>
  </section>`;
}
