//! The ACK of a 2xx to an INVITE we sent (the dialog-creating INVITE of an
//! outgoing call, or a re-INVITE of either role), and absorbing the 2xx
//! retransmissions that arrive after it.
//!
//! The endpoint is built with rsipstack's `auto_ack_2xx = false`: a 2xx ends
//! the client transaction and the ACK is ours (RFC 3261 §13.2.2.4, §17.1.1.3).
//! It is built from the dialog (same CSeq number, new branch, route set and
//! remote target), carries the INVITE's credentials (§22.1), and for 64*T1
//! every retransmitted 2xx is answered with the same ACK (RFC 6026 §7.2,
//! Timer M's window).

use rsipstack::sip::{Header, Request, SipMessage, StatusCodeKind};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::TransactionEvent;
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::CallShared;
use super::requests::add_headers;
use crate::Transport;
use crate::endpoint::EndpointContext;

/// The CSeq number of a request (1 when unreadable).
pub(crate) fn cseq_number(request: &Request) -> u32 {
    request
        .headers
        .iter()
        .find_map(|h| match h {
            Header::CSeq(cseq) => cseq.value().split_whitespace().next()?.parse().ok(),
            _ => None,
        })
        .unwrap_or(1)
}

/// The ACK for the 2xx to `invite`, from the call's current dialog.
pub(crate) fn build(
    shared: &CallShared,
    invite: &Request,
) -> (Request, Option<SipConnection>, Transport) {
    let dialog = shared.lock_dialog();
    let mut ack = dialog.ack(cseq_number(invite), &shared.context.config.user_agent);
    let credentials: Vec<Header> = invite
        .headers
        .iter()
        .filter(|h| matches!(h, Header::Authorization(_) | Header::ProxyAuthorization(_)))
        .cloned()
        .collect();
    add_headers(&mut ack, credentials);
    (ack, dialog.flow(), dialog.transport)
}

/// Acknowledge the 2xx to `invite` (sent in the confirmed dialog) and keep
/// acknowledging its retransmissions.
pub(crate) async fn acknowledge(shared: &CallShared, invite: &Request) {
    let (ack, flow, transport) = build(shared, invite);
    let Some(route) = AckRoute::find(&shared.context, flow, transport, &ack, None).await else {
        return;
    };
    route.send(&ack, None).await;
    absorb_retransmissions(shared, invite, ack, route);
}

/// Where the ACK of a 2xx goes: the stream flow (TCP or TLS), or over UDP to
/// the first Route / remote target (RFC 3261 §13.2.2.4 via §12.2.1.1).
pub(crate) struct AckRoute {
    connection: SipConnection,
    destination: Option<SipAddr>,
}

impl AckRoute {
    /// The route for `ack`; `fallback` (the INVITE's own connection and next
    /// hop) is used when the ACK's target cannot be resolved. `None` when
    /// there is no way to send it (logged).
    pub(crate) async fn find(
        context: &EndpointContext,
        flow: Option<SipConnection>,
        transport: Transport,
        ack: &Request,
        fallback: Option<(SipConnection, SipAddr)>,
    ) -> Option<AckRoute> {
        if let Some(flow) = flow {
            return Some(AckRoute {
                connection: flow,
                destination: None,
            });
        }
        let resolved = context
            .locate(&ack.destination(), Some(transport))
            .await
            .map(|hops| SipAddr {
                r#type: Some(transport.to_rsip()),
                addr: hops[0].address.into(),
            });
        match (resolved, fallback) {
            (Ok(destination), Some((connection, _))) => Some(AckRoute {
                connection,
                destination: Some(destination),
            }),
            (Ok(destination), None) => {
                match context
                    .stack
                    .transport_layer
                    .lookup(&destination, None)
                    .await
                {
                    Ok((connection, _)) => Some(AckRoute {
                        connection,
                        destination: Some(destination),
                    }),
                    Err(error) => {
                        warn!(%error, "no connection for the ACK");
                        None
                    }
                }
            }
            (Err(error), Some((connection, destination))) => {
                debug!(%error, "ACK target not resolvable; using the INVITE's next hop");
                Some(AckRoute {
                    connection,
                    destination: Some(destination),
                })
            }
            (Err(error), None) => {
                warn!(%error, "ACK target not resolvable");
                None
            }
        }
    }

    /// Send `ack`, on `arrived_on` when given (the connection a
    /// retransmitted 2xx came over) else on the route.
    pub(crate) async fn send(&self, ack: &Request, arrived_on: Option<SipConnection>) {
        let connection = arrived_on
            .filter(SipConnection::is_reliable)
            .unwrap_or_else(|| self.connection.clone());
        let destination = if connection.is_reliable() {
            None
        } else {
            self.destination.as_ref()
        };
        if let Err(error) = connection
            .send(SipMessage::Request(ack.clone()), destination)
            .await
        {
            warn!(%error, "ACK not sent");
        }
    }
}

/// For 64*T1, take the INVITE's transaction key back from rsipstack and
/// answer every retransmitted 2xx with the same ACK (RFC 3261 §13.2.2.4).
pub(crate) fn absorb_retransmissions(
    shared: &CallShared,
    invite: &Request,
    ack: Request,
    route: AckRoute,
) {
    let Ok(key) = TransactionKey::from_request(invite, TransactionRole::Client) else {
        return;
    };
    let stack = shared.context.stack.clone();
    let shutdown = shared.context.shutdown.clone();
    let window = shared.context.config.timers.t1 * 64;
    let (sender, mut receiver) = mpsc::unbounded_channel();
    stack.attach_transaction(&key, sender);
    tokio::spawn(async move {
        let end = tokio::time::sleep(window);
        tokio::pin!(end);
        loop {
            tokio::select! {
                () = &mut end => break,
                () = shutdown.cancelled() => break,
                event = receiver.recv() => match event {
                    Some(TransactionEvent::Received(SipMessage::Response(response), connection))
                        if response.status_code.kind() == StatusCodeKind::Successful =>
                    {
                        debug!("2xx retransmitted; ACK again");
                        route.send(&ack, connection).await;
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        stack.detach_transaction(&key, None);
    });
}
