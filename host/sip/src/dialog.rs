//! Dialog state kept by callhost for both roles (RFC 3261 §12), and the
//! client transactions for requests callhost sends in a dialog.
//!
//! Why our own: rsipstack's dialog layer drives responses and events through
//! its own state channel; callhost needs different policies (481 for unknown
//! dialogs, explicit ACK-timeout reporting, re-INVITE decisions by the
//! server), so it keeps the few dialog fields of §12.1.1 itself and uses
//! rsipstack's transaction layer to send requests (Timers E/F/K, §17.1.2).
//!
//! Depends on rsipstack message/transaction types (crate-internal only).
//! RFC 3261 §12.1.1 (UAS dialog state: route set from Record-Route in order,
//! remote target from Contact), §12.1.2 (UAC dialog state: route set from
//! the 2xx's Record-Route reversed, remote tag from its To), §12.2.1.1
//! (requests within a dialog), §12.2.2 (target refresh), §13.2.2.4 (the ACK
//! of a 2xx has the INVITE's CSeq number), §15.1.1 (BYE), RFC 3581 (rport
//! in our Via), RFC 3263 §4.2 (in-dialog next hops keep the dialog's
//! transport; host names go through SRV for it).

use std::net::SocketAddr;
use std::time::Duration;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{
    Header, Method, Request, Response, SipMessage, StatusCodeKind, ToTypedHeader, Uri, Version,
};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{SipAddr, SipConnection};

use crate::endpoint::EndpointContext;
use crate::locate::NextHop;
use crate::message::{from_tag, to_tag, unescape_user};
use crate::wire::{header_params, is_rfc2543_stand_in, param, split_list};
use crate::{SipError, Transport};

/// Next hops tried for one in-dialog TLS request before giving up (each
/// try is bounded by 64*T1).
const MOST_TLS_TRIES: usize = 3;

/// Identifies a dialog (RFC 3261 §12): Call-ID and both tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogKey {
    /// The dialog a received request belongs to: our tag is in its To, the
    /// peer's in its From. `None` when either tag is missing.
    pub(crate) fn of_request(request: &Request) -> Option<Self> {
        Some(DialogKey {
            call_id: request.call_id_header().ok()?.value().to_string(),
            local_tag: to_tag(request)?,
            remote_tag: from_tag(request)?,
        })
    }
}

/// One INVITE dialog, from either side. An outgoing call's dialog starts
/// as a draft (no remote tag, remote target = Request-URI) and becomes real
/// with [`Dialog::confirm`].
pub(crate) struct Dialog {
    pub key: DialogKey,
    /// The From value of requests we send: ours with our tag.
    local_party: String,
    /// The To value of requests we send: the peer's (with its tag once known).
    remote_party: String,
    remote_target: Uri,
    /// Route header values, in the order they are sent.
    route_set: Vec<String>,
    local_cseq: u32,
    pub transport: Transport,
    /// The stream the INVITE arrived on; in-dialog requests reuse it
    /// (RFC 5923-style connection reuse, which SIP clients behind NAT need).
    flow: Option<SipConnection>,
    /// Our address, for Via and Contact.
    pub local_addr: SocketAddr,
    /// The dialog was made with a `sips:` Request-URI: our Contact must be
    /// `sips:` too (RFC 3261 §8.1.1.8, §12.1.1).
    pub secure: bool,
}

impl Dialog {
    /// Dialog state from a dialog-creating INVITE to which we add `local_tag`.
    pub(crate) fn new(
        invite: &Request,
        local_tag: &str,
        transport: Transport,
        flow: Option<SipConnection>,
        local_addr: SocketAddr,
    ) -> Result<Self, &'static str> {
        let call_id = invite.call_id_header().map_err(|_| "Missing Call-ID")?;
        let remote_tag = from_tag(invite).ok_or("Missing From tag")?;
        let contact = invite
            .typed_contact_headers()
            .ok()
            .and_then(|contacts| contacts.into_iter().next())
            .map(|contact| contact.uri);
        // RFC 2543 §6.13 made Contact optional; such a client is reached at
        // its From address (RFC 4475 §3.4.1). RFC 3261 requires Contact.
        let rfc2543_target = || {
            invite
                .from_header()
                .ok()
                .filter(|_| is_rfc2543_stand_in(&remote_tag))
                .and_then(|from| from.typed().ok())
                .map(|from| from.uri)
        };
        let remote_target = contact
            .or_else(rfc2543_target)
            .map(unescape_user)
            .ok_or("Missing or invalid Contact")?;
        let to = invite.to_header().map_err(|_| "Missing To")?.value();
        let from = invite.from_header().map_err(|_| "Missing From")?.value();
        let route_set = invite
            .record_route_headers()
            .into_iter()
            .flat_map(|rr| split_list(rr.value()))
            .filter(|entry| !entry.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Dialog {
            key: DialogKey {
                call_id: call_id.value().to_string(),
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            local_party: format!("{to};tag={local_tag}"),
            remote_party: from.to_string(),
            remote_target,
            route_set,
            local_cseq: 0,
            transport,
            flow,
            local_addr,
            secure: invite.uri.scheme == Some(rsipstack::sip::Scheme::Sips),
        })
    }

