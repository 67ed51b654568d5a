//! The TCP listener and the stream framing loop shared by TCP and TLS:
//! callhost owns the sockets and the framing, and feeds validated messages
//! to rsipstack.
//!
//! Why not rsipstack's TCP listener: its stream reader parses inside its own
//! codec, and a message that fails to parse ends the whole connection
//! silently; there is no hook before the parser. So this module accepts
//! connections, frames messages by Content-Length (RFC 3261 §18.3),
//! validates each with the [`Inspector`], and hands accepted messages to
//! rsipstack as `TransportEvent::Incoming` through an in-memory
//! `ChannelConnection` registered with rsipstack's transport layer (the
//! stack's documented way to inject traffic). Each message carries an
//! rsipstack `TcpConnection` built over the accepted stream whose read half
//! we took, so rsipstack writes responses and in-dialog requests back on the
//! same connection. TLS streams (`tls.rs`) run through the same
//! [`serve_stream`] loop with a different writer and flow.
//!
//! Limits (TCP and TLS alike): at most [`MAX_CONNECTIONS`] connections per
//! listener; a connection idle for [`STREAM_IDLE_TIMEOUT`], or stuck
//! mid-message for the partial timeout (64*T1), is closed; a framing error is answered (400) and closes the
//! connection, since the stream cannot be resynchronised (RFC 4475 §3.1.2.3).
//! CRLFCRLF keepalives get a CRLF (RFC 5626 §3.5.1).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::SipMessage;
use rsipstack::transport::stream::StreamConnection;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc::UnboundedSender};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::Transport;
use crate::validate::{Inspector, MAX_MESSAGE_SIZE, Verdict};
use crate::wire::{find, scan};

/// Most simultaneous TCP connections; further ones are closed on accept.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// A connection with no traffic for this long is closed.
pub(crate) const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything a connection task needs.
#[derive(Clone)]
pub(crate) struct StreamContext {
    pub inspector: Inspector,
    /// Into rsipstack's transport layer (the injector channel).
    pub injector: UnboundedSender<TransportEvent>,
    pub shutdown: CancellationToken,
    /// How long a partly received message may wait for the rest.
    pub partial_timeout: Duration,
}

/// Connections accepted on one listener, at most [`MAX_CONNECTIONS`] at once
/// (TCP and TLS alike).
pub(crate) struct BoundedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    /// "TCP" or "TLS", for log lines.
    label: &'static str,
}

impl BoundedListener {
    pub(crate) fn new(listener: TcpListener, label: &'static str) -> Self {
        BoundedListener {
            listener,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            label,
        }
    }

    /// The next connection and the permit that holds its place (drop it when
    /// the connection ends); `None` on shutdown. A connection over the limit is
    /// closed at once; accept errors (EMFILE and friends) back off instead of spinning.
    pub(crate) async fn next(
        &self,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => return None,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(%error, "{} accept failed", self.label);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => return Some((stream, remote, permit)),
                Err(_) => {
                    warn!(%remote, "too many {} connections; closing the new one", self.label)
                }
            }
        }
    }
}

/// Accept connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, context: StreamContext) {
    let listener = BoundedListener::new(listener, "TCP");
    while let Some((stream, remote, permit)) = listener.next(&context.shutdown).await {
        let context = context.clone();
        tokio::spawn(async move {
            serve_connection(stream, remote, context).await;
            drop(permit);
        });
    }
}

/// One step of stream framing over the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// Need more bytes.
    Incomplete,
    /// A CRLFCRLF keepalive of this length: answer CRLF.
    Ping(usize),
    /// Stray CRLF before a start line (RFC 3261 §7.5): skip.
    Skip(usize),
    /// A complete message of this length.
    Message(usize),
    /// The stream cannot be framed; the first `usize` bytes are the header
    /// section to answer from.
    Broken(usize),
}

