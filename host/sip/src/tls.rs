//! SIP over TLS (RFC 3261 §26.2, RFC 5630): the listener, outgoing
//! connections, and loading the certificate files.
//!
//! What lives here: [`TlsSettings`] (the public configuration),
//! [`TlsContext`] (the rustls server and client configurations built from
//! it at bind time), [`accept_loop`] (inbound) and [`connect`] (outbound).
//! Both directions end in `tcp::serve_stream`, the framing and validation
//! loop TCP uses, so the validator and rsipstack see TLS messages exactly
//! as TCP ones.
//!
//! How rsipstack sends on a TLS stream: rsipstack's own TLS connection type
//! owns its read half privately, so it cannot sit behind our framing. Each
//! TLS stream instead gets an rsipstack `ChannelConnection` as its flow
//! (the stack's documented in-memory connection): whatever rsipstack sends
//! on it (responses, in-dialog requests, ACKs) comes out of the channel and
//! is written to the stream by a small writer task. The channel's address
//! carries `Transport::Tls` and the peer's address, which is how the rest
//! of the crate tells a TLS flow from others ([`is_tls_flow`]).
//!
//! Trust: outgoing connections verify the server certificate against the
//! Mozilla roots of `webpki-roots` plus the optional configured trust
//! anchor, with the target URI's host as the server name. No client
//! certificates are sent or asked for (mutual TLS is not offered).
//!
//! Depends on rustls (ring provider), tokio-rustls, webpki-roots, rsipstack's
//! channel connection, and `tcp` for the stream loop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::{SipConnection, TransportEvent};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tracing::debug;

use crate::tcp::{
    BoundedListener, StreamContext, StreamPeer, StreamWriter, serve_stream, sip_addr,
};
use crate::{SipError, Transport};

/// The TLS listener and the files it serves. The certificate and key are
/// read and checked when the endpoint binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Where the TLS listener binds (5061 is the SIPS default port); port 0
    /// picks a free one, see [`crate::SipEndpoint::tls_local_addr`].
    pub listen: SocketAddr,
    /// PEM file with our certificate chain, leaf first.
    pub certificate_chain_pem: PathBuf,
    /// PEM file with the private key of the leaf certificate (PKCS#8,
    /// PKCS#1 or SEC1).
    pub private_key_pem: PathBuf,
    /// PEM file with extra root certificates that outgoing TLS connections
    /// trust besides the Mozilla roots (for private CAs or self-signed
    /// peers).
    pub trust_anchor_pem: Option<PathBuf>,
}

/// The rustls configurations built from [`TlsSettings`].
pub(crate) struct TlsContext {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> SipError {
    SipError::TlsFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SipError> {
    let bytes = std::fs::read(path).map_err(|error| file_error(path, error))?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, error))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no PEM certificate in the file"));
    }
    Ok(certificates)
}

impl TlsContext {
    /// Read and check the files of `settings`. Errs with
    /// [`SipError::TlsFile`] naming the file that cannot be used.
    pub(crate) fn load(settings: &TlsSettings) -> Result<TlsContext, SipError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = read_certificates(&settings.certificate_chain_pem)?;
        let key_path = &settings.private_key_pem;
        let key_bytes = std::fs::read(key_path).map_err(|error| file_error(key_path, error))?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes)
            .map_err(|error| file_error(key_path, format!("no usable private key: {error}")))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(SipError::stack)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| {
                file_error(
                    key_path,
                    format!("does not fit the certificate chain: {error}"),
                )
            })?;

        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &settings.trust_anchor_pem {
            for certificate in read_certificates(path)? {
                roots
                    .add(certificate)
                    .map_err(|error| file_error(path, error))?;
            }
        }
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(SipError::stack)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsContext {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }
}

/// The write half of a TLS stream. Shared by the framing loop (keepalive
/// answers, stateless rejections) and the flow's writer task; the lock
/// keeps whole messages together.
#[derive(Clone)]
pub(crate) struct TlsWriter {
    half: Arc<Mutex<WriteHalf<TlsStream<TcpStream>>>>,
}

impl TlsWriter {
    /// Write and flush `data`; false if the stream is broken.
    pub(crate) async fn send_raw(&self, data: &[u8]) -> bool {
        let mut half = self.half.lock().await;
        half.write_all(data).await.is_ok() && half.flush().await.is_ok()
    }

    /// Send close_notify and shut the stream down.
    pub(crate) async fn close(&self) {
        let _ = self.half.lock().await.shutdown().await;
    }
}

