//! callhost-runtime.

pub mod port;
