//! The call channel: [`Channel`], its [`CallState`] and [`CallCause`], and [`CallDetails`].
//!
//! Mirrors the UAS `channel` object: state and cause queries never block; `ring`,
//! `answer`, `reject`, `hang_up` and `wait_for_idle` suspend the app until the host
//! has a result. The media objects (`file_player()`, `dtmf_detector()`,
//! `dtmf_player()`) are borrowed views of the channel. Depends on the generated
//! bindings and the sibling media modules.

use crate::bindings::callhost::call::channel as raw;
use crate::bindings::callhost::call::types::{
    CallCause as RawCallCause, CallState as RawCallState,
};
use crate::dtmf_detector::DtmfDetector;
use crate::dtmf_player::DtmfPlayer;
use crate::error::Result;
use crate::file_player::FilePlayer;
use crate::mirror::mirror_enum;
use crate::sip::Sip;
use crate::tone_player::TonePlayer;

mirror_enum! {
    /// The state of a call channel: exactly the UAS `channel.State` values.
    ///
    /// An inbound app starts with the channel in [`CallState::CallIncoming`]; a call
    /// that is over (or never was) is [`CallState::Idle`].
    pub enum CallState mirrors RawCallState {
        /// Not yet in use.
        Waiting = Waiting => "WAITING",
        /// An inbound call has arrived and waits to be rung, answered or rejected.
        CallIncoming = CallIncoming => "CALL_INCOMING",
        /// The caller hears ringing (after [`Channel::ring`]).
        RingIncoming = RingIncoming => "RING_INCOMING",
        /// The call is being answered.
        Answering = Answering => "ANSWERING",
        /// The call is connected: media can be played and digits collected.
        Answered = Answered => "ANSWERED",
        /// An outbound call is being placed.
        CallOutgoing = CallOutgoing => "CALL_OUTGOING",
        /// The far end of an outbound call is ringing.
        RingOutgoing = RingOutgoing => "RING_OUTGOING",
        /// The call is being put on hold.
        Holding = Holding => "HOLDING",
        /// The call is on hold.
        OnHold = OnHold => "ON_HOLD",
        /// The call is being transferred.
        Transferring = Transferring => "TRANSFERRING",
        /// The call has been transferred.
        Transferred = Transferred => "TRANSFERRED",
        /// The call is being reconnected.
        Reconnecting = Reconnecting => "RECONNECTING",
        /// The channel is in an error state.
        Error = Error => "ERROR",
        /// No call: the call has ended, or never existed.
        Idle = Idle => "IDLE",
    }
}

mirror_enum! {
    /// Why a call ended or failed: exactly the UAS `channel.Cause` values.
    ///
    /// Also picks the SIP status of [`Channel::reject`]. The raw SIP status code
    /// behind a cause is available from [`Channel::raw_cause`].
    pub enum CallCause mirrors RawCallCause {
        /// A timer expired.
        Timeout = Timeout => "TIMEOUT",
        /// The call failed because of an error.
        Error = Error => "ERROR",
        /// Normal clearing (someone hung up).
        Normal = Normal => "NORMAL",
        /// The called party was busy (SIP 486).
        Busy = Busy => "BUSY",
        /// Nobody answered (SIP 480).
        NoAnswer = Noanswer => "NOANSWER",
        /// The destination does not exist (SIP 404).
        Unobtainable = Unobtainable => "UNOBTAINABLE",
        /// The number has changed (SIP 410).
        Changed = Changed => "CHANGED",
        /// The destination is out of order.
        OutOfOrder = Outoforder => "OUTOFORDER",
        /// Calls to the destination are barred (SIP 403).
        Barred = Barred => "BARRED",
        /// The call was rejected (SIP 603).
        Rejected = Rejected => "REJECTED",
        /// No channel was available to place the call.
        NoChannels = Nochannels => "NOCHANNELS",
        /// The network is congested (SIP 503).
        Congestion = Congestion => "CONGESTION",
        /// The call failed for another reason.
        Failed = Failed => "FAILED",
        /// Any other cause; see [`Channel::raw_cause`] for the SIP status.
        Other = Other => "OTHER",
    }
}

/// Facts about the call, fixed when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallDetails {
    /// The SIP Call-ID.
    pub sip_call_id: String,
    /// The From URI (without display name or tag).
    pub call_from: String,
    /// The To URI (without display name or tag).
    pub call_to: String,
    /// The full request URI of the INVITE.
    pub request_uri: String,
    /// The service name the call was routed by (the request-URI user part).
    pub service: String,
    /// The caller's signalling address, `"ip:port"`.
    pub remote_address: String,
}

