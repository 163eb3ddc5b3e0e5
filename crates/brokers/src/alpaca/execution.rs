//! [`AlpacaBroker`]: Stratus's orders → Alpaca's Trading API v2 (see the parent module for
//! what is supported, how an order is found again and how errors map).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use domain::{AssetClass, Currency, Money, OrderId, OrderStatus, OrderType, Price, TimeInForce};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::http::{Effect, Rest};
use super::wire::{self, AlpacaAccount, AlpacaOrder, AlpacaPosition};
use super::{AlpacaConfig, stream};
use crate::client_id::{self, MAX_REVISION};
use crate::{
    Broker, BrokerAccount, BrokerError, BrokerOrder, BrokerOrderState, BrokerPosition,
    BrokerResult, ExecutionFeed, Replace, describe,
};

/// Alpaca's most orders in one page of `GET /v2/orders`.
const PAGE: usize = 500;

/// What the adapter and its stream readers share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: AlpacaConfig,
    pub(crate) rest: Rest,
    /// Per order, the newest revision seen and its Alpaca id (saves walking `replaced_by`
    /// from the first revision; the walk still finds it after a restart).
    latest: Mutex<HashMap<OrderId, (u32, String)>>,
}

fn malformed(e: wire::WireError) -> BrokerError {
    BrokerError::Unavailable(format!("alpaca's order is not understood: {e}"))
}

fn decimal_text(d: Decimal) -> String {
    d.normalize().to_string()
}

impl Inner {
    fn latest(&self) -> MutexGuard<'_, HashMap<OrderId, (u32, String)>> {
        // A panic while holding the lock leaves a plain map, still consistent.
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers `order` as its Stratus order's newest revision, unless a newer one is
    /// known.
    pub(crate) fn remember(&self, order: &AlpacaOrder) {
        if let Some((order_id, revision)) = order.stratus_id() {
            let mut latest = self.latest();
            let newer = latest.get(&order_id).is_none_or(|(r, _)| *r <= revision);
            if newer {
                latest.insert(order_id, (revision, order.id.clone()));
            }
        }
    }

    pub(crate) async fn by_alpaca_id(&self, id: &str) -> BrokerResult<AlpacaOrder> {
        let path = format!("/v2/orders/{id}");
        self.rest
            .json(Method::GET, &path, &[], None, Effect::Read)
            .await
    }

    async fn by_client_id(&self, client_order_id: &str) -> BrokerResult<AlpacaOrder> {
        self.rest
            .json(
                Method::GET,
                "/v2/orders:by_client_order_id",
                &[("client_order_id", client_order_id)],
                None,
                Effect::Read,
            )
            .await
    }

    /// From a revision to the order's newest, along `replaced_by`.
    pub(crate) async fn follow(&self, mut order: AlpacaOrder) -> BrokerResult<AlpacaOrder> {
        for _ in 0..=MAX_REVISION {
            let Some(next) = order.replacement().map(str::to_owned) else {
                break;
            };
            order = self.by_alpaca_id(&next).await?;
        }
        self.remember(&order);
        Ok(order)
    }

    /// The order's newest revision at Alpaca.
    async fn current(&self, order_id: OrderId) -> BrokerResult<AlpacaOrder> {
        let known = self.latest().get(&order_id).map(|(_, id)| id.clone());
        let start = match known {
            Some(id) => self.by_alpaca_id(&id).await?,
            None => self
                .by_client_id(&client_id::encode(order_id, 0))
                .await
                .map_err(|e| match e {
                    BrokerError::NotFound(_) => BrokerError::NotFound(order_id.to_string()),
                    other => other,
                })?,
        };
        self.follow(start).await
    }

