//! Indicators chosen at run time: a spec string (`macd:12:26:9`) parsed into an
//! [`IndicatorSpec`], built into an [`AnyIndicator`] (a [`BarIndicator`]) that is fed bars and writes one
//! value per output column. This is what `stratus indicators --indicator SPEC` uses; code
//! that knows its indicators at compile time uses the structs directly.
//!
//! Spec syntax, names case-insensitive: `sma:N`, `ema:N`, `wma:N`, `rsi:N`,
//! `macd:FAST:SLOW:SIGNAL`, `bbands:N:K`, `atr:N`, `stoch:FASTK:SLOWK:SLOWD`, `vwap`, `obv`.
//! Close-based indicators read `bar.close`.

use super::error::{IndicatorError, MAX_PERIOD};
use super::{Atr, Bar, BollingerBands, Ema, Macd, Obv, Rsi, Sma, Stochastic, Vwap, Wma};

/// An indicator and its parameters, as parsed from a spec string.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum IndicatorSpec {
    Sma(usize),
    Ema(usize),
    Wma(usize),
    Rsi(usize),
    /// Fast, slow and signal periods.
    Macd(usize, usize, usize),
    /// Period and standard-deviation multiplier.
    BBands(usize, f64),
    Atr(usize),
    /// Fast %K, slow %K and slow %D periods.
    Stoch(usize, usize, usize),
    Vwap,
    Obv,
}

/// An indicator behind a uniform interface: fed a bar, it pushes one value per column of
/// its spec (`None` while warming up), in [`IndicatorSpec::columns`] order.
pub trait BarIndicator: Send {
    fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>);
    fn reset(&mut self);
}

impl IndicatorSpec {
    /// Parses `sma:30`, `macd:12:26:9`, `vwap`, … and checks the parameters the way the
    /// indicator's constructor does, so a spec that parses always builds.
    pub fn parse(spec: &str) -> Result<Self, IndicatorError> {
        let mut fields = spec.split(':').map(str::trim);
        let typed_name = fields.next().unwrap_or_default();
        let values: Vec<&str> = fields.collect();
        let form = |indicator, usage| Parameters {
            spec,
            indicator,
            usage,
            values: &values,
        };
        let parsed = match typed_name.to_ascii_lowercase().as_str() {
            "sma" => {
                let p = form("sma", "sma:N");
                let [period] = p.take()?;
                IndicatorSpec::Sma(p.period("period", period)?)
            }
            "ema" => {
                let p = form("ema", "ema:N");
                let [period] = p.take()?;
                IndicatorSpec::Ema(p.period("period", period)?)
            }
            "wma" => {
                let p = form("wma", "wma:N");
                let [period] = p.take()?;
                IndicatorSpec::Wma(p.period("period", period)?)
            }
            "rsi" => {
                let p = form("rsi", "rsi:N");
                let [period] = p.take()?;
                IndicatorSpec::Rsi(p.period("period", period)?)
            }
            "macd" => {
                let p = form("macd", "macd:FAST:SLOW:SIGNAL");
                let [fast, slow, signal] = p.take()?;
                IndicatorSpec::Macd(
                    p.period("fast period", fast)?,
                    p.period("slow period", slow)?,
                    p.period("signal period", signal)?,
                )
            }
            "bbands" => {
                let p = form("bbands", "bbands:N:K");
                let [period, k] = p.take()?;
                IndicatorSpec::BBands(p.period("period", period)?, p.number("multiplier", k)?)
            }
            "atr" => {
                let p = form("atr", "atr:N");
                let [period] = p.take()?;
                IndicatorSpec::Atr(p.period("period", period)?)
            }
            "stoch" => {
                let p = form("stoch", "stoch:FASTK:SLOWK:SLOWD");
                let [fastk, slowk, slowd] = p.take()?;
                IndicatorSpec::Stoch(
                    p.period("fast %K period", fastk)?,
                    p.period("slow %K period", slowk)?,
                    p.period("slow %D period", slowd)?,
                )
            }
            "vwap" => {
                let [] = form("vwap", "vwap").take()?;
                IndicatorSpec::Vwap
            }
            "obv" => {
                let [] = form("obv", "obv").take()?;
                IndicatorSpec::Obv
            }
            _ => {
                return Err(IndicatorError::UnknownIndicator {
                    name: typed_name.to_owned(),
                });
            }
        };
        // Building runs the constructors' checks (minimum periods, finite multiplier).
        parsed.build()?;
        Ok(parsed)
    }

