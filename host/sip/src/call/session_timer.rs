//! Session timers (RFC 4028): negotiating `Session-Expires` on the INVITE
//! that creates a call and on every re-INVITE or UPDATE, refreshing the
//! session when we are the refresher, and ending the call with BYE when the
//! peer is the refresher and stops refreshing.
//!
//! What lives here: reading and writing the `Session-Expires`, `Min-SE`,
//! `Supported`/`Require: timer` headers ([`as_uas`], [`request_headers`],
//! [`from_response`]) and the per-call timer task ([`run`]). Sending the
//! refresh itself is `requests::refresh_session`.
//!
//! The `refresher` parameter is relative to the transaction that carries it
//! (`uac` = whoever sent that request), so the call stores it as
//! [`Refresher::Us`] / [`Refresher::Them`].
//!
//! RFC 4028 §4 (Min-SE floor, 422), §7 (UAC behaviour: Supported: timer,
//! Session-Expires, retry after 422 with the larger Min-SE), §9 (UAS
//! behaviour: refresher choice, Require: timer only when the UAC supports
//! it), §10 (refresh at half the interval; without a refresh, BYE
//! min(32, interval/3) seconds before it runs out; 408/481 to a refresh ends
//! the call).

use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::{Header, Headers, Request, Response};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{CallEvent, CallShared, EndCause, Phase, requests};
use crate::message::header_list;
use crate::wire::{param, split_list};

/// The option tag of RFC 4028.
pub(crate) const TIMER: &str = "timer";

/// RFC 4028 §4: the smallest Min-SE a deployment should use.
pub const RFC_MIN_SE: Duration = Duration::from_secs(90);

/// Session-timer policy of the endpoint. Durations are whole seconds on the
/// wire (fractions are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerSettings {
    /// The interval callhost asks for on calls it places and inserts on
    /// calls it answers when the caller asked for none. Zero: ask for none
    /// (a peer's request is still honoured). Default 1800 s.
    pub session_expires: Duration,
    /// The shortest interval accepted; shorter requests get 422 with this
    /// as Min-SE. RFC 4028 wants at least 90 s ([`RFC_MIN_SE`]); smaller
    /// values exist for tests. Default 90 s.
    pub min_se: Duration,
}

impl Default for SessionTimerSettings {
    fn default() -> Self {
        SessionTimerSettings {
            session_expires: Duration::from_secs(1800),
            min_se: RFC_MIN_SE,
        }
    }
}

impl SessionTimerSettings {
    fn wanted(&self) -> Option<u32> {
        let seconds = seconds(self.session_expires);
        (seconds > 0).then_some(seconds.max(self.min_se_seconds()))
    }

    pub(crate) fn min_se_seconds(&self) -> u32 {
        seconds(self.min_se).max(1)
    }
}

fn seconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}

/// Which side sends the refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresher {
    Us,
    Them,
}

/// A negotiated session timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    pub interval: u32,
    pub refresher: Refresher,
}

impl SessionTimer {
    /// How long after the last refresh we act: the refresher refreshes at
    /// half the interval, the other side gives up min(32, interval/3)
    /// seconds before the end (RFC 4028 §10).
    fn wait(&self) -> Duration {
        let interval = Duration::from_secs(u64::from(self.interval));
        match self.refresher {
            Refresher::Us => interval / 2,
            Refresher::Them => interval - Duration::from_secs(32).min(interval / 3),
        }
    }
}

