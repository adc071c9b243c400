import { useEffect, useState } from 'preact/hooks';
import { get, q } from './api.mjs';
import { html } from './ui.mjs';

const DAYS = [7, 30, 90];

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** Bars of one figure per environment, drawn as SVG so nothing is fetched. */
function Bars({ rows, value, label, format }) {
  const max = Math.max(1e-9, ...rows.map((r) => value(r) ?? 0));
  const h = 22;
  return html`<figure class="bars">
    <figcaption>${label}</figcaption>
    <svg role="img" aria-label=${label} width="100%" height=${rows.length * h + 4} viewBox=${`0 0 400 ${rows.length * h + 4}`} preserveAspectRatio="none">
      ${rows.map((r, i) => html`<g>
        <text x="0" y=${i * h + 15} class="bar-label">${r.env}</text>
        <rect x="110" y=${i * h + 4} width=${Math.max(1, 220 * ((value(r) ?? 0) / max))} height="14" class="bar" />
        <text x=${116 + 220 * ((value(r) ?? 0) / max)} y=${i * h + 15} class="bar-value">${format(value(r))}</text>
      </g>`)}
    </svg>
  </figure>`;
}

export function Insights({ params, tick }) {
  const [days, setDays] = useState(Number(params.get('days') ?? 30));
  const [app, setApp] = useState(params.get('app') ?? '');
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      const { environments } = await get('/api/environments');
      const envs = environments.map((e) => e.name);
      const figures = await Promise.all(envs.map(async (env) => ({ env, ...(await get(`/api/insights/dora${q({ env, app, days })}`)) })));
      setRows(figures);
      setError(null);
    } catch (err) {
      setError(err.body?.issues ? err.body.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : err.message);
    }
  };
  useEffect(() => {
    load();
  }, [tick, days]);
  return html`<section aria-labelledby="insights-title">
    <h1 id="insights-title">DORA figures</h1>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); load(); }}>
      <label>App (all when empty)<input name="app" value=${app} onInput=${(e) => setApp(e.currentTarget.value.trim())} /></label>
      <label>Window<select name="days" value=${days} onChange=${(e) => setDays(Number(e.currentTarget.value))}>${DAYS.map((d) => html`<option value=${d}>last ${d} days</option>`)}</select></label>
      <button type="submit" class="primary">Show</button>
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${!rows ? html`<p class="loading">Loading…</p>` : rows.length === 0 ? html`<p>No environments configured.</p>` : html`
      <div class="table-wrap"><table class="insights">
        <thead><tr><th>Environment</th><th>Deployments</th><th>Per day</th><th>Lead time (median / p90)</th><th>Change failure rate</th><th>Time to restore (median)</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr data-env=${r.env}>
          <th scope="row">${r.env}</th>
          <td>${r.deploymentFrequency.deployments}</td>
          <td>${r.deploymentFrequency.perDay}</td>
          <td>${duration(r.leadTime.medianSeconds)} / ${duration(r.leadTime.p90Seconds)}</td>
          <td class="cfr">${r.changeFailureRate.rate === null ? '—' : `${Math.round(r.changeFailureRate.rate * 1000) / 10}%`} <span class="meta">(${r.changeFailureRate.failed} of ${r.changeFailureRate.committed})</span></td>
          <td>${duration(r.timeToRestore.medianSeconds)} <span class="meta">(${r.timeToRestore.restored} of ${r.timeToRestore.failures} restored)</span></td>
        </tr>`)}</tbody>
      </table></div>
      <${Bars} rows=${rows} label="Deployments per day" value=${(r) => r.deploymentFrequency.perDay} format=${(v) => String(v ?? 0)} />
      <${Bars} rows=${rows} label="Change failure rate" value=${(r) => r.changeFailureRate.rate} format=${(v) => (v === null || v === undefined ? '—' : `${Math.round(v * 1000) / 10}%`)} />
      <p class="hint">Definitions: docs/insights.md.</p>`}
  </section>`;
}
