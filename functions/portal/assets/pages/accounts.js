// The accounts overview and an account's page (its header, cash movements and tabs).

import { html, useState, useEffect, Field, Problem, useAction, useLoad, Loading, LoadError, Tabs, Stat, Table, throttle } from '../ui.js';
import { get, post, all } from '../api.js';
import { subscribe, onReconnect } from '../live.js';
import { money, signClass, time } from '../format.js';
import { Trade } from './trade.js';
import { Strategies } from './strategies.js';
import { Performance } from './performance.js';
import { RiskLimits } from './settings.js';

/** Reloads `reload` (debounced) whenever an account of the user trades or reconnects. */
function useLiveBalances(reload, accountId) {
  useEffect(() => {
    const later = throttle(reload, 500);
    const soon = (data) => {
      if (accountId && data?.account_id && data.account_id !== accountId) return;
      later();
    };
    const offs = [
      subscribe({ channel: 'positions' }, soon),
      subscribe({ channel: 'fills' }, soon),
      onReconnect(soon),
    ];
    return () => {
      later.cancel();
      offs.forEach((o) => o());
    };
  }, [reload, accountId]);
}

export function Overview() {
  const { data, error, reload } = useLoad(async () => {
    const { accounts } = await get('/accounts');
    const balances = await Promise.all(accounts.map((a) => get(`/accounts/${a.id}/balances`).catch(() => null)));
    return accounts.map((a, i) => ({ ...a, balances: balances[i] }));
  }, []);
  useLiveBalances(reload);
  const [name, setName] = useState('');
  const [create, busy, createError] = useAction(async () => {
    const account = await post('/accounts', { name: name.trim() });
    setName('');
    location.hash = `#/accounts/${account.id}`;
  });
  return html`<section>
    <h1>Accounts</h1>
    ${error && html`<${Problem} error=${error} />`}
    ${!data && !error && html`<${Loading} />`}
    ${data && html`<${Table} label="Your accounts" rowKey=${(r) => r.id}
      empty="No account yet: open one below."
      columns=${[
        { key: 'name', label: 'Account', render: (r) => html`<a href=${`#/accounts/${r.id}`}>${r.name}</a>` },
        { key: 'equity', label: 'Equity', numeric: true, value: (r) => r.balances?.equity, render: (r) => money(r.balances?.equity) },
        { key: 'cash', label: 'Cash', numeric: true, value: (r) => r.balances?.cash, render: (r) => money(r.balances?.cash) },
        { key: 'bp', label: 'Buying power', numeric: true, value: (r) => r.balances?.buying_power, render: (r) => money(r.balances?.buying_power) },
        { key: 'day', label: "Today's P&L", numeric: true, value: (r) => r.balances?.day_pnl, render: (r) => html`<span class=${signClass(r.balances?.day_pnl)}>${money(r.balances?.day_pnl)}</span>` },
        { key: 'ccy', label: 'Currency', render: (r) => r.base_currency },
      ]}
      rows=${data} />`}
    <form novalidate class="inline card" onSubmit=${(e) => { e.preventDefault(); create(); }}>
      <h2>Open a paper account</h2>
      <${Field} label="Name" name="name" value=${name} onInput=${setName} error=${createError} placeholder="e.g. Swing" required />
      <button type="submit" class="primary" disabled=${busy}>Open account</button>
      <${Problem} error=${createError} />
    </form>
    <${ConnectBroker} />
  </section>`;
}

/** What each broker calls its environments and credential fields. */
const BROKERS = {
  alpaca: { label: 'Alpaca', environments: ['paper', 'live'], keys: [['key_id', 'API key ID'], ['secret_key', 'Secret key']] },
  binance: { label: 'Binance Spot', environments: ['testnet', 'live'], keys: [['api_key', 'API key'], ['secret_key', 'Secret key']] },
};

/** Opening a broker account: its orders go to the broker through this connection. */
function ConnectBroker() {
  const [name, setName] = useState('');
  const [broker, setBroker] = useState('alpaca');
  const [environment, setEnvironment] = useState('paper');
  const [keys, setKeys] = useState({});
  const spec = BROKERS[broker];
  const [create, busy, error] = useAction(async () => {
    const credentials = Object.fromEntries(spec.keys.map(([k]) => [k, (keys[k] || '').trim()]));
    const account = await post('/accounts', {
      name: name.trim(), kind: 'broker',
      broker_connection: { broker, environment, credentials },
    });
    setKeys({});
    location.hash = `#/accounts/${account.id}`;
  });
  const pick = (b) => { setBroker(b); setEnvironment(BROKERS[b].environments[0]); setKeys({}); };
  return html`<form novalidate class="inline card" aria-label="Connect a broker account" onSubmit=${(e) => { e.preventDefault(); create(); }}>
    <h2>Connect a broker account</h2>
    <${Field} label="Name" name="name" value=${name} onInput=${setName} error=${error} placeholder="e.g. Alpaca paper" required />
    <${Field} label="Broker" name="broker_connection.broker" value=${broker} onInput=${pick} error=${error}
      options=${Object.entries(BROKERS).map(([value, b]) => ({ value, label: b.label }))} />
    <${Field} label="Environment" name="broker_connection.environment" value=${environment} onInput=${setEnvironment} error=${error} options=${spec.environments} />
    ${spec.keys.map(([k, label]) => html`<${Field} label=${label} name=${`broker_connection.credentials.${k}`} type=${k === 'secret_key' ? 'password' : 'text'}
      autocomplete="off" value=${keys[k] || ''} onInput=${(v) => setKeys({ ...keys, [k]: v })} error=${error} />`)}
    <button type="submit" class="primary" disabled=${busy}>Connect</button>
    <${Problem} error=${error} />
  </form>`;
}

/** A broker account's link: whether the broker takes its credentials, and a halt. */
function BrokerLink({ account, onChange }) {
  const { data, error, reload } = useLoad(() => get(`/accounts/${account.id}/broker-connections`), [account.id]);
  useEffect(() => subscribe({ channel: 'orders' }, (data) => {
    if (data?.type === 'account.halted' && data.payload?.account_id === account.id) reload();
  }), [account.id, reload]);
  const connection = data?.connections?.[0];
  const [act, busy, actError] = useAction(async (what) => {
    await post(`/accounts/${account.id}/broker-connections/${connection.id}/${what}`, {});
    reload();
    onChange();
  });
  if (error) return html`<${Problem} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  if (!connection) return html`<p class="error" role="alert">This broker account has no connection: it routes no orders.</p>`;
  return html`<div class="broker-link" data-testid="broker-link">
    <p>
      <strong>${BROKERS[connection.broker]?.label ?? connection.broker}</strong> · ${connection.environment} · <span class=${connection.status === 'active' ? 'pos' : 'neg'} data-testid="broker-status">${connection.status}</span>
      ${connection.status_reason && connection.status !== 'active' && html` — ${connection.status_reason}`}
    </p>
    ${connection.halted && html`<p class="error" role="alert" data-testid="broker-halt">New orders are halted: ${connection.halted}</p>`}
    <button type="button" disabled=${busy} onClick=${() => act('verify')}>Check credentials</button>
    <button type="button" disabled=${busy} onClick=${() => act('reconcile')}>Reconcile now</button>
    <${Problem} error=${actError} />
  </div>`;
}

function MoveCash({ accountId, onDone }) {
  const [amount, setAmount] = useState('');
  const [run, busy, error] = useAction(async (kind) => {
    await post(`/accounts/${accountId}/${kind}`, { amount: amount.trim() });
    setAmount('');
    onDone();
  });
  return html`<form novalidate class="inline" aria-label="Deposit or withdraw" onSubmit=${(e) => { e.preventDefault(); run('deposits'); }}>
    <${Field} label="Amount" name="amount" inputmode="decimal" value=${amount} onInput=${setAmount} error=${error} placeholder="10000" />
    <button type="submit" disabled=${busy}>Deposit</button>
    <button type="button" disabled=${busy} onClick=${() => run('withdrawals')}>Withdraw</button>
    <${Problem} error=${error} />
  </form>`;
}

function Ledger({ accountId }) {
  const { data, error } = useLoad(() => all(`/accounts/${accountId}/ledger`, 'entries', 500, 2000), [accountId]);
  if (error) return html`<${Problem} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  return html`<${Table} label="Ledger" rowKey=${(r) => r.id} rows=${data} columns=${[
    { key: 'time', label: 'Time', render: (r) => time(r.time) },
    { key: 'kind', label: 'Kind' },
    { key: 'amount', label: 'Amount', numeric: true, render: (r) => html`<span class=${signClass(r.amount)}>${money(r.amount, 4)}</span>` },
    { key: 'balance_after', label: 'Balance', numeric: true, render: (r) => money(r.balance_after) },
    { key: 'reference', label: 'Reference' },
  ]} />`;
}

const TABS = [
  ['trade', 'Trade'],
  ['strategies', 'Strategies'],
  ['performance', 'Performance'],
  ['risk', 'Risk limits'],
  ['ledger', 'Ledger'],
];

export function Account({ params }) {
  const id = params.id;
  const tab = params.tab || 'trade';
  const account = useLoad(() => get(`/accounts/${encodeURIComponent(id)}`), [id]);
  const balances = useLoad(() => get(`/accounts/${encodeURIComponent(id)}/balances`), [id]);
  useLiveBalances(balances.reload, id);
  if (account.error) return html`<${LoadError} error=${account.error} what="This account" />`;
  if (!account.data) return html`<${Loading} />`;
  const b = balances.data;
  return html`<section>
    <header class="account-head">
      <h1>${account.data.name} <small class="muted">${account.data.kind} · ${account.data.base_currency}</small></h1>
      <div class="stats" aria-live="polite">
        <${Stat} label="Equity" value=${money(b?.equity)} testid="equity" />
        <${Stat} label="Cash" value=${money(b?.cash)} testid="cash" />
        <${Stat} label="Buying power" value=${money(b?.buying_power)} testid="buying-power" />
        <${Stat} label="Today's P&L" value=${money(b?.day_pnl)} className=${signClass(b?.day_pnl)} testid="day-pnl" />
        <${Stat} label="Unrealized" value=${money(b?.unrealized_pnl)} className=${signClass(b?.unrealized_pnl)} />
        <${Stat} label="Realized" value=${money(b?.realized_pnl)} className=${signClass(b?.realized_pnl)} />
      </div>
      ${account.data.kind === 'broker'
        ? html`<${BrokerLink} account=${account.data} onChange=${balances.reload} />`
        : html`<${MoveCash} accountId=${id} onDone=${balances.reload} />`}
    </header>
    <${Tabs} current=${tab} tabs=${TABS.map(([key, label]) => ({ key, label, href: `#/accounts/${id}/${key}` }))} />
    ${tab === 'trade' && html`<${Trade} account=${account.data} />`}
    ${tab === 'strategies' && html`<${Strategies} account=${account.data} />`}
    ${tab === 'performance' && html`<${Performance} account=${account.data} />`}
    ${tab === 'risk' && html`<${RiskLimits} account=${account.data} />`}
    ${tab === 'ledger' && html`<${Ledger} accountId=${id} />`}
  </section>`;
}
