// An account's trading desk: the chart (with the account's fills marked), the order
// ticket (checked against the instrument's tick and lot before sending), positions,
// working orders (cancel, amend) and fills — all kept current by the WebSocket.

import { html, useState, useEffect, useRef, useMemo, Field, Problem, useAction, useLoad, Loading, Table, VirtualTable } from '../ui.js';
import { get, post, del, patch, all } from '../api.js';
import { subscribe, onReconnect } from '../live.js';
import { money, plain, signClass, time, isMultiple, compareDecimal, epochSeconds } from '../format.js';
import { CandleChart, TIMEFRAMES, timeframeSeconds } from '../charts.js';
import { OVERLAYS } from '../indicators.js';

const OPEN = ['new', 'accepted', 'partially_filled'];
const TYPES = [
  { value: 'limit', label: 'Limit' },
  { value: 'market', label: 'Market' },
  { value: 'stop', label: 'Stop' },
  { value: 'stop_limit', label: 'Stop limit' },
];

export function useInstruments() {
  return useLoad(async () => (await get('/instruments')).instruments, []);
}

/** Local checks of a ticket: `{field: message}` for what the API would refuse. */
export function checkTicket(t, instrument) {
  const e = {};
  if (!instrument) {
    e.symbol = 'choose an instrument';
    return e;
  }
  const qty = t.quantity.trim();
  if (!qty) e.quantity = 'enter a quantity';
  else if (!/^\d+(\.\d+)?$/.test(qty) || compareDecimal(qty, '0') <= 0) e.quantity = 'a positive number';
  else if (!isMultiple(qty, instrument.lot_size)) e.quantity = `a multiple of the lot size ${plain(instrument.lot_size)}`;
  else if (compareDecimal(qty, instrument.min_quantity) < 0) e.quantity = `at least ${plain(instrument.min_quantity)}`;
  const price = (name, needed) => {
    const v = t[name].trim();
    if (!needed) return;
    if (!v) e[name] = 'enter a price';
    else if (!/^\d+(\.\d+)?$/.test(v) || compareDecimal(v, '0') <= 0) e[name] = 'a positive price';
    else if (!isMultiple(v, instrument.tick_size)) e[name] = `on the tick: a multiple of ${plain(instrument.tick_size)}`;
  };
  price('limit_price', t.type === 'limit' || t.type === 'stop_limit');
  price('stop_price', t.type === 'stop' || t.type === 'stop_limit');
  if (t.type === 'market' && !['ioc', 'fok', ''].includes(t.time_in_force)) e.time_in_force = 'a market order is IOC or FOK';
  return e;
}

