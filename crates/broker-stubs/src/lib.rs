//! Local stand-ins for the brokers' APIs (see the crate description): `alpaca` and
//! `binance`, each an axum server on loopback with a handle to drive it from a test
//! (print a trade, inject a fault, drop the streams).

pub mod alpaca;
pub mod binance;
