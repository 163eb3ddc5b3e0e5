// Chart overlays computed from the candles on screen (display only: strategies use the
// engine's indicators, which match TA-Lib).

/** [{time, value}] of the simple moving average of `period` closes. */
export function sma(candles, period) {
  const out = [];
  let sum = 0;
  for (let i = 0; i < candles.length; i++) {
    sum += candles[i].close;
    if (i >= period) sum -= candles[i - period].close;
    if (i >= period - 1) out.push({ time: candles[i].time, value: sum / period });
  }
  return out;
}

/** The exponential moving average, seeded with the SMA of the first `period` closes. */
export function ema(candles, period) {
  const out = [];
  const k = 2 / (period + 1);
  let value = null;
  let sum = 0;
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i].close;
    if (i < period) {
      sum += c;
      if (i === period - 1) {
        value = sum / period;
        out.push({ time: candles[i].time, value });
      }
      continue;
    }
    value = c * k + value * (1 - k);
    out.push({ time: candles[i].time, value });
  }
  return out;
}

/** Bollinger bands: {upper, middle, lower}, `width` population deviations of `period`. */
export function bollinger(candles, period = 20, width = 2) {
  const upper = [];
  const middle = [];
  const lower = [];
  for (let i = period - 1; i < candles.length; i++) {
    let sum = 0;
    for (let j = i - period + 1; j <= i; j++) sum += candles[j].close;
    const mean = sum / period;
    let sq = 0;
    for (let j = i - period + 1; j <= i; j++) sq += (candles[j].close - mean) ** 2;
    const sd = Math.sqrt(sq / period);
    const time = candles[i].time;
    upper.push({ time, value: mean + width * sd });
    middle.push({ time, value: mean });
    lower.push({ time, value: mean - width * sd });
  }
  return { upper, middle, lower };
}

export const OVERLAYS = [
  { key: 'sma20', label: 'SMA 20' },
  { key: 'ema50', label: 'EMA 50' },
  { key: 'bb20', label: 'Bollinger 20, 2' },
];
