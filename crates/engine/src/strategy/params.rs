//! Strategy parameters: a JSON object checked against the strategy's declared parameters
//! when the strategy is created, so a typo or a bad value is an error that lists what is
//! valid, never a silently ignored setting.

use domain::Decimal;
use serde_json::{Map, Value};

use super::StrategyError;

/// One declared parameter, for validation and for the error that lists them all.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    /// `integer`, `number` or `decimal`.
    pub kind: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// A strategy's parameters, read one by one with defaults and range checks.
#[derive(Debug)]
pub struct Params {
    strategy: &'static str,
    docs: &'static [ParamDoc],
    map: Map<String, Value>,
}

fn valid_list(docs: &[ParamDoc]) -> String {
    docs.iter()
        .map(|d| format!("{} ({}, default {}: {})", d.name, d.kind, d.default, d.help))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Params {
    /// Checks that `value` is an object (or null: all defaults) with known keys only.
    pub fn new(
        strategy: &'static str,
        value: &Value,
        docs: &'static [ParamDoc],
    ) -> Result<Self, StrategyError> {
        let map = match value {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Err(StrategyError::InvalidParam {
                    strategy,
                    param: "params".into(),
                    reason: format!(
                        "must be a JSON object; valid parameters: {}",
                        valid_list(docs)
                    ),
                });
            }
        };
        if let Some(unknown) = map
            .keys()
            .find(|k| !docs.iter().any(|d| d.name == k.as_str()))
        {
            return Err(StrategyError::InvalidParam {
                strategy,
                param: unknown.clone(),
                reason: format!("unknown parameter; valid parameters: {}", valid_list(docs)),
            });
        }
        Ok(Params {
            strategy,
            docs,
            map,
        })
    }

    fn invalid(&self, param: &str, reason: String) -> StrategyError {
        StrategyError::InvalidParam {
            strategy: self.strategy,
            param: param.to_owned(),
            reason,
        }
    }

    fn default_of(&self, name: &str) -> &'static str {
        self.docs
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.default)
            .unwrap_or("0")
    }

    /// The raw text of a parameter: a JSON number, or a string holding one (as
    /// `--param period=30` gives).
    fn text(&self, name: &str) -> Result<String, StrategyError> {
        match self.map.get(name) {
            None => Ok(self.default_of(name).to_owned()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::String(s)) => Ok(s.trim().to_owned()),
            Some(other) => Err(self.invalid(name, format!("must be a number, got {other}"))),
        }
    }

    /// A whole number in `min..=max`.
    pub fn integer(&self, name: &str, min: usize, max: usize) -> Result<usize, StrategyError> {
        let text = self.text(name)?;
        let n: i64 = text
            .parse()
            .map_err(|_| self.invalid(name, format!("must be a whole number, got {text:?}")))?;
        usize::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.invalid(name, format!("must be between {min} and {max}, got {n}")))
    }

    /// A finite number in `min..=max`.
    pub fn number(&self, name: &str, min: f64, max: f64) -> Result<f64, StrategyError> {
        let text = self.text(name)?;
        let x: f64 = text
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| self.invalid(name, format!("must be a number, got {text:?}")))?;
        if !(min..=max).contains(&x) {
            return Err(self.invalid(name, format!("must be between {min} and {max}, got {x}")));
        }
        Ok(x)
    }

    /// A decimal greater than zero (order sizes).
    pub fn positive_decimal(&self, name: &str) -> Result<Decimal, StrategyError> {
        let text = self.text(name)?;
        let d = domain::num::parse_decimal("value", &text)
            .map_err(|_| self.invalid(name, format!("must be a decimal number, got {text:?}")))?;
        if d <= Decimal::ZERO {
            return Err(self.invalid(name, format!("must be greater than zero, got {d}")));
        }
        Ok(d)
    }
}
