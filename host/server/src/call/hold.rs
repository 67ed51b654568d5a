//! Holding and resuming a leg's call at the app's request (seed 001): a
//! re-INVITE whose offer comes from the media session, the answer applied to
//! it, and the channel state HOLDING ⇄ ANSWERED (or ON_HOLD when the far end
//! holds us too).
//!
//! RFC 3264 §8.4 (hold: `sendonly`, or `inactive` when we are held as
//! well; resume: `sendrecv`), RFC 3261 §14.1 (re-INVITE; a refused offer
//! leaves the session as it was).

use tracing::info;

use callhost_runtime::port::{CallError, CallState};
use callhost_sip::OfferAnswer;

use super::leg::{Leg, Signalling};

/// Put the leg's call on hold (`on`) or take it off hold.
pub(crate) async fn hold(leg: &mut Leg, on: bool) -> Result<(), CallError> {
    match (leg.state(), on) {
        (CallState::Holding, true) => return Ok(()),
        (CallState::Holding, false) => {}
        (_, false) => return Ok(()),
        (CallState::Answered | CallState::OnHold, true) => {}
        (CallState::Idle, _) => return Err(CallError::Hangup("the call is idle".into())),
        (state, _) => {
            return Err(CallError::Error(format!(
                "hold needs an answered call (state is {state:?})"
            )));
        }
    }
    if leg.connected_to.is_some() {
        return Err(CallError::Error(
            "a connected call cannot be held; disconnect it first".into(),
        ));
    }
    let Some(offer) = leg.media.as_ref().map(|media| media.hold_offer(on)) else {
        return Err(CallError::Error("the call has no media session".into()));
    };
    let sent = match &leg.signalling {
        Signalling::Inbound(call) => call.reinvite(&offer).await,
        Signalling::Outbound(call) => call.reinvite(&offer).await,
        _ => {
            return Err(CallError::Error(
                "only a SIP call can be held (not a call between two apps of this host)".into(),
            ));
        }
    };
    let what = if on { "hold" } else { "resume" };
    match sent {
        Ok(OfferAnswer {
            code: 200..=299,
            answer_sdp: Some(answer),
        }) => {
            let Some(media) = leg.media.as_ref() else {
                return Err(CallError::Hangup(
                    "the call ended during the re-INVITE".into(),
                ));
            };
            media.accept_reanswer(&answer).map_err(|error| {
                CallError::Error(format!(
                    "the far end's answer to the {what} is unusable: {error}"
                ))
            })?;
            let held_by_them = media.is_on_hold();
            leg.local_sdp = offer;
            let state = match (on, held_by_them) {
                (true, _) => CallState::Holding,
                (false, true) => CallState::OnHold,
                (false, false) => CallState::Answered,
            };
            info!(
                leg = leg.id,
                ?state,
                "call {}",
                if on { "held" } else { "resumed" }
            );
            leg.update(|snapshot| snapshot.state = state);
            Ok(())
        }
        Ok(OfferAnswer {
            code: 200..=299,
            answer_sdp: None,
        }) => Err(CallError::Error(format!(
            "the far end answered the {what} without SDP"
        ))),
        Ok(OfferAnswer { code, .. }) => {
            info!(leg = leg.id, code, "the far end refused the {what}");
            Err(CallError::Error(format!(
                "the far end refused the {what} re-INVITE with {code}"
            )))
        }
        Err(error) => Err(CallError::Error(format!(
            "the {what} re-INVITE could not be sent: {error}"
        ))),
    }
}