impl From<raw::CallDetails> for CallDetails {
    fn from(details: raw::CallDetails) -> Self {
        CallDetails {
            sip_call_id: details.sip_call_id,
            call_from: details.call_from,
            call_to: details.call_to,
            request_uri: details.request_uri,
            service: details.service,
            remote_address: details.remote_address,
        }
    }
}

/// How to place a call: the keyword arguments of the UAS `channel.call`.
///
/// ```
/// use callhost_sdk::CallOptions;
/// let options = CallOptions::new().call_from("bob@1234").seconds_timeout(30).codecs(&["PCMA"]);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    call_from: Option<String>,
    seconds_timeout: Option<u32>,
    codecs: Vec<String>,
}

impl CallOptions {
    /// The host's defaults: its own identity, 60 seconds, its codec list.
    pub fn new() -> Self {
        CallOptions::default()
    }

    /// Who the call is from (`call_from=`): "user@host", a bare user or a SIP URI.
    pub fn call_from(mut self, from: impl Into<String>) -> Self {
        self.call_from = Some(from.into());
        self
    }

    /// Seconds to wait for an answer before giving up with cause TIMEOUT (default 60).
    pub fn seconds_timeout(mut self, seconds: u32) -> Self {
        self.seconds_timeout = Some(seconds);
        self
    }

    /// Codecs to offer, best first ("PCMU", "PCMA").
    pub fn codecs(mut self, codecs: &[&str]) -> Self {
        self.codecs = codecs.iter().map(|codec| codec.to_string()).collect();
        self
    }

    fn to_raw(&self) -> raw::CallOptions {
        raw::CallOptions {
            call_from: self.call_from.clone(),
            seconds_timeout: self.seconds_timeout,
            codecs: self.codecs.clone(),
        }
    }
}

/// One call leg: the primary call an app was started for, or an extra channel.
///
/// Lifecycle: the host creates the channel and hands it to the app's `main`; the app
/// owns it for the rest of the run. Dropping it does not hang the call up, and the
/// host hangs up any call still up when `main` returns, so an app that ends early
/// with `?` never leaves a call dangling.
///
/// Blocking methods suspend the whole app (there is one thread) until the host has an
/// answer; they return [`CallError::Hangup`](crate::CallError::Hangup) when the call
/// goes idle underneath them.
#[derive(Debug)]
pub struct Channel {
    raw: raw::Channel,
}

impl Channel {
    /// Wraps the handle the host passed to the exported `main`.
    pub(crate) fn from_raw(raw: raw::Channel) -> Self {
        Channel { raw }
    }

    /// The generated resource, for the media modules.
    pub(crate) fn raw(&self) -> &raw::Channel {
        &self.raw
    }

    /// The current call state. Never blocks.
    pub fn state(&self) -> CallState {
        self.raw.state().into()
    }

    /// Why the call ended; `None` while the call is still in progress. Never blocks.
    pub fn cause(&self) -> Option<CallCause> {
        self.raw.cause().map(CallCause::from)
    }

    /// The raw SIP status code behind [`Channel::cause`] when there was one (e.g. 487
    /// for a cancelled call, 486 for busy). Never blocks.
    pub fn raw_cause(&self) -> Option<u16> {
        self.raw.raw_cause()
    }

    /// Details of the call (Call-ID, From, To, request URI, service, caller address).
    /// Never blocks.
    pub fn details(&self) -> CallDetails {
        self.raw.details().into()
    }

    /// The call's audio figures: packets, loss, jitter, the far end's RTCP report.
    /// Live while the call has media, the final ones after it ended; `None` when
    /// the call never had media. Never blocks for long.
    pub fn media_statistics(&self) -> Option<crate::MediaStatistics> {
        self.raw.media_statistics().map(Into::into)
    }

    /// Sends 180 Ringing and waits `seconds` (0: send and return at once). The state
    /// becomes [`CallState::RingIncoming`].
    ///
    /// Errors: `Hangup` if the caller gives up while ringing.
    pub fn ring(&self, seconds: u32) -> Result<()> {
        Ok(self.raw.ring(seconds)?)
    }

    /// Answers the call (200 OK with SDP) and returns once it is
    /// [`CallState::Answered`] (the ACK has arrived).
    ///
    /// Errors: `Hangup` if the caller gives up first.
    pub fn answer(&self) -> Result<()> {
        Ok(self.raw.answer()?)
    }

    /// Refuses an incoming call that has not been answered. The cause picks the SIP
    /// status: busy 486, rejected 603, noanswer 480, unobtainable 404, barred 403,
    /// congestion 503, changed 410, any other cause 480. The call becomes
    /// [`CallState::Idle`].
    pub fn reject(&self, cause: CallCause) -> Result<()> {
        Ok(self.raw.reject(cause.into())?)
    }