    /// Whether the indicator reads only the close of a bar (every one but ATR, the
    /// stochastic, VWAP and OBV).
    pub fn reads_close_only(&self) -> bool {
        !matches!(
            self,
            IndicatorSpec::Atr(_)
                | IndicatorSpec::Stoch(..)
                | IndicatorSpec::Vwap
                | IndicatorSpec::Obv
        )
    }

    /// Output column names, one per value the built indicator pushes per bar.
    pub fn columns(&self) -> Vec<String> {
        let fixed = |names: &[&str]| -> Vec<String> {
            names.iter().map(|name| (*name).to_owned()).collect()
        };
        match *self {
            IndicatorSpec::Sma(n) => vec![format!("sma_{n}")],
            IndicatorSpec::Ema(n) => vec![format!("ema_{n}")],
            IndicatorSpec::Wma(n) => vec![format!("wma_{n}")],
            IndicatorSpec::Rsi(n) => vec![format!("rsi_{n}")],
            IndicatorSpec::Atr(n) => vec![format!("atr_{n}")],
            IndicatorSpec::Macd(..) => fixed(&["macd", "macd_signal", "macd_hist"]),
            IndicatorSpec::BBands(..) => fixed(&["bb_upper", "bb_middle", "bb_lower"]),
            IndicatorSpec::Stoch(..) => fixed(&["stoch_k", "stoch_d"]),
            IndicatorSpec::Vwap => fixed(&["vwap"]),
            IndicatorSpec::Obv => fixed(&["obv"]),
        }
    }

    /// A fresh indicator for this spec. Fails, as its constructor does, on parameters out
    /// of range; a spec returned by [`IndicatorSpec::parse`] always builds.
    /// The indicator this spec describes, ready to be fed bars.
    pub fn build(&self) -> Result<AnyIndicator, IndicatorError> {
        Ok(match *self {
            IndicatorSpec::Sma(period) => AnyIndicator::Sma(Sma::new(period)?),
            IndicatorSpec::Ema(period) => AnyIndicator::Ema(Ema::new(period)?),
            IndicatorSpec::Wma(period) => AnyIndicator::Wma(Wma::new(period)?),
            IndicatorSpec::Rsi(period) => AnyIndicator::Rsi(Rsi::new(period)?),
            IndicatorSpec::Macd(fast, slow, signal) => {
                AnyIndicator::Macd(Macd::new(fast, slow, signal)?)
            }
            IndicatorSpec::BBands(period, k) => {
                AnyIndicator::BBands(BollingerBands::new(period, k)?)
            }
            IndicatorSpec::Atr(period) => AnyIndicator::Atr(Atr::new(period)?),
            IndicatorSpec::Stoch(fastk, slowk, slowd) => {
                AnyIndicator::Stoch(Stochastic::new(fastk, slowk, slowd)?)
            }
            IndicatorSpec::Vwap => AnyIndicator::Vwap(Vwap::new()),
            IndicatorSpec::Obv => AnyIndicator::Obv(Obv::new()),
        })
    }
}

/// Any one indicator, as a value: what [`IndicatorSpec::build`] returns. An enum rather
/// than a boxed trait object so that it can be cloned and serialized with its state —
/// a strategy's indicators are part of an engine snapshot and restore exactly, without
/// re-warming from history.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
pub enum AnyIndicator {
    Sma(Sma),
    Ema(Ema),
    Wma(Wma),
    Rsi(Rsi),
    Macd(Macd),
    BBands(BollingerBands),
    Atr(Atr),
    Stoch(Stochastic),
    Vwap(Vwap),
    Obv(Obv),
}

