//! hostile-args: a test app that answers and then passes huge arguments to the
//! host: a 50 MiB log line, 10 MiB file names (play, record, file manager), a
//! 10 MiB destination, and 1 MiB header values, digit masks, DTMF strings,
//! speech texts and tone names.
//!
//! Every call that can fail must come back as an `error` with a short message
//! (not echoing the argument); the log line cannot fail and must simply be cut
//! short by the host. The app logs each refusal as
//! `hostile-args: <what> refused: <message>` and returns 0 when every argument
//! was refused, or -100 minus the number of arguments the host accepted (or
//! echoed back at length). The host's integration tests use it beside healthy
//! calls. Not for production plugin directories.

use callhost_sdk::{
    AppContext, CallError, CallOptions, Channel, GetDigits, HeaderField, RecordOptions, Result,
    ToneManager, files, log,
};

const MIB: usize = 1 << 20;
/// Longer than this, a refusal message is taken to echo the argument back.
const MAX_SENSIBLE_MESSAGE: usize = 1024;

/// Counts how the host answered each oversized argument.
#[derive(Default)]
struct Tally {
    refused: u32,
    accepted: u32,
}

impl Tally {
    fn check<T>(&mut self, what: &str, outcome: Result<T>) -> Result<()> {
        match outcome {
            Err(CallError::Error(message)) if message.len() <= MAX_SENSIBLE_MESSAGE => {
                log::info(format!("hostile-args: {what} refused: {message}"));
                self.refused += 1;
                Ok(())
            }
            Err(CallError::Error(message)) => {
                log::error(format!(
                    "hostile-args: {what} refused with a {} byte message",
                    message.len()
                ));
                self.accepted += 1;
                Ok(())
            }
            // The caller hung up: nothing more to learn from this call.
            Err(hangup @ CallError::Hangup(_)) => Err(hangup),
            Ok(_) => {
                log::error(format!("hostile-args: {what} was accepted"));
                self.accepted += 1;
                Ok(())
            }
        }
    }
}

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info("hostile-args: passing huge arguments");

    // Cannot fail: the host must cut it short, not log 50 MiB.
    log::info("x".repeat(50 * MIB));
    log::info("hostile-args: the 50 MiB log line came back");

    let mut tally = Tally::default();
    let huge_name = "n".repeat(10 * MIB);
    tally.check("play file name", channel.file_player().play(&huge_name))?;
    tally.check(
        "record file name",
        channel.file_recorder().record(&huge_name),
    )?;
    tally.check(
        "record-start file name",
        channel
            .file_recorder()
            .start(&huge_name, RecordOptions::new()),
    )?;
    tally.check("file manager name", files::exists(&huge_name))?;
    tally.check(
        "call destination",
        channel.call(&huge_name, &CallOptions::new()),
    )?;
    drop(huge_name);

    let big = "9".repeat(MIB);
    tally.check(
        "header value",
        channel
            .sip()
            .set_header_fields_to_send(&[HeaderField::new("X-Huge", big.as_str())]),
    )?;
    tally.check(
        "digit mask",
        channel
            .dtmf_detector()
            .get_digits(GetDigits::new().end(big.as_str()).count(1).timeout(0.0)),
    )?;
    tally.check("DTMF string", channel.dtmf_player().play(&big))?;
    tally.check("speech text", channel.file_player().say(&big))?;
    tally.check(
        "tone name",
        ToneManager::new().create_tone(&big, &[], false),
    )?;
    drop(big);

    let total = tally.refused + tally.accepted;
    if tally.accepted == 0 {
        log::info(format!(
            "hostile-args: all {total} oversized arguments were refused"
        ));
        channel.hang_up()?;
        Ok(0)
    } else {
        log::error(format!(
            "hostile-args: {} of {total} oversized arguments were accepted",
            tally.accepted
        ));
        channel.hang_up()?;
        Ok(-100 - tally.accepted as i32)
    }
}

callhost_sdk::export_app!(main: run);