    /// The draft dialog of an outgoing call (RFC 3261 §8.1.1): `local_party`
    /// is our From with tag, `remote_party` the To without tag,
    /// `remote_target` the Request-URI, `route_set` the pre-loaded Route
    /// (outbound proxy) if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn outgoing(
        call_id: &str,
        local_tag: &str,
        local_party: String,
        remote_party: String,
        remote_target: Uri,
        route_set: Vec<String>,
        transport: Transport,
        flow: Option<SipConnection>,
        local_addr: SocketAddr,
    ) -> Self {
        Dialog {
            key: DialogKey {
                call_id: call_id.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: String::new(),
            },
            local_party,
            remote_party,
            remote_target,
            route_set,
            local_cseq: 0,
            transport,
            flow,
            local_addr,
            secure: false,
        }
    }

    /// Turn the draft of an outgoing call into the dialog the 2xx `response`
    /// establishes (RFC 3261 §12.1.2); returns its key.
    pub(crate) fn confirm(&mut self, response: &Response) -> Result<DialogKey, &'static str> {
        let to = response.to_header().map_err(|_| "2xx without To")?.value();
        let remote_tag = param(header_params(to), "tag")
            .filter(|tag| !tag.is_empty())
            .ok_or("2xx without To tag")?;
        let contact = response
            .typed_contact_headers()
            .ok()
            .and_then(|contacts| contacts.into_iter().next())
            .map(|contact| unescape_user(contact.uri))
            .ok_or("2xx without a usable Contact")?;
        let mut route_set: Vec<String> = response
            .record_route_headers()
            .into_iter()
            .flat_map(|rr| split_list(rr.value()))
            .filter(|entry| !entry.is_empty())
            .map(str::to_string)
            .collect();
        route_set.reverse();
        self.key.remote_tag = remote_tag.to_string();
        self.remote_party = to.to_string();
        self.remote_target = contact;
        self.route_set = route_set;
        Ok(self.key.clone())
    }

    /// Our Contact URI.
    pub(crate) fn contact_uri(&self) -> String {
        match self.transport {
            Transport::Udp => format!("sip:{}", self.local_addr),
            Transport::Tcp => format!("sip:{};transport=tcp", self.local_addr),
            Transport::Tls if self.secure => format!("sips:{}", self.local_addr),
            Transport::Tls => format!("sip:{};transport=tls", self.local_addr),
        }
    }

    /// Target refresh (§12.2.2): a re-INVITE's Contact is the new target.
    pub(crate) fn refresh_target(&mut self, request: &Request) {
        if let Some(contact) = request
            .typed_contact_headers()
            .ok()
            .and_then(|contacts| contacts.into_iter().next())
        {
            self.remote_target = unescape_user(contact.uri);
        }
    }

    /// Target refresh from the 2xx to our re-INVITE or UPDATE (§12.2.1.2).
    pub(crate) fn refresh_target_from(&mut self, response: &Response) {
        if let Some(contact) = response
            .typed_contact_headers()
            .ok()
            .and_then(|contacts| contacts.into_iter().next())
        {
            self.remote_target = unescape_user(contact.uri);
        }
    }

    /// The next request we send in this dialog (§12.2.1.1), and the stream
    /// to send it on, if any.
    pub(crate) fn next_request(
        &mut self,
        method: Method,
        user_agent: &str,
    ) -> (Request, Option<SipConnection>, Transport) {
        // RFC 3261 §8.1.1.5: any start below 2^31 works; we never sent one.
        self.local_cseq += 1;
        let request = self.request(method, self.local_cseq, user_agent);
        (request, self.flow(), self.transport)
    }

    /// The ACK of the 2xx to our INVITE with CSeq number `cseq` (§13.2.2.4:
    /// same CSeq number, new branch, the dialog's route set and target).
    pub(crate) fn ack(&self, cseq: u32, user_agent: &str) -> Request {
        self.request(Method::Ack, cseq, user_agent)
    }

    /// The stream in-dialog requests reuse, if it is still open.
    pub(crate) fn flow(&self) -> Option<SipConnection> {
        self.flow.clone().filter(|flow| {
            // A closed stream cannot carry the request; look up a new one.
            flow.cancel_token()
                .is_none_or(|token| !token.is_cancelled())
        })
    }

    fn request(&self, method: Method, cseq: u32, user_agent: &str) -> Request {
        let via = format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.transport.token(),
            self.local_addr,
            crate::random_token(16)
        );
        let mut headers: Vec<Header> = vec![
            Header::Via(via.into()),
            Header::MaxForwards(70u32.into()),
            Header::From(self.local_party.clone().into()),
            Header::To(self.remote_party.clone().into()),
            Header::CallId(self.key.call_id.clone().into()),
            Header::CSeq(format!("{cseq} {method}").into()),
        ];
        headers.extend(
            self.route_set
                .iter()
                .map(|route| Header::Route(route.clone().into())),
        );
        headers.push(Header::UserAgent(user_agent.into()));
        headers.push(Header::ContentLength(0u32.into()));
        Request {
            method,
            uri: self.remote_target.clone(),
            version: Version::V2,
            headers: headers.into(),
            body: Vec::new(),
        }
    }
}

