//! SIP over TLS on 127.0.0.1 (RFC 3261 §26.2, RFC 5630): a rustls client in
//! the test talks to the endpoint's TLS listener (INVITE → 100/180/200, ACK,
//! our BYE back on the same connection; OPTIONS; a malformed request gets
//! the validator's 400), one endpoint calls another over `sips:`, and bad
//! certificate files fail the bind. The certificate is made at test time
//! with rcgen for `localhost` and 127.0.0.1; nothing is stored in the repo.
//! SIPp over TLS is tried when the installed SIPp was built with TLS.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callhost_sip::{
    CallEvent, IncomingCall, OutgoingRequest, SipConfig, SipEndpoint, SipError, TlsSettings,
    Transport,
};
use common::ANSWER_SDP;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Longest wait for any one message or event.
const WAIT: Duration = Duration::from_secs(20);

/// A self-signed certificate for localhost/127.0.0.1 written to a temporary
/// directory (removed on drop).
struct TestCertificate {
    _dir: tempfile::TempDir,
    certificate: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

impl TestCertificate {
    fn new() -> TestCertificate {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .expect("generate certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&certificate, generated.cert.pem()).expect("write certificate");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        TestCertificate {
            der: generated.cert.der().clone(),
            _dir: dir,
            certificate,
            key,
        }
    }

    /// Settings serving this certificate on a free port, trusting `anchor`.
    fn settings(&self, anchor: Option<PathBuf>) -> TlsSettings {
        TlsSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            certificate_chain_pem: self.certificate.clone(),
            private_key_pem: self.key.clone(),
            trust_anchor_pem: anchor,
        }
    }
}

async fn tls_endpoint(
    certificate: &TestCertificate,
) -> (SipEndpoint, mpsc::Receiver<IncomingCall>) {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tls: Some(certificate.settings(None)),
        ..SipConfig::default()
    };
    SipEndpoint::bind(config).await.expect("bind endpoint")
}

/// A SIP-over-TLS client: one TLS connection, Content-Length framing.
struct Client {
    stream: TlsStream<TcpStream>,
    local: SocketAddr,
    buffer: Vec<u8>,
}

impl Client {
    async fn connect(server: SocketAddr, trusted: &CertificateDer<'static>) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(trusted.clone())
            .expect("trust the test certificate");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(server).await.expect("TCP connect");
        let local = tcp.local_addr().expect("local address");
        let name = ServerName::try_from("localhost").expect("server name");
        let stream = tokio::time::timeout(
            WAIT,
            TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .expect("handshake in time")
        .expect("TLS handshake");
        Client {
            stream,
            local,
            buffer: Vec::new(),
        }
    }

    async fn send(&mut self, message: &str) {
        self.stream
            .write_all(message.as_bytes())
            .await
            .expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next whole message on the connection.
    async fn receive(&mut self) -> String {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(length) = framed_length(&self.buffer) {
                    let message: Vec<u8> = self.buffer.drain(..length).collect();
                    return String::from_utf8(message).expect("UTF-8 message");
                }
                let mut chunk = [0u8; 4096];
                let count = self.stream.read(&mut chunk).await.expect("read");
                assert!(count > 0, "connection closed; buffered: {:?}", self.buffer);
                self.buffer.extend_from_slice(&chunk[..count]);
            }
        })
        .await
        .expect("a message within 20 s")
    }

    /// Messages until one whose start line begins with `start`.
    async fn receive_until(&mut self, start: &str) -> String {
        for _ in 0..10 {
            let message = self.receive().await;
            if message.starts_with(start) {
                return message;
            }
        }
        panic!("no message starting with {start:?}");
    }
}

