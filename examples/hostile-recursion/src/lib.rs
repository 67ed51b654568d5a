//! hostile-recursion: a test app that answers and then recurses without bound.
//!
//! The result of each recursive call passes through `black_box`, so the
//! optimiser can neither turn the recursion into a loop nor drop it. Frames are
//! small, so the engine's wasm stack limit is what stops it (not the guest's
//! own stack in linear memory). The host's integration tests use it to check
//! that stack exhaustion traps this call only, with a clear exit record.
//! Not for production plugin directories.

use callhost_sdk::{AppContext, Channel, Result, log};
use std::hint::black_box;

/// Recurses until the stack runs out; never returns normally.
#[allow(unconditional_recursion)]
#[inline(never)]
fn descend(depth: u64) -> u64 {
    black_box(descend(depth + 1)).wrapping_add(depth)
}

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info("hostile-recursion: recursing without bound");
    let depth = descend(black_box(0));
    // Unreachable in practice: the stack overflows first.
    log::info(format!("hostile-recursion: came back from depth {depth}"));
    Ok(0)
}

callhost_sdk::export_app!(main: run);
