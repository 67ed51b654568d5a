//! UAS dialog state kept by callhost (RFC 3261 §12), and the in-dialog
//! requests callhost sends itself (BYE).
//!
//! Why our own: rsipstack's dialog layer drives responses and events through
//! its own state channel; callhost needs different policies (481 for unknown
//! dialogs, explicit ACK-timeout reporting, re-INVITE decisions by the
//! server), so it keeps the few dialog fields of §12.1.1 itself and uses
//! rsipstack's transaction layer to send requests (Timers E/F/K, §17.1.2).
//!
//! Depends on rsipstack message/transaction types (crate-internal only).
//! RFC 3261 §12.1.1 (UAS dialog state: route set from Record-Route in order,
//! remote target from Contact), §12.2.1.1 (requests within a dialog),
//! §12.2.2 (target refresh), §15.1.1 (BYE), RFC 3581 (rport in our Via).

use std::net::SocketAddr;
use std::time::Duration;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Request, SipMessage, StatusCodeKind, Uri, Version};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{SipAddr, SipConnection};

use crate::message::{from_tag, to_tag, unescape_user};
use crate::wire::split_list;
use crate::{SipError, Transport};

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

/// The UAS side of one INVITE dialog.
pub(crate) struct Dialog {
    pub key: DialogKey,
    /// The From value of requests we send (the INVITE's To, with our tag).
    local_party: String,
    /// The To value of requests we send (the INVITE's From).
    remote_party: String,
    remote_target: Uri,
    /// Record-Route entries in received order (§12.1.1).
    route_set: Vec<String>,
    local_cseq: u32,
    pub transport: Transport,
    /// The stream the INVITE arrived on; in-dialog requests reuse it
    /// (RFC 5923-style connection reuse, which SIP clients behind NAT need).
    flow: Option<SipConnection>,
    /// Our address, for Via and Contact.
    pub local_addr: SocketAddr,
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
        let remote_target = invite
            .typed_contact_headers()
            .ok()
            .and_then(|contacts| contacts.into_iter().next())
            .map(|contact| unescape_user(contact.uri))
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
        })
    }

    /// Our Contact URI.
    pub(crate) fn contact_uri(&self) -> String {
        match self.transport {
            Transport::Udp => format!("sip:{}", self.local_addr),
            Transport::Tcp => format!("sip:{};transport=tcp", self.local_addr),
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

    /// The next request we send in this dialog (§12.2.1.1), and the stream
    /// to send it on, if any.
    pub(crate) fn next_request(
        &mut self,
        method: Method,
        user_agent: &str,
    ) -> (Request, Option<SipConnection>, Transport) {
        // RFC 3261 §8.1.1.5: any start below 2^31 works; we never sent one.
        self.local_cseq += 1;
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
            Header::CSeq(format!("{} {method}", self.local_cseq).into()),
        ];
        headers.extend(
            self.route_set
                .iter()
                .map(|route| Header::Route(route.clone().into())),
        );
        headers.push(Header::UserAgent(user_agent.into()));
        headers.push(Header::ContentLength(0u32.into()));
        let request = Request {
            method,
            uri: self.remote_target.clone(),
            version: Version::V2,
            headers: headers.into(),
            body: Vec::new(),
        };
        let flow = self.flow.clone().filter(|flow| {
            // A closed stream cannot carry the request; look up a new one.
            flow.cancel_token()
                .is_none_or(|token| !token.is_cancelled())
        });
        (request, flow, self.transport)
    }
}

/// Send `request` in a client transaction and wait for its final response
/// (Timer F gives a locally generated 408). Returns the final status code.
/// Without a `flow`, rsipstack looks the target up (first Route, else the
/// Request-URI, RFC 3261 §8.1.2) over `transport`.
///
/// Cancel-safety: dropping the future abandons the transaction; the request
/// may already be on the wire.
pub(crate) async fn send_request(
    stack: &EndpointInnerRef,
    request: Request,
    flow: Option<SipConnection>,
    transport: Transport,
    deadline: Duration,
) -> Result<u16, SipError> {
    let key =
        TransactionKey::from_request(&request, TransactionRole::Client).map_err(SipError::stack)?;
    // A dialog made over TCP stays on TCP even when the Contact does not say
    // `transport=tcp` and the original connection is gone.
    let destination = (flow.is_none() && transport == Transport::Tcp).then(|| SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: request.destination().host_with_port,
    });
    let mut transaction = Transaction::new_client(key, request, stack.clone(), flow);
    transaction.destination = destination;
    transaction.send().await.map_err(SipError::stack)?;
    let wait_final = async {
        while let Some(message) = transaction.receive().await {
            if let SipMessage::Response(response) = message
                && response.status_code.kind() != StatusCodeKind::Provisional
            {
                return Ok(response.status_code.code());
            }
        }
        Err(SipError::Stack {
            reason: "transaction ended without a final response".to_string(),
        })
    };
    match tokio::time::timeout(deadline, wait_final).await {
        Ok(result) => result,
        Err(_) => Ok(408),
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
}
