// Shared components: labelled fields that show the API's error for their field, problem
// banners, sortable tables, a windowed table for long lists, tabs, and data hooks.

import { html, useState, useEffect, useRef, useCallback, useMemo } from './vendor/htm-preact-3.1.1.mjs';
import { ApiError } from './api.js';

export { html, useState, useEffect, useRef, useCallback, useMemo };

let ids = 0;
export function useId(prefix = 'f') {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++ids}`;
  return ref.current;
}

/** The error of an action: an `ApiError`, another error, or nothing. */
export function Problem({ error }) {
  if (!error) return null;
  const title = error instanceof ApiError ? error.title : 'Error';
  const detail = error instanceof ApiError ? error.detail : String(error.message || error);
  const errors = error instanceof ApiError ? error.errors : [];
  const unplaced = errors.filter((e) => !e.placed);
  // When every error sits under its field, the banner only points there.
  const pointer = errors.length > 0 && unplaced.length === 0;
  return html`<div class="problem" role="alert">
    <strong>${title}</strong>${pointer ? ': see the fields marked above' : detail ? html`: <span>${detail}</span>` : ''}
    ${unplaced.length > 0 && html`<ul>${unplaced.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>`}
  </div>`;
}

/**
 * A labelled input. `error` is the `ApiError` (or local errors object) of the last
 * attempt; the message naming `name` is shown under the input and announced.
 */
export function Field({ label, name, value, onInput, error, local, type = 'text', options, hint, ...rest }) {
  const id = useId(name);
  let message = local?.[name] ?? null;
  if (!message && error instanceof ApiError) {
    message = error.fieldError(name);
    if (message) for (const e of error.errors) if (e.field === name || e.field?.startsWith(name + '.')) e.placed = true;
  }
  const errId = `${id}-error`;
  const common = {
    id,
    name,
    'aria-invalid': message ? 'true' : undefined,
    'aria-describedby': message ? errId : hint ? `${id}-hint` : undefined,
    ...rest,
  };
  let control;
  if (options) {
    control = html`<select ...${common} value=${value} onChange=${(e) => onInput(e.target.value)}>
      ${options.map((o) => (typeof o === 'string' ? html`<option value=${o}>${o}</option>` : html`<option value=${o.value}>${o.label}</option>`))}
    </select>`;
  } else if (type === 'checkbox') {
    control = html`<input type="checkbox" ...${common} checked=${!!value} onChange=${(e) => onInput(e.target.checked)} />`;
  } else {
    control = html`<input type=${type} ...${common} value=${value ?? ''} onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<div class=${'field' + (message ? ' invalid' : '') + (type === 'checkbox' ? ' check' : '')}>
    <label for=${id}>${label}</label>
    ${control}
    ${hint && !message && html`<small id=${`${id}-hint`} class="hint">${hint}</small>`}
    ${message && html`<small id=${errId} class="error" role="alert">${message}</small>`}
  </div>`;
}

/** Runs `load()` when `deps` change; `{data, error, loading, reload, setData}`. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const generation = useRef(0);
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    return Promise.resolve()
      .then(load)
      .then(
        (data) => mine === generation.current && setState({ data, error: null, loading: false }),
        (error) => mine === generation.current && setState((s) => ({ data: s.data, error, loading: false })),
      );
  }, deps);
  useEffect(() => {
    // Other deps, another thing (another account, another job): nothing of the last
    // one may show under this one's address while it loads.
    setState({ data: undefined, error: null, loading: true });
    reload();
  }, [reload]);
  const setData = useCallback((f) => setState((s) => ({ ...s, data: typeof f === 'function' ? f(s.data) : f })), []);
  return { ...state, reload, setData };
}

/**
 * `f` called at most once per `wait` ms, always after the last call (a burst of events
 * makes one reload at its end, and a steady stream one every `wait` ms — never none).
 */
export function throttle(f, wait) {
  let timer = null;
  let last = 0;
  const fire = () => {
    timer = null;
    last = Date.now();
    f();
  };
  const call = () => {
    if (timer) return;
    timer = setTimeout(fire, Math.max(0, last + wait - Date.now()));
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

/** `[run, busy, error, setError]`: `run(...)` calls `action(...)`, keeping its error. */
export function useAction(action) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return [run, busy, error, setError];
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" role="status" aria-live="polite">${what}…</p>`;
}

