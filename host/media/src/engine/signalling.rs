//! One session's offer/answer state (RFC 3264 §8): our `o=` line and its version, the current
//! negotiation, both hold states (§8.4) and our outstanding re-offer. Pure: the handle locks it,
//! calls a method, then tells the driver about the resulting [`Negotiated`].
//!
//! Hold, both ways:
//! - the peer holds us with an offer of `sendonly`/`inactive` (or `c=0.0.0.0`, RFC 2543): our
//!   answer mirrors it, we stop sending and [`Signalling::is_on_hold`] is true until an offer
//!   lets us send again;
//! - we hold the peer with [`Signalling::hold_offer`]: `sendonly`, or `inactive` if the peer
//!   already holds us (§8.4); resuming offers `sendrecv` (`recvonly` if the peer still holds
//!   us). While we hold, our answers to the peer's offers never ask to receive. Our own
//!   sending follows the answer: a `recvonly` answer lets us keep sending (silence, or what
//!   the application plays, e.g. music on hold); `inactive` pauses it.

use std::net::IpAddr;

use crate::codec::Codec;
use crate::error::MediaError;
use crate::sdp::{
    AnswerOrigin, Direction, LocalOffer, Negotiated, SessionDescription, build_answer, build_offer,
    negotiate, negotiate_answer,
};

/// Where our side of the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddress {
    /// The address our socket is bound to (decides the address family we accept).
    pub(crate) bind_ip: IpAddr,
    /// The address written into our SDP.
    pub(crate) advertised_ip: IpAddr,
    /// Our RTP port.
    pub(crate) port: u16,
}

#[derive(Debug)]
struct PendingReoffer {
    offer: LocalOffer,
    hold: bool,
}

/// Offer/answer state of one session.
#[derive(Debug)]
pub(crate) struct Signalling {
    origin: AnswerOrigin,
    negotiated: Negotiated,
    remote_hold: bool,
    local_hold: bool,
    pending: Option<PendingReoffer>,
}

/// A fresh `o=` session id (RFC 4566 §5.2 suggests an NTP-like number; any unique one will do).
pub(crate) fn new_origin() -> AnswerOrigin {
    AnswerOrigin {
        session_id: u64::from(rand::random::<u32>()) + 1,
        session_version: 1,
    }
}

/// True if the negotiation says the peer does not want our media (it holds us).
fn held_by_peer(negotiated: &Negotiated) -> bool {
    !negotiated.direction.sends() || negotiated.remote.ip().is_unspecified()
}

impl Signalling {
    /// We answer an initial offer, already negotiated (before a port was bound for it).
    pub(crate) fn answering(
        offer: &SessionDescription,
        negotiated: Negotiated,
        local: LocalAddress,
    ) -> (Self, String) {
        let origin = new_origin();
        let answer = build_answer(offer, &negotiated, origin, local.advertised_ip, local.port);
        let signalling = Self {
            origin,
            remote_hold: held_by_peer(&negotiated),
            local_hold: false,
            negotiated,
            pending: None,
        };
        (signalling, answer)
    }

    /// The answer to our initial offer arrived.
    pub(crate) fn offered(
        offer: &LocalOffer,
        origin: AnswerOrigin,
        answer_sdp: &str,
        local: LocalAddress,
    ) -> Result<Self, MediaError> {
        let answer = SessionDescription::parse(answer_sdp)?;
        let negotiated = negotiate_answer(offer, &answer, local.bind_ip)?;
        Ok(Self {
            origin,
            negotiated,
            remote_hold: false,
            local_hold: false,
            pending: None,
        })
    }

    /// The current negotiation.
    pub(crate) fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// True while the peer holds us.
    pub(crate) fn is_on_hold(&self) -> bool {
        self.remote_hold
    }

    /// True while we hold the peer (after an accepted hold re-offer).
    pub(crate) fn is_holding(&self) -> bool {
        self.local_hold
    }

    fn next_origin(&mut self) -> AnswerOrigin {
        self.origin.session_version += 1;
        self.origin
    }

