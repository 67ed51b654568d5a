//! Call-progress status callbacks (seed 002, the `statusCallback` /
//! `statusCallbackEvent` attributes of `<Dial>`/`<Sip>`): the host POSTs to an
//! operator's URL when an outbound call is initiated, starts ringing, is answered and
//! completes.
//!
//! A [`StatusReporter`] belongs to one call. [`StatusReporter::report`] never blocks
//! the call: events go through a small bounded queue to a background task that
//! delivers them in order, one at a time, retrying connection errors and 5xx answers
//! with backoff and giving up on 4xx. The task ends after `completed` has been
//! delivered (or given up on), or when the reporter is dropped and the queue is empty.
//!
//! Wire format: `application/x-www-form-urlencoded` (the WHATWG URL standard's
//! urlencoded serializer) with Twilio/SignalWire field names; `Timestamp` is an
//! RFC 2822 §3.3 date-time in UTC, written by [`rfc2822_date`] (no date crate).
//!
//! May depend on [`crate::admin::http_client`], tokio and tracing; no SIP, media or
//! Wasm types (the call task passes plain strings and numbers in [`StatusFields`]).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, warn};

use crate::admin::http_client::{self, HttpUrl, Payload};

/// Events waiting for delivery per call; a call produces at most four, so a full
/// queue means the receiver is stuck far behind and dropping is the right answer.
pub const QUEUE_CAPACITY: usize = 8;

/// A call-progress event an operator can subscribe to (seed 002 "Status values for
/// statusCallbackEvent").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusEvent {
    /// Dialing has begun (the INVITE is about to be sent).
    Initiated,
    /// The callee is ringing (180/183).
    Ringing,
    /// The callee answered (200 OK).
    Answered,
    /// The call is over, whatever the reason (busy, cancelled, completed, failed,
    /// no answer).
    Completed,
}

impl StatusEvent {
    /// All events, in call order.
    pub const ALL: [StatusEvent; 4] = [
        StatusEvent::Initiated,
        StatusEvent::Ringing,
        StatusEvent::Answered,
        StatusEvent::Completed,
    ];

    /// The subscription name (`statusCallbackEvent` value and `StatusCallbackEvent` field).
    pub fn name(self) -> &'static str {
        match self {
            StatusEvent::Initiated => "initiated",
            StatusEvent::Ringing => "ringing",
            StatusEvent::Answered => "answered",
            StatusEvent::Completed => "completed",
        }
    }

    /// The `CallStatus` field value (Twilio's names: an answered call is `in-progress`).
    pub fn call_status(self) -> &'static str {
        match self {
            StatusEvent::Initiated => "initiated",
            StatusEvent::Ringing => "ringing",
            StatusEvent::Answered => "in-progress",
            StatusEvent::Completed => "completed",
        }
    }
}

impl fmt::Display for StatusEvent {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for StatusEvent {
    type Err = StatusCallbackError;

    /// Parses a subscription name, case-insensitively.
    fn from_str(text: &str) -> Result<StatusEvent, StatusCallbackError> {
        StatusEvent::ALL
            .into_iter()
            .find(|event| event.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| StatusCallbackError::UnknownEvent {
                name: text.chars().take(64).collect(),
            })
    }
}

/// A status-callback subscription is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusCallbackError {
    /// The URL is not an `http://` URL this host can reach.
    #[error("status callback: {0}")]
    InvalidUrl(#[from] http_client::InvalidUrl),
    /// An event name is not one of initiated, ringing, answered, completed.
    #[error(
        "unknown status callback event `{name}` (expected initiated, ringing, answered or completed)"
    )]
    UnknownEvent {
        /// The name as given.
        name: String,
    },
    /// The subscription lists no events.
    #[error("status callback events are empty")]
    NoEvents,
}

/// Where to send which call-progress events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallbackSpec {
    /// The operator's URL; `http://` only for now.
    pub url: String,
    /// The subscribed events; others are not sent.
    pub events: Vec<StatusEvent>,
}

