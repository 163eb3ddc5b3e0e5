// The portal's shell: the hash router, the navigation, the session guard.

import { render } from './vendor/htm-preact-3.1.1.mjs';
import { html, useState, useEffect, useLoad } from './ui.js';
import { get, onSession, currentSession, signOut } from './api.js';
import { onLiveStatus, liveStatus } from './live.js';
import { SignIn, SignUp } from './pages/auth.js';
import { Overview, Account } from './pages/accounts.js';
import { Research, Job } from './pages/research.js';
import { ApiKeys } from './pages/settings.js';
import { Admin } from './pages/admin.js';
import { About } from './pages/about.js';

const ROUTES = [
  ['/signin', SignIn, { public: true }],
  ['/signup', SignUp, { public: true }],
  ['/about', About, { public: true }],
  ['/', Overview],
  ['/accounts/:id', Account],
  ['/accounts/:id/:tab', Account],
  ['/research', Research],
  ['/research/:kind', Research],
  ['/research/:kind/:id', Job],
  ['/keys', ApiKeys],
  ['/admin', Admin],
];

/** `#/accounts/1/trade?symbol=X` → { path, params, query, page, options }. */
export function route(hash) {
  const [path, search] = (hash.replace(/^#/, '') || '/').split('?');
  const query = new URLSearchParams(search || '');
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, page, options = {}] of ROUTES) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    want.forEach((w, i) => {
      if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(parts[i]);
      else if (w !== parts[i]) ok = false;
    });
    if (ok) return { path, params, query, page, options };
  }
  return { path, params: {}, query, page: null, options: {} };
}

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function useSessionState() {
  const [session, setSession] = useState(currentSession());
  useEffect(() => onSession(setSession), []);
  return session;
}

function LiveBadge() {
  const [status, setStatus] = useState(liveStatus());
  useEffect(() => onLiveStatus(setStatus), []);
  const label = { open: 'Live', connecting: 'Connecting', closed: 'Offline' }[status];
  return html`<span class=${'live ' + status} role="status" aria-live="polite" data-testid="live-status">${label}</span>`;
}

function Nav({ session, me, path }) {
  const link = (href, label, match) => html`<a href=${href} aria-current=${match ? 'page' : undefined}>${label}</a>`;
  return html`<header class="top">
    <a class="brand" href="#/">Stratus</a>
    ${session && html`<nav aria-label="Main">
      ${link('#/', 'Accounts', path === '/' || path.startsWith('/accounts'))}
      ${link('#/research/backtests', 'Research', path.startsWith('/research'))}
      ${link('#/keys', 'API keys', path === '/keys')}
      ${me?.role === 'admin' && link('#/admin', 'Operations', path === '/admin')}
      ${link('#/about', 'About', path === '/about')}
    </nav>`}
    <div class="who">
      ${session && html`<${LiveBadge} />`}
      ${session && html`<span class="email">${session.email}</span>`}
      ${session && html`<button type="button" onClick=${async () => { await signOut(); location.hash = '#/signin'; }}>Sign out</button>`}
    </div>
  </header>`;
}

function App() {
  const hash = useHash();
  const session = useSessionState();
  const r = route(hash);
  const me = useLoad(() => (session ? get('/auth/me') : null), [session?.email, !!session]);
  useEffect(() => {
    // (`expire()` may have sent us to sign-in already, saying why: keep its address.)
    if (!session && !r.options.public && !location.hash.startsWith('#/signin')) location.hash = '#/signin' + (r.path !== '/' ? '?next=' + encodeURIComponent('#' + r.path) : '');
  }, [session, r.path]);
  useEffect(() => {
    document.title = `Stratus${r.path !== '/' ? ' · ' + r.path.split('/')[1] : ''}`;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [r.path]);
  useEffect(() => {
    if (!document.documentElement.dataset.ready) {
      document.documentElement.dataset.ready = '1';
      performance.mark('stratus:interactive');
    }
  }, []);
  let body;
  if (!r.page) body = html`<section class="not-found" role="alert"><h1>Not found</h1><p>No page here. <a href="#/">Your accounts</a></p></section>`;
  else if (!session && !r.options.public) body = null;
  else body = html`<${r.page} params=${r.params} query=${r.query} me=${me.data} />`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <${Nav} session=${session} me=${me.data} path=${r.path} />
    <main id="main" tabindex="-1">${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
