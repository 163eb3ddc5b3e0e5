//! The streams and tables Stratus needs, from `localstack/resources.json` — the one
//! definition that the LocalStack init script, the emulator tests and `stratus up --cloud`
//! all create resources from.

use serde::Deserialize;

use crate::error::{StoreError, StoreResult};

const RESOURCES_JSON: &str = include_str!("../../../localstack/resources.json");

#[derive(Debug, Clone, Deserialize)]
pub struct TableDef {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamDef {
    pub name: String,
    pub shards: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableKey {
    pub partition: String,
    pub sort: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Resources {
    pub tables: Vec<TableDef>,
    pub table_key: TableKey,
    pub ttl_attribute: String,
    pub streams: Vec<StreamDef>,
}

impl Resources {
    pub fn load() -> StoreResult<Self> {
        serde_json::from_str(RESOURCES_JSON)
            .map_err(|e| StoreError::internal(format!("localstack/resources.json: {e}")))
    }
}

/// `<prefix>-<name>`: the physical name of a table or stream. Names are never hard-coded
/// elsewhere, and no ARN or account id is ever built (moto's account is 123456789012,
/// LocalStack's 000000000000).
pub fn physical_name(prefix: &str, name: &str) -> String {
    format!("{prefix}-{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_parse_and_cover_the_design() {
        let r = Resources::load().expect("valid resources.json");
        let streams: Vec<&str> = r.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            streams,
            [
                "ticks",
                "commands",
                "executions",
                "candles",
                "research-jobs"
            ]
        );
        assert!(
            r.tables.iter().any(|t| t.name == "auth")
                && r.tables.iter().any(|t| t.name == "read-models")
        );
        assert_eq!(r.ttl_attribute, "expires_at");
        assert_eq!(physical_name("stratus-dev", "ticks"), "stratus-dev-ticks");
    }
}