impl StatusCallbackSpec {
    /// A checked subscription: the URL must be `http://` and `events` non-empty
    /// (duplicates are removed).
    pub fn new(
        url: impl Into<String>,
        events: Vec<StatusEvent>,
    ) -> Result<StatusCallbackSpec, StatusCallbackError> {
        let url = url.into();
        HttpUrl::parse(&url)?;
        if events.is_empty() {
            return Err(StatusCallbackError::NoEvents);
        }
        let mut unique = Vec::with_capacity(events.len());
        for event in events {
            if !unique.contains(&event) {
                unique.push(event);
            }
        }
        Ok(StatusCallbackSpec {
            url,
            events: unique,
        })
    }
}

/// What the call task knows about the call when an event happens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFields {
    /// The Call-ID of the outbound INVITE (`SipCallId`).
    pub sip_call_id: String,
    /// The final or provisional response code that caused the event (`SipResponseCode`).
    pub sip_response_code: Option<u16>,
    /// How long the call lasted (`CallDuration`, whole seconds); sent on `completed` only.
    pub call_duration: Option<Duration>,
    /// The X- headers of the 200 OK (`SipHeader_X-Name=value`); names not starting with
    /// `X-` are ignored.
    pub sip_headers: Vec<(String, String)>,
}

/// How hard to try one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Pauses before the second, third, … attempt; attempts = `backoff.len() + 1`.
    pub backoff: Vec<Duration>,
    /// Deadline of each attempt (connect, send, read the answer).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 0.5 s, 1 s, 2 s and 4 s apart, 5 s each.
    fn default() -> RetryPolicy {
        RetryPolicy {
            backoff: [500, 1000, 2000, 4000]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// An event waiting in the queue, stamped when it happened (not when it is sent).
#[derive(Debug)]
struct Queued {
    event: StatusEvent,
    fields: StatusFields,
    at: SystemTime,
}

/// The per-call status-callback sender.
///
/// Lifecycle: created with [`StatusReporter::spawn`] when the call starts (inside a
/// tokio runtime); [`report`](StatusReporter::report) as the call progresses; dropped
/// (or [`finish`](StatusReporter::finish)ed) when the call task ends. Events already
/// queued are still delivered after the reporter is gone; the background task stops
/// after `completed` or once the queue is drained.
#[derive(Debug)]
pub struct StatusReporter {
    queue: mpsc::Sender<Queued>,
    events: Vec<StatusEvent>,
    call_sid: String,
    task: JoinHandle<()>,
}

impl StatusReporter {
    /// Start the delivery task for one call with the default [`RetryPolicy`].
    /// `call_sid` is the host's id for the call (the instance id), sent as `CallSid`.
    ///
    /// Must be called within a tokio runtime. The task runs in the current tracing span.
    pub fn spawn(spec: StatusCallbackSpec, call_sid: String) -> StatusReporter {
        StatusReporter::spawn_with_policy(spec, call_sid, RetryPolicy::default())
    }

    /// [`spawn`](StatusReporter::spawn) with an explicit retry policy.
    pub fn spawn_with_policy(
        spec: StatusCallbackSpec,
        call_sid: String,
        policy: RetryPolicy,
    ) -> StatusReporter {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let url = HttpUrl::parse(&spec.url);
        if let Err(error) = &url {
            warn!(call_sid, %error, "status callbacks disabled for this call");
        }
        let task = tokio::spawn(
            deliver_all(url.ok(), call_sid.clone(), receiver, policy)
                .instrument(tracing::Span::current()),
        );
        StatusReporter {
            queue,
            events: spec.events,
            call_sid,
            task,
        }
    }

    /// Queue `event` for delivery if the subscription includes it. Never blocks: when
    /// the queue is full (receiver far behind) or delivery has ended, the event is
    /// dropped with a warning.
    pub fn report(&self, event: StatusEvent, fields: StatusFields) {
        if !self.events.contains(&event) {
            return;
        }
        let queued = Queued {
            event,
            fields,
            at: SystemTime::now(),
        };
        match self.queue.try_send(queued) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(call_sid = %self.call_sid, %event, "status callback queue full: event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                warn!(call_sid = %self.call_sid, %event, "status callback delivery has ended: event dropped");
            }
        }
    }

    /// Stop accepting events; queued ones are still delivered. The returned handle
    /// completes when delivery is over (await it to wait; drop it to detach).
    pub fn finish(self) -> JoinHandle<()> {
        self.task
    }
}

/// The delivery task: in order, one at a time, until `completed` or the queue closes.
async fn deliver_all(
    url: Option<HttpUrl>,
    call_sid: String,
    mut receiver: mpsc::Receiver<Queued>,
    policy: RetryPolicy,
) {
    let Some(url) = url else { return };
    while let Some(queued) = receiver.recv().await {
        let body = form_body(&call_sid, &queued);
        deliver(&url, &call_sid, queued.event, body, &policy).await;
        if queued.event == StatusEvent::Completed {
            break;
        }
    }
}

/// One event, with retries. Returns when it was accepted, refused (4xx) or given up.
async fn deliver(
    url: &HttpUrl,
    call_sid: &str,
    event: StatusEvent,
    body: Bytes,
    policy: &RetryPolicy,
) {
    let attempts = policy.backoff.len() + 1;
    for attempt in 1..=attempts {
        let payload = Payload {
            content_type: "application/x-www-form-urlencoded",
            body: body.clone(),
        };
        let outcome = http_client::post(url, payload, None, policy.request_timeout).await;
        match outcome {
            Ok(response) if response.status.is_success() || response.status.is_redirection() => {
                debug!(call_sid, %event, %url, status = response.status.as_u16(), "status callback delivered");
                return;
            }
            Ok(response) if response.status.is_client_error() => {
                // The receiver rejected this request; sending it again will not help.
                warn!(call_sid, %event, %url, status = response.status.as_u16(), "status callback refused; not retried");
                return;
            }
            Ok(response) => {
                warn!(call_sid, %event, %url, status = response.status.as_u16(), attempt, attempts, "status callback failed");
            }
            Err(error) => {
                warn!(call_sid, %event, %url, %error, attempt, attempts, "status callback failed");
            }
        }
        if let Some(pause) = policy.backoff.get(attempt - 1) {
            tokio::time::sleep(*pause).await;
        }
    }
    warn!(call_sid, %event, %url, attempts, "status callback given up");
}

/// The urlencoded request body for one event.
fn form_body(call_sid: &str, queued: &Queued) -> Bytes {
    let fields = &queued.fields;
    let mut form = Form::default();
    form.field("CallSid", call_sid);
    form.field("SipCallId", &fields.sip_call_id);
    form.field("CallStatus", queued.event.call_status());
    form.field("StatusCallbackEvent", queued.event.name());
    form.field("CallbackSource", "call-progress-events");
    if let Some(code) = fields.sip_response_code {
        form.field("SipResponseCode", &code.to_string());
    }
    if queued.event == StatusEvent::Completed
        && let Some(duration) = fields.call_duration
    {
        form.field("CallDuration", &duration.as_secs().to_string());
    }
    form.field("Timestamp", &rfc2822_date(queued.at));
    for (name, value) in &fields.sip_headers {
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("x-") {
            form.field(&format!("SipHeader_{name}"), value);
        }
    }
    Bytes::from(form.text)
}

/// An `application/x-www-form-urlencoded` body under construction.
#[derive(Default)]
struct Form {
    text: String,
}

impl Form {
    fn field(&mut self, name: &str, value: &str) {
        if !self.text.is_empty() {
            self.text.push('&');
        }
        urlencode_into(&mut self.text, name);
        self.text.push('=');
        urlencode_into(&mut self.text, value);
    }
}

/// The urlencoded byte serializer: ASCII alphanumerics and `*-._` stay, space becomes
/// `+`, every other byte of the UTF-8 encoding becomes `%XX`.
fn urlencode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
}

