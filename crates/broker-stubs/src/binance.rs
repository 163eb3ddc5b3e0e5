//! The Binance stub.
