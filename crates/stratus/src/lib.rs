//! The `stratus` package's library: the assembly of the whole platform in one process
//! ([`platform`]), which `stratus up` runs and the end-to-end tests start. The assembly
//! lives here, at the outermost layer, so the streaming core (`core-service`) depends on
//! no HTTP function: this is the one place that knows all of them.

pub mod platform;