    /// Answer the peer's re-offer. On error nothing changes (not even the version).
    pub(crate) fn update_offer(
        &mut self,
        offer_sdp: &str,
        preferences: &[Codec],
        local: LocalAddress,
    ) -> Result<(String, Negotiated), MediaError> {
        let offer = SessionDescription::parse(offer_sdp)?;
        let mut negotiated = negotiate(&offer, preferences, local.bind_ip)?;
        if self.local_hold {
            // We still hold the peer: accept sending (if offered) but not receiving.
            negotiated.direction = negotiated.direction.intersect(Direction::SendOnly);
        }
        let origin = self.next_origin();
        let answer = build_answer(&offer, &negotiated, origin, local.advertised_ip, local.port);
        self.remote_hold = held_by_peer(&negotiated);
        self.negotiated = negotiated.clone();
        Ok((answer, negotiated))
    }

    /// Build a re-offer that holds (`hold`) or resumes the peer; it waits for
    /// [`Self::accept_reanswer`], replacing any earlier one that was never answered.
    pub(crate) fn hold_offer(&mut self, hold: bool, local: LocalAddress) -> String {
        let direction = match (hold, self.remote_hold) {
            (true, false) => Direction::SendOnly,
            (true, true) => Direction::Inactive,
            (false, false) => Direction::SendReceive,
            (false, true) => Direction::ReceiveOnly,
        };
        let offer = LocalOffer::renewal(&self.negotiated, direction);
        let origin = self.next_origin();
        let text = build_offer(&offer, origin, local.advertised_ip, local.port);
        self.pending = Some(PendingReoffer { offer, hold });
        text
    }

