//! Strategy parameters: a JSON object checked against the strategy's declared parameters
//! when the strategy is created, so a typo or a bad value is an error that lists what is
//! valid, never a silently ignored setting.

use domain::Decimal;
use serde_json::{Map, Value};

use super::StrategyError;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// A finite number in `min..=max`.
    Number { min: f64, max: f64 },
    /// A decimal above zero (an order size), as a JSON number or a string.
    PositiveDecimal,
}

impl std::fmt::Display for ParamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamKind::Integer { min, max } => write!(f, "integer {min}..={max}"),
            ParamKind::Number { min, max } => write!(f, "number {min}..={max}"),
            ParamKind::PositiveDecimal => f.write_str("decimal > 0"),
        }
    }
}

/// One declared parameter: what validation reads its bounds from, what the error that
/// lists them all says, and what a client draws a form field from
/// ([`ParamDoc::json_schema`]).
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc<'a> {
    pub name: &'a str,
    pub kind: ParamKind,
    pub default: &'a str,
    pub help: &'a str,
}

impl ParamDoc<'_> {
    /// The parameter as a JSON Schema (2020-12): type, bounds, default, description.
    pub fn json_schema(&self) -> Value {
        let mut schema = Map::new();
        match self.kind {
            ParamKind::Integer { min, max } => {
                schema.insert("type".into(), "integer".into());
                schema.insert("minimum".into(), min.into());
                schema.insert("maximum".into(), max.into());
                if let Ok(d) = self.default.parse::<i64>() {
                    schema.insert("default".into(), d.into());
                }
            }
            ParamKind::Number { min, max } => {
                schema.insert("type".into(), "number".into());
                schema.insert("minimum".into(), min.into());
                schema.insert("maximum".into(), max.into());
                if let Ok(d) = self.default.parse::<f64>() {
                    schema.insert("default".into(), d.into());
                }
            }
            ParamKind::PositiveDecimal => {
                // Exact decimals travel as strings; a JSON number is accepted as well.
                schema.insert("type".into(), "string".into());
                schema.insert(
                    "pattern".into(),
                    "^(0*[1-9][0-9]*(\\.[0-9]+)?|0+\\.[0-9]*[1-9][0-9]*)$".into(),
                );
                schema.insert("default".into(), self.default.into());
            }
        }
        schema.insert("description".into(), self.help.into());
        Value::Object(schema)
    }
}

/// A strategy's parameters as one JSON Schema object: what `params` of a deployment or
/// a backtest may hold (every parameter optional, nothing else allowed).
pub fn params_schema(docs: &[ParamDoc]) -> Value {
    let properties: Map<String, Value> = docs
        .iter()
        .map(|d| (d.name.to_owned(), d.json_schema()))
        .collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// A strategy's parameters, read one by one with defaults and range checks.
#[derive(Debug)]
pub struct Params<'a> {
    strategy: &'a str,
    docs: &'a [ParamDoc<'a>],
    map: Map<String, Value>,
}

fn valid_list(docs: &[ParamDoc]) -> String {
    docs.iter()
        .map(|d| format!("{} ({}, default {}: {})", d.name, d.kind, d.default, d.help))
        .collect::<Vec<_>>()
        .join("; ")
}

impl<'a> Params<'a> {
    /// Checks that `value` is an object (or null: all defaults) with known keys only.
    pub fn new(
        strategy: &'a str,
        value: &Value,
        docs: &'a [ParamDoc<'a>],
    ) -> Result<Self, StrategyError> {
        let map = match value {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Err(StrategyError::InvalidParam {
                    strategy: strategy.to_owned(),
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
                strategy: strategy.to_owned(),
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
            strategy: self.strategy.to_owned(),
            param: param.to_owned(),
            reason,
        }
    }

    fn doc(&self, name: &str) -> Option<&'a ParamDoc<'a>> {
        self.docs.iter().find(|d| d.name == name)
    }

    fn default_of(&self, name: &str) -> &'a str {
        self.doc(name).map(|d| d.default).unwrap_or("0")
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

    /// A whole number within the parameter's declared bounds.
    pub fn integer(&self, name: &str) -> Result<usize, StrategyError> {
        let (min, max) = match self.doc(name).map(|d| d.kind) {
            Some(ParamKind::Integer { min, max }) => (
                usize::try_from(min).unwrap_or(0),
                usize::try_from(max).unwrap_or(0),
            ),
            _ => return Err(self.invalid(name, "is not an integer parameter".into())),
        };
        let text = self.text(name)?;
        let n: i64 = text
            .parse()
            .map_err(|_| self.invalid(name, format!("must be a whole number, got {text:?}")))?;
        usize::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.invalid(name, format!("must be between {min} and {max}, got {n}")))
    }

    /// A finite number within the parameter's declared bounds.
    pub fn number(&self, name: &str) -> Result<f64, StrategyError> {
        let (min, max) = match self.doc(name).map(|d| d.kind) {
            Some(ParamKind::Number { min, max }) => (min, max),
            _ => return Err(self.invalid(name, "is not a number parameter".into())),
        };
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