impl BarIndicator for AnyIndicator {
    fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
        match self {
            AnyIndicator::Sma(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Ema(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Wma(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Rsi(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Macd(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::BBands(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Atr(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Stoch(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Vwap(i) => BarIndicator::update(i, bar, out),
            AnyIndicator::Obv(i) => BarIndicator::update(i, bar, out),
        }
    }

    fn reset(&mut self) {
        match self {
            AnyIndicator::Sma(i) => BarIndicator::reset(i),
            AnyIndicator::Ema(i) => BarIndicator::reset(i),
            AnyIndicator::Wma(i) => BarIndicator::reset(i),
            AnyIndicator::Rsi(i) => BarIndicator::reset(i),
            AnyIndicator::Macd(i) => BarIndicator::reset(i),
            AnyIndicator::BBands(i) => BarIndicator::reset(i),
            AnyIndicator::Atr(i) => BarIndicator::reset(i),
            AnyIndicator::Stoch(i) => BarIndicator::reset(i),
            AnyIndicator::Vwap(i) => BarIndicator::reset(i),
            AnyIndicator::Obv(i) => BarIndicator::reset(i),
        }
    }
}

/// The fields after an indicator's name in a spec string, read against its usage.
struct Parameters<'a> {
    spec: &'a str,
    indicator: &'static str,
    usage: &'static str,
    values: &'a [&'a str],
}

impl<'a> Parameters<'a> {
    /// All the fields, when there are exactly `N`.
    fn take<const N: usize>(&self) -> Result<[&'a str; N], IndicatorError> {
        <[&str; N]>::try_from(self.values).map_err(|_| IndicatorError::WrongParameterCount {
            spec: self.spec.to_owned(),
            indicator: self.indicator,
            given: self.values.len(),
            expected: N,
            usage: self.usage,
        })
    }

    fn period(&self, parameter: &'static str, text: &str) -> Result<usize, IndicatorError> {
        text.parse().map_err(|_| {
            self.invalid(
                parameter,
                format!("a whole number up to {MAX_PERIOD}"),
                text,
            )
        })
    }

    fn number(&self, parameter: &'static str, text: &str) -> Result<f64, IndicatorError> {
        text.parse()
            .map_err(|_| self.invalid(parameter, "a number".to_owned(), text))
    }

    fn invalid(&self, parameter: &'static str, expected: String, text: &str) -> IndicatorError {
        IndicatorError::InvalidParameter {
            indicator: self.indicator,
            parameter,
            expected,
            text: text.to_owned(),
            usage: self.usage,
        }
    }
}

/// Implements [`BarIndicator`] for indicators of one close per update.
macro_rules! close_indicator {
    ($($indicator:ident),*) => {$(
        impl BarIndicator for $indicator {
            fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
                out.push($indicator::update(self, bar.close));
            }
            fn reset(&mut self) {
                $indicator::reset(self);
            }
        }
    )*};
}

/// Implements [`BarIndicator`] for indicators of one bar per update and one output.
macro_rules! bar_indicator {
    ($($indicator:ident),*) => {$(
        impl BarIndicator for $indicator {
            fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
                out.push($indicator::update(self, bar));
            }
            fn reset(&mut self) {
                $indicator::reset(self);
            }
        }
    )*};
}

close_indicator!(Sma, Ema, Wma, Rsi);
bar_indicator!(Atr, Vwap, Obv);

impl BarIndicator for Macd {
    fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
        let value = Macd::update(self, bar.close);
        out.extend([
            value.map(|v| v.macd),
            value.map(|v| v.signal),
            value.map(|v| v.histogram),
        ]);
    }
    fn reset(&mut self) {
        Macd::reset(self);
    }
}

impl BarIndicator for BollingerBands {
    fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
        let value = BollingerBands::update(self, bar.close);
        out.extend([
            value.map(|v| v.upper),
            value.map(|v| v.middle),
            value.map(|v| v.lower),
        ]);
    }
    fn reset(&mut self) {
        BollingerBands::reset(self);
    }
}

impl BarIndicator for Stochastic {
    fn update(&mut self, bar: &Bar, out: &mut Vec<Option<f64>>) {
        let value = Stochastic::update(self, bar);
        out.extend([value.map(|v| v.k), value.map(|v| v.d)]);
    }
    fn reset(&mut self) {
        Stochastic::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let cases = [
            ("sma:30", IndicatorSpec::Sma(30)),
            ("ema:12", IndicatorSpec::Ema(12)),
            ("wma:10", IndicatorSpec::Wma(10)),
            ("rsi:14", IndicatorSpec::Rsi(14)),
            ("macd:12:26:9", IndicatorSpec::Macd(12, 26, 9)),
            ("bbands:20:2", IndicatorSpec::BBands(20, 2.0)),
            ("bbands:20:1.5", IndicatorSpec::BBands(20, 1.5)),
            ("atr:14", IndicatorSpec::Atr(14)),
            ("stoch:14:3:3", IndicatorSpec::Stoch(14, 3, 3)),
            ("vwap", IndicatorSpec::Vwap),
            ("obv", IndicatorSpec::Obv),
            (" SMA : 5 ", IndicatorSpec::Sma(5)),
        ];
        for (text, expected) in cases {
            assert_eq!(IndicatorSpec::parse(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn columns_match_what_update_pushes() {
        let bar = Bar {
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 10.0,
        };
        for text in [
            "sma:3",
            "ema:3",
            "wma:3",
            "rsi:3",
            "macd:3:5:2",
            "bbands:3:2",
            "atr:3",
            "stoch:3:2:2",
            "vwap",
            "obv",
        ] {
            let spec = IndicatorSpec::parse(text).unwrap();
            let mut indicator = spec.build().unwrap();
            let mut out = Vec::new();
            for _ in 0..3 {
                out.clear();
                indicator.update(&bar, &mut out);
                assert_eq!(out.len(), spec.columns().len(), "{text}");
            }
        }
        assert_eq!(IndicatorSpec::Sma(30).columns(), ["sma_30"]);
        assert_eq!(
            IndicatorSpec::Macd(12, 26, 9).columns(),
            ["macd", "macd_signal", "macd_hist"]
        );
        assert_eq!(
            IndicatorSpec::BBands(20, 2.0).columns(),
            ["bb_upper", "bb_middle", "bb_lower"]
        );
        assert_eq!(
            IndicatorSpec::Stoch(14, 3, 3).columns(),
            ["stoch_k", "stoch_d"]
        );
    }

    /// A close-only indicator fed bars that carry nothing but the close (as the strategy
    /// registry feeds them) gives the same values as fed whole bars; the others do read
    /// more than the close.
    #[test]
    fn close_only_indicators_read_nothing_but_the_close() {
        let bars: Vec<Bar> = (0..60)
            .map(|i| {
                let x = f64::from(i);
                let close = 100.0 + (x * 0.7).sin() * 5.0;
                Bar {
                    open: close - 0.3,
                    high: close + 1.0 + (x * 0.3).cos(),
                    low: close - 1.0 - (x * 0.2).sin().abs(),
                    close,
                    volume: 1_000.0 + 10.0 * x,
                }
            })
            .collect();
        for text in [
            "sma:3",
            "ema:3",
            "wma:3",
            "rsi:3",
            "macd:3:5:2",
            "bbands:3:2",
            "atr:3",
            "stoch:3:2:2",
            "vwap",
            "obv",
        ] {
            let spec = IndicatorSpec::parse(text).unwrap();
            let (mut whole, mut close) = (spec.build().unwrap(), spec.build().unwrap());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut same = true;
            for bar in &bars {
                let only = Bar {
                    close: bar.close,
                    ..Bar::default()
                };
                whole.update(bar, &mut a);
                close.update(&only, &mut b);
                same &= a == b;
            }
            assert_eq!(same, spec.reads_close_only(), "{text}");
        }
    }

    #[test]
    fn bad_input_is_refused_without_panicking() {
        let inputs = [
            "",
            ":",
            "::",
            "sma",
            "sma:",
            "sma::",
            "sma:-1",
            "sma:1.5",
            "sma:x",
            "sma:99999999999999999999999999",
            "sma:18446744073709551615",
            "ema:0",
            "macd",
            "macd:1",
            "macd:12:26",
            "macd:12:26:9:1",
            "macd:1:1:1",
            "bbands:20",
            "bbands:20:nan",
            "bbands:20:inf",
            "bbands:20:-inf",
            "bbands:20:1e999",
            "bbands:0:2",
            "bbands:x:2",
            "stoch:0:0:0",
            "stoch:14:3",
            "vwap:1",
            "obv:",
            "atr:0",
            "wma:-0",
            "é:1",
            "sma:٣",
        ];
        for input in inputs {
            assert!(
                IndicatorSpec::parse(input).is_err(),
                "{input:?} should be refused"
            );
        }
        // The largest periods are accepted.
        assert_eq!(
            IndicatorSpec::parse("macd:100000:100000:100000"),
            Ok(IndicatorSpec::Macd(100_000, 100_000, 100_000))
        );
    }

    #[test]
    fn reset_through_the_trait_starts_over() {
        let spec = IndicatorSpec::parse("sma:2").unwrap();
        let mut indicator = spec.build().unwrap();
        let bar = |close| Bar {
            close,
            ..Bar::default()
        };
        let mut out = Vec::new();
        indicator.update(&bar(10.0), &mut out);
        indicator.update(&bar(20.0), &mut out);
        indicator.reset();
        indicator.update(&bar(1.0), &mut out);
        indicator.update(&bar(3.0), &mut out);
        assert_eq!(out, [None, Some(15.0), None, Some(2.0)]);
    }
}
