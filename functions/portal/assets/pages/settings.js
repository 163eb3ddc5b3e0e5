// API keys (the user's) and risk limits (an account's).

import { html, useState, useEffect, Field, Problem, useAction, useLoad, Loading, Table, Stat } from '../ui.js';
import { get, post, put, del } from '../api.js';
import { money, signClass, time } from '../format.js';

export function ApiKeys() {
  const keys = useLoad(async () => (await get('/auth/api-keys')).api_keys, []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const [create, busy, createError] = useAction(async () => {
    const key = await post('/auth/api-keys', { name: name.trim() });
    setCreated(key);
    setName('');
    await keys.reload();
  });
  const [revoke, , revokeError] = useAction(async (id) => {
    await del(`/auth/api-keys/${id}`);
    await keys.reload();
  });
  return html`<section>
    <h1>API keys</h1>
    <p class="muted">A key acts as you for bots and scripts: send it as <code>X-Api-Key</code>. It is shown once, when it is made.</p>
    ${created && html`<div class="notice" role="status">
      <p>The key <strong>${created.name}</strong> — copy it now, it is not shown again:</p>
      <p><code class="secret" data-testid="new-api-key">${created.key}</code></p>
      <button type="button" onClick=${() => setCreated(null)}>Done</button>
    </div>`}
    <form novalidate class="inline card" onSubmit=${(e) => { e.preventDefault(); create(); }}>
      <${Field} label="Key name" name="name" value=${name} onInput=${setName} error=${createError} placeholder="e.g. my bot" />
      <button type="submit" class="primary" disabled=${busy}>Create key</button>
      <${Problem} error=${createError} />
    </form>
    <${Problem} error=${keys.error || revokeError} />
    ${!keys.data ? html`<${Loading} />` : html`<${Table} label="API keys" rowKey=${(k) => k.key_id} rows=${keys.data} empty="No keys."
      columns=${[
        { key: 'name', label: 'Name' },
        { key: 'prefix', label: 'Starts with', render: (k) => html`<code>${k.prefix}…</code>` },
        { key: 'created_at', label: 'Created', render: (k) => time(k.created_at) },
        { key: 'revoked', label: 'State', render: (k) => (k.revoked ? 'revoked' : 'active') },
        { key: 'actions', label: '', sortable: false, render: (k) => (k.revoked ? '' : html`<button type="button" class="small danger" aria-label=${`Revoke ${k.name}`} onClick=${() => revoke(k.key_id)}>Revoke</button>`) },
      ]} />`}
  </section>`;
}

const LIMITS = [
  ['max_order_notional', 'Largest order (notional)'],
  ['max_position', 'Largest position (quantity, any symbol)'],
  ['max_daily_loss', 'Daily loss that halts new orders'],
];

export function RiskLimits({ account }) {
  const limits = useLoad(() => get(`/accounts/${account.id}/risk-limits`), [account.id]);
  const [v, setV] = useState({ max_order_notional: '', max_position: '', max_daily_loss: '', by_symbol: '' });
  useEffect(() => {
    const l = limits.data;
    if (!l) return;
    setV({
      max_order_notional: l.max_order_notional ?? '',
      max_position: l.max_position ?? '',
      max_daily_loss: l.max_daily_loss ?? '',
      by_symbol: Object.entries(l.max_position_by_symbol || {}).map(([s, q]) => `${s}=${q}`).join(', '),
    });
  }, [limits.data]);
  const [local, setLocal] = useState({});
  const [save, busy, error] = useAction(async () => {
    const bySymbol = {};
    const problems = {};
    for (const part of v.by_symbol.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [s, q] = part.split('=').map((x) => x?.trim());
      if (!s || !q) problems.max_position_by_symbol = `write SYMBOL=quantity, not ${part}`;
      else bySymbol[s] = q;
    }
    setLocal(problems);
    if (Object.keys(problems).length) return;
    const body = { max_position_by_symbol: bySymbol };
    for (const [k] of LIMITS) body[k] = String(v[k]).trim() || null;
    await put(`/accounts/${account.id}/risk-limits`, body);
    await limits.reload();
  });
  const l = limits.data;
  return html`<section class="card">
    <h2>Risk limits</h2>
    <${Problem} error=${limits.error} />
    ${!l ? html`<${Loading} />` : html`
      <div class="stats">
        <${Stat} label="Today's P&L" value=${money(l.day_pnl)} className=${signClass(l.day_pnl)} />
        <${Stat} label="New orders" value=${l.halted ? `halted${l.halt ? `: ${l.halt.reason}` : ''}` : 'allowed'} className=${l.halted ? 'neg' : 'pos'} />
      </div>
      <form novalidate onSubmit=${(e) => { e.preventDefault(); save(); }}>
        ${LIMITS.map(([k, label]) => html`<${Field} label=${label} name=${k} inputmode="decimal" value=${v[k]} onInput=${(x) => setV({ ...v, [k]: x })} error=${error} hint="Blank: no limit" />`)}
        <${Field} label="Largest position per symbol" name="max_position_by_symbol" value=${v.by_symbol} onInput=${(x) => setV({ ...v, by_symbol: x })} error=${error} local=${local} placeholder="AAPL=100, ES=2" />
        <${Problem} error=${error} />
        <button type="submit" class="primary" disabled=${busy}>Save limits</button>
      </form>`}
  </section>`;
}
