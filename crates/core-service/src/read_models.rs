//! The read models the core keeps in the `read-models` table after each commit: the last
//! price of every symbol traded (`store::market_prices`, what the functions value
//! positions and market orders with), each symbol's tape (`store::market_tape`: recent
//! trades and open candles, for the market function), each changed order's status, and
//! the cash of each account that traded. Writes are idempotent (the same batch written twice leaves the
//! same items), so a failure here is retried with the next batch and never blocks it.
//!
//! Order statuses and balances are kept for the cloud shape only, where they let a
//! Lambda answer from DynamoDB instead of Postgres. In the embedded shape they would copy
//! rows of the same SQLite file that the functions read directly (one more write per
//! order, on the file's one writer), so they are left out there.

use std::sync::Arc;

use api::views::{OrderView, Plain};
use domain::{AccountId, Candle, Money, Order, Symbol, Tick, Timestamp};
use store::StoreResult;
use store::kv::{Condition, KvTable, KvWrite};
use store::market_prices::{LastPrice, MarketPrices};
use store::market_tape::{MarketTape, RECENT_TRADES, TradePrint};

#[derive(Clone)]
pub struct ReadModels {
    kv: Arc<dyn KvTable>,
    prices: MarketPrices,
    tape: MarketTape,
    /// Whether order statuses and balances are kept (see the module docs).
    account_views: bool,
    /// For showing orders as the API does.
    instruments: Arc<domain::InstrumentCatalog>,
}

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadModels")
    }
}

impl ReadModels {
    /// The read models in `kv`; order statuses and balances only with `account_views`.
    pub fn new(
        kv: Arc<dyn KvTable>,
        account_views: bool,
        instruments: Arc<domain::InstrumentCatalog>,
    ) -> Self {
        ReadModels {
            prices: MarketPrices::new(kv.clone()),
            tape: MarketTape::new(kv.clone()),
            kv,
            account_views,
            instruments,
        }
    }

    pub async fn prices<'a>(
        &self,
        ticks: impl Iterator<Item = (&'a Symbol, &'a Tick)>,
    ) -> StoreResult<()> {
        for (symbol, tick) in ticks {
            self.prices
                .record(
                    *symbol,
                    LastPrice {
                        price: tick.price,
                        time: tick.time,
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Each symbol's newest trades of the batch (`ticks`, in arrival order) and its open
    /// candles.
    pub async fn tapes(
        &self,
        ticks: &[Tick],
        open_candles: &[(Symbol, Vec<Candle>)],
    ) -> StoreResult<()> {
        for (symbol, candles) in open_candles {
            let mut trades: Vec<TradePrint> = ticks
                .iter()
                .rev()
                .filter(|t| t.symbol == *symbol)
                .take(RECENT_TRADES)
                .map(|t| TradePrint {
                    time: t.time,
                    price: t.price,
                    size: t.size,
                })
                .collect();
            trades.reverse();
            self.tape.record(*symbol, &trades, candles).await?;
        }
        Ok(())
    }

    /// The status of changed orders, in transactions of up to 25 writes.
    pub async fn orders<'a>(&self, orders: impl Iterator<Item = &'a Order>) -> StoreResult<()> {
        if !self.account_views {
            return Ok(());
        }
        let writes: Vec<KvWrite> = orders
            .map(|order| {
                Ok(KvWrite::Put {
                    pk: format!("order#{}", order.id),
                    sk: "status".into(),
                    body: serde_json::to_value(OrderView::new(order, &self.instruments))?,
                    expires_at: None,
                    condition: Condition::Always,
                })
            })
            .collect::<StoreResult<_>>()?;
        for chunk in writes.chunks(store::kv::MAX_TRANSACTION_WRITES) {
            self.kv.transact(chunk.to_vec()).await?;
        }
        Ok(())
    }

    pub async fn balance(&self, account: AccountId, cash: Money, at: Timestamp) -> StoreResult<()> {
        if !self.account_views {
            return Ok(());
        }
        self.kv
            .put(
                &format!("balance#{account}"),
                "cash",
                serde_json::json!({ "cash": cash.plain(), "as_of": at }),
                None,
                Condition::Always,
            )
            .await
            .map(|_| ())
    }
}
