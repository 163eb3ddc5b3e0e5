// Charts on TradingView's Lightweight Charts (vendored, Apache-2.0; its attribution link
// is on every chart and on the About page). Loaded on first use, so pages without a chart
// do not download it.

import { html, useEffect, useRef, useState } from './ui.js';
import { get } from './api.js';
import { subscribe, onReconnect } from './live.js';
import { epochSeconds } from './format.js';
import { sma, ema, bollinger } from './indicators.js';

let library = null;
function charts() {
  library ??= import('./vendor/lightweight-charts-4.2.3.mjs');
  return library;
}

const UNIT = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
export const TIMEFRAMES = ['1m', '5m', '15m', '1h', '4h', '1d'];

export function timeframeSeconds(tf) {
  const m = /^(\d+)([smhdw])$/.exec(tf);
  return m ? Number(m[1]) * UNIT[m[2]] : 60;
}

function theme(lib) {
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  return {
    autoSize: true,
    layout: {
      background: { type: lib.ColorType.Solid, color: 'transparent' },
      textColor: dark ? '#d0d4dc' : '#1f2328',
      attributionLogo: true,
    },
    grid: { vertLines: { color: dark ? '#2a2e39' : '#eef0f3' }, horzLines: { color: dark ? '#2a2e39' : '#eef0f3' } },
    timeScale: { timeVisible: true, secondsVisible: false },
    crosshair: { mode: lib.CrosshairMode.Normal },
  };
}

function toBar(c) {
  return {
    time: epochSeconds(c.start),
    open: Number(c.open),
    high: Number(c.high),
    low: Number(c.low),
    close: Number(c.close),
  };
}

const OVERLAY_COLORS = { sma20: '#f5a623', ema50: '#7b61ff', bb: '#8a94a6' };

/**
 * A candlestick chart of `symbol` on `timeframe`: history from the API, then live — each
 * trade moves the forming candle, each closed candle replaces it. `overlays`: keys of
 * `indicators.OVERLAYS`; `markers`: [{time (s), position, color, shape, text}].
 */
export function CandleChart({ symbol, timeframe, overlays = [], markers = [], bars: given, height = 360, label }) {
  const box = useRef(null);
  const chart = useRef(null);
  const [info, setInfo] = useState({ count: 0, error: null, source: null });
  const bars = useRef([]);

  useEffect(() => {
    let disposed = false;
    charts().then((lib) => {
      if (disposed || !box.current) return;
      const c = lib.createChart(box.current, theme(lib));
      const candles = c.addCandlestickSeries({ upColor: '#1a9e75', downColor: '#d64545', borderVisible: false, wickUpColor: '#1a9e75', wickDownColor: '#d64545' });
      chart.current = { lib, c, candles, lines: {} };
      setInfo((i) => ({ ...i, ready: true }));
    });
    return () => {
      disposed = true;
      chart.current?.c.remove();
      chart.current = null;
    };
  }, []);

  // History, then live updates.
  useEffect(() => {
    const ch = chart.current;
    if (!ch) return undefined;
    let stop = false;
    const unsubscribe = [];
    const period = timeframeSeconds(timeframe);
    let overlayTimer = null;
    const redrawOverlays = () => {
      clearTimeout(overlayTimer);
      overlayTimer = setTimeout(() => drawOverlays(ch, bars.current, overlays), 250);
    };
    const load = async () => {
      if (given) {
        bars.current = given;
        setInfo({ count: given.length, error: null, source: null, ready: true });
      } else {
        const page = await get(`/instruments/${encodeURIComponent(symbol)}/candles?timeframe=${timeframe}&limit=1000`);
        if (stop) return;
        const seen = new Map();
        for (const c of page.candles) seen.set(epochSeconds(c.start), toBar(c));
        bars.current = [...seen.values()].sort((a, b) => a.time - b.time);
        setInfo({ count: bars.current.length, error: null, source: page.source_timeframe, ready: true });
      }
      ch.candles.setData(bars.current);
      drawOverlays(ch, bars.current, overlays);
      if (!given) ch.c.timeScale().scrollToRealTime();
    };
    load().catch((error) => !stop && setInfo((i) => ({ ...i, error })));
    if (!given) {
      const upsert = (bar) => {
        const list = bars.current;
        const last = list[list.length - 1];
        if (last && bar.time < last.time) return;
        if (last && last.time === bar.time) list[list.length - 1] = bar;
        else list.push(bar);
        ch.candles.update(bar);
        redrawOverlays();
      };
      unsubscribe.push(
        subscribe({ channel: 'ticks', symbol }, (t) => {
          const price = Number(t.price);
          const time = Math.floor(Date.parse(t.time) / 1000 / period) * period;
          const list = bars.current;
          const last = list[list.length - 1];
          if (last && last.time === time) {
            upsert({ ...last, high: Math.max(last.high, price), low: Math.min(last.low, price), close: price });
          } else if (!last || time > last.time) {
            upsert({ time, open: price, high: price, low: price, close: price });
          }
          setInfo((i) => (i.count === bars.current.length ? i : { ...i, count: bars.current.length }));
        }),
        subscribe({ channel: 'candles', symbol, timeframe }, (c) => upsert(toBar(c))),
        onReconnect(() => load().catch(() => {})),
      );
    }
    return () => {
      stop = true;
      clearTimeout(overlayTimer);
      for (const u of unsubscribe) u();
    };
  }, [info.ready, symbol, timeframe, given, overlays.join(',')]);

  useEffect(() => {
    const ch = chart.current;
    if (!ch) return;
    const sorted = [...markers].sort((a, b) => a.time - b.time);
    ch.candles.setMarkers(sorted);
  }, [info.ready, markers]);

  return html`<figure class="chart" aria-label=${label || `${symbol} ${timeframe} candles`}>
    <div ref=${box} class="chart-box" style=${{ height: `${height}px` }} data-testid="candle-chart"
      data-candles=${info.count} data-markers=${markers.length}></div>
    <figcaption class="muted">
      ${symbol} · ${timeframe}${info.source && info.source !== timeframe ? ` (from ${info.source})` : ''} · ${info.count} candles
      ${info.error && html` · <span class="error">${info.error.message}</span>`}
    </figcaption>
  </figure>`;
}

