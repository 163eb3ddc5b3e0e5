// The operations dashboard (admin role): the core's health, activity, traders, running
// strategies and research jobs. Refreshed every two seconds while open.

import { html, useEffect, Problem, useLoad, Loading, LoadError, Table, Stat } from '../ui.js';
import { get } from '../api.js';
import { money, number, signClass, time } from '../format.js';
import { DeploymentPnl } from './strategies.js';

/** Counts per minute as bars (oldest first), with the hour's total and peak. */
function Spark({ label, values }) {
  const width = 240;
  const height = 40;
  const peak = Math.max(1, ...values);
  const bar = width / Math.max(1, values.length);
  const total = values.reduce((a, b) => a + b, 0);
  return html`<figure class="spark">
    <svg width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img"
      aria-label=${`${label}: ${total} in all, at most ${Math.max(0, ...values)} in a minute`}>
      ${values.map((v, i) => html`<rect x=${i * bar} y=${height - (v / peak) * height} width=${Math.max(1, bar - 1)} height=${(v / peak) * height} />`)}
    </svg>
    <figcaption class="muted">${label}: ${number(total, 0)} (peak ${number(Math.max(0, ...values), 0)}/min)</figcaption>
  </figure>`;
}

export function Admin() {
  const overview = useLoad(() => get('/admin/overview'), []);
  const traders = useLoad(async () => (await get('/admin/traders?limit=200')).traders, []);
  const strategies = useLoad(async () => (await get('/admin/strategies')).strategies, []);
  const jobs = useLoad(async () => (await get('/admin/jobs')).jobs, []);
  // The core's status every 2 s; the lists, which cost more to make, every 10 s.
  useEffect(() => {
    const fast = setInterval(overview.reload, 2000);
    const slow = setInterval(() => {
      traders.reload();
      strategies.reload();
      jobs.reload();
    }, 10_000);
    return () => {
      clearInterval(fast);
      clearInterval(slow);
    };
  }, []);
  if (overview.error && !overview.data) return html`<${LoadError} error=${overview.error} what="The operations dashboard" />`;
  const o = overview.data;
  if (!o) return html`<${Loading} />`;
  const core = o.core;
  return html`<section class="admin">
    <h1>Operations</h1>
    <section class="card">
      <h2>Core ${core ? html`<span class=${'status ' + core.status} data-testid="core-status">${core.status}</span>
        <small class="muted">reported ${number(core.age_seconds, 0)} s ago</small>` : html`<span class="muted">has not reported</span>`}</h2>
      ${core && html`<div class="stats">
        <${Stat} label="Batch commit p50" value=${core.commit_latency_ms ? `${number(core.commit_latency_ms.p50, 1)} ms` : '—'} />
        <${Stat} label="Batch commit p99" value=${core.commit_latency_ms ? `${number(core.commit_latency_ms.p99, 1)} ms` : '—'} testid="commit-p99" />
        <${Stat} label="Feed rate" value=${core.feed_ticks_per_second == null ? '—' : `${number(core.feed_ticks_per_second, 1)} ticks/s`} testid="feed-rate" />
        <${Stat} label="Dead letters" value=${number(core.dead_letters, 0)} className=${core.dead_letters > 0 ? 'neg' : ''} />
        <${Stat} label="Batches" value=${number(core.batches, 0)} />
        <${Stat} label="Working orders" value=${number(core.working_orders, 0)} />
        <${Stat} label="Commit failures" value=${number(core.commit_failures, 0)} className=${core.commit_failures > 0 ? 'neg' : ''} />
        <${Stat} label="Last commit" value=${core.last_commit_unix_ms ? time(new Date(core.last_commit_unix_ms).toISOString()) : '—'} />
      </div>
      <${Table} label="Consumer lag" rowKey=${(s) => s.stream} rows=${core.streams || []} empty="No streams reported."
        columns=${[
          { key: 'stream', label: 'Stream' },
          { key: 'lag_ms', label: 'Lag (ms)', numeric: true, render: (s) => (s.lag_ms == null ? '—' : number(s.lag_ms, 0)) },
          { key: 'records_behind', label: 'Records behind', numeric: true, render: (s) => (s.records_behind == null ? '—' : number(s.records_behind, 0)) },
        ]} />`}
    </section>
    <section class="card">
      <h2>Activity</h2>
      <div class="stats">
        <${Stat} label="Users" value=${number(o.users, 0)} testid="users" />
        <${Stat} label="Accounts" value=${number(o.accounts, 0)} />
        <${Stat} label="Orders, last minute" value=${number(o.orders_last_minute, 0)} />
        <${Stat} label="Fills, last minute" value=${number(o.fills_last_minute, 0)} />
        <${Stat} label="Strategies running" value=${number(o.strategies_running, 0)} />
        <${Stat} label="Strategies paused" value=${number(o.strategies_paused, 0)} />
        <${Stat} label="Jobs queued / running" value=${`${o.jobs?.queued ?? 0} / ${o.jobs?.running ?? 0}`} />
      </div>
      <div class="sparks">
        <${Spark} label="Orders per minute, last hour" values=${o.orders_per_minute || []} />
        <${Spark} label="Fills per minute, last hour" values=${o.fills_per_minute || []} />
      </div>
    </section>
    <section class="card">
      <h2>Traders</h2>
      <${Problem} error=${traders.error} />
      ${traders.data && html`<${Table} label="Traders" rowKey=${(t) => t.id} rows=${traders.data}
        columns=${[
          { key: 'email', label: 'Email' },
          { key: 'role', label: 'Role' },
          { key: 'accounts', label: 'Accounts', numeric: true },
          { key: 'equity', label: 'Equity', numeric: true, render: (t) => money(t.equity) },
          { key: 'day_pnl', label: "Today's P&L", numeric: true, render: (t) => html`<span class=${signClass(t.day_pnl)}>${money(t.day_pnl)}</span>` },
          { key: 'realized_pnl', label: 'Realized', numeric: true, render: (t) => html`<span class=${signClass(t.realized_pnl)}>${money(t.realized_pnl)}</span>` },
          { key: 'orders', label: 'Orders', numeric: true },
          { key: 'fills', label: 'Fills', numeric: true },
          { key: 'strategies_running', label: 'Strategies', numeric: true },
          { key: 'created_at', label: 'Joined', render: (t) => time(t.created_at) },
        ]} />`}
    </section>
    <section class="card">
      <h2>Running strategies</h2>
      <${Problem} error=${strategies.error} />
      ${strategies.data && html`<${Table} label="Running strategies" rowKey=${(d) => d.id} rows=${strategies.data} empty="No strategy is running."
        columns=${[
          { key: 'owner', label: 'Owner', value: (d) => d.owner_email, render: (d) => d.owner_email },
          { key: 'strategy', label: 'Strategy' },
          { key: 'symbols', label: 'Symbols', render: (d) => d.symbols.join(', ') },
          { key: 'status', label: 'Status' },
          { key: 'pnl', label: 'P&L', numeric: true, value: (d) => d.performance?.net_pnl, render: (d) => html`<${DeploymentPnl} d=${d} />` },
        ]} />`}
    </section>
    <section class="card">
      <h2>Research jobs</h2>
      <${Problem} error=${jobs.error} />
      ${jobs.data && html`<${Table} label="Research jobs" rowKey=${(j) => j.id} rows=${jobs.data} empty="No job is queued or running."
        columns=${[
          { key: 'owner', label: 'Owner', value: (j) => j.owner_email, render: (j) => j.owner_email },
          { key: 'kind', label: 'Kind' },
          { key: 'status', label: 'Status' },
          { key: 'progress', label: 'Progress', numeric: true, render: (j) => `${Math.round((j.progress || 0) * 100)} %` },
          { key: 'created_at', label: 'Submitted', render: (j) => time(j.created_at) },
        ]} />`}
    </section>
  </section>`;
}
