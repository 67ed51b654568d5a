//! speaking-clock: the UAS tutorial's text-to-speech example (version 0.0.6b).
//!
//! An outbound app: calls the destination in the outbound parameters from the
//! origin in the application parameters (retrying every 10 s for a minute while
//! it is busy), then says a welcome, the date and the time (SSML `say-as`, and
//! the tutorial's vendor `<acu-engine>`/`<voice>` tags, which the host ignores
//! or maps) and waits for the far end to hang up. The clock is UTC.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use callhost_sdk::{
    AppContext, CallCause, CallError, CallOptions, CallState, Channel, PlayerCause, Result, log,
};

/// (year, month, day, hour, minute, second) in UTC for `seconds` since 1970.
fn civil(seconds: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Days to a proleptic Gregorian date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day, time / 3600, time / 60 % 60, time % 60)
}

fn say(channel: &Channel, text: &str) -> Result<()> {
    let cause = channel.file_player().say(text)?;
    if cause != PlayerCause::Normal {
        return Err(CallError::error(format!(
            "TTS player returned {cause}: expected {}",
            PlayerCause::Normal
        )));
    }
    Ok(())
}

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let end_time = Instant::now() + Duration::from_secs(60);
    let destination = context.outbound_parameters.unwrap_or_default();
    let options = CallOptions::new().call_from(context.application_parameters);
    let outcome = (|| -> Result<()> {
        while channel.call(&destination, &options)? != CallState::Answered {
            let cause = channel.cause();
            if cause != Some(CallCause::Busy) {
                let cause = cause.map(|cause| cause.to_string()).unwrap_or_default();
                return Err(CallError::hangup(format!(
                    "Call destination returned cause {cause}"
                )));
            }
            if Instant::now() > end_time {
                return Err(CallError::hangup("Call destination is busy."));
            }
            std::thread::sleep(Duration::from_secs(10));
        }
        // The call has been answered: play some text to speech.
        say(&channel, "Welcome to the speaking clock")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| CallError::error("the clock is before 1970"))?
            .as_secs();
        let (year, month, day, hour, minute, second) = civil(now);
        // SSML says the text is a date.
        say(
            &channel,
            &format!(
                "The date is <say-as interpret-as='date' format='ymd'>{year}/{month:02}/{day:02}</say-as>"
            ),
        )?;
        // A particular engine and voice (the host maps or ignores them), and a time.
        say(
            &channel,
            &format!(
                "<acu-engine name='Ivona'><voice name='Brian'>The time is <say-as interpret-as='time' format='hms24'>{hour:02}:{minute:02}:{second:02}</say-as></voice></acu-engine>"
            ),
        )?;
        log::info("the time has been told");
        // Now wait for the call to hang up.
        channel.wait_for_idle(None)?;
        Ok(())
    })();
    match outcome {
        Ok(()) => Ok(0),
        Err(CallError::Hangup(reason)) => {
            log::warning(format!("Caught a Hangup exception: {reason}"));
            Ok(0)
        }
        Err(error) => {
            log::error(format!("Caught an Error exception: {error}"));
            Ok(-101)
        }
    }
}

callhost_sdk::export_app!(version: "0.0.6b", main: run);

#[cfg(test)]
mod tests {
    use super::civil;

    #[test]
    fn dates_from_unix_seconds() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-23T11:15:40Z
        assert_eq!(civil(1_795_432_540), (2026, 11, 23, 11, 15, 40));
        // 2000-02-29T23:59:59Z, a leap day.
        assert_eq!(civil(951_868_799), (2000, 2, 29, 23, 59, 59));
    }
}