function Ticket({ account, instruments, symbol, setSymbol, onPlaced }) {
  const [t, setT] = useState({ side: 'buy', type: 'limit', quantity: '', limit_price: '', stop_price: '', time_in_force: 'gtc' });
  const [local, setLocal] = useState({});
  const instrument = instruments.find((i) => i.symbol === symbol);
  const set = (k) => (v) => setT((x) => {
    const next = { ...x, [k]: v };
    if (k === 'type' && v === 'market') next.time_in_force = 'ioc';
    if (k === 'type' && v !== 'market' && ['ioc', 'fok'].includes(x.time_in_force)) next.time_in_force = 'gtc';
    return next;
  });
  const [send, busy, error] = useAction(async () => {
    const problems = checkTicket(t, instrument);
    setLocal(problems);
    if (Object.keys(problems).length) return;
    const body = { symbol, side: t.side, type: t.type, quantity: t.quantity.trim(), time_in_force: t.time_in_force };
    if (t.type === 'limit' || t.type === 'stop_limit') body.limit_price = t.limit_price.trim();
    if (t.type === 'stop' || t.type === 'stop_limit') body.stop_price = t.stop_price.trim();
    const order = await post(`/accounts/${account.id}/orders`, body);
    onPlaced(order);
    setT((x) => ({ ...x, quantity: '' }));
  });
  const tifs = t.type === 'market' ? ['ioc', 'fok'] : ['gtc', 'day', 'ioc', 'fok'];
  const needsLimit = t.type === 'limit' || t.type === 'stop_limit';
  const needsStop = t.type === 'stop' || t.type === 'stop_limit';
  return html`<form novalidate class="ticket card" aria-label="Order ticket" onSubmit=${(e) => { e.preventDefault(); send(); }}>
    <h2>Order ticket</h2>
    <${Field} label="Symbol" name="symbol" value=${symbol} onInput=${setSymbol} options=${instruments.map((i) => i.symbol)} error=${error} local=${local} />
    <fieldset class="side">
      <legend>Side</legend>
      ${['buy', 'sell'].map((s) => html`<label class=${'side-' + s}><input type="radio" name="side" value=${s} checked=${t.side === s} onChange=${() => set('side')(s)} /> ${s === 'buy' ? 'Buy' : 'Sell'}</label>`)}
    </fieldset>
    <${Field} label="Type" name="type" value=${t.type} onInput=${set('type')} options=${TYPES} error=${error} local=${local} />
    <${Field} label="Quantity" name="quantity" inputmode="decimal" value=${t.quantity} onInput=${set('quantity')} error=${error} local=${local}
      hint=${instrument ? `Lot ${plain(instrument.lot_size)}, minimum ${plain(instrument.min_quantity)}` : ''} />
    ${needsLimit && html`<${Field} label="Limit price" name="limit_price" inputmode="decimal" value=${t.limit_price} onInput=${set('limit_price')} error=${error} local=${local}
      hint=${instrument ? `Tick ${plain(instrument.tick_size)}${instrument.last_price ? ` · last ${plain(instrument.last_price)}` : ''}` : ''} />`}
    ${needsStop && html`<${Field} label="Stop price" name="stop_price" inputmode="decimal" value=${t.stop_price} onInput=${set('stop_price')} error=${error} local=${local} />`}
    <${Field} label="Time in force" name="time_in_force" value=${t.time_in_force} onInput=${set('time_in_force')} options=${tifs.map((x) => ({ value: x, label: x.toUpperCase() }))} error=${error} local=${local} />
    <${Problem} error=${error} />
    <button type="submit" class=${'primary ' + t.side} disabled=${busy}>${t.side === 'buy' ? 'Buy' : 'Sell'} ${symbol}</button>
  </form>`;
}

function Amend({ order, instrument, onClose }) {
  const [v, setV] = useState({ quantity: plain(order.quantity), limit_price: plain(order.limit_price ?? ''), stop_price: plain(order.stop_price ?? '') });
  const [local, setLocal] = useState({});
  const [run, busy, error] = useAction(async () => {
    const problems = checkTicket({ ...v, type: order.type, time_in_force: order.time_in_force === 'ioc' ? 'ioc' : 'gtc' }, instrument);
    delete problems.time_in_force;
    setLocal(problems);
    if (Object.keys(problems).length) return;
    const body = {};
    if (v.quantity !== plain(order.quantity)) body.quantity = v.quantity.trim();
    if (order.limit_price != null && v.limit_price !== plain(order.limit_price)) body.limit_price = v.limit_price.trim();
    if (order.stop_price != null && v.stop_price !== plain(order.stop_price)) body.stop_price = v.stop_price.trim();
    if (Object.keys(body).length === 0) return onClose();
    await patch(`/orders/${order.id}`, body);
    onClose();
  });
  return html`<form novalidate class="inline card amend" aria-label=${`Amend order ${order.id}`} onSubmit=${(e) => { e.preventDefault(); run(); }}>
    <strong>Amend ${order.side} ${order.symbol}</strong>
    <${Field} label="Quantity" name="quantity" value=${v.quantity} onInput=${(x) => setV({ ...v, quantity: x })} error=${error} local=${local} />
    ${order.limit_price != null && html`<${Field} label="Limit price" name="limit_price" value=${v.limit_price} onInput=${(x) => setV({ ...v, limit_price: x })} error=${error} local=${local} />`}
    ${order.stop_price != null && html`<${Field} label="Stop price" name="stop_price" value=${v.stop_price} onInput=${(x) => setV({ ...v, stop_price: x })} error=${error} local=${local} />`}
    <button type="submit" class="primary" disabled=${busy}>Amend</button>
    <button type="button" onClick=${onClose}>Close</button>
    <${Problem} error=${error} />
  </form>`;
}

