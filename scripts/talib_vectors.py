#!/usr/bin/env python3
"""Reference vectors for the engine's indicators, computed by TA-Lib.

Reads the sample price files in data/ and writes one CSV per file under
crates/engine/tests/data/talib/, which tests/indicators_talib.rs compares against
row by row.

    python3 -m venv /tmp/talib && /tmp/talib/bin/pip install ta-lib==0.8.2 numpy
    /tmp/talib/bin/python scripts/talib_vectors.py

(the ta-lib wheel bundles the TA-Lib C library, 0.8.1 for ta-lib 0.8.2.)

Columns: `index`, then one per indicator output, named `<function>_<parameters>`
with TA-Lib's output names (macd/macdsignal/macdhist, bbupper/bbmiddle/bblower,
slowk/slowd). A cell is empty where TA-Lib returns NaN (warm-up); values are written
with repr(), the shortest text that reads back as the same double.
"""

import csv
import math
from pathlib import Path

import numpy as np
import talib

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "engine" / "tests" / "data" / "talib"
DATASETS = ["2006-day-001.txt", "orcl-1995-2014.txt", "nvda-1999-2014.txt"]


def load(path):
    """High/Low/Close/Volume columns as float arrays, by header name."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {name: np.array([float(r[name]) for r in rows]) for name in
            ("High", "Low", "Close", "Volume")}


def vwap(high, low, close, volume):
    """Session VWAP over the whole file; NaN while no volume has traded (TA-Lib has no
    VWAP, so this is the definition the Rust indicator implements)."""
    typical = (high + low + close) / 3.0
    cumulative_volume = np.cumsum(volume)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.cumsum(typical * volume) / cumulative_volume
    out[cumulative_volume == 0] = np.nan
    return out


def columns(d):
    """(name, series) for every output checked. The second half are short periods,
    which exercise the edges: the smallest periods TA-Lib allows, MACD's seeding with
    little room, a fractional band multiplier, a one-bar stochastic window."""
    h, l, c, v = d["High"], d["Low"], d["Close"], d["Volume"]
    macd = talib.MACD(c, 12, 26, 9)
    bb = talib.BBANDS(c, 20, 2.0, 2.0, talib.MA_Type.SMA)
    stoch = talib.STOCH(h, l, c, 14, 3, talib.MA_Type.SMA, 3, talib.MA_Type.SMA)
    macd_short = talib.MACD(c, 3, 5, 2)
    bb_short = talib.BBANDS(c, 2, 1.5, 1.5, talib.MA_Type.SMA)
    stoch_short = talib.STOCH(h, l, c, 1, 1, talib.MA_Type.SMA, 1, talib.MA_Type.SMA)
    stoch_mid = talib.STOCH(h, l, c, 5, 3, talib.MA_Type.SMA, 2, talib.MA_Type.SMA)
    return [
        ("sma_30", talib.SMA(c, 30)),
        ("ema_30", talib.EMA(c, 30)),
        ("wma_10", talib.WMA(c, 10)),
        ("rsi_14", talib.RSI(c, 14)),
        ("macd_12_26_9", macd[0]),
        ("macdsignal_12_26_9", macd[1]),
        ("macdhist_12_26_9", macd[2]),
        ("bbupper_20_2", bb[0]),
        ("bbmiddle_20_2", bb[1]),
        ("bblower_20_2", bb[2]),
        ("atr_14", talib.ATR(h, l, c, 14)),
        ("slowk_14_3_3", stoch[0]),
        ("slowd_14_3_3", stoch[1]),
        ("obv", talib.OBV(c, v)),
        ("vwap", vwap(h, l, c, v)),
        # Short periods.
        ("sma_1", talib.SMA(c, 1)),
        ("sma_2", talib.SMA(c, 2)),
        ("ema_3", talib.EMA(c, 3)),
        ("wma_2", talib.WMA(c, 2)),
        ("rsi_2", talib.RSI(c, 2)),
        ("macd_3_5_2", macd_short[0]),
        ("macdsignal_3_5_2", macd_short[1]),
        ("macdhist_3_5_2", macd_short[2]),
        ("bbupper_2_1.5", bb_short[0]),
        ("bbmiddle_2_1.5", bb_short[1]),
        ("bblower_2_1.5", bb_short[2]),
        ("atr_1", talib.ATR(h, l, c, 1)),
        ("slowk_1_1_1", stoch_short[0]),
        ("slowd_1_1_1", stoch_short[1]),
        ("slowk_5_3_2", stoch_mid[0]),
        ("slowd_5_3_2", stoch_mid[1]),
    ]


def cell(x):
    return "" if math.isnan(x) else repr(float(x))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        data = load(ROOT / "data" / name)
        cols = columns(data)
        target = OUT / (Path(name).stem + ".csv")
        with open(target, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["index"] + [n for n, _ in cols])
            for i in range(len(data["Close"])):
                w.writerow([i] + [cell(series[i]) for _, series in cols])
        print(f"{target.relative_to(ROOT)}: {len(data['Close'])} rows, TA-Lib {talib.__ta_version__.decode()}")


if __name__ == "__main__":
    main()
