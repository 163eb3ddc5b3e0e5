// The WebSocket: one connection per tab, opened with the current access token, reopened
// when the token is refreshed (the server closes a socket whose token expired) or the
// connection drops (with backoff). Subscriptions are counted per topic, sent once, and
// sent again on every reconnect; `onReconnect` tells pages to reload what they may have
// missed while the socket was down.

import { currentSession, onSession, refresh } from './api.js';

const topics = new Map(); // key → { message, handlers:Set }
const reconnectListeners = new Set();
const statusListeners = new Set();
let socket = null;
let token = null;
let backoff = 500;
let retryTimer = null;
let status = 'closed';
let everOpened = false;

function setStatus(next) {
  status = next;
  for (const l of statusListeners) l(next);
}

export function liveStatus() {
  return status;
}

export function onLiveStatus(listener) {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}

/** `listener()` after the socket came back: what happened meanwhile was not pushed. */
export function onReconnect(listener) {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

function key(m) {
  return [m.channel, m.symbol ?? '', m.timeframe ?? ''].join('|');
}

function open() {
  clearTimeout(retryTimer);
  const session = currentSession();
  if (!session) return;
  if (session.expires_at - Date.now() < 5_000) {
    // The token is (nearly) expired: the server would close the socket at once. A new
    // token reopens it (see `onSession`); if the refresh fails, try again later.
    refresh()
      .then(() => !socket && open())
      .catch(() => {
        retryTimer = setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, 15_000);
      });
    return;
  }
  token = session.access_token;
  // The page's own origin (stratus up), or where the deployment says the core listens.
  const configured = document.querySelector('meta[name="stratus-ws-url"]')?.content;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const base = configured || `${scheme}://${location.host}/ws`;
  const ws = new WebSocket(`${base}?access_token=${encodeURIComponent(token)}`);
  socket = ws;
  setStatus('connecting');
  ws.onopen = () => {
    backoff = 500;
    setStatus('open');
    for (const t of topics.values()) ws.send(JSON.stringify({ op: 'subscribe', ...t.message }));
    if (everOpened) for (const l of reconnectListeners) l();
    everOpened = true;
  };
  ws.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    if (!m.channel) {
      if (m.type === 'error') console.warn('websocket:', m.message);
      return;
    }
    dispatch(m.channel, m.data);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return;
    socket = null;
    setStatus('closed');
    if (!currentSession()) return;
    if (e.code === 1008) {
      // Closed for its credential (expired, revoked): a refresh decides what next —
      // a new token reopens the socket, a refused one ends the session.
      refresh(true)
        .then(() => !socket && open())
        .catch(() => {
          retryTimer = setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, 15_000);
        });
      return;
    }
    retryTimer = setTimeout(open, backoff);
    backoff = Math.min(backoff * 2, 15_000);
  };
}

function dispatch(channel, data) {
  for (const t of topics.values()) {
    const m = t.message;
    if (m.channel !== channel) continue;
    if (m.symbol && data?.symbol && m.symbol !== data.symbol) continue;
    if (m.timeframe && data?.timeframe && m.timeframe !== data.timeframe) continue;
    for (const h of t.handlers) h(data);
  }
}

/**
 * Subscribes `handler` to `{channel, symbol?, timeframe?}`; returns the unsubscribe.
 * Executions and positions are the user's own only (the server filters them).
 */
export function subscribe(message, handler) {
  const k = key(message);
  let t = topics.get(k);
  if (!t) {
    t = { message, handlers: new Set() };
    topics.set(k, t);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: 'subscribe', ...message }));
  }
  t.handlers.add(handler);
  if (!socket) open();
  return () => {
    t.handlers.delete(handler);
    if (t.handlers.size === 0) {
      topics.delete(k);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ op: 'unsubscribe', ...message }));
    }
  };
}

onSession((session) => {
  if (!session) {
    const ws = socket;
    socket = null;
    everOpened = false;
    ws?.close(1000, 'signed out');
    setStatus('closed');
    return;
  }
  if (session.access_token !== token && (socket || topics.size)) {
    // A new token: open a socket with it before the old one's token expires.
    const old = socket;
    socket = null;
    old?.close(1000, 'token refreshed');
    open();
  }
});