/** The account's working orders: loaded once, then kept by `orders` events. */
function useWorkingOrders(accountId) {
  const [orders, setOrders] = useState(() => new Map());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const pending = useRef(new Set());
  const dirty = useRef(new Set());
  const finished = useRef(new Set());
  // Answers arrive out of order (a GET started before a fill, a POST's answer after the
  // order's first events): an order that finished never comes back, and an older state
  // never replaces a newer one.
  const upsert = (order) => setOrders((m) => {
    if (finished.current.has(order.id)) return m;
    const old = m.get(order.id);
    if (old && Date.parse(old.updated_at) > Date.parse(order.updated_at)) return m;
    const next = new Map(m);
    if (OPEN.includes(order.status)) {
      next.set(order.id, order);
    } else {
      finished.current.add(order.id);
      next.delete(order.id);
    }
    return next;
  });
  useEffect(() => {
    let stop = false;
    const load = async () => {
      const lists = await Promise.all(OPEN.map((s) => all(`/accounts/${accountId}/orders?status=${s}`, 'orders')));
      if (stop) return;
      const m = new Map();
      for (const o of lists.flat()) m.set(o.id, o);
      setOrders(m);
      setLoaded(true);
    };
    load().catch((e) => !stop && setError(e));
    // An event names the order; its state now is one GET away. Requests are coalesced
    // per order and at most four run at once.
    let running = 0;
    const queue = [];
    const pump = () => {
      while (running < 4 && queue.length) {
        const id = queue.shift();
        running++;
        get(`/orders/${id}`)
          .then((o) => !stop && o.account_id === accountId && upsert(o))
          .catch(() => {})
          .finally(() => {
            running--;
            pending.current.delete(id);
            // An event came while this GET ran: its answer may predate it, ask again.
            if (dirty.current.delete(id)) {
              pending.current.add(id);
              queue.push(id);
            }
            pump();
          });
      }
    };
    const offs = [
      subscribe({ channel: 'orders' }, (event) => {
        const p = event?.payload || {};
        const id = p.order_id || p.id;
        if (!id || (p.account_id && p.account_id !== accountId)) return;
        if (pending.current.has(id)) {
          dirty.current.add(id);
          return;
        }
        pending.current.add(id);
        queue.push(id);
        pump();
      }),
      onReconnect(() => load().catch(() => {})),
    ];
    return () => {
      stop = true;
      offs.forEach((o) => o());
    };
  }, [accountId]);
  return { orders, loaded, error, upsert };
}

function useFills(accountId) {
  const { data, error, setData, reload } = useLoad(async () => (await get(`/accounts/${accountId}/fills?limit=500`)).fills, [accountId]);
  useEffect(() => {
    const offs = [
      subscribe({ channel: 'fills' }, (fill) => {
        if (fill.account_id && fill.account_id !== accountId) return;
        setData((list) => {
          const rest = (list || []).filter((f) => !(f.trade_id === fill.trade_id && f.order_id === fill.order_id));
          return [fill, ...rest];
        });
      }),
      onReconnect(reload),
    ];
    return () => offs.forEach((o) => o());
  }, [accountId]);
  return { fills: data, error };
}