/// The final response of a request we sent.
pub(crate) struct FinalResponse {
    /// Its status code; 408 when none came in time (Timer F, RFC 3261
    /// §17.1.2.2, or our own deadline).
    pub code: u16,
    /// The response itself, unless the deadline passed first.
    pub response: Option<Response>,
}

/// Open a TLS connection to the first of `hops` that accepts one (at most
/// [`MOST_TLS_TRIES`]), checking the certificate against `host`.
async fn connect_tls_first(
    context: &EndpointContext,
    hops: &[NextHop],
    host: &str,
) -> Result<SipConnection, SipError> {
    let mut failure = None;
    for hop in hops.iter().take(MOST_TLS_TRIES) {
        match context.connect_tls(hop.address, host).await {
            Ok(connection) => return Ok(connection),
            Err(error) => failure = Some(error),
        }
    }
    Err(failure.unwrap_or_else(|| SipError::Unreachable {
        destination: host.to_string(),
        reason: "no address".to_string(),
    }))
}

/// Send `request` in a client transaction and wait for its final response.
/// Without a `flow` the destination is the first Route, else the
/// Request-URI (RFC 3261 §8.1.2), located by RFC 3263 for `transport`
/// (SRV for that transport when the URI has a host name and no port) and
/// reached over `transport`; over TLS a new connection is opened, its
/// certificate checked against that URI's host.
///
/// Cancel-safety: dropping the future abandons the transaction; the request
/// may already be on the wire.
pub(crate) async fn send_request(
    context: &EndpointContext,
    request: Request,
    flow: Option<SipConnection>,
    transport: Transport,
    deadline: Duration,
) -> Result<FinalResponse, SipError> {
    let key =
        TransactionKey::from_request(&request, TransactionRole::Client).map_err(SipError::stack)?;
    // A dialog made over TCP stays on TCP even when the Contact does not say
    // `transport=tcp` and the original connection is gone.
    let (flow, destination) = match flow {
        Some(flow) => (Some(flow), None),
        None => {
            let next_hop = request.destination();
            let hops = context.locate(&next_hop, Some(transport)).await?;
            if transport == Transport::Tls {
                let host = next_hop.host_with_port.host.to_string();
                (Some(connect_tls_first(context, &hops, &host).await?), None)
            } else {
                // UDP and TCP go to the best hop; rsipstack opens the TCP
                // connection itself.
                let destination = SipAddr {
                    r#type: Some(transport.to_rsip()),
                    addr: hops[0].address.into(),
                };
                (None, Some(destination))
            }
        }
    };
    let mut transaction = Transaction::new_client(key, request, context.stack.clone(), flow);
    transaction.destination = destination;
    transaction.send().await.map_err(SipError::stack)?;
    let wait_final = async {
        while let Some(message) = transaction.receive().await {
            if let SipMessage::Response(response) = message
                && response.status_code.kind() != StatusCodeKind::Provisional
            {
                return Ok(FinalResponse {
                    code: response.status_code.code(),
                    response: Some(response),
                });
            }
        }
        Err(SipError::Stack {
            reason: "transaction ended without a final response".to_string(),
        })
    };
    match tokio::time::timeout(deadline, wait_final).await {
        Ok(result) => result,
        Err(_) => Ok(FinalResponse {
            code: 408,
            response: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Request {
        Request::try_from(
            "INVITE sip:svc@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKabc\r\n\
             Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
             From: \"A\" <sip:a@127.0.0.1>;tag=remote1\r\n\
             To: <sip:svc@127.0.0.1>\r\n\
             Call-ID: c1@127.0.0.1\r\n\
             CSeq: 7 INVITE\r\n\
             Contact: <sip:a@127.0.0.1:5999>\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .expect("parse")
    }

    #[test]
    fn bye_follows_the_dialog_state() {
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("address");
        let mut dialog =
            Dialog::new(&invite(), "local1", Transport::Udp, None, local).expect("dialog");
        assert_eq!(
            dialog.key,
            DialogKey {
                call_id: "c1@127.0.0.1".into(),
                local_tag: "local1".into(),
                remote_tag: "remote1".into()
            }
        );
        let (bye, flow, transport) = dialog.next_request(Method::Bye, "ua");
        assert_eq!(transport, Transport::Udp);
        assert!(flow.is_none());
        let text = bye.to_string();
        assert!(
            text.starts_with("BYE sip:a@127.0.0.1:5999 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("From: <sip:svc@127.0.0.1>;tag=local1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: \"A\" <sip:a@127.0.0.1>;tag=remote1\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 BYE\r\n"), "{text}");
        assert!(
            text.contains("Route: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"),
            "{text}"
        );
        // The request is consistent with what rsipstack needs to send it.
        TransactionKey::from_request(&bye, TransactionRole::Client).expect("key");
        let (second, _, _) = dialog.next_request(Method::Bye, "ua");
        assert!(second.to_string().contains("CSeq: 2 BYE\r\n"));
    }

    #[test]
    fn in_dialog_key_and_contact() {
        let mut request = invite();
        assert!(DialogKey::of_request(&request).is_none(), "no To tag yet");
        request
            .headers
            .unique_push(Header::To("<sip:svc@127.0.0.1>;tag=local1".into()));
        let key = DialogKey::of_request(&request).expect("key");
        assert_eq!(key.local_tag, "local1");
        let local: SocketAddr = "127.0.0.1:5062".parse().expect("address");
        let dialog = Dialog::new(&invite(), "t", Transport::Tcp, None, local).expect("dialog");
        assert_eq!(dialog.contact_uri(), "sip:127.0.0.1:5062;transport=tcp");
    }

    #[test]
    fn outgoing_draft_is_confirmed_by_the_2xx() {
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("address");
        let target = Uri::try_from("sip:bob@192.0.2.1:5070").expect("uri");
        let mut dialog = Dialog::outgoing(
            "out1@127.0.0.1",
            "ours",
            "<sip:alice@127.0.0.1:5060>;tag=ours".to_string(),
            "<sip:bob@192.0.2.1:5070>".to_string(),
            target,
            vec!["<sip:proxy.example.com;lr>".to_string()],
            Transport::Udp,
            None,
            local,
        );
        let (invite, _, _) = dialog.next_request(Method::Invite, "ua");
        let text = invite.to_string();
        assert!(
            text.starts_with("INVITE sip:bob@192.0.2.1:5070 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("To: <sip:bob@192.0.2.1:5070>\r\n"), "{text}");
        assert!(
            text.contains("Route: <sip:proxy.example.com;lr>\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 INVITE\r\n"), "{text}");
        let ok = Response::try_from(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
             Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n\
             Record-Route: <sip:p0.example.com;lr>\r\n\
             From: <sip:alice@127.0.0.1:5060>;tag=ours\r\n\
             To: <sip:bob@192.0.2.1:5070>;tag=theirs\r\n\
             Call-ID: out1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:bob@192.0.2.9:5999>\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .expect("parse");
        let key = dialog.confirm(&ok).expect("confirm");
        assert_eq!(
            key,
            DialogKey {
                call_id: "out1@127.0.0.1".into(),
                local_tag: "ours".into(),
                remote_tag: "theirs".into(),
            }
        );
        // §13.2.2.4: same CSeq number; §12.1.2: Record-Route reversed.
        let ack = dialog.ack(1, "ua").to_string();
        assert!(
            ack.starts_with("ACK sip:bob@192.0.2.9:5999 SIP/2.0\r\n"),
            "{ack}"
        );
        assert!(ack.contains("CSeq: 1 ACK\r\n"), "{ack}");
        assert!(
            ack.contains(
                "Route: <sip:p0.example.com;lr>\r\nRoute: <sip:p1.example.com;lr>\r\n\
                 Route: <sip:p2.example.com;lr>\r\n"
            ),
            "{ack}"
        );
        assert!(
            ack.contains("To: <sip:bob@192.0.2.1:5070>;tag=theirs\r\n"),
            "{ack}"
        );
        let (bye, _, _) = dialog.next_request(Method::Bye, "ua");
        assert!(bye.to_string().contains("CSeq: 2 BYE\r\n"));
        // A 2xx without a To tag establishes no dialog.
        let mut untagged = ok.clone();
        untagged
            .headers
            .unique_push(Header::To("<sip:bob@192.0.2.1:5070>".into()));
        assert!(dialog.confirm(&untagged).is_err());
    }
}