fn frame(buffer: &[u8]) -> Frame {
    if buffer.starts_with(b"\r\n\r\n") {
        return Frame::Ping(4);
    }
    if buffer.starts_with(b"\r\n") {
        return if buffer.len() < 4 && b"\r\n\r\n".starts_with(buffer) {
            Frame::Incomplete
        } else {
            Frame::Skip(2)
        };
    }
    let Some(end) = find(buffer, b"\r\n\r\n") else {
        return if buffer.len() > MAX_MESSAGE_SIZE {
            Frame::Broken(buffer.len())
        } else {
            Frame::Incomplete
        };
    };
    let head_length = end + 4;
    let head = scan(&buffer[..head_length]);
    let mut length: Option<usize> = None;
    for value in head.values("Content-Length") {
        let parsed = match value.parse::<usize>() {
            Ok(parsed) if value.bytes().all(|b| b.is_ascii_digit()) => parsed,
            _ => return Frame::Broken(head_length),
        };
        if length.is_some_and(|l| l != parsed) {
            return Frame::Broken(head_length);
        }
        length = Some(parsed);
    }
    match length {
        None => Frame::Broken(head_length),
        Some(length) if length > MAX_MESSAGE_SIZE - head_length.min(MAX_MESSAGE_SIZE) => {
            Frame::Broken(head_length)
        }
        Some(length) if buffer.len() < head_length + length => Frame::Incomplete,
        Some(length) => Frame::Message(head_length + length),
    }
}

async fn serve_connection(stream: TcpStream, remote: SocketAddr, context: StreamContext) {
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(error) => {
            debug!(%error, "accepted TCP stream has no local address");
            return;
        }
    };
    let token = context.shutdown.child_token();
    let local_sip = sip_addr(local, Transport::Tcp);
    let connection = match TcpConnection::from_stream(stream, local_sip, Some(token.clone())) {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%error, "cannot wrap the TCP stream");
            return;
        }
    };
    let Some(reader) = connection.inner.read_half.lock().await.take() else {
        return;
    };
    let peer = StreamPeer {
        remote,
        transport: Transport::Tcp,
        flow: SipConnection::Tcp(connection.clone()),
        writer: StreamWriter::Tcp(connection),
        token,
    };
    serve_stream(reader, peer, &context).await;
}

/// Where stateless answers (keepalive CRLF, rejections) of one stream go.
pub(crate) enum StreamWriter {
    /// rsipstack's TCP connection, whose read half we took.
    Tcp(TcpConnection),
    /// The write half of a TLS stream, shared with the flow's writer task.
    Tls(crate::tls::TlsWriter),
}

impl StreamWriter {
    /// Write `data`; false if the stream is broken.
    async fn send_raw(&self, data: &[u8]) -> bool {
        match self {
            StreamWriter::Tcp(connection) => connection.send_raw(data).await.is_ok(),
            StreamWriter::Tls(writer) => writer.send_raw(data).await,
        }
    }

    async fn close(&self) {
        match self {
            StreamWriter::Tcp(connection) => {
                let _ = connection.close().await;
            }
            StreamWriter::Tls(writer) => writer.close().await,
        }
    }
}

/// One accepted or dialled stream, as the framing loop sees it.
pub(crate) struct StreamPeer {
    pub remote: SocketAddr,
    /// TCP or TLS: what the validator and Via `received` are told.
    pub transport: Transport,
    /// What rsipstack sees as the message's connection: it answers and
    /// sends in-dialog requests on it, so they reuse this stream.
    pub flow: SipConnection,
    pub writer: StreamWriter,
    /// The flow's token: cancelled when the stream ends, which marks the
    /// flow dead for dialogs that would reuse it.
    pub token: CancellationToken,
}