    /// After an order request whose outcome is unknown: the order with this client id, if
    /// Alpaca has it.
    async fn resolve(&self, client_order_id: &str, lost: BrokerError) -> BrokerResult<AlpacaOrder> {
        match self.by_client_id(client_order_id).await {
            Ok(order) => {
                tracing::info!(
                    client_order_id,
                    "the order whose answer was lost is at alpaca"
                );
                Ok(order)
            }
            Err(BrokerError::NotFound(_)) => Err(lost),
            Err(other) => {
                tracing::warn!(client_order_id, error = %other, "cannot look the order up");
                Err(lost)
            }
        }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct AlpacaBroker {
    inner: Arc<Inner>,
}

impl AlpacaBroker {
    /// An adapter for the account whose key `config` holds. Sends nothing yet
    /// ([`Broker::account`] checks the key).
    pub fn new(config: AlpacaConfig) -> BrokerResult<Self> {
        let rest = Rest::new(
            config.endpoints.trading.clone(),
            &config.credentials,
            config.timeout,
            config.clock.clone(),
        )?;
        Ok(AlpacaBroker {
            inner: Arc::new(Inner {
                config,
                rest,
                latest: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn state(order: &AlpacaOrder) -> BrokerResult<BrokerOrderState> {
        wire::order_state(order).map_err(malformed)
    }
}

fn unsupported(order: &BrokerOrder, why: &str) -> BrokerResult<()> {
    Err(BrokerError::Unsupported(format!(
        "{}: {why}",
        describe(order)
    )))
}

/// The order request's body.
fn order_body(order: &BrokerOrder) -> Value {
    let crypto = order.asset_class == AssetClass::Crypto;
    let mut body = json!({
        "symbol": wire::alpaca_symbol(order.symbol, crypto),
        "qty": decimal_text(order.quantity.value()),
        "side": order.side.as_str(),
        "type": order.order_type.name(),
        "time_in_force": order.time_in_force.as_str(),
        "client_order_id": client_id::encode(order.order_id, 0),
    });
    if let Some(limit) = order.order_type.limit_price() {
        body["limit_price"] = Value::String(decimal_text(limit.value()));
    }
    if let Some(stop) = order.order_type.stop_price() {
        body["stop_price"] = Value::String(decimal_text(stop.value()));
    }
    body
}

fn replace_body(replace: &Replace, client_order_id: String) -> Value {
    let mut body = json!({ "client_order_id": client_order_id });
    if let Some(qty) = replace.quantity {
        body["qty"] = Value::String(decimal_text(qty.value()));
    }
    if let Some(limit) = replace.limit_price {
        body["limit_price"] = Value::String(decimal_text(limit.value()));
    }
    if let Some(stop) = replace.stop_price {
        body["stop_price"] = Value::String(decimal_text(stop.value()));
    }
    body
}

#[async_trait]
impl Broker for AlpacaBroker {
    fn name(&self) -> &'static str {
        "alpaca"
    }

    fn supports(&self, order: &BrokerOrder) -> BrokerResult<()> {
        let tif = order.time_in_force;
        match order.asset_class {
            AssetClass::Crypto => {
                if matches!(order.order_type, OrderType::Stop { .. }) {
                    return unsupported(
                        order,
                        "Alpaca's crypto orders are market, limit or stop_limit",
                    );
                }
                if !matches!(tif, TimeInForce::Gtc | TimeInForce::Ioc) {
                    return unsupported(order, "Alpaca's crypto orders are gtc or ioc");
                }
                if !order.symbol.as_str().contains(['-', '/']) {
                    return unsupported(order, "a crypto pair is written BASE-QUOTE (BTC-USD)");
                }
            }
            AssetClass::Equity | AssetClass::Etf => {
                let fractional = order.quantity.value().fract() != Decimal::ZERO;
                let plain = matches!(
                    order.order_type,
                    OrderType::Market | OrderType::Limit { .. }
                );
                if fractional && !(plain && tif == TimeInForce::Day) {
                    return unsupported(
                        order,
                        "Alpaca takes fractional quantities only in market or limit day orders",
                    );
                }
            }
            AssetClass::Future | AssetClass::Other => {
                return unsupported(order, "Alpaca trades US equities and crypto");
            }
        }
        if order.quantity.is_zero() {
            return unsupported(order, "the quantity must be above zero");
        }
        Ok(())
    }

    async fn submit(&self, order: &BrokerOrder) -> BrokerResult<BrokerOrderState> {
        self.supports(order)?;
        let body = order_body(order);
        let sent = self
            .inner
            .rest
            .json::<AlpacaOrder>(Method::POST, "/v2/orders", &[], Some(&body), Effect::Write)
            .await;
        let placed = match sent {
            Ok(placed) => placed,
            Err(lost @ BrokerError::UnknownOutcome(_)) => {
                let client_order_id = client_id::encode(order.order_id, 0);
                self.inner.resolve(&client_order_id, lost).await?
            }
            Err(other) => return Err(other),
        };
        self.inner.remember(&placed);
        Self::state(&placed)
    }

    async fn cancel(&self, order_id: OrderId) -> BrokerResult<()> {
        let current = self.inner.current(order_id).await?;
        let path = format!("/v2/orders/{}", current.id);
        self.inner
            .rest
            .empty(Method::DELETE, &path, Effect::Write)
            .await
    }

    async fn replace(&self, replace: &Replace) -> BrokerResult<BrokerOrderState> {
        let current = self.inner.current(replace.order_id).await?;
        let state = Self::state(&current)?;
        if state.filled_quantity > domain::Quantity::ZERO {
            return Err(BrokerError::Unsupported(format!(
                "order {} has filled {}: Alpaca would replace it by a new order whose fills \
                 start again from zero; cancel it and submit the rest",
                replace.order_id, state.filled_quantity
            )));
        }
        let revision = current.stratus_id().map_or(0, |(_, r)| r) + 1;
        if revision > MAX_REVISION {
            return Err(BrokerError::Rejected(format!(
                "order {} has been replaced {MAX_REVISION} times",
                replace.order_id
            )));
        }
        let client_order_id = client_id::encode(replace.order_id, revision);
        let body = replace_body(replace, client_order_id.clone());
        let path = format!("/v2/orders/{}", current.id);
        let sent = self
            .inner
            .rest
            .json::<AlpacaOrder>(Method::PATCH, &path, &[], Some(&body), Effect::Write)
            .await;
        let replacement = match sent {
            Ok(replacement) => replacement,
            Err(lost @ BrokerError::UnknownOutcome(_)) => {
                self.inner.resolve(&client_order_id, lost).await?
            }
            Err(other) => return Err(other),
        };
        self.inner.remember(&replacement);
        Self::state(&replacement)
    }

    async fn order(&self, order_id: OrderId) -> BrokerResult<BrokerOrderState> {
        Self::state(&self.inner.current(order_id).await?)
    }

    async fn open_orders(&self) -> BrokerResult<Vec<BrokerOrderState>> {
        // Oldest first, a page at a time (a full page means there may be more after it).
        let mut states: Vec<(u32, BrokerOrderState)> = Vec::new();
        let mut index: HashMap<OrderId, usize> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let limit = PAGE.to_string();
            let mut query = vec![
                ("status", "open"),
                ("limit", limit.as_str()),
                ("direction", "asc"),
            ];
            if let Some(after) = after.as_deref() {
                query.push(("after", after));
            }
            let page: Vec<AlpacaOrder> = self
                .inner
                .rest
                .json(Method::GET, "/v2/orders", &query, None, Effect::Read)
                .await?;
            for order in &page {
                // Orders placed at Alpaca by other means are not Stratus's to report.
                let Some((order_id, revision)) = order.stratus_id() else {
                    continue;
                };
                let state = match wire::order_state(order) {
                    Ok(state) => state,
                    Err(e) => {
                        tracing::warn!(alpaca_id = %order.id, error = %e, "open order skipped");
                        continue;
                    }
                };
                self.inner.remember(order);
                // While a replace is pending both revisions are open: the newer one counts.
                match index.get(&order_id).copied() {
                    Some(i) => {
                        if let Some(slot) = states.get_mut(i).filter(|(r, _)| *r < revision) {
                            *slot = (revision, state);
                        }
                    }
                    None => {
                        index.insert(order_id, states.len());
                        states.push((revision, state));
                    }
                }
            }
            match page.last().and_then(|o| o.submitted_at.clone()) {
                Some(last) if page.len() == PAGE => after = Some(last),
                _ => break,
            }
        }
        Ok(states
            .into_iter()
            .map(|(_, state)| state)
            .filter(|s| s.status.is_open() || s.status == OrderStatus::New)
            .collect())
    }

    async fn positions(&self) -> BrokerResult<Vec<BrokerPosition>> {
        let positions: Vec<AlpacaPosition> = self
            .inner
            .rest
            .json(Method::GET, "/v2/positions", &[], None, Effect::Read)
            .await?;
        let mut out = Vec::with_capacity(positions.len());
        for position in positions {
            let crypto = position.asset_class.as_deref() == Some("crypto");
            let symbol = wire::stratus_symbol(&position.symbol, crypto).map_err(malformed)?;
            let quantity = position.qty.0.unwrap_or_default();
            // Alpaca signs short quantities; the side says so too, in case it did not.
            let quantity = if position.side.as_deref() == Some("short") && quantity > Decimal::ZERO
            {
                -quantity
            } else {
                quantity
            };
            if quantity.is_zero() {
                continue;
            }
            out.push(BrokerPosition {
                symbol,
                quantity,
                average_price: position.avg_entry_price.0.and_then(|p| Price::new(p).ok()),
            });
        }
        Ok(out)
    }

    async fn account(&self) -> BrokerResult<BrokerAccount> {
        let account: AlpacaAccount = self
            .inner
            .rest
            .json(Method::GET, "/v2/account", &[], None, Effect::Read)
            .await?;
        let currency = match account.currency.as_deref() {
            Some(code) => Currency::parse(code).map_err(|e| {
                BrokerError::Unavailable(format!("alpaca's account currency {code}: {e}"))
            })?,
            None => Currency::USD,
        };
        Ok(BrokerAccount {
            currency,
            cash: Money::new(account.cash.0.unwrap_or_default()),
            buying_power: Money::new(account.buying_power.0.unwrap_or_default()),
        })
    }

    async fn executions(&self) -> BrokerResult<ExecutionFeed> {
        stream::subscribe(self.inner.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alpaca::{Credentials, Endpoints};
    use domain::{Quantity, Side, Symbol};

    fn broker() -> AlpacaBroker {
        let config = AlpacaConfig::new(Endpoints::paper(), Credentials::new("k", "s"));
        AlpacaBroker::new(config).expect("broker")
    }

    fn order(
        symbol: &str,
        class: AssetClass,
        kind: OrderType,
        tif: TimeInForce,
        qty: &str,
    ) -> BrokerOrder {
        BrokerOrder {
            order_id: OrderId::random(),
            symbol: Symbol::parse(symbol).expect("symbol"),
            asset_class: class,
            side: Side::Buy,
            order_type: kind,
            time_in_force: tif,
            quantity: Quantity::parse("qty", qty).expect("qty"),
        }
    }

    #[test]
    fn supports_alpacas_rules() {
        let p = |t: &str| Price::parse("price", t).expect("price");
        let limit = OrderType::Limit {
            limit_price: p("10"),
        };
        let stop = OrderType::Stop {
            stop_price: p("10"),
        };
        let stop_limit = OrderType::StopLimit {
            stop_price: p("10"),
            limit_price: p("11"),
        };
        use AssetClass::{Crypto, Equity, Etf, Future};
        use TimeInForce::{Day, Fok, Gtc, Ioc};
        let yes = [
            order("AAPL", Equity, OrderType::Market, Gtc, "1"),
            order("AAPL", Equity, stop, Day, "1"),
            order("SPY", Etf, stop_limit, Fok, "3"),
            order("AAPL", Equity, limit, Ioc, "1"),
            order("AAPL", Equity, OrderType::Market, Day, "0.5"),
            order("AAPL", Equity, limit, Day, "0.5"),
            order("BTC-USD", Crypto, OrderType::Market, Gtc, "0.001"),
            order("BTC-USD", Crypto, stop_limit, Ioc, "0.001"),
        ];
        for o in &yes {
            assert_eq!(broker().supports(o), Ok(()), "{o:?}");
        }
        let no = [
            order("BTC-USD", Crypto, stop, Gtc, "1"),
            order("BTC-USD", Crypto, limit, Day, "1"),
            order("BTC-USD", Crypto, limit, Fok, "1"),
            order("BTCUSD", Crypto, limit, Gtc, "1"),
            order("AAPL", Equity, stop, Day, "0.5"),
            order("AAPL", Equity, limit, Gtc, "0.5"),
            order("ES", Future, limit, Gtc, "1"),
            order("AAPL", Equity, limit, Gtc, "0"),
        ];
        for o in &no {
            assert!(
                matches!(broker().supports(o), Err(BrokerError::Unsupported(_))),
                "{o:?}"
            );
        }
    }

    #[test]
    fn order_requests_carry_decimal_strings_and_the_client_id() {
        let p = |t: &str| Price::parse("price", t).expect("price");
        let o = order(
            "BTC-USD",
            AssetClass::Crypto,
            OrderType::StopLimit {
                stop_price: p("59500.50"),
                limit_price: p("59000"),
            },
            TimeInForce::Gtc,
            "0.0100",
        );
        let body = order_body(&o);
        assert_eq!(body["symbol"], "BTC/USD");
        assert_eq!(body["qty"], "0.01");
        assert_eq!(body["type"], "stop_limit");
        assert_eq!(body["stop_price"], "59500.5");
        assert_eq!(body["limit_price"], "59000");
        assert_eq!(
            body["client_order_id"],
            client_id::encode(o.order_id, 0).as_str()
        );
    }
}
