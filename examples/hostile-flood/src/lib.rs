//! hostile-flood: a test app that answers and then floods the host with calls.
//!
//! In a tight loop without end it writes bursts of log lines (thousands a second),
//! asks for tiny plays (a file that is not there, so each comes straight back) and
//! reads digits with every timeout at zero. It ignores every error, including the
//! hangup, so only the host can stop it. The host's integration tests use it to
//! check that such a call is ended by its CPU budget, that its log output is
//! rate-limited (with a note of how much was dropped) and that it starves no other
//! call. Not for production plugin directories.

use callhost_sdk::{AppContext, Channel, GetDigits, Result, log};

/// Log lines written between two rounds of plays and digit reads.
const LINES_PER_ROUND: u32 = 200;

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info("hostile-flood: flooding the host with calls");
    let player = channel.file_player();
    let detector = channel.dtmf_detector();
    let instant = GetDigits::new()
        .count(1)
        .predigits_timeout(0.0)
        .interdigit_timeout(0.0)
        .timeout(0.0);
    let mut round: u64 = 0;
    loop {
        for line in 0..LINES_PER_ROUND {
            log::info(format!("hostile-flood: round {round} line {line}"));
        }
        // Errors are the point here: a hostile app never stops on its own.
        let _ = player.play("tiny.wav");
        let _ = player.start("tiny.wav");
        let _ = detector.get_digits(instant.clone());
        round += 1;
    }
}

callhost_sdk::export_app!(main: run);