    /// Apply the answer to the outstanding re-offer. On error the negotiation is unchanged and
    /// the re-offer is forgotten (the dialog's re-INVITE failed).
    pub(crate) fn accept_reanswer(
        &mut self,
        answer_sdp: &str,
        local: LocalAddress,
    ) -> Result<Negotiated, MediaError> {
        let pending = self.pending.take().ok_or(MediaError::NoPendingOffer)?;
        let answer = SessionDescription::parse(answer_sdp)?;
        let negotiated = negotiate_answer(&pending.offer, &answer, local.bind_ip)?;
        self.local_hold = pending.hold;
        self.negotiated = negotiated.clone();
        Ok(negotiated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: LocalAddress = LocalAddress {
        bind_ip: IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10)),
        advertised_ip: IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10)),
        port: 30_000,
    };
    const BOTH: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

    fn sdp(connection: &str, direction: &str, formats: &str) -> String {
        format!(
            "v=0\r\no=phone 5 5 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 {connection}\r\nt=0 0\r\n\
             m=audio 5004 RTP/AVP {formats}\r\na=rtpmap:96 telephone-event/8000\r\na={direction}\r\n"
        )
    }

    fn version(text: &str) -> u64 {
        let parsed = SessionDescription::parse(text).unwrap();
        parsed.origin.unwrap().session_version.parse().unwrap()
    }

    fn direction(text: &str) -> Option<Direction> {
        SessionDescription::parse(text).unwrap().media[0].direction
    }

    fn answer_initial(offer: &str) -> (Signalling, String) {
        let offer = SessionDescription::parse(offer).unwrap();
        let negotiated = negotiate(&offer, BOTH, LOCAL.bind_ip).unwrap();
        Signalling::answering(&offer, negotiated, LOCAL)
    }

    fn answering() -> (Signalling, String) {
        answer_initial(&sdp("198.51.100.1", "sendrecv", "0 96"))
    }

    #[test]
    fn the_peer_holding_us_is_answered_and_tracked() {
        let (mut signalling, answer) = answering();
        assert_eq!(version(&answer), 1);
        assert!(!signalling.is_on_hold());
        for (connection, offered, answered) in [
            ("198.51.100.1", "sendonly", Direction::ReceiveOnly),
            ("198.51.100.1", "inactive", Direction::Inactive),
            ("0.0.0.0", "sendrecv", Direction::SendReceive),
        ] {
            let (answer, negotiated) = signalling
                .update_offer(&sdp(connection, offered, "0 96"), BOTH, LOCAL)
                .unwrap();
            assert_eq!(direction(&answer), Some(answered), "{connection} {offered}");
            assert!(!negotiated.may_send());
            assert!(signalling.is_on_hold(), "{connection} {offered}");
        }
        let (answer, negotiated) = signalling
            .update_offer(&sdp("198.51.100.1", "sendrecv", "0 96"), BOTH, LOCAL)
            .unwrap();
        assert_eq!(version(&answer), 5, "one version per answer");
        assert!(negotiated.may_send() && !signalling.is_on_hold());
        // A held initial offer starts on hold.
        let (held, _) = answer_initial(&sdp("198.51.100.1", "sendonly", "0"));
        assert!(held.is_on_hold());
    }

    #[test]
    fn holding_and_resuming_the_peer() {
        let (mut signalling, _) = answering();
        assert!(matches!(
            signalling.accept_reanswer("v=0\r\n", LOCAL),
            Err(MediaError::NoPendingOffer)
        ));
        let hold = signalling.hold_offer(true, LOCAL);
        assert_eq!(version(&hold), 2);
        assert_eq!(direction(&hold), Some(Direction::SendOnly));
        assert!(
            hold.contains("m=audio 30000 RTP/AVP 0 96\r\n"),
            "the agreed payload types are kept: {hold}"
        );
        assert!(!signalling.is_holding(), "not before the answer");
        let negotiated = signalling
            .accept_reanswer(&sdp("198.51.100.1", "recvonly", "0 96"), LOCAL)
            .unwrap();
        assert!(signalling.is_holding() && !signalling.is_on_hold());
        assert_eq!(negotiated.direction, Direction::SendOnly);
        assert!(
            negotiated.may_send(),
            "sendonly: we may still send (music on hold)"
        );
        assert!(matches!(
            signalling.accept_reanswer(&sdp("198.51.100.1", "recvonly", "0"), LOCAL),
            Err(MediaError::NoPendingOffer)
        ));

        // While we hold, a peer's sendrecv re-offer (a session refresh) keeps the hold.
        let (answer, _) = signalling
            .update_offer(&sdp("198.51.100.1", "sendrecv", "0 96"), BOTH, LOCAL)
            .unwrap();
        assert_eq!(direction(&answer), Some(Direction::SendOnly));

        let resume = signalling.hold_offer(false, LOCAL);
        assert_eq!(version(&resume), 4);
        assert_eq!(direction(&resume), Some(Direction::SendReceive));
        let negotiated = signalling
            .accept_reanswer(&sdp("198.51.100.1", "sendrecv", "0 96"), LOCAL)
            .unwrap();
        assert!(!signalling.is_holding());
        assert_eq!(negotiated.direction, Direction::SendReceive);
    }

    #[test]
    fn an_inactive_answer_pauses_us_and_a_failed_one_changes_nothing() {
        let (mut signalling, _) = answering();
        signalling.hold_offer(true, LOCAL);
        let negotiated = signalling
            .accept_reanswer(&sdp("198.51.100.1", "inactive", "0 96"), LOCAL)
            .unwrap();
        assert!(!negotiated.may_send());

        signalling.hold_offer(false, LOCAL);
        let error = signalling
            .accept_reanswer(&sdp("198.51.100.1", "sendrecv", "8"), LOCAL)
            .unwrap_err();
        assert!(
            error.is_not_acceptable(),
            "PCMA was not in the re-offer: {error}"
        );
        assert!(
            signalling.is_holding(),
            "still holding after the failed resume"
        );
        assert_eq!(signalling.negotiated().direction, Direction::Inactive);
    }

    #[test]
    fn holding_a_peer_that_holds_us_offers_inactive() {
        let (mut signalling, _) = answering();
        signalling
            .update_offer(&sdp("198.51.100.1", "sendonly", "0 96"), BOTH, LOCAL)
            .unwrap();
        let hold = signalling.hold_offer(true, LOCAL);
        assert_eq!(direction(&hold), Some(Direction::Inactive));
        let resume = signalling.hold_offer(false, LOCAL);
        assert_eq!(direction(&resume), Some(Direction::ReceiveOnly));
    }

    #[test]
    fn an_offered_session_keeps_its_origin() {
        let offer = LocalOffer::initial(&[Codec::Pcma]).unwrap();
        let origin = AnswerOrigin {
            session_id: 77,
            session_version: 1,
        };
        let mut signalling = Signalling::offered(
            &offer,
            origin,
            &sdp("198.51.100.1", "sendrecv", "8 96"),
            LOCAL,
        )
        .unwrap();
        assert_eq!(signalling.negotiated().codec, Codec::Pcma);
        let hold = signalling.hold_offer(true, LOCAL);
        assert!(hold.contains("o=callhost 77 2 IN IP4"), "{hold}");
        assert!(
            hold.contains("m=audio 30000 RTP/AVP 8 101\r\n"),
            "our own telephone-event number: {hold}"
        );
    }
}