function drawOverlays(ch, bars, overlays) {
  const want = new Set(overlays);
  const line = (key, color, data, style = 0) => {
    if (!ch.lines[key]) ch.lines[key] = ch.c.addLineSeries({ color, lineWidth: 1.5, lineStyle: style, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false });
    ch.lines[key].setData(data);
  };
  const drop = (key) => {
    if (ch.lines[key]) {
      ch.c.removeSeries(ch.lines[key]);
      delete ch.lines[key];
    }
  };
  if (want.has('sma20')) line('sma20', OVERLAY_COLORS.sma20, sma(bars, 20));
  else drop('sma20');
  if (want.has('ema50')) line('ema50', OVERLAY_COLORS.ema50, ema(bars, 50));
  else drop('ema50');
  if (want.has('bb20')) {
    const b = bollinger(bars, 20, 2);
    line('bbU', OVERLAY_COLORS.bb, b.upper, 2);
    line('bbM', OVERLAY_COLORS.bb, b.middle, 1);
    line('bbL', OVERLAY_COLORS.bb, b.lower, 2);
  } else {
    drop('bbU');
    drop('bbM');
    drop('bbL');
  }
}

/** Lines over time: `series` [{name, color, data:[{time (s), value}], scale?: 'left'}]. */
export function LineChart({ series, height = 260, label }) {
  const box = useRef(null);
  const state = useRef(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let disposed = false;
    charts().then((lib) => {
      if (disposed || !box.current) return;
      const c = lib.createChart(box.current, { ...theme(lib), leftPriceScale: { visible: true } });
      state.current = { c, lines: [] };
      setReady(true);
    });
    return () => {
      disposed = true;
      state.current?.c.remove();
      state.current = null;
    };
  }, []);
  useEffect(() => {
    const s = state.current;
    if (!s) return;
    for (const l of s.lines) s.c.removeSeries(l);
    s.lines = series.map((x) => {
      const l = x.area
        ? s.c.addAreaSeries({ lineColor: x.color, topColor: x.color + '55', bottomColor: x.color + '05', priceScaleId: x.scale || 'right', title: x.name, lineWidth: 1.5 })
        : s.c.addLineSeries({ color: x.color, priceScaleId: x.scale || 'right', title: x.name, lineWidth: 1.5 });
      const seen = new Map();
      for (const p of x.data) seen.set(p.time, p);
      l.setData([...seen.values()].sort((a, b) => a.time - b.time));
      return l;
    });
    s.c.timeScale().fitContent();
  }, [ready, series]);
  return html`<figure class="chart" aria-label=${label}>
    <div ref=${box} class="chart-box" style=${{ height: `${height}px` }} data-testid="line-chart" data-series=${series.length}></div>
    <figcaption class="muted">${series.map((s) => html`<span class="legend"><i style=${{ background: s.color }}></i>${s.name}</span>`)}</figcaption>
  </figure>`;
}
