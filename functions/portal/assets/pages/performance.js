// An account's performance report: the metrics, the equity and drawdown chart and a
// table of days.

import { html, useState, useMemo, Field, Problem, useLoad, Loading, Table, Stat } from '../ui.js';
import { get } from '../api.js';
import { money, number, percent, signClass, epochSeconds } from '../format.js';
import { LineChart } from '../charts.js';

const METRICS = [
  ['total_return', 'Total return', percent],
  ['cagr', 'CAGR', percent],
  ['volatility', 'Volatility', percent],
  ['sharpe', 'Sharpe', number],
  ['sortino', 'Sortino', number],
  ['max_drawdown', 'Max drawdown', percent],
  ['calmar', 'Calmar', number],
  ['win_rate', 'Win rate', percent],
  ['profit_factor', 'Profit factor', number],
  ['expectancy', 'Expectancy', number],
];

/** Equity and drawdown series, and one row per day (last equity, change, drawdown). */
export function equitySeries(points) {
  const equity = [];
  const drawdown = [];
  const days = new Map();
  let peak = -Infinity;
  for (const p of points) {
    const value = Number(p.equity);
    const t = epochSeconds(p.time);
    peak = Math.max(peak, value);
    const dd = peak > 0 ? (value - peak) / peak : 0;
    equity.push({ time: t, value });
    drawdown.push({ time: t, value: dd * 100 });
    days.set(p.time.slice(0, 10), { equity: p.equity, value, drawdown: dd });
  }
  const rows = [];
  let previous = null;
  for (const [date, d] of days) {
    rows.push({ date, equity: d.equity, change: previous === null ? null : d.value - previous, drawdown: d.drawdown });
    previous = d.value;
  }
  return { equity, drawdown, rows: rows.reverse() };
}

export function Metrics({ metrics }) {
  if (!metrics) return null;
  return html`<div class="stats">${METRICS.filter(([k]) => k in metrics).map(([k, label, f]) => html`<${Stat} label=${label} value=${f(metrics[k])} />`)}</div>`;
}

export function Performance({ account }) {
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10);
  const [from, setFrom] = useState(monthAgo);
  const [to, setTo] = useState(today);
  const report = useLoad(() => get(`/accounts/${account.id}/reports/performance?from=${from}&to=${to}`), [account.id, from, to]);
  const series = useMemo(() => equitySeries(report.data?.equity_curve || []), [report.data]);
  const lines = useMemo(() => [
    { name: 'Equity', color: '#2962ff', data: series.equity },
    { name: 'Drawdown %', color: '#d64545', data: series.drawdown, area: true, scale: 'left' },
  ], [series]);
  const r = report.data;
  return html`<div class="performance">
    <form novalidate class="inline card" aria-label="Report window" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="From" name="from" type="date" value=${from} onInput=${setFrom} error=${report.error} />
      <${Field} label="To" name="to" type="date" value=${to} onInput=${setTo} error=${report.error} />
    </form>
    <${Problem} error=${report.error} />
    ${!r && !report.error && html`<${Loading} />`}
    ${r && html`<section class="card">
      <h2>Metrics</h2>
      ${r.metrics ? html`<${Metrics} metrics=${r.metrics} />` : html`<p class="muted">${r.metrics_unavailable || 'Nothing to measure yet.'}</p>`}
      <div class="stats">
        <${Stat} label="Fills" value=${number(r.running?.fills, 0)} />
        <${Stat} label="Round trips" value=${number(r.round_trips, 0)} />
        <${Stat} label="Realized P&L" value=${money(r.running?.realized_pnl)} className=${signClass(r.running?.realized_pnl)} />
        <${Stat} label="Fees" value=${money(r.running?.fees)} />
      </div>
    </section>
    <section class="card">
      <h2>Equity and drawdown</h2>
      <${LineChart} series=${lines} label="Equity and drawdown" />
    </section>
    <section class="card">
      <h2>Days</h2>
      <${Table} label="Daily equity" rowKey=${(d) => d.date} rows=${series.rows} empty="No equity recorded in this window."
        columns=${[
          { key: 'date', label: 'Day' },
          { key: 'equity', label: 'Equity', numeric: true, render: (d) => money(d.equity) },
          { key: 'change', label: 'Change', numeric: true, render: (d) => html`<span class=${d.change > 0 ? 'pos' : d.change < 0 ? 'neg' : ''}>${d.change === null ? '—' : number(d.change)}</span>` },
          { key: 'drawdown', label: 'Drawdown', numeric: true, render: (d) => percent(d.drawdown) },
        ]} />
    </section>`}
  </div>`;
}
