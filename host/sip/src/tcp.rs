//! The TCP listener: callhost owns the sockets and the stream framing, and
//! feeds validated messages to rsipstack.
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
//! same connection.
//!
//! Limits: at most [`MAX_CONNECTIONS`] connections; a connection idle for
//! [`STREAM_IDLE_TIMEOUT`], or stuck mid-message for the partial timeout
//! (64*T1), is closed; a framing error is answered (400) and closes the
//! connection, since the stream cannot be resynchronised (RFC 4475 §3.1.2.3).
//! CRLFCRLF keepalives get a CRLF (RFC 5626 §3.5.1).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::SipMessage;
use rsipstack::transport::stream::StreamConnection;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc::UnboundedSender};
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

/// Accept connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, context: StreamContext) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = context.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(%error, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(%remote, "too many TCP connections; closing the new one");
            continue;
        };
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
    let local_sip = sip_addr(local);
    let connection = match TcpConnection::from_stream(stream, local_sip, Some(token.clone())) {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%error, "cannot wrap the TCP stream");
            return;
        }
    };
    let Some(mut reader) = connection.inner.read_half.lock().await.take() else {
        return;
    };
    let flow = SipConnection::Tcp(connection.clone());
    let remote_sip = sip_addr(remote);
    let mut buffer: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    'connection: loop {
        loop {
            match frame(&buffer) {
                Frame::Incomplete => break,
                Frame::Ping(length) => {
                    buffer.drain(..length);
                    if connection.send_raw(b"\r\n").await.is_err() {
                        break 'connection;
                    }
                }
                Frame::Skip(length) => {
                    buffer.drain(..length);
                }
                Frame::Message(length) => {
                    let message: Vec<u8> = buffer.drain(..length).collect();
                    if !deliver(&message, remote, &remote_sip, &flow, &connection, &context).await {
                        break 'connection;
                    }
                }
                Frame::Broken(length) => {
                    debug!(%remote, "unframeable TCP stream; closing");
                    let head = &buffer[..length.min(buffer.len())];
                    if let Verdict::Reply(rejection) =
                        context.inspector.inspect(head, Transport::Tcp, remote)
                    {
                        let _ = connection.send_raw(&rejection.response).await;
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
            () = token.cancelled() => break,
            read = tokio::time::timeout(wait, reader.read(&mut chunk)) => read,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(count)) => buffer.extend_from_slice(&chunk[..count]),
            Err(_elapsed) => {
                debug!(%remote, "TCP connection timed out");
                break;
            }
        }
    }
    // Marks the flow dead for dialogs that would reuse it.
    token.cancel();
    let _ = connection.close().await;
}

fn sip_addr(address: SocketAddr) -> SipAddr {
    SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: address.into(),
    }
}

/// Validate one framed message and pass it on; false if the connection
/// should close.
async fn deliver(
    message: &[u8],
    remote: SocketAddr,
    remote_sip: &SipAddr,
    flow: &SipConnection,
    connection: &TcpConnection,
    context: &StreamContext,
) -> bool {
    match context.inspector.inspect(message, Transport::Tcp, remote) {
        Verdict::Accept(accepted) => {
            let parsed = SipMessage::try_from(&accepted[..]).and_then(|parsed| {
                SipConnection::update_msg_received(parsed, remote, rsipstack::sip::Transport::Tcp)
                    .map_err(|e| rsipstack::sip::Error::ParseError(e.to_string()))
            });
            match parsed {
                Ok(parsed) => context
                    .injector
                    .send(TransportEvent::Incoming(
                        parsed,
                        flow.clone(),
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
            connection.send_raw(&rejection.response).await.is_ok()
        }
        Verdict::Discard(why) => {
            debug!(%remote, why, "TCP message dropped");
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