    /// Hangs the call up (BYE, or a final error response if it was not answered yet)
    /// and waits a few seconds for [`CallState::Idle`]. Returns the state after
    /// waiting, which is not guaranteed to be `Idle` (as in the UAS API).
    pub fn hang_up(&self) -> Result<CallState> {
        Ok(self.raw.hang_up()?.into())
    }

    /// Waits until the call is [`CallState::Idle`] or `seconds_timeout` passes
    /// (`None`: no limit). Returns the state at return.
    pub fn wait_for_idle(&self, seconds_timeout: Option<u32>) -> Result<CallState> {
        Ok(self.raw.wait_for_idle(seconds_timeout)?.into())
    }

    /// Places a call from this idle channel to a `sip:`, `sips:` or `tel:` URI and
    /// waits until it is answered, fails or times out (the UAS `channel.call`).
    /// Returns the state: [`CallState::Answered`], or [`CallState::Idle`] with
    /// [`Channel::cause`] saying why (BUSY, NOANSWER, TIMEOUT, UNOBTAINABLE …) and
    /// [`Channel::raw_cause`] the SIP status. URI headers (`sip:bob@host?X-Foo=bar`)
    /// are sent as headers, with the channel's [`Sip::header_fields_to_send`].
    ///
    /// Errors: `Error` for a bad destination or a channel already in a call.
    pub fn call(&self, destination: &str, options: &CallOptions) -> Result<CallState> {
        Ok(self.raw.call(destination, &options.to_raw())?.into())
    }

    /// Starts a call like [`Channel::call`] but returns once the INVITE is on its way
    /// (the UAS `start_call`); follow it with [`Channel::state`] or rejoin it with
    /// [`Channel::wait_for_outgoing_call`].
    pub fn start_call(&self, destination: &str, options: &CallOptions) -> Result<()> {
        Ok(self.raw.start_call(destination, &options.to_raw())?)
    }

    /// Calls another service of this host (the UAS `call_inbound_service`): its app
    /// gets a fresh instance as for an inbound call, without SIP leaving the process.
    /// Waits like [`Channel::call`]; an unknown service ends idle with cause
    /// UNOBTAINABLE.
    pub fn call_inbound_service(&self, service: &str, options: &CallOptions) -> Result<CallState> {
        Ok(self
            .raw
            .call_inbound_service(service, &options.to_raw())?
            .into())
    }

    /// Waits until the call started by [`Channel::start_call`] is answered or idle and
    /// returns that state.
    pub fn wait_for_outgoing_call(&self) -> Result<CallState> {
        Ok(self.raw.wait_for_outgoing_call()?.into())
    }

    /// One of the app's extra channels (the UAS `channel.ExtraChannel[index]`): an
    /// idle channel for an outbound leg. The host's configuration says how many an
    /// app has (up to three).
    ///
    /// Errors: `Error` when `index` is out of range.
    pub fn extra_channel(&self, index: u32) -> Result<Channel> {
        Ok(Channel::from_raw(self.raw.extra_channel(index)?))
    }

    /// Connects this answered call's audio with another answered channel, both ways
    /// (the UAS `connect`). While connected, digits are still detected but neither
    /// leg can play files or DTMF.
    ///
    /// Errors: `Error` if either leg is not answered or is playing.
    pub fn connect(&self, other: &Channel) -> Result<()> {
        Ok(self.raw.connect(&other.raw)?)
    }

    /// Undoes [`Channel::connect`]; either leg may call it. No-op when not connected.
    pub fn disconnect(&self) -> Result<()> {
        Ok(self.raw.disconnect()?)
    }

    /// Puts the answered call on hold (a re-INVITE offering `sendonly`); the state
    /// becomes [`CallState::Holding`]. What the app plays is still sent (music on
    /// hold). Errors: the far end refused (the call stays as it was), the call is
    /// not answered or is connected, or it is a call between two apps of this host.
    pub fn hold(&self) -> Result<()> {
        Ok(self.raw.hold()?)
    }

    /// Takes the call off hold (re-INVITE offering `sendrecv`): the state becomes
    /// answered, or [`CallState::OnHold`] when the far end still holds us. No-op
    /// when the call is not held.
    pub fn unhold(&self) -> Result<()> {
        Ok(self.raw.unhold()?)
    }

