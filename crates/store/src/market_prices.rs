//! The last trade price per symbol (a read model in the `read-models` table), kept by
//! the streaming core and read by the functions to value positions and to check market
//! orders against buying power. A price only ever moves forward in time: a late or
//! replayed update never overwrites a newer one.

use std::sync::Arc;

use domain::{Price, Symbol, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::kv::KvTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPrice {
    pub price: Price,
    pub time: Timestamp,
}

/// See the module docs.
#[derive(Clone)]
pub struct MarketPrices {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for MarketPrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarketPrices")
    }
}

fn pk(symbol: Symbol) -> String {
    format!("price#{symbol}")
}

impl MarketPrices {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        MarketPrices { kv }
    }

    pub async fn last(&self, symbol: Symbol) -> StoreResult<Option<LastPrice>> {
        match self.kv.get(&pk(symbol), "last").await? {
            Some(item) => Ok(Some(serde_json::from_value(item.body)?)),
            None => Ok(None),
        }
    }

    /// Records `update` unless a newer price is stored; true if it was recorded.
    pub async fn record(&self, symbol: Symbol, update: LastPrice) -> StoreResult<bool> {
        crate::kv::put_unless_newer(&*self.kv, &pk(symbol), "last", &update, |stored| {
            stored.time > update.time
        })
        .await
    }
}
