// Display helpers. Money and quantities arrive as exact decimal strings; they are shown as
// they are (grouped) and compared with exact decimal arithmetic (BigInt at a common
// scale), never through floating point.

/** `"12345.678"` → `{ int: 12345678n, scale: 3 }`, or null if it is not a plain decimal. */
export function parseDecimal(text) {
  const s = String(text ?? '').trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const frac = m[3] ?? '';
  const digits = (m[2] || '0') + frac;
  const int = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  return { int, scale: frac.length };
}

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.int * 10n ** BigInt(scale - a.scale), b.int * 10n ** BigInt(scale - b.scale), scale];
}

/** Whether `value` is a whole multiple of `step` (a price on the tick, a size in lots). */
export function isMultiple(value, step) {
  const v = parseDecimal(value);
  const s = parseDecimal(step);
  if (!v || !s || s.int === 0n) return false;
  const [vi, si] = align(v, s);
  return vi % si === 0n;
}

/** -1, 0 or 1 as `a` is below, equal to or above `b` (decimal strings). */
export function compareDecimal(a, b) {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (!x || !y) return 0;
  const [xi, yi] = align(x, y);
  return xi < yi ? -1 : xi > yi ? 1 : 0;
}

/** The sum of decimal strings, as a decimal string. */
export function addDecimals(values) {
  let total = { int: 0n, scale: 0 };
  for (const v of values) {
    const d = parseDecimal(v);
    if (!d) continue;
    const [a, b, scale] = align(total, d);
    total = { int: a + b, scale };
  }
  return formatScaled(total);
}

function formatScaled({ int, scale }) {
  const negative = int < 0n;
  let digits = (negative ? -int : int).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = scale ? '.' + digits.slice(digits.length - scale) : '';
  return (negative ? '-' : '') + whole + frac;
}

/** A decimal string grouped in thousands, with at most `places` decimals (rounded half up). */
export function money(text, places = 2) {
  if (text === null || text === undefined || text === '') return '—';
  const d = parseDecimal(text);
  if (!d) return String(text);
  let { int, scale } = d;
  if (scale > places) {
    const div = 10n ** BigInt(scale - places);
    const half = div / 2n;
    int = int < 0n ? -((-int + half) / div) : (int + half) / div;
    scale = places;
  } else {
    int = int * 10n ** BigInt(places - scale);
    scale = places;
  }
  const s = formatScaled({ int, scale });
  const [w, f] = s.split('.');
  const sign = w.startsWith('-') ? '-' : '';
  const grouped = w.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + grouped + (f !== undefined ? '.' + f : '');
}

/** A quantity or price as sent: trailing zeros dropped. */
export function plain(text) {
  if (text === null || text === undefined) return '—';
  const s = String(text);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** `"0.1234"` → `"12.34 %"`. */
export function percent(value, places = 2) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return (Number(value) * 100).toFixed(places) + ' %';
}

export function number(value, places = 2) {
  if (value === null || value === undefined || value === '') return '—';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return n.toLocaleString('en-US', { maximumFractionDigits: places, minimumFractionDigits: 0 });
}

/** The CSS class of a signed amount. */
export function signClass(text) {
  const d = parseDecimal(text);
  if (!d || d.int === 0n) return '';
  return d.int < 0n ? 'neg' : 'pos';
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

/** Seconds since the epoch (a chart's time axis, UTC). */
export function epochSeconds(iso) {
  return Math.floor(Date.parse(iso) / 1000);
}
