//! Alpaca (Trading API v2 and the market-data stream): see the helper notes.
