// Strategies: the catalog, with a form drawn from each strategy's parameter schema;
// deploying one on the account; its deployments with their P&L, paused, resumed, stopped;
// the user's own strategy modules (WebAssembly): uploaded, listed, deleted.

import { html, useState, useEffect, Field, Problem, useAction, useLoad, Loading, Table, throttle } from '../ui.js';
import { get, post, del, upload } from '../api.js';
import { subscribe } from '../live.js';
import { money, signClass, time, number } from '../format.js';
import { useInstruments } from './trade.js';
import { TIMEFRAMES } from '../charts.js';

export function useCatalog() {
  return useLoad(async () => (await get('/catalog/strategies')).strategies, []);
}

/** The catalog as a select's options: a module shows the name it declares. */
export function strategyOptions(catalog) {
  return catalog.map((s) => ({ value: s.name, label: s.kind === 'module' ? `${s.display_name} (your module)` : s.name }));
}

/** The parameters' form values from the schema's defaults. */
export function defaults(schema) {
  const out = {};
  for (const [name, p] of Object.entries(schema?.properties || {})) out[name] = p.default ?? '';
  return out;
}

/** Form values (strings) as the JSON the API takes: numbers as numbers. */
export function paramsJson(schema, values) {
  const out = {};
  for (const [name, p] of Object.entries(schema?.properties || {})) {
    const v = values[name];
    if (v === '' || v === undefined || v === null) continue;
    if (p.type === 'integer' || p.type === 'number') out[name] = Number(v);
    else if (p.type === 'boolean') out[name] = !!v;
    else out[name] = v;
  }
  return out;
}

/** One field per parameter: its type, bounds and description from the JSON Schema. */
export function SchemaForm({ schema, values, setValues, error, prefix = 'params' }) {
  const props = Object.entries(schema?.properties || {});
  if (props.length === 0) return html`<p class="muted">No parameters.</p>`;
  return html`<fieldset class="params"><legend>Parameters</legend>
    ${props.map(([name, p]) => {
      const bounds = [p.minimum !== undefined ? `≥ ${p.minimum}` : '', p.exclusiveMinimum !== undefined ? `> ${p.exclusiveMinimum}` : '', p.maximum !== undefined ? `≤ ${p.maximum}` : ''].filter(Boolean).join(', ');
      const hint = [p.description, bounds, p.default !== undefined ? `default ${p.default}` : ''].filter(Boolean).join(' · ');
      return html`<${Field} label=${name} name=${`${prefix}.${name}`} value=${values[name]}
        type=${p.type === 'boolean' ? 'checkbox' : p.type === 'integer' || p.type === 'number' ? 'number' : 'text'}
        step=${p.type === 'integer' ? 1 : 'any'} min=${p.minimum} max=${p.maximum}
        options=${p.enum ? p.enum.map(String) : undefined}
        onInput=${(v) => setValues({ ...values, [name]: v })} error=${error} hint=${hint} />`;
    })}
  </fieldset>`;
}

function Deploy({ account, catalog, instruments, onDeployed }) {
  const [name, setName] = useState(catalog[0]?.name);
  const strategy = catalog.find((s) => s.name === name);
  const [values, setValues] = useState(() => defaults(strategy?.params_schema));
  const [symbol, setSymbol] = useState(instruments[0]?.symbol);
  const [timeframe, setTimeframe] = useState('1m');
  useEffect(() => setValues(defaults(strategy?.params_schema)), [name]);
  // The chosen strategy left the catalog (its module was deleted): choose the first.
  useEffect(() => {
    if (!strategy && catalog.length) setName(catalog[0].name);
  }, [catalog, strategy]);
  const [deploy, busy, error] = useAction(async () => {
    const d = await post(`/accounts/${account.id}/strategies`, {
      strategy: name,
      symbols: [symbol],
      timeframes: [timeframe],
      params: paramsJson(strategy.params_schema, values),
    });
    onDeployed(d);
  });
  if (!strategy) return null;
  return html`<form novalidate class="card deploy" aria-label="Deploy a strategy" onSubmit=${(e) => { e.preventDefault(); deploy(); }}>
    <h2>Deploy a strategy</h2>
    <${Field} label="Strategy" name="strategy" value=${name} onInput=${setName} options=${strategyOptions(catalog)} error=${error} />
    <p class="muted">${strategy.summary}${strategy.rules.length ? ` Rules: ${strategy.rules.join('; ')}.` : ''}</p>
    <${Field} label="Symbol" name="symbols" value=${symbol} onInput=${setSymbol} options=${instruments.map((i) => i.symbol)} error=${error} />
    <${Field} label="Timeframe" name="timeframes" value=${timeframe} onInput=${setTimeframe} options=${TIMEFRAMES} error=${error} />
    <${SchemaForm} schema=${strategy.params_schema} values=${values} setValues=${setValues} error=${error} />
    <${Problem} error=${error} />
    <button type="submit" class="primary" disabled=${busy}>Deploy ${strategy.display_name || name}</button>
  </form>`;
}

/** A deployment's P&L, as the API reports it (realized, unrealized, fees, net). */
export function DeploymentPnl({ d }) {
  const p = d.performance;
  if (!p) return html`<span class="muted">—</span>`;
  return html`<span class=${signClass(p.net_pnl)} title=${`realized ${money(p.realized_pnl)} · unrealized ${money(p.unrealized_pnl)} · fees ${money(p.fees)} · ${p.fills} fills`}>${money(p.net_pnl)}</span>`;
}

