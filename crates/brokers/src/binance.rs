//! Binance Spot: see the helper notes.
