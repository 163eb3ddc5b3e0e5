// Research: backtests and optimisations as jobs — submit, follow progress, read results
// (metrics, the trades on the chart, equity against the benchmark, the sweep table).

import { html, useState, useEffect, useMemo, Field, Problem, useAction, useLoad, Loading, LoadError, Table, Tabs, Stat } from '../ui.js';
import { get, post, del } from '../api.js';
import { money, number, percent, plain, time, epochSeconds } from '../format.js';
import { CandleChart, LineChart, timeframeSeconds } from '../charts.js';
import { useCatalog, strategyOptions, SchemaForm, defaults, paramsJson } from './strategies.js';
import { useInstruments } from './trade.js';
import { Metrics } from './performance.js';

const RANK_BY = ['sharpe', 'sortino', 'total_return', 'cagr', 'calmar', 'profit_factor', 'win_rate', 'max_drawdown'];
const KINDS = { backtests: 'Backtests', optimizations: 'Optimisations' };

function Progress({ job }) {
  const share = Math.round((job.progress || 0) * 100);
  return html`<span class=${'job ' + job.status}>
    ${job.status}${job.status === 'running' ? html` <progress max="100" value=${share} aria-label="Progress">${share} %</progress> ${share} %` : ''}
  </span>`;
}

/** Symbols the history knows: instruments, and what was imported. */
function useSymbols() {
  const instruments = useInstruments();
  return (instruments.data || []).map((i) => i.symbol);
}

function WindowFields({ v, set, error }) {
  return html`
    <${Field} label="Timeframe" name="timeframe" value=${v.timeframe} onInput=${set('timeframe')} options=${['1m', '5m', '15m', '30m', '1h', '4h', '1d']} error=${error} />
    <${Field} label="From" name="from" value=${v.from} onInput=${set('from')} placeholder="2006-01-02 or blank: all" error=${error} />
    <${Field} label="To" name="to" value=${v.to} onInput=${set('to')} placeholder="blank: to the end" error=${error} />
    <${Field} label="Cash" name="cash" inputmode="decimal" value=${v.cash} onInput=${set('cash')} error=${error} />
    <${Field} label="Commission (share of notional)" name="commission" inputmode="decimal" value=${v.commission} onInput=${set('commission')} error=${error} />`;
}

function windowJson(v) {
  const out = { timeframe: v.timeframe };
  for (const k of ['from', 'to', 'cash', 'commission']) if (v[k].trim()) out[k] = v[k].trim();
  return out;
}

