//! The conformance suites against the in-memory adapters.

use std::sync::Arc;

use store::kv::{Clock, KvTable};
use store::memory::{MemoryKv, MemoryStream};
use store::stream::StreamLog;

async fn kv(clock: Clock) -> Arc<dyn KvTable> {
    Arc::new(MemoryKv::with_clock(clock))
}

async fn stream() -> Arc<dyn StreamLog> {
    Arc::new(MemoryStream::new(3))
}

mod kv_table {
    store::kv_conformance!(super::kv);
}

mod stream_log {
    store::stream_conformance!(super::stream);
}