/// Whether `connection` is the flow of a TLS stream (see the module doc).
pub(crate) fn is_tls_flow(connection: &SipConnection) -> bool {
    matches!(connection, SipConnection::Channel(channel)
        if channel.get_addr().r#type == Some(rsipstack::sip::Transport::Tls))
}

/// Serve an established TLS stream in the background; returns its flow.
/// The stream ends when the peer closes it, on idle or broken framing (as
/// TCP), or at shutdown.
async fn start_stream(
    stream: TlsStream<TcpStream>,
    remote: SocketAddr,
    context: StreamContext,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<SipConnection, SipError> {
    let token = context.shutdown.child_token();
    let (reader, half) = tokio::io::split(stream);
    let writer = TlsWriter {
        half: Arc::new(Mutex::new(half)),
    };
    // The channel's own receive side is never served: our framing loop
    // injects received messages through the endpoint's injector instead.
    let (_unused, unserved) = mpsc::unbounded_channel();
    let (outgoing, mut to_write) = mpsc::unbounded_channel();
    let channel = ChannelConnection::create_connection(
        unserved,
        outgoing,
        sip_addr(remote, Transport::Tls),
        Some(token.clone()),
    )
    .await
    .map_err(SipError::stack)?;
    let flow = SipConnection::Channel(channel);

    let write_token = token.clone();
    let write_side = writer.clone();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = write_token.cancelled() => break,
                event = to_write.recv() => event,
            };
            match event {
                Some(TransportEvent::Incoming(message, _, _)) => {
                    if !write_side.send_raw(&message.to_bytes()).await {
                        debug!(%remote, "TLS write failed; closing the stream");
                        write_token.cancel();
                        break;
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    });

    let peer = StreamPeer {
        remote,
        transport: Transport::Tls,
        flow: flow.clone(),
        writer: StreamWriter::Tls(writer),
        token,
    };
    tokio::spawn(async move {
        serve_stream(reader, peer, &context).await;
        drop(permit);
    });
    Ok(flow)
}

/// Accept TLS connections until shutdown: handshake (bounded by the
/// partial-message timeout), then serve each like a TCP connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    context: StreamContext,
) {
    let listener = BoundedListener::new(listener, "TLS");
    while let Some((stream, remote, permit)) = listener.next(&context.shutdown).await {
        let acceptor = acceptor.clone();
        let context = context.clone();
        // The handshake runs in the connection's task so a slow client
        // cannot hold up the accept loop.
        tokio::spawn(async move {
            let handshake = tokio::select! {
                () = context.shutdown.cancelled() => return,
                handshake = tokio::time::timeout(context.partial_timeout, acceptor.accept(stream)) => handshake,
            };
            match handshake {
                Ok(Ok(stream)) => {
                    let stream = TlsStream::Server(stream);
                    if let Err(error) = start_stream(stream, remote, context, Some(permit)).await {
                        debug!(%remote, %error, "TLS stream not served");
                    }
                }
                Ok(Err(error)) => debug!(%remote, %error, "TLS handshake failed"),
                Err(_elapsed) => debug!(%remote, "TLS handshake timed out"),
            }
        });
    }
}

/// Open a TLS connection to `remote`, checking its certificate for
/// `server_name` (the host of the next hop's URI), and serve it; returns
/// the flow to send on. Errs with [`SipError::Unreachable`] when the TCP
/// connection or the handshake fails or takes longer than the
/// partial-message timeout (64*T1).
pub(crate) async fn connect(
    tls: &TlsContext,
    context: &StreamContext,
    remote: SocketAddr,
    server_name: &str,
) -> Result<SipConnection, SipError> {
    let unreachable = |reason: String| SipError::Unreachable {
        destination: format!("{remote} over TLS ({server_name})"),
        reason,
    };
    let name = ServerName::try_from(server_name.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|error| unreachable(format!("not a usable TLS server name: {error}")))?
        .to_owned();
    let dial = async {
        let tcp = TcpStream::connect(remote)
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        tls.connector
            .connect(name, tcp)
            .await
            .map_err(|error| unreachable(format!("TLS handshake failed: {error}")))
    };
    let stream = tokio::time::timeout(context.partial_timeout, dial)
        .await
        .map_err(|_| unreachable("TLS connection timed out".to_string()))??;
    debug!(%remote, server_name, "TLS connection established");
    start_stream(TlsStream::Client(stream), remote, context.clone(), None).await
}