/** The user's strategy modules: upload a `.wasm` built with the SDK, see, delete. */
function Modules({ onChanged }) {
  const modules = useLoad(async () => (await get('/strategy-modules')).modules, []);
  const [file, setFile] = useState(null);
  // A new key empties the file input once its file is uploaded.
  const [picked, setPicked] = useState(0);
  const [send, busy, error] = useAction(async () => {
    if (!file) throw new Error('choose a .wasm file first');
    await upload('/strategy-modules', file, 'application/wasm');
    setFile(null);
    setPicked((n) => n + 1);
    await modules.reload();
    onChanged();
  });
  const [remove, , removeError] = useAction(async (id) => {
    await del(`/strategy-modules/${id}`);
    await modules.reload();
    onChanged();
  });
  return html`<section class="card modules">
    <h2>Your strategy modules</h2>
    <p class="muted">A strategy of your own, compiled to WebAssembly with the Stratus SDK (<code>wasm/sdk</code>); once uploaded it is in the list above, to deploy or to backtest.</p>
    <form novalidate aria-label="Upload a strategy module" onSubmit=${(e) => { e.preventDefault(); send(); }}>
      <label>Module file (.wasm)
        <input key=${picked} type="file" name="module" accept=".wasm,application/wasm" onChange=${(e) => setFile(e.target.files[0] || null)} />
      </label>
      <button type="submit" class="primary" disabled=${busy || !file}>Upload</button>
    </form>
    <${Problem} error=${error || modules.error || removeError} />
    ${!modules.data ? html`<${Loading} />` : html`<${Table} label="Strategy modules" rowKey=${(m) => m.id} rows=${modules.data} empty="No modules uploaded yet."
      columns=${[
        { key: 'name', label: 'Name' },
        { key: 'summary', label: 'Summary' },
        { key: 'size', label: 'Size', numeric: true, render: (m) => `${number(m.size / 1024, 1)} KB` },
        { key: 'strategy', label: 'Strategy name', render: (m) => html`<code>${m.strategy}</code>` },
        { key: 'created_at', label: 'Uploaded', render: (m) => time(m.created_at) },
        { key: 'actions', label: 'Actions', sortable: false, render: (m) => html`<button type="button" class="small danger" onClick=${() => remove(m.id)} aria-label=${`Delete ${m.name}`}>Delete</button>` },
      ]} />`}
  </section>`;
}

export function Strategies({ account }) {
  const catalog = useCatalog();
  const instruments = useInstruments();
  const deployments = useLoad(async () => (await get(`/accounts/${account.id}/strategies`)).strategies, [account.id]);
  // A fill may be a strategy's: its P&L changes.
  useEffect(() => {
    const later = throttle(deployments.reload, 1000);
    const off = subscribe({ channel: 'fills' }, (f) => {
      if (f.account_id && f.account_id !== account.id) return;
      later();
    });
    return () => {
      later.cancel();
      off();
    };
  }, [account.id, deployments.reload]);
  const [act, , actError] = useAction(async (id, what) => {
    await post(`/strategies/${id}/${what}`);
    await deployments.reload();
  });
  if (catalog.error || instruments.error) return html`<${Problem} error=${catalog.error || instruments.error} />`;
  if (!catalog.data || !instruments.data) return html`<${Loading} />`;
  return html`<div class="strategies">
    <section class="card">
      <h2>Deployments</h2>
      <${Problem} error=${deployments.error || actError} />
      ${!deployments.data ? html`<${Loading} />` : html`<${Table} label="Deployments" rowKey=${(d) => d.id} rows=${deployments.data} empty="Nothing deployed on this account."
        columns=${[
          { key: 'strategy', label: 'Strategy' },
          { key: 'symbols', label: 'Symbols', render: (d) => d.symbols.join(', ') },
          { key: 'timeframes', label: 'Timeframes', render: (d) => d.timeframes.join(', ') },
          { key: 'params', label: 'Parameters', render: (d) => html`<code>${JSON.stringify(d.params)}</code>` },
          { key: 'status', label: 'Status', render: (d) => html`<span class=${'status ' + d.status} data-testid="deployment-status">${d.status}</span>${d.reason ? html`<br /><small class="muted" data-testid="deployment-reason">${d.reason}</small>` : ''}` },
          { key: 'pnl', label: 'P&L', numeric: true, value: (d) => d.performance?.net_pnl, render: (d) => html`<${DeploymentPnl} d=${d} />` },
          { key: 'created_at', label: 'Since', render: (d) => time(d.created_at) },
          { key: 'actions', label: 'Actions', sortable: false, render: (d) => d.status === 'stopped' ? '' : html`
            ${d.status === 'running'
              ? html`<button type="button" class="small" onClick=${() => act(d.id, 'pause')} aria-label=${`Pause ${d.strategy}`}>Pause</button>`
              : html`<button type="button" class="small" onClick=${() => act(d.id, 'resume')} aria-label=${`Resume ${d.strategy}`}>Resume</button>`}
            <button type="button" class="small danger" onClick=${() => act(d.id, 'stop')} aria-label=${`Stop ${d.strategy}`}>Stop</button>` },
        ]} />`}
    </section>
    <${Deploy} account=${account} catalog=${catalog.data} instruments=${instruments.data} onDeployed=${deployments.reload} />
    <${Modules} onChanged=${catalog.reload} />
  </div>`;
}