/// `time` as an RFC 2822 §3.3 date-time in UTC, e.g. `Mon, 23 Nov 2026 10:00:00 +0000`.
/// Times before 1970 are written as the epoch.
pub fn rfc2822_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4) % 7) as usize];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, with eras of 400 years
/// starting on 0000-03-01).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn rfc2822_dates_match_known_instants() {
        assert_eq!(rfc2822_date(at(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc2822_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            rfc2822_date(at(951_868_799)),
            "Tue, 29 Feb 2000 23:59:59 +0000"
        );
        assert_eq!(
            rfc2822_date(at(1_234_567_890)),
            "Fri, 13 Feb 2009 23:31:30 +0000"
        );
        assert_eq!(
            rfc2822_date(at(1_795_428_000)),
            "Mon, 23 Nov 2026 10:00:00 +0000"
        );
        assert_eq!(
            rfc2822_date(at(4_107_542_400)),
            "Mon, 01 Mar 2100 00:00:00 +0000"
        );
        assert_eq!(
            rfc2822_date(UNIX_EPOCH - Duration::from_secs(5)),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
    }

    #[test]
    fn urlencoding_follows_the_form_serializer() {
        let mut out = String::new();
        urlencode_into(&mut out, "a b+c&d=é/~*-._");
        assert_eq!(out, "a+b%2Bc%26d%3D%C3%A9%2F%7E*-._");
    }

    #[test]
    fn event_names_parse_case_insensitively() {
        assert_eq!("Ringing".parse::<StatusEvent>(), Ok(StatusEvent::Ringing));
        assert_eq!(
            " completed ".parse::<StatusEvent>(),
            Ok(StatusEvent::Completed)
        );
        assert_eq!(
            "in-progress".parse::<StatusEvent>(),
            Err(StatusCallbackError::UnknownEvent {
                name: "in-progress".into()
            })
        );
        assert_eq!(StatusEvent::Answered.call_status(), "in-progress");
    }

    #[test]
    fn specs_are_checked() {
        let spec = StatusCallbackSpec::new(
            "http://127.0.0.1:9/cb",
            vec![StatusEvent::Ringing, StatusEvent::Ringing],
        )
        .unwrap();
        assert_eq!(spec.events, vec![StatusEvent::Ringing]);
        assert!(matches!(
            StatusCallbackSpec::new("https://example.com/cb", vec![StatusEvent::Completed]),
            Err(StatusCallbackError::InvalidUrl(_))
        ));
        assert_eq!(
            StatusCallbackSpec::new("http://example.com/", vec![]),
            Err(StatusCallbackError::NoEvents)
        );
    }

    #[test]
    fn the_body_carries_the_seed_fields() {
        let queued = Queued {
            event: StatusEvent::Completed,
            fields: StatusFields {
                sip_call_id: "abc@host".into(),
                sip_response_code: Some(200),
                call_duration: Some(Duration::from_millis(61_900)),
                sip_headers: vec![
                    ("X-Account".into(), "7 7".into()),
                    ("Contact".into(), "<sip:x>".into()),
                ],
            },
            at: at(1_234_567_890),
        };
        let body = form_body("call-1", &queued);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "CallSid=call-1&SipCallId=abc%40host&CallStatus=completed&StatusCallbackEvent=completed\
             &CallbackSource=call-progress-events&SipResponseCode=200&CallDuration=61\
             &Timestamp=Fri%2C+13+Feb+2009+23%3A31%3A30+%2B0000&SipHeader_X-Account=7+7"
        );

        // CallDuration belongs to `completed` only.
        let ringing = Queued {
            event: StatusEvent::Ringing,
            ..queued
        };
        let body = form_body("call-1", &ringing);
        assert!(!std::str::from_utf8(&body).unwrap().contains("CallDuration"));
    }
}
