//! callhost binary.
fn main() {}