/// Frame, validate and deliver the messages read from `reader` until the
/// stream closes, idles out, breaks, or the endpoint shuts down. The same
/// loop serves TCP and TLS, so rsipstack sees both identically.
pub(crate) async fn serve_stream<R: AsyncRead + Unpin>(
    mut reader: R,
    peer: StreamPeer,
    context: &StreamContext,
) {
    let remote = peer.remote;
    let remote_sip = sip_addr(remote, peer.transport);
    let mut buffer: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    'connection: loop {
        loop {
            match frame(&buffer) {
                Frame::Incomplete => break,
                Frame::Ping(length) => {
                    buffer.drain(..length);
                    if !peer.writer.send_raw(b"\r\n").await {
                        break 'connection;
                    }
                }
                Frame::Skip(length) => {
                    buffer.drain(..length);
                }
                Frame::Message(length) => {
                    let message: Vec<u8> = buffer.drain(..length).collect();
                    if !deliver(&message, &remote_sip, &peer, context).await {
                        break 'connection;
                    }
                }
                Frame::Broken(length) => {
                    debug!(%remote, transport = %peer.transport, "unframeable stream; closing");
                    let head = &buffer[..length.min(buffer.len())];
                    if let Verdict::Reply(rejection) =
                        context.inspector.inspect(head, peer.transport, remote)
                    {
                        peer.writer.send_raw(&rejection.response).await;
                    }
                    break 'connection;
                }
            }
        }
        let wait = if buffer.is_empty() {
            STREAM_IDLE_TIMEOUT
        } else {
            context.partial_timeout
        };
        let read = tokio::select! {
            () = peer.token.cancelled() => break,
            read = tokio::time::timeout(wait, reader.read(&mut chunk)) => read,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(count)) => buffer.extend_from_slice(&chunk[..count]),
            Err(_elapsed) => {
                debug!(%remote, transport = %peer.transport, "stream connection timed out");
                break;
            }
        }
    }
    peer.token.cancel();
    peer.writer.close().await;
}

pub(crate) fn sip_addr(address: SocketAddr, transport: Transport) -> SipAddr {
    SipAddr {
        r#type: Some(transport.to_rsip()),
        addr: address.into(),
    }
}

/// Validate one framed message and pass it on; false if the connection
/// should close.
async fn deliver(
    message: &[u8],
    remote_sip: &SipAddr,
    peer: &StreamPeer,
    context: &StreamContext,
) -> bool {
    let remote = peer.remote;
    match context.inspector.inspect(message, peer.transport, remote) {
        Verdict::Accept(accepted) => {
            let parsed = SipMessage::try_from(&accepted[..]).and_then(|parsed| {
                SipConnection::update_msg_received(parsed, remote, peer.transport.to_rsip())
                    .map_err(|e| rsipstack::sip::Error::ParseError(e.to_string()))
            });
            match parsed {
                Ok(parsed) => context
                    .injector
                    .send(TransportEvent::Incoming(
                        parsed,
                        peer.flow.clone(),
                        remote_sip.clone(),
                    ))
                    .is_ok(),
                Err(error) => {
                    debug!(%remote, %error, "accepted message did not parse");
                    true
                }
            }
        }
        Verdict::Reply(rejection) => {
            debug!(%remote, status = rejection.status, phrase = rejection.phrase, "answered statelessly");
            peer.writer.send_raw(&rejection.response).await
        }
        Verdict::Discard(why) => {
            debug!(%remote, why, "stream message dropped");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n";

    #[test]
    fn frames_by_content_length() {
        let message = format!("{HEAD}Content-Length: 5\r\n\r\nhello");
        assert_eq!(frame(message.as_bytes()), Frame::Message(message.len()));
        assert_eq!(
            frame(&message.as_bytes()[..message.len() - 1]),
            Frame::Incomplete
        );
        let two = format!("{message}{message}");
        assert_eq!(frame(two.as_bytes()), Frame::Message(message.len()));
        assert_eq!(frame(HEAD.as_bytes()), Frame::Incomplete);
    }

    #[test]
    fn keepalives_and_stray_crlf() {
        assert_eq!(frame(b"\r\n\r\nOPTIONS"), Frame::Ping(4));
        assert_eq!(frame(b"\r\n"), Frame::Incomplete);
        assert_eq!(frame(b"\r\nOPTIONS"), Frame::Skip(2));
    }

    #[test]
    fn unframeable_streams_are_broken() {
        let missing = format!("{HEAD}\r\n");
        assert_eq!(frame(missing.as_bytes()), Frame::Broken(missing.len()));
        let negative = format!("{HEAD}Content-Length: -999\r\n\r\n");
        assert_eq!(frame(negative.as_bytes()), Frame::Broken(negative.len()));
        let conflicting = format!("{HEAD}Content-Length: 13\r\nl: 5\r\n\r\n");
        assert_eq!(
            frame(conflicting.as_bytes()),
            Frame::Broken(conflicting.len())
        );
        let huge = format!("{HEAD}Content-Length: 99999999\r\n\r\n");
        assert_eq!(frame(huge.as_bytes()), Frame::Broken(huge.len()));
        let endless = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert_eq!(frame(&endless), Frame::Broken(endless.len()));
    }
}
