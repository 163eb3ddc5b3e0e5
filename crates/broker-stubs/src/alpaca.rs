//! The Alpaca stub.