fn framed_length(buffer: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buffer).ok()?;
    let head_end = text.find("\r\n\r\n")? + 4;
    let length = text[..head_end]
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    (buffer.len() >= head_end + length).then_some(head_end + length)
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn invite(client: SocketAddr, server: SocketAddr, call_id: &str) -> String {
    let body = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 40002 RTP/AVP 0\r\n";
    format!(
        "INVITE sips:echo@{server} SIP/2.0\r\n\
         Via: SIP/2.0/TLS {client};branch=z9hG4bKinv{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sips:alice@{client}>;tag=alice1\r\n\
         To: <sips:echo@{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sips:alice@{client}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn invite_over_tls_is_answered_and_our_bye_reuses_the_connection() {
    let certificate = TestCertificate::new();
    let (endpoint, mut calls) = tls_endpoint(&certificate).await;
    let server = endpoint.tls_local_addr().expect("TLS listener");
    assert_ne!(server.port(), 0);
    let mut client = Client::connect(server, &certificate.der).await;
    let call_id = "tls-call-1";
    client.send(&invite(client.local, server, call_id)).await;
    let trying = client.receive().await;
    assert!(trying.starts_with("SIP/2.0 100"), "{trying}");

    let incoming = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call in time")
        .expect("incoming call");
    assert_eq!(incoming.transport, Transport::Tls);
    assert_eq!(incoming.call_id, call_id);
    assert_eq!(incoming.remote, client.local);
    assert_eq!(incoming.service, "echo");
    let IncomingCall {
        call, mut events, ..
    } = incoming;
    call.ringing().await.expect("ringing");
    let answering = tokio::spawn({
        let call = call.clone();
        async move { call.answer(ANSWER_SDP.to_string()).await }
    });
    let ringing = client.receive().await;
    assert!(ringing.starts_with("SIP/2.0 180"), "{ringing}");
    let ok = client.receive_until("SIP/2.0 200").await;
    // A sips: Request-URI makes our Contact sips: (RFC 3261 §12.1.1).
    let contact = header(&ok, "Contact").expect("Contact in the 200");
    assert!(contact.contains(&format!("sips:{server}")), "{contact}");
    let to = header(&ok, "To").expect("To").to_string();
    client
        .send(&format!(
            "ACK sips:{server} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bKack1;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sips:alice@{local}>;tag=alice1\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            local = client.local
        ))
        .await;
    tokio::time::timeout(WAIT, answering)
        .await
        .expect("answer in time")
        .expect("answer task")
        .expect("answer confirmed by the ACK");

    let hanging_up = tokio::spawn({
        let call = call.clone();
        async move { call.hang_up().await }
    });
    // Our BYE comes back on the client's own connection (there is no
    // listener on the client's side), addressed to its Contact.
    let bye = client.receive_until("BYE ").await;
    assert!(
        bye.starts_with(&format!("BYE sips:alice@{}", client.local)),
        "{bye}"
    );
    assert!(
        header(&bye, "Via")
            .expect("Via")
            .starts_with("SIP/2.0/TLS "),
        "{bye}"
    );
    let via = header(&bye, "Via").expect("Via");
    let from = header(&bye, "From").expect("From");
    let cseq = header(&bye, "CSeq").expect("CSeq");
    client
        .send(&format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: <sips:alice@{}>;tag=alice1\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n",
            client.local
        ))
        .await;
    tokio::time::timeout(WAIT, hanging_up)
        .await
        .expect("hang-up in time")
        .expect("hang-up task")
        .expect("BYE answered");
    loop {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("events")
        {
            Some(CallEvent::Ended { .. }) | None => break,
            Some(_) => continue,
        }
    }
    assert_eq!(endpoint.active_calls(), 0);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn options_over_tls_gets_200_and_malformed_gets_400() {
    let certificate = TestCertificate::new();
    let (endpoint, _calls) = tls_endpoint(&certificate).await;
    let server = endpoint.tls_local_addr().expect("TLS listener");
    let mut client = Client::connect(server, &certificate.der).await;
    let local = client.local;
    client
        .send(&format!(
            "OPTIONS sips:{server} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bKopt1\r\n\
             Max-Forwards: 70\r\n\
             From: <sips:probe@{local}>;tag=p1\r\n\
             To: <sips:{server}>\r\n\
             Call-ID: tls-options-1\r\n\
             CSeq: 7 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .await;
    let ok = client.receive().await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(header(&ok, "CSeq"), Some("7 OPTIONS"));
    assert!(
        header(&ok, "Allow").is_some_and(|allow| allow.contains("INVITE")),
        "{ok}"
    );

    // A CSeq whose method does not match the request line: the validator
    // answers 400 before rsipstack sees it, on the same connection, which
    // stays usable.
    client
        .send(&format!(
            "OPTIONS sips:{server} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bKbad1\r\n\
             Max-Forwards: 70\r\n\
             From: <sips:probe@{local}>;tag=p1\r\n\
             To: <sips:{server}>\r\n\
             Call-ID: tls-bad-1\r\n\
             CSeq: 9 INVITE\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .await;
    let bad = client.receive().await;
    assert!(bad.starts_with("SIP/2.0 400"), "{bad}");
    assert_eq!(header(&bad, "Call-ID"), Some("tls-bad-1"));
    assert!(bad.contains("CSeq method"), "{bad}");

    client
        .send(&format!(
            "OPTIONS sips:{server} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bKopt2\r\n\
             Max-Forwards: 70\r\n\
             From: <sips:probe@{local}>;tag=p1\r\n\
             To: <sips:{server}>\r\n\
             Call-ID: tls-options-2\r\n\
             CSeq: 8 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .await;
    let again = client.receive().await;
    assert!(again.starts_with("SIP/2.0 200"), "{again}");
    assert_eq!(header(&again, "Call-ID"), Some("tls-options-2"));
    endpoint.shutdown().await;
}

#[tokio::test]
async fn endpoint_calls_endpoint_over_sips() {
    let callee_certificate = TestCertificate::new();
    let (callee, mut calls) = tls_endpoint(&callee_certificate).await;
    let callee_tls = callee.tls_local_addr().expect("callee TLS listener");
    // The caller has its own certificate and trusts the callee's.
    let caller_certificate = TestCertificate::new();
    let caller_config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tls: Some(caller_certificate.settings(Some(callee_certificate.certificate.clone()))),
        ..SipConfig::default()
    };
    let (caller, _unused) = SipEndpoint::bind(caller_config).await.expect("bind caller");

    let callee_task = tokio::spawn(async move {
        let incoming = tokio::time::timeout(WAIT, calls.recv())
            .await
            .expect("call in time")
            .expect("incoming call");
        assert_eq!(incoming.transport, Transport::Tls);
        let IncomingCall {
            call, mut events, ..
        } = incoming;
        call.ringing().await.expect("ringing");
        call.answer(ANSWER_SDP.to_string()).await.expect("answer");
        let mut got_bye = false;
        while let Some(event) = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("callee events")
        {
            got_bye |= matches!(event, CallEvent::Bye);
        }
        got_bye
    });

    let mut call = caller
        .call(OutgoingRequest {
            target: format!("sips:echo@localhost:{}", callee_tls.port()),
            offer_sdp: ANSWER_SDP.to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect("call over sips");
    assert_eq!(call.transport, Transport::Tls);
    loop {
        match tokio::time::timeout(WAIT, call.events.recv())
            .await
            .expect("caller events")
        {
            Some(CallEvent::Progress { .. }) => continue,
            Some(CallEvent::Answered { answer_sdp, .. }) => {
                assert_eq!(answer_sdp.as_deref(), Some(ANSWER_SDP));
                break;
            }
            other => panic!("expected Answered, got {other:?}"),
        }
    }
    call.call.hang_up().await.expect("hang up");
    assert!(
        tokio::time::timeout(WAIT, callee_task)
            .await
            .expect("callee done in time")
            .expect("callee task"),
        "the callee saw our BYE"
    );
    caller.shutdown().await;
    callee.shutdown().await;
}

#[tokio::test]
async fn untrusted_callee_is_unreachable() {
    let callee_certificate = TestCertificate::new();
    let (callee, _calls) = tls_endpoint(&callee_certificate).await;
    let callee_tls = callee.tls_local_addr().expect("callee TLS listener");
    let caller_certificate = TestCertificate::new();
    // The caller trusts only the Mozilla roots: the self-signed callee fails.
    let (caller, _unused) = tls_endpoint(&caller_certificate).await;
    let refused = caller
        .call(OutgoingRequest {
            target: format!("sip:echo@127.0.0.1:{};transport=tls", callee_tls.port()),
            ..OutgoingRequest::default()
        })
        .await
        .expect_err("an untrusted certificate must fail the call");
    assert!(
        matches!(&refused, SipError::Unreachable { reason, .. } if reason.contains("handshake")),
        "{refused}"
    );
    assert_eq!(caller.active_calls(), 0);
    caller.shutdown().await;
    callee.shutdown().await;
}

#[tokio::test]
async fn sips_without_tls_settings_is_unsupported() {
    let (endpoint, _calls) = SipEndpoint::bind(SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..SipConfig::default()
    })
    .await
    .expect("bind");
    let refused = endpoint
        .call(OutgoingRequest {
            target: "sips:bob@127.0.0.1:5061".to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect_err("no TLS configured");
    assert!(
        matches!(refused, SipError::UnsupportedTransport { .. }),
        "{refused}"
    );
    endpoint.shutdown().await;
}

#[tokio::test]
async fn bad_certificate_files_fail_the_bind() {
    let certificate = TestCertificate::new();
    let other = TestCertificate::new();
    let bind = |settings: TlsSettings| async move {
        SipEndpoint::bind(SipConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            tls: Some(settings),
            ..SipConfig::default()
        })
        .await
        .map(|_| ())
    };
    let missing = TlsSettings {
        certificate_chain_pem: PathBuf::from("/nonexistent/cert.pem"),
        ..certificate.settings(None)
    };
    match bind(missing).await {
        Err(SipError::TlsFile { path, .. }) => {
            assert_eq!(path, PathBuf::from("/nonexistent/cert.pem"))
        }
        other => panic!("expected TlsFile, got {other:?}"),
    }
    // A key file as the certificate chain: no certificate in it.
    let not_a_certificate = TlsSettings {
        certificate_chain_pem: certificate.key.clone(),
        ..certificate.settings(None)
    };
    assert!(matches!(
        bind(not_a_certificate).await,
        Err(SipError::TlsFile { .. })
    ));
    // Another certificate's key does not fit.
    let wrong_key = TlsSettings {
        private_key_pem: other.key.clone(),
        ..certificate.settings(None)
    };
    match bind(wrong_key).await {
        Err(SipError::TlsFile { path, .. }) => assert_eq!(path, other.key),
        other => panic!("expected TlsFile for the key, got {other:?}"),
    }
}

/// SIPp's built-in `uac` over TLS (`-t l1`) against the harness. Debian's
/// SIPp is built without OpenSSL; then this test says so on stderr and
/// checks nothing else.
#[tokio::test]
async fn sipp_uac_over_tls_when_sipp_has_tls() {
    let certificate = TestCertificate::new();
    let config = SipConfig {
        tls: Some(certificate.settings(None)),
        ..SipConfig::default()
    };
    let harness = common::Harness::start(config, common::Policy::AnswerWaitBye).await;
    let server = harness
        .endpoint
        .as_ref()
        .and_then(SipEndpoint::tls_local_addr)
        .expect("TLS listener");
    let certificate_path = certificate.certificate.to_string_lossy().into_owned();
    let key_path = certificate.key.to_string_lossy().into_owned();
    let run = common::run_sipp(
        server,
        &[
            "-sn",
            "uac",
            "-t",
            "l1",
            "-m",
            "5",
            "-r",
            "10",
            "-tls_cert",
            &certificate_path,
            "-tls_key",
            &key_path,
        ],
    )
    .await;
    if run.output.contains("compile SIPp with OpenSSL") {
        eprintln!(
            "SKIPPED sipp_uac_over_tls_when_sipp_has_tls: the installed SIPp has no TLS \
             support (built without OpenSSL)"
        );
        harness.shutdown().await;
        return;
    }
    common::assert_all_successful(&run, 5);
    let stats = harness.wait_for("5 BYEs", |s| s.byes == 5).await;
    assert_eq!(stats.answered, 5, "{stats:?}");
    harness.shutdown().await;
}