    /// Hands this answered call to another service of this host through `via`, an
    /// idle extra channel (the UAS retrievable transfer to an inbound service):
    /// `via` calls the service and, once it answers, the two are connected and this
    /// channel is [`CallState::Transferred`]. Returns the state: transferred, or
    /// answered when the service did not answer (`via.cause()` says why).
    pub fn transfer_to_inbound_service(
        &self,
        via: &Channel,
        service: &str,
        options: &CallOptions,
    ) -> Result<CallState> {
        Ok(self
            .raw
            .transfer_to_inbound_service(&via.raw, service, &options.to_raw())?
            .into())
    }

    /// Waits until a transferred call comes back: answered when the service hung up
    /// (the call is retrieved and can be used again), idle when the caller did.
    /// Returns the current state at once when the call is not transferred.
    pub fn wait_for_transferred_call_retrieval(&self) -> Result<CallState> {
        Ok(self.raw.wait_for_transferred_call_retrieval()?.into())
    }

    /// The channel's SIP property (the UAS `channel.SIP`): headers, INFO, MESSAGE.
    pub fn sip(&self) -> Sip<'_> {
        Sip::new(self)
    }

    /// The channel's file player (the UAS `channel.FilePlayer`).
    pub fn file_player(&self) -> FilePlayer<'_> {
        FilePlayer::new(self)
    }

    /// The channel's file recorder (the UAS `channel.FileRecorder`).
    pub fn file_recorder(&self) -> crate::FileRecorder<'_> {
        crate::FileRecorder::new(self)
    }

    /// The channel's whole-call recorder (the UAS `channel.WholeCallRecorder`).
    pub fn whole_call_recorder(&self) -> crate::WholeCallRecorder<'_> {
        crate::WholeCallRecorder::new(self)
    }

    /// The channel's tone player (the UAS `channel.create_tone_player(...)`).
    pub fn tone_player(&self) -> TonePlayer<'_> {
        TonePlayer::new(self)
    }

    /// The channel's DTMF detector (the UAS `channel.DTMFDetector`).
    pub fn dtmf_detector(&self) -> DtmfDetector<'_> {
        DtmfDetector::new(self)
    }

    /// The channel's DTMF player (the UAS `channel.DTMFPlayer`).
    pub fn dtmf_player(&self) -> DtmfPlayer<'_> {
        DtmfPlayer::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_call_state_round_trips_through_the_wit_enum() {
        assert_eq!(CallState::ALL.len(), 14);
        for &state in CallState::ALL {
            assert_eq!(CallState::from(RawCallState::from(state)), state);
        }
    }

    #[test]
    fn every_call_cause_round_trips_through_the_wit_enum() {
        assert_eq!(CallCause::ALL.len(), 14);
        for &cause in CallCause::ALL {
            assert_eq!(CallCause::from(RawCallCause::from(cause)), cause);
        }
    }

    #[test]
    fn display_uses_the_uas_spelling() {
        assert_eq!(CallState::CallIncoming.to_string(), "CALL_INCOMING");
        assert_eq!(CallState::OnHold.to_string(), "ON_HOLD");
        assert_eq!(CallCause::NoAnswer.to_string(), "NOANSWER");
        let names: HashSet<_> = CallState::ALL.iter().map(|s| s.uas_name()).collect();
        assert_eq!(
            names.len(),
            CallState::ALL.len(),
            "state names must be unique"
        );
    }

    #[test]
    fn wit_enum_order_is_preserved() {
        // The WIT declares the values in UAS order; ALL keeps that order so apps can
        // rely on it when printing tables.
        assert_eq!(CallState::ALL.first(), Some(&CallState::Waiting));
        assert_eq!(CallState::ALL.last(), Some(&CallState::Idle));
        assert_eq!(CallCause::ALL.first(), Some(&CallCause::Timeout));
        assert_eq!(CallCause::ALL.last(), Some(&CallCause::Other));
    }

    #[test]
    fn details_copy_every_field() {
        let raw_details = raw::CallDetails {
            sip_call_id: "abc@host".into(),
            call_from: "sip:alice@example.com".into(),
            call_to: "sip:ivr@example.com".into(),
            request_uri: "sip:ivr@127.0.0.1:5060".into(),
            service: "ivr".into(),
            remote_address: "127.0.0.1:5070".into(),
        };
        let details = CallDetails::from(raw_details);
        assert_eq!(details.sip_call_id, "abc@host");
        assert_eq!(details.call_from, "sip:alice@example.com");
        assert_eq!(details.call_to, "sip:ivr@example.com");
        assert_eq!(details.request_uri, "sip:ivr@127.0.0.1:5060");
        assert_eq!(details.service, "ivr");
        assert_eq!(details.remote_address, "127.0.0.1:5070");
    }
}
