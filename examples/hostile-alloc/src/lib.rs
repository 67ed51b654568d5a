//! hostile-alloc: a test app that answers and then allocates memory without bound.
//!
//! Every block is written to, so the pages are really used. The host's integration
//! tests use it to check that the per-instance memory cap ends this call (the
//! failed allocation aborts the guest, which traps) without hurting other calls.
//! Not for production plugin directories.

use callhost_sdk::{AppContext, Channel, Result, log};
use std::hint::black_box;

const BLOCK_BYTES: usize = 1 << 20;

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info("hostile-alloc: allocating without bound");
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // A non-zero fill forces every page to be written, not just reserved.
        hoard.push(black_box(vec![0xA5u8; BLOCK_BYTES]));
        if hoard.len().is_multiple_of(64) {
            log::info(format!("hostile-alloc: holding {} MiB", hoard.len()));
        }
    }
}

callhost_sdk::export_app!(main: run);
