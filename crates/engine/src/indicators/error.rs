//! Why an indicator could not be built: a parameter out of range, or an indicator spec
//! string (`sma:30`) that does not parse. Every message names the indicator and the
//! parameter and says what would be valid, because it reaches a person through the CLI.

/// Largest period any indicator accepts: TA-Lib's own bound, which also keeps the window
/// an untrusted spec string can make us allocate below a megabyte.
pub const MAX_PERIOD: usize = 100_000;

/// The accepted spec forms, listed in every "unknown indicator" error.
pub(crate) const VALID_SPECS: &str = "sma:N, ema:N, wma:N, rsi:N, macd:FAST:SLOW:SIGNAL, \
     bbands:N:K, atr:N, stoch:FASTK:SLOWK:SLOWD, vwap, obv";

/// A parameter out of range or a spec string that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{indicator} {parameter} must be at least {min}, got {value}")]
    PeriodTooShort {
        indicator: &'static str,
        parameter: &'static str,
        min: usize,
        value: usize,
    },
    #[error("{indicator} {parameter} must be at most {max}, got {value}")]
    PeriodTooLong {
        indicator: &'static str,
        parameter: &'static str,
        max: usize,
        value: usize,
    },
    #[error("{indicator} {parameter} must be a finite number, got {value}")]
    NotFinite {
        indicator: &'static str,
        parameter: &'static str,
        value: f64,
    },
    #[error("unknown indicator \"{name}\"; valid: {VALID_SPECS}")]
    UnknownIndicator { name: String },
    #[error("{indicator} takes {expected} parameter(s), got {given} in \"{spec}\"; usage: {usage}")]
    WrongParameterCount {
        spec: String,
        indicator: &'static str,
        given: usize,
        expected: usize,
        usage: &'static str,
    },
    #[error("{indicator} {parameter} must be {expected}, got \"{text}\"; usage: {usage}")]
    InvalidParameter {
        indicator: &'static str,
        parameter: &'static str,
        expected: String,
        text: String,
        usage: &'static str,
    },
}

/// Checks `min <= value <= MAX_PERIOD` for the period `parameter` of `indicator`.
pub(crate) fn check_period(
    indicator: &'static str,
    parameter: &'static str,
    min: usize,
    value: usize,
) -> Result<usize, IndicatorError> {
    if value < min {
        return Err(IndicatorError::PeriodTooShort {
            indicator,
            parameter,
            min,
            value,
        });
    }
    if value > MAX_PERIOD {
        return Err(IndicatorError::PeriodTooLong {
            indicator,
            parameter,
            max: MAX_PERIOD,
            value,
        });
    }
    Ok(value)
}

pub(crate) fn check_finite(
    indicator: &'static str,
    parameter: &'static str,
    value: f64,
) -> Result<f64, IndicatorError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(IndicatorError::NotFinite {
            indicator,
            parameter,
            value,
        })
    }
}
