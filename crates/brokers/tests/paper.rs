//! The conformance suite over the in-process paper venue.

use std::sync::Arc;

use async_trait::async_trait;
use brokers::conformance::{Venue, limit};
use brokers::paper::PaperVenue;
use brokers::{Broker, BrokerOrder};
use domain::{AssetClass, Currency, Money, OrderId, Price, Quantity, Side, Symbol, TimeInForce};

struct Paper {
    venue: PaperVenue,
}

#[async_trait]
impl Venue for Paper {
    fn broker(&self) -> Arc<dyn Broker> {
        Arc::new(self.venue.clone())
    }

    fn instrument(&self) -> (Symbol, AssetClass) {
        (Symbol::parse("AAPL").expect("symbol"), AssetClass::Equity)
    }

    async fn trade(&self, symbol: Symbol, price: Price, quantity: Quantity) {
        self.venue.trade(symbol, price, quantity);
    }

    fn unsupported(&self, order_id: OrderId) -> BrokerOrder {
        BrokerOrder {
            order_id,
            time_in_force: TimeInForce::Day,
            ..limit(self, Side::Buy, "1", "10")
        }
    }
}

async fn paper() -> Paper {
    Paper {
        venue: PaperVenue::new(Currency::USD, Money::new(100_000.into())),
    }
}

brokers::broker_conformance!(paper);