function Submit({ kind, catalog, onSubmitted }) {
  const symbols = useSymbols();
  const [v, setV] = useState({ strategy: catalog[0].name, symbol: null, timeframe: '5m', from: '', to: '', cash: '10000', commission: '', rank_by: 'sharpe', walk_forward: '' });
  const strategy = catalog.find((s) => s.name === v.strategy);
  const [params, setParams] = useState(() => defaults(strategy.params_schema));
  const [grid, setGrid] = useState({});
  useEffect(() => {
    setParams(defaults(strategy.params_schema));
    setGrid({});
  }, [v.strategy]);
  const set = (k) => (x) => setV((o) => ({ ...o, [k]: x }));
  // The first instrument until the user types (an emptied field stays empty).
  const symbol = v.symbol ?? symbols[0] ?? '';
  const [submit, busy, error] = useAction(async () => {
    let job;
    if (kind === 'backtests') {
      job = await post('/backtests', { strategy: v.strategy, params: paramsJson(strategy.params_schema, params), symbols: symbol.split(',').map((s) => s.trim()).filter(Boolean), ...windowJson(v) });
    } else {
      const g = {};
      for (const [name, text] of Object.entries(grid)) {
        const values = text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (Number.isNaN(Number(s)) ? s : Number(s)));
        if (values.length) g[name] = values;
      }
      const body = { strategy: v.strategy, symbol, grid: g, rank_by: v.rank_by, ...windowJson(v) };
      if (v.walk_forward.trim()) body.walk_forward = Number(v.walk_forward);
      job = await post('/optimizations', body);
    }
    onSubmitted(job);
  });
  return html`<form novalidate class="card submit" aria-label=${kind === 'backtests' ? 'New backtest' : 'New optimisation'} onSubmit=${(e) => { e.preventDefault(); submit(); }}>
    <h2>${kind === 'backtests' ? 'New backtest' : 'New optimisation'}</h2>
    <${Field} label="Strategy" name="strategy" value=${v.strategy} onInput=${set('strategy')} options=${strategyOptions(catalog)} error=${error} />
    <${Field} label=${kind === 'backtests' ? 'Symbols (comma separated)' : 'Symbol'} name=${kind === 'backtests' ? 'symbols' : 'symbol'}
      value=${symbol} onInput=${set('symbol')} list="research-symbols" error=${error} hint="An instrument, or a symbol imported with stratus data import" />
    <datalist id="research-symbols">${symbols.map((s) => html`<option value=${s} />`)}</datalist>
    <${WindowFields} v=${v} set=${set} error=${error} />
    ${kind === 'backtests'
      ? html`<${SchemaForm} schema=${strategy.params_schema} values=${params} setValues=${setParams} error=${error} />`
      : html`<fieldset class="params"><legend>Grid: values to try, comma separated</legend>
          ${Object.entries(strategy.params_schema.properties || {}).map(([name, p]) => html`<${Field} label=${name} name=${`grid.${name}`} value=${grid[name] ?? ''}
            onInput=${(x) => setGrid({ ...grid, [name]: x })} placeholder=${String(p.default ?? '')} error=${error} hint=${p.description} />`)}
        </fieldset>
        <${Field} label="Rank by" name="rank_by" value=${v.rank_by} onInput=${set('rank_by')} options=${RANK_BY} error=${error} />
        <${Field} label="Walk-forward (share searched, blank: none)" name="walk_forward" value=${v.walk_forward} onInput=${set('walk_forward')} placeholder="0.7" error=${error} />`}
    <${Problem} error=${error} />
    <button type="submit" class="primary" disabled=${busy}>${kind === 'backtests' ? 'Run backtest' : 'Run optimisation'}</button>
  </form>`;
}