/** A page's load error: "not found" for a 404 (never another user's data). */
export function LoadError({ error, what = 'This page' }) {
  if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
    return html`<section class="not-found" role="alert"><h2>Not found</h2><p>${what} does not exist, or is not yours.</p><p><a href="#/">Back to your accounts</a></p></section>`;
  }
  return html`<${Problem} error=${error} />`;
}

/**
 * A table sortable by any column (click or Enter on a header). `columns`: [{key, label,
 * render?, value?, numeric?}]; `rows`: objects; `rowKey`: a row's key.
 */
export function Table({ columns, rows, rowKey, caption, initialSort, empty = 'Nothing yet.', label }) {
  const [sort, setSort] = useState(initialSort ?? null);
  const sorted = useMemo(() => {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    if (!col) return rows;
    const value = col.value ?? ((r) => r[col.key]);
    const out = [...rows];
    out.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const nx = Number(x);
      const ny = Number(y);
      const cmp = col.numeric || (!Number.isNaN(nx) && !Number.isNaN(ny) && x !== '' && y !== '')
        ? (Number.isNaN(nx) ? -Infinity : nx) - (Number.isNaN(ny) ? -Infinity : ny)
        : String(x ?? '').localeCompare(String(y ?? ''));
      return sort.desc ? -cmp : cmp;
    });
    return out;
  }, [rows, sort, columns]);
  const toggle = (key) => setSort((s) => (s && s.key === key ? { key, desc: !s.desc } : { key, desc: true }));
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${label || caption || 'table'}>
    <table>
      ${caption && html`<caption>${caption}</caption>`}
      <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.numeric ? 'num' : ''}
        aria-sort=${sort?.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
        ${c.sortable === false ? c.label : html`<button type="button" class="sort" onClick=${() => toggle(c.key)}>${c.label}${sort?.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}</button>`}
      </th>`)}</tr></thead>
      <tbody>
        ${sorted.length === 0 && html`<tr><td colspan=${columns.length} class="muted">${empty}</td></tr>`}
        ${sorted.map((r) => html`<tr key=${rowKey(r)}>${columns.map((c) => html`<td class=${c.numeric ? 'num' : ''}>${c.render ? c.render(r) : r[c.key]}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

/**
 * A long list drawn a window at a time: only the rows in view (and a few more) are in the
 * page, so thousands of rows scroll and update as fast as a handful.
 */
export function VirtualTable({ columns, rows, rowKey, label, height = 320, rowHeight = 30, empty = 'Nothing yet.' }) {
  const [top, setTop] = useState(0);
  const start = Math.max(0, Math.floor(top / rowHeight) - 5);
  const count = Math.ceil(height / rowHeight) + 10;
  const visible = rows.slice(start, start + count);
  const template = columns.map((c) => c.width || '1fr').join(' ');
  return html`<div class="vtable" role="table" aria-label=${label} aria-rowcount=${rows.length + 1}>
    <div class="vrow vhead" role="row" style=${{ gridTemplateColumns: template }}>
      ${columns.map((c) => html`<div role="columnheader" class=${c.numeric ? 'num' : ''}>${c.label}</div>`)}
    </div>
    <div class="vbody" tabindex="0" style=${{ height: `${height}px` }} onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
      ${rows.length === 0 && html`<div class="muted vempty">${empty}</div>`}
      <div style=${{ height: `${rows.length * rowHeight}px`, position: 'relative' }}>
        ${visible.map((r, i) => html`<div key=${rowKey(r)} class="vrow" role="row" aria-rowindex=${start + i + 2}
            style=${{ gridTemplateColumns: template, top: `${(start + i) * rowHeight}px`, height: `${rowHeight}px` }}>
          ${columns.map((c) => html`<div role="cell" class=${c.numeric ? 'num' : ''}>${c.render ? c.render(r) : r[c.key]}</div>`)}
        </div>`)}
      </div>
    </div>
  </div>`;
}

/** Tabs as links (each tab is a URL), the current one marked for assistive technology. */
export function Tabs({ tabs, current }) {
  return html`<nav class="tabs" aria-label="Sections">
    ${tabs.map((t) => html`<a href=${t.href} aria-current=${t.key === current ? 'page' : undefined} class=${t.key === current ? 'active' : ''}>${t.label}</a>`)}
  </nav>`;
}

/** A figure with a label: a KPI. */
export function Stat({ label, value, className = '', testid }) {
  return html`<div class="stat"><div class="label">${label}</div><div class=${'value ' + className} data-testid=${testid}>${value}</div></div>`;
}
