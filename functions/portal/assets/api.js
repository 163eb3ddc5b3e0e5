// The API client: the session (tokens in localStorage), a token refreshed before it
// expires, problem+json errors as `ApiError` (with the field each error names), and a 401
// that cannot be cured by refreshing returns to sign-in.

const STORE = 'stratus.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

let session = readSession();
let refreshing = null;
let refreshTimer = null;
const listeners = new Set();

function readSession() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE) || 'null');
    return s && s.access_token && s.refresh_token ? s : null;
  } catch {
    return null;
  }
}

function adopt(next) {
  session = next;
  schedule();
  for (const l of listeners) l(session);
}

function writeSession(next) {
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  adopt(next);
}

// Another tab refreshed the tokens (the refresh token rotates: this tab's copy is now
// spent) or signed out: take its session as ours.
addEventListener('storage', (e) => {
  if (e.key === STORE || e.key === null) adopt(readSession());
});

/** Calls `listener(session)` whenever the session changes (signed in, refreshed, out). */
export function onSession(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentSession() {
  return session;
}

/** An error answer of the API: `status`, `title`, `detail`, `errors` [{field, message}]. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem?.title || `HTTP ${status}`;
    this.detail = problem?.detail || '';
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    /** Seconds to wait before trying again (`Retry-After`), when the server said. */
    this.retryAfter = Number(retryAfter) > 0 ? Number(retryAfter) : undefined;
  }

  /** The message for `field` (errors name fields as the request spells them). */
  fieldError(field) {
    const hit = this.errors.find((e) => e.field === field || e.field?.startsWith(field + '.') || e.field?.startsWith(field + '['));
    return hit ? hit.message : null;
  }
}

function tokensToSession(pair, email) {
  const now = Date.now();
  return {
    email: email ?? session?.email,
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: now + pair.expires_in * 1000,
    refresh_expires_at: now + pair.refresh_expires_in * 1000,
  };
}

function schedule(retryIn) {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = retryIn ?? Math.max(1_000, session.expires_at - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(() => {
    // A refused refresh ends the session (`expire`); any other failure (the network, a
    // 5xx, a 429) is tried again shortly, the session kept.
    refresh().catch((e) => {
      if (session) schedule(e instanceof ApiError && e.retryAfter ? e.retryAfter * 1000 : 5_000);
    });
  }, wait);
}

/** Whether `e` says the refresh token is no good (not that the server could not answer). */
function refused(e) {
  return e instanceof ApiError && (e.status === 400 || e.status === 401);
}

async function send(method, path, body, token) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : { detail: data }, response.headers.get('Retry-After'));
  return data;
}

/**
 * Exchanges the refresh token for a new pair; on refusal the session ends. Without
 * `force`, a session another tab has just refreshed (or one far from expiry) is kept as
 * it is; `force` asks the server regardless (the access token was refused).
 */
export function refresh(force = false) {
  if (!session) return Promise.reject(new ApiError(401, { detail: 'not signed in' }));
  if (!refreshing) {
    const run = async () => {
      // Another tab may have refreshed already: its tokens are in localStorage, and ours
      // are spent (using a rotated refresh token ends the whole login).
      const stored = readSession();
      if (!stored) {
        expire();
        throw new ApiError(401, { detail: 'signed out' });
      }
      if (stored.refresh_token !== session?.refresh_token) {
        adopt(stored);
        if (stored.expires_at - Date.now() > 5_000) return session;
      } else if (!force && stored.expires_at - Date.now() > REFRESH_MARGIN_MS + 5_000) {
        return session;
      }
      try {
        const pair = await send('POST', '/auth/refresh', { refresh_token: stored.refresh_token }).then(parse);
        writeSession(tokensToSession(pair, stored.email));
        return session;
      } catch (e) {
        if (refused(e)) expire();
        throw e;
      }
    };
    // One tab refreshes at a time (where the browser has Web Locks).
    const locked = navigator.locks ? navigator.locks.request('stratus.refresh', run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** The session ended (expired, revoked): forget it and go to sign-in. */
export function expire() {
  writeSession(null);
  const here = location.hash || '#/';
  if (!here.startsWith('#/signin') && !here.startsWith('#/signup')) {
    location.hash = '#/signin?expired=1&next=' + encodeURIComponent(here.slice(1));
  }
}

/** A call of the API as the signed-in user; the JSON answer, or throws `ApiError`. */
export async function api(method, path, body) {
  if (session && session.expires_at - Date.now() < 5_000) {
    await refresh().catch(() => {});
  }
  if (!session) {
    expire();
    throw new ApiError(401, { title: 'Unauthorized', detail: 'sign in first' });
  }
  let response = await send(method, path, body, session.access_token);
  if (response.status === 401) {
    try {
      await refresh(true);
    } catch (e) {
      // Refused: the session is over (`refresh` sent us to sign-in). Otherwise the
      // server could not answer now: say so, and keep the session.
      if (!refused(e)) throw e;
      throw new ApiError(401, { title: 'Unauthorized', detail: 'your session ended: sign in again' });
    }
    response = await send(method, path, body, session.access_token);
    if (response.status === 401) {
      expire();
      throw new ApiError(401, { title: 'Unauthorized', detail: 'your session ended: sign in again' });
    }
  }
  return parse(response);
}

/** Uploads a file's bytes as the signed-in user (a strategy module: `application/wasm`). */
export async function upload(path, file, type) {
  const call = () => fetch(path, {
    method: 'POST',
    headers: { Accept: 'application/json, application/problem+json', 'Content-Type': type, Authorization: `Bearer ${session?.access_token}` },
    body: file,
  });
  if (session && session.expires_at - Date.now() < 5_000) await refresh().catch(() => {});
  if (!session) {
    expire();
    throw new ApiError(401, { title: 'Unauthorized', detail: 'sign in first' });
  }
  let response = await call();
  if (response.status === 401) {
    await refresh(true);
    response = await call();
  }
  return parse(response);
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export async function signIn(email, password) {
  const pair = await send('POST', '/auth/login', { email, password }).then(parse);
  writeSession(tokensToSession(pair, email));
}

export async function signUp(email, password) {
  await send('POST', '/auth/register', { email, password }).then(parse);
  await signIn(email, password);
}

export async function signOut() {
  const token = session?.refresh_token;
  const access = session?.access_token;
  writeSession(null);
  if (token) {
    await send('POST', '/auth/logout', { refresh_token: token }, access).catch(() => {});
  }
}

/** Every page of a cursor-paged list: `key` names the array, `limit` the page size. */
export async function all(path, key, limit = 500, max = 20_000) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=${limit}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    out.push(...page[key]);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

schedule();