function usePositions(accountId) {
  const { data, error, setData, reload } = useLoad(async () => (await get(`/accounts/${accountId}/positions`)).positions, [accountId]);
  useEffect(() => {
    const offs = [
      subscribe({ channel: 'positions' }, (m) => {
        if (m.account_id !== accountId || !m.position) return;
        setData((list) => {
          const rest = (list || []).filter((p) => p.symbol !== m.position.symbol);
          const old = (list || []).find((p) => p.symbol === m.position.symbol) || {};
          if (compareDecimal(m.position.quantity, '0') === 0 && compareDecimal(m.position.realized_pnl ?? '0', '0') === 0) return rest;
          return [...rest, { ...old, ...m.position }].sort((a, b) => a.symbol.localeCompare(b.symbol));
        });
      }),
      onReconnect(reload),
    ];
    return () => offs.forEach((o) => o());
  }, [accountId]);
  return { positions: data, error };
}

export function Trade({ account }) {
  const instruments = useInstruments();
  const [symbol, setSymbol] = useState(() => new URLSearchParams(location.hash.split('?')[1] || '').get('symbol') || null);
  const [timeframe, setTimeframe] = useState('1m');
  const [overlays, setOverlays] = useState(['sma20']);
  const [amending, setAmending] = useState(null);
  const { orders, loaded, error: ordersError, upsert } = useWorkingOrders(account.id);
  const { fills, error: fillsError } = useFills(account.id);
  const { positions, error: positionsError } = usePositions(account.id);
  // The answer is the order as it was when the cancel was asked (still working): the
  // `order.cancelled` event brings the change.
  const [cancel, , cancelError] = useAction((id) => del(`/orders/${id}`));
  const list = instruments.data || [];
  const current = symbol || list[0]?.symbol;
  const instrument = list.find((i) => i.symbol === current);
  const working = useMemo(() => [...orders.values()].sort((a, b) => b.created_at.localeCompare(a.created_at)), [orders]);
  const period = timeframeSeconds(timeframe);
  const markers = useMemo(() => (fills || [])
    .filter((f) => f.symbol === current)
    .map((f) => ({
      time: Math.floor(epochSeconds(f.time) / period) * period,
      position: f.side === 'buy' ? 'belowBar' : 'aboveBar',
      color: f.side === 'buy' ? '#1a9e75' : '#d64545',
      shape: f.side === 'buy' ? 'arrowUp' : 'arrowDown',
      text: `${f.side === 'buy' ? 'B' : 'S'} ${plain(f.quantity)} @ ${plain(f.price)}`,
    })), [fills, current, period]);
  if (instruments.error) return html`<${Problem} error=${instruments.error} />`;
  if (!instruments.data) return html`<${Loading} />`;
  return html`<div class="trade">
    <div class="chart-area card">
      <div class="toolbar" role="toolbar" aria-label="Chart">
        <${Field} label="Chart symbol" name="chart_symbol" value=${current} onInput=${setSymbol} options=${list.map((i) => i.symbol)} />
        <div role="group" aria-label="Timeframe" class="segmented">
          ${TIMEFRAMES.map((tf) => html`<button type="button" aria-pressed=${tf === timeframe} onClick=${() => setTimeframe(tf)}>${tf}</button>`)}
        </div>
        <div role="group" aria-label="Indicators" class="segmented">
          ${OVERLAYS.map((o) => html`<button type="button" aria-pressed=${overlays.includes(o.key)}
            onClick=${() => setOverlays((x) => (x.includes(o.key) ? x.filter((k) => k !== o.key) : [...x, o.key]))}>${o.label}</button>`)}
        </div>
      </div>
      <${CandleChart} symbol=${current} timeframe=${timeframe} overlays=${overlays} markers=${markers} />
    </div>
    <${Ticket} account=${account} instruments=${list} symbol=${current} setSymbol=${setSymbol} onPlaced=${upsert} />
    <section class="card positions">
      <h2>Positions</h2>
      <${Problem} error=${positionsError} />
      ${!positions ? html`<${Loading} />` : html`<${Table} label="Positions" rowKey=${(p) => p.symbol} rows=${positions} empty="No positions."
        columns=${[
          { key: 'symbol', label: 'Symbol' },
          { key: 'quantity', label: 'Quantity', numeric: true, render: (p) => plain(p.quantity) },
          { key: 'average_price', label: 'Average', numeric: true, render: (p) => money(p.average_price, 4) },
          { key: 'mark', label: 'Mark', numeric: true, render: (p) => money(p.mark, 4) },
          { key: 'unrealized_pnl', label: 'Unrealized', numeric: true, render: (p) => html`<span class=${signClass(p.unrealized_pnl)}>${money(p.unrealized_pnl)}</span>` },
          { key: 'realized_pnl', label: 'Realized', numeric: true, render: (p) => html`<span class=${signClass(p.realized_pnl)}>${money(p.realized_pnl)}</span>` },
        ]} />`}
    </section>
    <section class="card orders">
      <h2>Working orders <span class="count" data-testid="working-count">${loaded ? working.length : '…'}</span></h2>
      <${Problem} error=${ordersError || cancelError} />
      ${amending && orders.get(amending) && html`<${Amend} order=${orders.get(amending)} instrument=${list.find((i) => i.symbol === orders.get(amending).symbol)} onClose=${() => setAmending(null)} />`}
      <${VirtualTable} label="Working orders" rows=${working} rowKey=${(o) => o.id} empty=${loaded ? 'No working orders.' : 'Loading…'}
        columns=${[
          { key: 'created_at', label: 'Placed', width: '1.4fr', render: (o) => time(o.created_at) },
          { key: 'symbol', label: 'Symbol', width: '0.8fr' },
          { key: 'side', label: 'Side', width: '0.6fr', render: (o) => html`<span class=${'side-' + o.side}>${o.side}</span>` },
          { key: 'type', label: 'Type', width: '0.8fr' },
          { key: 'quantity', label: 'Qty', numeric: true, width: '0.7fr', render: (o) => `${plain(o.filled_quantity)}/${plain(o.quantity)}` },
          { key: 'price', label: 'Price', numeric: true, width: '0.9fr', render: (o) => plain(o.limit_price ?? o.stop_price ?? '') },
          { key: 'status', label: 'Status', width: '1fr' },
          { key: 'actions', label: 'Actions', width: '1.3fr', render: (o) => html`
            <button type="button" class="small" aria-label=${`Amend ${o.side} ${o.symbol} ${plain(o.quantity)}`} onClick=${() => setAmending(o.id)}>Amend</button>
            <button type="button" class="small danger" aria-label=${`Cancel ${o.side} ${o.symbol} ${plain(o.quantity)}`} onClick=${() => cancel(o.id)}>Cancel</button>` },
        ]} />
    </section>
    <section class="card fills">
      <h2>Fills</h2>
      <${Problem} error=${fillsError} />
      ${!fills ? html`<${Loading} />` : html`<${Table} label="Fills" rowKey=${(f) => `${f.order_id}-${f.trade_id}`} rows=${fills.slice(0, 200)} empty="No fills yet."
        columns=${[
          { key: 'time', label: 'Time', render: (f) => time(f.time) },
          { key: 'symbol', label: 'Symbol' },
          { key: 'side', label: 'Side', render: (f) => html`<span class=${'side-' + f.side}>${f.side}</span>` },
          { key: 'quantity', label: 'Qty', numeric: true, render: (f) => plain(f.quantity) },
          { key: 'price', label: 'Price', numeric: true, render: (f) => plain(f.price) },
          { key: 'fee', label: 'Fee', numeric: true, render: (f) => money(f.fee, 4) },
          { key: 'liquidity', label: 'Liquidity' },
        ]} />`}
    </section>
  </div>`;
}