/// Every value of header `name` (any case), comma lists split.
fn values(headers: &Headers, name: &str) -> Vec<String> {
    header_list(headers)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, value)| {
            split_list(&value)
                .into_iter()
                .map(|v| v.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The peer lists `timer` in Supported or Require.
pub(crate) fn supports_timer(headers: &Headers) -> bool {
    ["Supported", "Require"].iter().any(|name| {
        values(headers, name)
            .iter()
            .any(|tag| tag.eq_ignore_ascii_case(TIMER))
    })
}

/// `Session-Expires: delta[;refresher=uac|uas]` (compact `x`, already
/// expanded by the parser or by our validator).
fn session_expires(headers: &Headers) -> Option<(u32, Option<String>)> {
    let value = values(headers, "Session-Expires").into_iter().next()?;
    let (delta, params) = match value.find(';') {
        Some(at) => (&value[..at], &value[at..]),
        None => (value.as_str(), ""),
    };
    let delta = delta.trim().parse().ok()?;
    let refresher = param(params, "refresher").map(|r| r.to_ascii_lowercase());
    Some((delta, refresher))
}

/// `Min-SE: delta` (its parameters ignored).
pub(crate) fn min_se(headers: &Headers) -> Option<u32> {
    let value = values(headers, "Min-SE").into_iter().next()?;
    value.split(';').next()?.trim().parse().ok()
}

fn session_expires_header(interval: u32, refresher: Option<&str>) -> Header {
    let value = match refresher {
        Some(refresher) => format!("{interval};refresher={refresher}"),
        None => interval.to_string(),
    };
    Header::Other("Session-Expires".to_string(), value)
}

/// What to do with a session-timer request we received.
#[derive(Debug, PartialEq)]
pub(crate) enum UasDecision {
    /// The interval is below our Min-SE: answer 422 with this Min-SE.
    TooSmall { min_se: u32 },
    /// Answer 2xx with `headers`; the call's timer becomes `timer`.
    Accept {
        timer: Option<SessionTimer>,
        headers: Vec<Header>,
    },
}

/// RFC 4028 §9: the session timer for a 2xx to `request` (a dialog-creating
/// INVITE, a re-INVITE or an UPDATE from the peer).
pub(crate) fn as_uas(request: &Request, settings: &SessionTimerSettings) -> UasDecision {
    let peer_supports = supports_timer(&request.headers);
    let local_min = settings.min_se_seconds();
    let floor = min_se(&request.headers).unwrap_or(0).max(local_min);
    let (interval, refresher) = match session_expires(&request.headers) {
        Some((asked, _)) if asked < local_min => {
            return UasDecision::TooSmall { min_se: local_min };
        }
        Some((asked, refresher)) => {
            // We may shorten the interval to our own wish, not below anyone's Min-SE.
            let interval = settings
                .wanted()
                .map_or(asked, |wanted| asked.min(wanted).max(floor));
            let refresher = match refresher.as_deref() {
                Some("uac") if peer_supports => Refresher::Them,
                Some("uas") => Refresher::Us,
                // A UAC without timer support cannot be told to refresh.
                _ if !peer_supports => Refresher::Us,
                _ => Refresher::Them,
            };
            (interval, refresher)
        }
        None => match settings.wanted() {
            // We want a timer the caller did not ask for: we refresh it.
            Some(wanted) => (wanted.max(floor), Refresher::Us),
            None => {
                return UasDecision::Accept {
                    timer: None,
                    headers: Vec::new(),
                };
            }
        },
    };
    let mut headers = vec![session_expires_header(
        interval,
        Some(match refresher {
            Refresher::Them => "uac",
            Refresher::Us => "uas",
        }),
    )];
    if peer_supports {
        headers.push(Header::Require(TIMER.into()));
    }
    UasDecision::Accept {
        timer: Some(SessionTimer {
            interval,
            refresher,
        }),
        headers,
    }
}

/// The 422 answer to a too-short interval (RFC 4028 §9).
pub(crate) fn too_small_headers(min_se: u32) -> Vec<Header> {
    vec![Header::Other("Min-SE".to_string(), min_se.to_string())]
}

/// Headers for an INVITE or UPDATE we send (RFC 4028 §7.1): `Supported:
/// timer`, and `Session-Expires` (at least `floor`, raised by a 422) with
/// `Min-SE`. With a running timer the interval is kept and the refresher
/// named from our side of this request.
pub(crate) fn request_headers(
    current: Option<SessionTimer>,
    settings: &SessionTimerSettings,
    floor: u32,
) -> Vec<Header> {
    let mut headers = vec![Header::Supported(TIMER.into())];
    let (interval, refresher) = match current {
        Some(timer) => (
            Some(timer.interval),
            Some(match timer.refresher {
                Refresher::Us => "uac",
                Refresher::Them => "uas",
            }),
        ),
        None => (settings.wanted(), None),
    };
    if let Some(interval) = interval {
        let interval = interval.max(floor);
        headers.push(session_expires_header(interval, refresher));
        headers.push(Header::Other(
            "Min-SE".to_string(),
            settings.min_se_seconds().max(floor).to_string(),
        ));
    }
    headers
}

/// RFC 4028 §7.2: the timer a 2xx to our INVITE or UPDATE sets; `None`
/// when the 2xx has no Session-Expires (no session timer).
pub(crate) fn from_response(response: &Response) -> Option<SessionTimer> {
    let (interval, refresher) = session_expires(&response.headers)?;
    let refresher = match refresher.as_deref() {
        Some("uas") => Refresher::Them,
        // `uac` is us; a 2xx must name one, and if it does not, someone has to.
        _ => Refresher::Us,
    };
    Some(SessionTimer {
        interval: interval.max(1),
        refresher,
    })
}

/// The session timer of one call, from its first 2xx until the call ends:
/// refresh when we are the refresher, BYE when the peer let it run out.
/// Every change of the call's timer (a refresh either way) restarts the wait.
pub(crate) async fn run(shared: Arc<CallShared>) {
    let mut timers = shared.session.subscribe();
    let mut phases = shared.phase.subscribe();
    loop {
        let current = *timers.borrow_and_update();
        let deadline = current.map(|timer| Instant::now() + timer.wait());
        tokio::select! {
            _ = phases.wait_for(|phase| matches!(phase, Phase::Ended(_))) => return,
            changed = timers.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            () = sleep_until(deadline) => {}
        }
        let Some(timer) = current else { continue };
        match timer.refresher {
            // Boxed: the refresh's and the BYE's futures are large and live only for a
            // moment, while this task waits for the whole call.
            Refresher::Us => Box::pin(requests::refresh_session(&shared, timer)).await,
            Refresher::Them => {
                Box::pin(expire(&shared, timer)).await;
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The peer did not refresh in time: end the call with BYE (RFC 4028 §10).
async fn expire(shared: &CallShared, timer: SessionTimer) {
    let reason = format!(
        "session timer expired: the peer did not refresh the session within {} s",
        timer.interval
    );
    warn!(call_id = %shared.call_id, interval = timer.interval, "session timer expired; sending BYE");
    if shared.end(EndCause::SessionExpired, Some(CallEvent::Ended { reason }))
        && let Err(error) = requests::send_bye(shared).await
    {
        debug!(call_id = %shared.call_id, %error, "BYE after the session expired failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:svc@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKabc\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\n\
             To: <sip:svc@127.0.0.1>\r\n\
             Call-ID: c1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_str()).expect("parse")
    }

    fn settings(session_expires: u64, min_se: u64) -> SessionTimerSettings {
        SessionTimerSettings {
            session_expires: Duration::from_secs(session_expires),
            min_se: Duration::from_secs(min_se),
        }
    }

    fn texts(headers: &[Header]) -> Vec<String> {
        headers.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn uas_honours_the_callers_refresher_and_requires_timer() {
        let request = invite("Supported: timer\r\nSession-Expires: 600;refresher=uac\r\n");
        let UasDecision::Accept { timer, headers } = as_uas(&request, &settings(1800, 90)) else {
            panic!("accepted");
        };
        assert_eq!(
            timer,
            Some(SessionTimer {
                interval: 600,
                refresher: Refresher::Them
            })
        );
        assert_eq!(
            texts(&headers),
            ["Session-Expires: 600;refresher=uac", "Require: timer"]
        );
    }

    #[test]
    fn uas_shortens_to_its_wish_but_not_below_min_se() {
        let request = invite("Supported: timer\r\nSession-Expires: 3600\r\nMin-SE: 1000\r\n");
        let UasDecision::Accept { timer, .. } = as_uas(&request, &settings(600, 90)) else {
            panic!("accepted");
        };
        assert_eq!(timer.map(|t| t.interval), Some(1000));
        assert_eq!(timer.map(|t| t.refresher), Some(Refresher::Them));
    }

    #[test]
    fn uas_refreshes_itself_for_a_caller_without_timer_support() {
        // Compact form `x` of Session-Expires; `refresher=uac` cannot bind a
        // UAC that does not support the extension.
        let request = invite("x: 300;refresher=uac\r\n");
        let UasDecision::Accept { timer, headers } = as_uas(&request, &settings(0, 90)) else {
            panic!("accepted");
        };
        assert_eq!(timer.map(|t| t.refresher), Some(Refresher::Us));
        assert_eq!(texts(&headers), ["Session-Expires: 300;refresher=uas"]);
    }

    #[test]
    fn uas_inserts_a_timer_only_when_configured() {
        let plain = invite("Supported: timer\r\n");
        let UasDecision::Accept { timer, headers } = as_uas(&plain, &settings(120, 90)) else {
            panic!("accepted");
        };
        assert_eq!(
            timer,
            Some(SessionTimer {
                interval: 120,
                refresher: Refresher::Us
            })
        );
        assert_eq!(
            texts(&headers),
            ["Session-Expires: 120;refresher=uas", "Require: timer"]
        );
        assert_eq!(
            as_uas(&plain, &settings(0, 90)),
            UasDecision::Accept {
                timer: None,
                headers: Vec::new()
            }
        );
    }

    #[test]
    fn uas_refuses_an_interval_below_min_se() {
        let request = invite("Supported: timer\r\nSession-Expires: 60\r\n");
        assert_eq!(
            as_uas(&request, &settings(1800, 90)),
            UasDecision::TooSmall { min_se: 90 }
        );
        assert_eq!(texts(&too_small_headers(90)), ["Min-SE: 90"]);
    }

    #[test]
    fn uac_headers_and_the_answer() {
        let fresh = request_headers(None, &settings(1800, 90), 0);
        assert_eq!(
            texts(&fresh),
            ["Supported: timer", "Session-Expires: 1800", "Min-SE: 90"]
        );
        // After a 422 with Min-SE: 2000 the interval and Min-SE grow.
        let raised = request_headers(None, &settings(1800, 90), 2000);
        assert_eq!(
            texts(&raised),
            ["Supported: timer", "Session-Expires: 2000", "Min-SE: 2000"]
        );
        let refreshing = SessionTimer {
            interval: 300,
            refresher: Refresher::Us,
        };
        assert_eq!(
            texts(&request_headers(Some(refreshing), &settings(0, 90), 0)),
            [
                "Supported: timer",
                "Session-Expires: 300;refresher=uac",
                "Min-SE: 90"
            ]
        );
        assert_eq!(
            texts(&request_headers(None, &settings(0, 90), 0)),
            ["Supported: timer"]
        );
        let ok = |extra: &str| {
            Response::try_from(
                format!(
                    "SIP/2.0 200 OK\r\n\
                     Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
                     From: <sip:a@127.0.0.1>;tag=1\r\n\
                     To: <sip:b@127.0.0.1>;tag=2\r\n\
                     Call-ID: c\r\n\
                     CSeq: 1 INVITE\r\n\
                     {extra}Content-Length: 0\r\n\r\n"
                )
                .as_str(),
            )
            .expect("parse")
        };
        assert_eq!(
            from_response(&ok("Session-Expires: 90;refresher=uas\r\n")),
            Some(SessionTimer {
                interval: 90,
                refresher: Refresher::Them
            })
        );
        assert_eq!(
            from_response(&ok("Session-Expires: 1800;refresher=uac\r\n")).map(|t| t.refresher),
            Some(Refresher::Us)
        );
        assert_eq!(from_response(&ok("")), None);
    }

    #[test]
    fn waits_follow_rfc_4028_section_10() {
        let us = SessionTimer {
            interval: 90,
            refresher: Refresher::Us,
        };
        assert_eq!(us.wait(), Duration::from_secs(45));
        let them = SessionTimer {
            interval: 90,
            refresher: Refresher::Them,
        };
        assert_eq!(them.wait(), Duration::from_secs(60));
        let long = SessionTimer {
            interval: 1800,
            refresher: Refresher::Them,
        };
        assert_eq!(long.wait(), Duration::from_secs(1768));
    }
}
