//! In-memory adapters, for unit tests of the code above the ports. They implement the
//! same contracts (and pass the same conformance suites) as the real adapters.

mod kv;
mod stream;

pub use kv::MemoryKv;
pub use stream::MemoryStream;
