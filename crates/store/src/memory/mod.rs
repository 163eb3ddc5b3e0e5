//! In-memory adapters, for unit tests of the code above the ports. They implement the
//! same contracts (and pass the same conformance suites) as the real adapters.

mod kv;
mod records;
mod stream;

pub use kv::MemoryKv;
pub use records::MemoryRecords;
pub use stream::MemoryStream;
