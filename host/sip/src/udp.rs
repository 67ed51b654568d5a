//! The UDP listener: a socket that validates every datagram before rsipstack
//! sees it.
//!
//! rsipstack's `UdpConnection` reads through its `platform::net::UdpSocket`
//! trait (`UdpConnection::from_socket`). [`FilteredUdpSocket`] implements that
//! trait over a tokio socket: `recv_from` runs each datagram through the
//! [`Inspector`], answers or drops what rsipstack would mishandle, and
//! returns only accepted (canonicalised) messages; `send_to` is the plain
//! socket, less the stand-in From tags of RFC 2543 clients. This is the
//! pre-parse hook; no rsipstack code is patched.
//!
//! RFC 3261 §18.2.1 (receiving requests over UDP), §18.2.2 (where
//! stateless responses go).

use std::net::SocketAddr;

use rsipstack::transport::connection::MAX_UDP_BUF_SIZE;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::Transport;
use crate::validate::{Inspector, MAX_MESSAGE_SIZE, Verdict};
use crate::wire::strip_rfc2543_tags;

/// A UDP socket whose receive side is filtered by the [`Inspector`].
pub(crate) struct FilteredUdpSocket {
    socket: UdpSocket,
    inspector: Inspector,
    /// Receive buffer: one reader (rsipstack's serve loop) at a time.
    buffer: Mutex<Vec<u8>>,
}

impl FilteredUdpSocket {
    pub(crate) fn new(socket: UdpSocket, inspector: Inspector) -> Self {
        FilteredUdpSocket {
            socket,
            inspector,
            buffer: Mutex::new(vec![0; MAX_MESSAGE_SIZE + 1]),
        }
    }
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for FilteredUdpSocket {
    /// Next datagram that passes validation. Cancelling it may lose the
    /// stateless answer to a datagram being rejected, never an accepted one.
    async fn recv_from(&self, out: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        let mut buffer = self.buffer.lock().await;
        loop {
            let (length, source) = self.socket.recv_from(&mut buffer).await?;
            match self
                .inspector
                .inspect(&buffer[..length], Transport::Udp, source)
            {
                Verdict::Accept(message) if message.len() <= out.len().min(MAX_UDP_BUF_SIZE) => {
                    out[..message.len()].copy_from_slice(&message);
                    return Ok((message.len(), source));
                }
                Verdict::Accept(message) => {
                    // rsipstack reads into a fixed buffer; a longer message
                    // would be cut. Real SIP over UDP stays far below it.
                    warn!(%source, length = message.len(), "datagram too large for the stack");
                    if let Some(rejection) = self.inspector.too_large(&message, source) {
                        let _ = self
                            .socket
                            .send_to(&rejection.response, rejection.destination)
                            .await;
                    }
                }
                Verdict::Reply(rejection) => {
                    debug!(%source, status = rejection.status, phrase = rejection.phrase, "answered statelessly");
                    if let Err(error) = self
                        .socket
                        .send_to(&rejection.response, rejection.destination)
                        .await
                    {
                        debug!(%error, destination = %rejection.destination, "stateless response not sent");
                    }
                }
                Verdict::Discard(why) => debug!(%source, why, "datagram dropped"),
            }
        }
    }

    async fn send_to(&self, data: &[u8], target: SocketAddr) -> rsipstack::Result<usize> {
        // The stand-in From tags of RFC 2543 clients go no further (validate.rs).
        let sent = strip_rfc2543_tags(data);
        self.socket.send_to(&sent, target).await?;
        // The whole message went out, as the caller meant it.
        Ok(data.len())
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
