import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, signIn, signOut } from './api.mjs';
import { ArtifactPage } from './artifact.mjs';
import { Board } from './board.mjs';
import { History } from './history.mjs';
import { Insights } from './insights.mjs';
import { ReleasePage } from './release.mjs';
import { html } from './ui.mjs';

function parseRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] ?? 'board', arg: parts[1], params: new URLSearchParams(query) };
}

/**
 * One counter that goes up whenever a release changes (server-sent events from /api/stream); pages read again when
 * it moves. A lost connection is retried by the browser; after a gap the server says `resync`. The server ends the
 * stream when the session stops holding; the refused reconnect sends the page back to sign-in.
 */
function useLive(enabled, onRefused) {
  const [tick, setTick] = useState(0);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!enabled) return undefined;
    const es = new EventSource('/api/stream');
    let timer = null;
    const bump = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        setTick((t) => t + 1);
      }, 250);
    };
    es.addEventListener('open', () => setConnected(true));
    es.addEventListener('error', () => {
      setConnected(false);
      // The browser gives up only when a reconnect is answered with an error: the session no longer holds.
      if (es.readyState === EventSource.CLOSED) onRefused();
    });
    es.addEventListener('release', bump);
    es.addEventListener('resync', bump);
    return () => {
      es.close();
      if (timer) clearTimeout(timer);
    };
  }, [enabled]);
  return { tick, connected };
}

function SignIn({ onSignedIn, oidc }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token.trim());
      setToken('');
      onSignedIn();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>Ferry</h1>
    <form onSubmit=${submit}>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
    ${oidc ? html`<p><a class="button" href="/console/oidc/start">Sign in with your identity provider</a></p>` : null}
    <p class="hint">Create one with <code>ferry token create</code>; the token stays in an HttpOnly cookie of this browser.</p>
  </main>`;
}

function App() {
  const [me, setMe] = useState(undefined);
  const [route, setRoute] = useState(parseRoute());
  const [oidc, setOidc] = useState(false);
  const loadMe = () => get('/console/session').then((s) => {
    setOidc(Boolean(s.oidc));
    return s.signedIn ? get('/api/me') : null;
  }).then(setMe, (err) => {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setMe(null);
    else setMe({ error: err.message });
  });
  const live = useLive(Boolean(me) && !me.error, loadMe);
  useEffect(() => {
    loadMe();
    const onHash = () => setRoute(parseRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (me === undefined) return html`<p class="loading">Loading…</p>`;
  if (me === null) return html`<${SignIn} onSignedIn=${loadMe} oidc=${oidc} />`;
  if (me.error) return html`<p class="error" role="alert">Ferry is not answering: ${me.error}</p>`;

  const page = route.name === 'release' ? html`<${ReleasePage} id=${route.arg} me=${me} tick=${live.tick} />`
    : route.name === 'history' ? html`<${History} params=${route.params} tick=${live.tick} />`
      : route.name === 'artifact' ? html`<${ArtifactPage} id=${route.arg} tick=${live.tick} />`
        : route.name === 'insights' ? html`<${Insights} params=${route.params} tick=${live.tick} />`
        : html`<${Board} me=${me} tick=${live.tick} />`;
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/">Ferry</a>
      <nav aria-label="Main">
        <a href="#/" aria-current=${route.name === 'board' ? 'page' : undefined}>Board</a>
        <a href="#/history" aria-current=${route.name === 'history' ? 'page' : undefined}>History</a>
        <a href="#/insights" aria-current=${route.name === 'insights' ? 'page' : undefined}>Insights</a>
      </nav>
      <span class=${`live ${live.connected ? 'on' : 'off'}`} title=${live.connected ? 'live updates on' : 'live updates reconnecting'}>${live.connected ? 'live' : 'offline'}</span>
      <span class="who" data-testid="who">${me.name}</span>
      <button type="button" class="link" onClick=${async () => { await signOut().catch(() => undefined); setMe(null); }}>Sign out</button>
    </header>
    <main>${page}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
