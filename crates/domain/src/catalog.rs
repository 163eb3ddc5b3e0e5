//! The instruments a deployment trades: symbol → [`Instrument`] (tick, lot, minimum,
//! currency). The HTTP functions check orders against it before anything is published,
//! and the core builds one book per instrument from it, so both sides agree on the grid.
//!
//! A built-in catalog (`data/instruments.json`: a few US equities and ETFs, ES futures,
//! BTC-USD and ETH-USD) serves `stratus up`; deployments pass their own JSON list.

use std::collections::BTreeMap;

use crate::error::DomainError;
use crate::instrument::Instrument;
use crate::symbol::Symbol;

const BUILTIN: &str = include_str!("../data/instruments.json");

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentCatalog {
    instruments: BTreeMap<Symbol, Instrument>,
}

impl InstrumentCatalog {
    /// A catalog from a JSON array of instrument specs; each is validated, and a symbol
    /// listed twice is an error.
    pub fn from_json(json: &str) -> Result<Self, DomainError> {
        let list: Vec<Instrument> =
            serde_json::from_str(json).map_err(|e| DomainError::Invalid {
                field: "instruments",
                reason: e.to_string(),
            })?;
        Self::from_instruments(list)
    }

    pub fn from_instruments(list: Vec<Instrument>) -> Result<Self, DomainError> {
        let mut instruments = BTreeMap::new();
        for instrument in list {
            let symbol = instrument.symbol();
            if instruments.insert(symbol, instrument).is_some() {
                return Err(DomainError::Invalid {
                    field: "instruments",
                    reason: format!("{symbol} is listed twice"),
                });
            }
        }
        Ok(InstrumentCatalog { instruments })
    }

    /// The built-in catalog (see the module docs).
    pub fn builtin() -> Self {
        // The file is part of the build and checked by a test below.
        Self::from_json(BUILTIN).unwrap_or_else(|_| InstrumentCatalog {
            instruments: BTreeMap::new(),
        })
    }

    pub fn get(&self, symbol: Symbol) -> Option<&Instrument> {
        self.instruments.get(&symbol)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.values()
    }

    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses() {
        let catalog = InstrumentCatalog::from_json(BUILTIN).expect("valid built-in catalog");
        assert_eq!(catalog, InstrumentCatalog::builtin());
        let es = catalog
            .get(Symbol::parse("ES").expect("symbol"))
            .expect("ES");
        assert_eq!(es.tick_size().to_string(), "0.25");
        assert!(
            catalog
                .get(Symbol::parse("NOPE").expect("symbol"))
                .is_none()
        );
    }

    #[test]
    fn bad_catalogs_are_errors() {
        let twice = r#"[{"symbol":"A","tick_size":"0.01","lot_size":"1","min_quantity":"1","currency":"USD"},
                        {"symbol":"A","tick_size":"0.01","lot_size":"1","min_quantity":"1","currency":"USD"}]"#;
        assert!(InstrumentCatalog::from_json(twice).is_err());
        let bad_tick = r#"[{"symbol":"A","tick_size":"0","lot_size":"1","min_quantity":"1","currency":"USD"}]"#;
        assert!(InstrumentCatalog::from_json(bad_tick).is_err());
        assert!(InstrumentCatalog::from_json("{").is_err());
    }
}