export function Research({ params }) {
  const kind = params.kind === 'optimizations' ? 'optimizations' : 'backtests';
  const catalog = useCatalog();
  const jobs = useLoad(async () => (await get(`/${kind}?limit=50`)).jobs, [kind]);
  // Job progress is not on the WebSocket: poll the list while something is unfinished.
  const unfinished = (jobs.data || []).some((j) => j.status === 'queued' || j.status === 'running');
  useEffect(() => {
    if (!unfinished) return undefined;
    const timer = setInterval(jobs.reload, 1000);
    return () => clearInterval(timer);
  }, [unfinished, jobs.reload]);
  const [remove, , removeError] = useAction(async (id) => {
    await del(`/${kind}/${id}`);
    await jobs.reload();
  });
  return html`<section>
    <h1>Research</h1>
    <${Tabs} current=${kind} tabs=${Object.entries(KINDS).map(([k, label]) => ({ key: k, label, href: `#/research/${k}` }))} />
    <div class="research">
      ${catalog.data ? html`<${Submit} kind=${kind} catalog=${catalog.data} onSubmitted=${(job) => { location.hash = `#/research/${kind}/${job.id}`; }} />` : html`<${Problem} error=${catalog.error} />`}
      <section class="card">
        <h2>${KINDS[kind]}</h2>
        <${Problem} error=${jobs.error || removeError} />
        ${!jobs.data ? html`<${Loading} />` : html`<${Table} label=${KINDS[kind]} rowKey=${(j) => j.id} rows=${jobs.data} empty="None yet."
          columns=${[
            { key: 'created_at', label: 'Submitted', render: (j) => html`<a href=${`#/research/${kind}/${j.id}`}>${time(j.created_at)}</a>` },
            { key: 'strategy', label: 'Strategy', value: (j) => j.request?.strategy, render: (j) => j.request?.strategy },
            { key: 'symbols', label: 'Symbols', value: (j) => (j.request?.symbols || [j.request?.symbol]).join(','), render: (j) => (j.request?.symbols || [j.request?.symbol]).join(', ') },
            { key: 'status', label: 'Status', render: (j) => html`<${Progress} job=${j} />` },
            { key: 'actions', label: '', sortable: false, render: (j) => html`<button type="button" class="small danger" aria-label=${`Delete job ${j.id}`} onClick=${() => remove(j.id)}>Delete</button>` },
          ]} />`}
      </section>
    </div>
  </section>`;
}

function BacktestRun({ run, request }) {
  const tf = run.report?.timeframe || request.timeframe;
  const from = request.from;
  const to = request.to;
  const bars = useLoad(async () => {
    let q = `/instruments/${encodeURIComponent(run.symbol)}/candles?timeframe=${tf}&limit=5000`;
    if (from) q += `&from=${encodeURIComponent(from.length === 10 ? from + 'T00:00:00Z' : from)}`;
    if (to) q += `&to=${encodeURIComponent(to.length === 10 ? to + 'T23:59:59Z' : to)}`;
    const page = await get(q);
    const seen = new Map();
    for (const c of page.candles) seen.set(epochSeconds(c.start), { time: epochSeconds(c.start), open: +c.open, high: +c.high, low: +c.low, close: +c.close });
    return [...seen.values()].sort((a, b) => a.time - b.time);
  }, [run.symbol, tf, from, to]);
  const period = timeframeSeconds(tf);
  const markers = useMemo(() => {
    const first = bars.data?.[0]?.time ?? 0;
    return (run.report?.trades || [])
      .map((t) => ({ ...t, at: Math.floor(epochSeconds(t.time) / period) * period }))
      .filter((t) => t.at >= first)
      .map((t) => ({
        time: t.at,
        position: t.side === 'buy' ? 'belowBar' : 'aboveBar',
        color: t.side === 'buy' ? '#1a9e75' : '#d64545',
        shape: t.side === 'buy' ? 'arrowUp' : 'arrowDown',
        text: `${t.side === 'buy' ? 'B' : 'S'} ${plain(String(t.qty))}`,
      }));
  }, [run, bars.data, period]);
  const lines = useMemo(() => {
    const s = run.series || [];
    const out = [{ name: 'Equity', color: '#2962ff', data: s.map((p) => ({ time: epochSeconds(p.time), value: Number(p.equity) })) }];
    if (s.some((p) => p.benchmark !== null && p.benchmark !== undefined)) {
      out.push({ name: `Buy and hold ${run.benchmark_symbol || run.symbol}`, color: '#8a94a6', data: s.filter((p) => p.benchmark != null).map((p) => ({ time: epochSeconds(p.time), value: Number(p.benchmark) })) });
    }
    out.push({ name: 'Drawdown %', color: '#d64545', area: true, scale: 'left', data: s.map((p) => ({ time: epochSeconds(p.time), value: Number(p.drawdown) * 100 })) });
    return out;
  }, [run]);
  return html`<section class="card run">
    <h2>${run.symbol} <small class="muted">${run.bars} bars · ${tf}</small></h2>
    <div class="stats">
      <${Stat} label="Final equity" value=${money(String(run.report?.final_equity))} testid="final-equity" />
      <${Stat} label="Trades" value=${(run.report?.trades || []).length} />
      <${Stat} label="Round trips" value=${(run.round_trips || []).length} />
    </div>
    <${Metrics} metrics=${run.report?.metrics} />
    ${bars.error ? html`<${Problem} error=${bars.error} />` : bars.data ? html`<${CandleChart} symbol=${run.symbol} timeframe=${tf} bars=${bars.data} markers=${markers} label=${`${run.symbol} with the backtest's trades`} />` : html`<${Loading} what="Loading the chart" />`}
    <${LineChart} series=${lines} label="Equity, benchmark and drawdown" />
    <${Table} label="Round trips" rowKey=${(t) => `${t.entry_time}-${t.exit_time}`} rows=${run.round_trips || []} empty="No round trips."
      columns=${[
        { key: 'entry_time', label: 'Entry', render: (t) => time(t.entry_time) },
        { key: 'exit_time', label: 'Exit', render: (t) => time(t.exit_time) },
        { key: 'side', label: 'Side' },
        { key: 'quantity', label: 'Qty', numeric: true, render: (t) => plain(String(t.quantity)) },
        { key: 'entry_price', label: 'Entry price', numeric: true, render: (t) => plain(String(t.entry_price)) },
        { key: 'exit_price', label: 'Exit price', numeric: true, render: (t) => plain(String(t.exit_price)) },
        { key: 'pnl', label: 'P&L', numeric: true, render: (t) => html`<span class=${Number(t.pnl) >= 0 ? 'pos' : 'neg'}>${money(String(t.pnl))}</span>` },
      ]} />
  </section>`;
}

function Sweep({ result }) {
  const rows = result.all || [];
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.params || {})))];
  const metric = (k) => (r) => r.in_sample?.metrics?.[k];
  return html`<section class="card">
    <h2>Sweep <small class="muted">${result.runs} runs · ${result.bars} bars · ranked by ${result.rank_by}</small></h2>
    ${result.skipped?.length > 0 && html`<p class="muted">${result.skipped.length} parameter sets skipped (the strategy refuses them).</p>`}
    <${Table} label="Sweep" rowKey=${(r) => JSON.stringify(r.params)} rows=${rows} initialSort=${{ key: 'rank', desc: false }}
      columns=${[
        { key: 'rank', label: 'Rank', numeric: true },
        ...names.map((n) => ({ key: `p.${n}`, label: n, numeric: true, value: (r) => r.params[n], render: (r) => String(r.params[n]) })),
        { key: 'score', label: 'Score', numeric: true, render: (r) => number(r.score, 4) },
        { key: 'total_return', label: 'Return', numeric: true, value: metric('total_return'), render: (r) => percent(metric('total_return')(r)) },
        { key: 'sharpe', label: 'Sharpe', numeric: true, value: metric('sharpe'), render: (r) => number(metric('sharpe')(r), 3) },
        { key: 'max_drawdown', label: 'Max DD', numeric: true, value: metric('max_drawdown'), render: (r) => percent(metric('max_drawdown')(r)) },
        { key: 'win_rate', label: 'Win rate', numeric: true, value: metric('win_rate'), render: (r) => percent(metric('win_rate')(r)) },
        { key: 'fills', label: 'Fills', numeric: true, value: (r) => r.in_sample?.fills, render: (r) => r.in_sample?.fills },
        { key: 'oos', label: 'Out of sample', numeric: true, value: (r) => r.out_of_sample?.metrics?.total_return, render: (r) => (r.out_of_sample ? percent(r.out_of_sample.metrics?.total_return) : '—') },
      ]} />
  </section>`;
}

export function Job({ params }) {
  const kind = params.kind === 'optimizations' ? 'optimizations' : 'backtests';
  const job = useLoad(() => get(`/${kind}/${encodeURIComponent(params.id)}`), [kind, params.id]);
  const status = job.data?.status;
  useEffect(() => {
    if (status !== 'queued' && status !== 'running') return undefined;
    const timer = setInterval(job.reload, 500);
    return () => clearInterval(timer);
  }, [status, job.reload]);
  if (job.error && !job.data) return html`<${LoadError} error=${job.error} what="This job" />`;
  if (!job.data) return html`<${Loading} />`;
  const j = job.data;
  return html`<section>
    <p><a href=${`#/research/${kind}`}>← ${KINDS[kind]}</a></p>
    <h1>${kind === 'backtests' ? 'Backtest' : 'Optimisation'}: ${j.request.strategy} <${Progress} job=${j} /></h1>
    <p class="muted">Submitted ${time(j.created_at)}${j.finished_at ? ` · finished ${time(j.finished_at)}` : ''} · <code>${JSON.stringify(j.request.params ?? j.request.grid ?? {})}</code></p>
    ${j.status === 'failed' && html`<div class="problem" role="alert"><strong>Failed</strong>: ${j.error}</div>`}
    ${j.status === 'succeeded' && kind === 'backtests' && j.result?.runs.map((run) => html`<${BacktestRun} run=${run} request=${j.request} />`)}
    ${j.status === 'succeeded' && kind === 'optimizations' && j.result && html`<${Sweep} result=${j.result} />`}
  </section>`;
}
