//! RFC 3263 server location against a real DNS server on 127.0.0.1 (the
//! test zone server in common/dns.rs, named by `SipConfig::dns_servers`):
//! NAPTR → SRV → A choosing TCP, SRV priority order, the SRV and A
//! fallbacks, an explicit port skipping SRV, `sips:` taking TLS only, an
//! unknown name and a silent DNS server failing with `Unreachable` in
//! bounded time; and an outgoing call to `sip:bob@example.test` (no port,
//! no transport) reaching a SIPp callee at the port of an SRV record, over
//! the transport NAPTR preferred, after the first SRV target refused.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use callhost_sip::{
    CallEvent, NextHop, OutgoingRequest, RESOLUTION_DEADLINE, SipConfig, SipEndpoint, SipError,
    TlsSettings, Transport,
};
use common::callee::Callee;
use common::dns::{DnsServer, a, naptr, srv};
use common::{ANSWER_SDP, assert_all_successful};
use hickory_resolver::proto::rr::RecordType;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Longest wait for any one call event.
const EVENT_WAIT: Duration = Duration::from_secs(20);

async fn endpoint(dns: SocketAddr, tls: Option<TlsSettings>) -> SipEndpoint {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        dns_servers: vec![dns],
        tls,
        ..SipConfig::default()
    };
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind endpoint");
    endpoint
}

fn hop(port: u16, transport: Transport) -> NextHop {
    NextHop {
        address: SocketAddr::from((LOOPBACK, port)),
        transport,
    }
}

fn asked(dns: &DnsServer, kind: RecordType, owner: &str) -> bool {
    dns.questions()
        .contains(&common::dns::question(kind, owner))
}

/// A self-signed certificate in a temporary directory, for an endpoint
/// that offers TLS (nothing connects to it here).
struct Certificate {
    _dir: tempfile::TempDir,
    certificate: PathBuf,
    key: PathBuf,
}

impl Certificate {
    fn new() -> Certificate {
        let generated = rcgen::generate_simple_self_signed(vec!["secure.test".into()])
            .expect("generate certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&certificate, generated.cert.pem()).expect("write certificate");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        Certificate {
            _dir: dir,
            certificate,
            key,
        }
    }

    fn settings(&self) -> TlsSettings {
        TlsSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            certificate_chain_pem: self.certificate.clone(),
            private_key_pem: self.key.clone(),
            trust_anchor_pem: None,
        }
    }
}

#[tokio::test]
async fn naptr_preferring_tcp_leads_through_srv_to_a() {
    let dns = DnsServer::start(vec![
        naptr(
            "example.test.",
            20,
            10,
            "SIP+D2U",
            "_sip._udp.example.test.",
        ),
        naptr(
            "example.test.",
            10,
            10,
            "SIP+D2T",
            "_sip._tcp.example.test.",
        ),
        // No TLS listener here: this one is not ours to use.
        naptr(
            "example.test.",
            5,
            10,
            "SIPS+D2T",
            "_sips._tcp.example.test.",
        ),
        srv("_sip._tcp.example.test.", 10, 0, 5070, "tcp.example.test."),
        srv("_sip._udp.example.test.", 10, 0, 5080, "udp.example.test."),
        srv("_sips._tcp.example.test.", 10, 0, 5090, "tls.example.test."),
        a("tcp.example.test.", LOOPBACK),
        a("udp.example.test.", LOOPBACK),
        a("tls.example.test.", LOOPBACK),
    ])
    .await;
    let endpoint = endpoint(dns.addr(), None).await;
    let hops = endpoint
        .locate("sip:bob@example.test")
        .await
        .expect("locate");
    assert_eq!(
        hops,
        vec![hop(5070, Transport::Tcp), hop(5080, Transport::Udp)]
    );
    assert!(asked(&dns, RecordType::NAPTR, "example.test"));
    assert!(
        !asked(&dns, RecordType::SRV, "_sips._tcp.example.test"),
        "{:?}",
        dns.questions()
    );
    endpoint.shutdown().await;
}

#[tokio::test]
async fn srv_records_come_in_priority_order() {
    let dns = DnsServer::start(vec![
        srv("_sip._udp.prio.test.", 20, 5, 5062, "second.prio.test."),
        srv("_sip._udp.prio.test.", 30, 50, 5063, "third.prio.test."),
        srv("_sip._udp.prio.test.", 10, 1, 5061, "first.prio.test."),
        a("first.prio.test.", LOOPBACK),
        a("second.prio.test.", LOOPBACK),
        a("third.prio.test.", LOOPBACK),
    ])
    .await;
    let endpoint = endpoint(dns.addr(), None).await;
    let hops = endpoint
        .locate("sip:bob@prio.test;transport=udp")
        .await
        .expect("locate");
    assert_eq!(
        hops,
        vec![
            hop(5061, Transport::Udp),
            hop(5062, Transport::Udp),
            hop(5063, Transport::Udp)
        ]
    );
    // The URI named the transport: no NAPTR (RFC 3263 §4.1).
    assert!(!asked(&dns, RecordType::NAPTR, "prio.test"));
    endpoint.shutdown().await;
}

#[tokio::test]
async fn without_naptr_srv_is_asked_per_transport() {
    let dns = DnsServer::start(vec![
        srv("_sip._tcp.srv.test.", 10, 0, 5075, "pbx.srv.test."),
        a("pbx.srv.test.", LOOPBACK),
    ])
    .await;
    let endpoint = endpoint(dns.addr(), None).await;
    let hops = endpoint.locate("sip:bob@srv.test").await.expect("locate");
    assert_eq!(hops, vec![hop(5075, Transport::Tcp)]);
    for (kind, owner) in [
        (RecordType::NAPTR, "srv.test"),
        (RecordType::SRV, "_sip._udp.srv.test"),
        (RecordType::SRV, "_sip._tcp.srv.test"),
    ] {
        assert!(
            asked(&dns, kind, owner),
            "{kind} {owner}: {:?}",
            dns.questions()
        );
    }
    endpoint.shutdown().await;
}

#[tokio::test]
async fn only_an_a_record_means_port_5060_over_udp() {
    let dns = DnsServer::start(vec![a("plain.test.", LOOPBACK)]).await;
    let endpoint = endpoint(dns.addr(), None).await;
    let hops = endpoint.locate("sip:bob@plain.test").await.expect("locate");
    assert_eq!(hops, vec![hop(5060, Transport::Udp)]);
    // With a transport but no SRV record: the default port of that one.
    let hops = endpoint
        .locate("sip:bob@plain.test;transport=tcp")
        .await
        .expect("locate tcp");
    assert_eq!(hops, vec![hop(5060, Transport::Tcp)]);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn an_explicit_port_skips_naptr_and_srv() {
    let dns = DnsServer::start(vec![
        naptr("ported.test.", 10, 10, "SIP+D2T", "_sip._tcp.ported.test."),
        srv("_sip._tcp.ported.test.", 10, 0, 5070, "ported.test."),
        a("ported.test.", LOOPBACK),
    ])
    .await;
    let endpoint = endpoint(dns.addr(), None).await;
    let hops = endpoint
        .locate("sip:bob@ported.test:5099")
        .await
        .expect("locate");
    assert_eq!(hops, vec![hop(5099, Transport::Udp)]);
    let questions = dns.questions();
    assert!(
        questions
            .iter()
            .all(|q| !q.starts_with("NAPTR") && !q.starts_with("SRV")),
        "{questions:?}"
    );
    endpoint.shutdown().await;
}

#[tokio::test]
async fn sips_takes_tls_only() {
    let dns = DnsServer::start(vec![
        naptr("secure.test.", 10, 10, "SIP+D2U", "_sip._udp.secure.test."),
        naptr(
            "secure.test.",
            20,
            10,
            "SIPS+D2T",
            "_sips._tcp.secure.test.",
        ),
        srv("_sip._udp.secure.test.", 10, 0, 5064, "edge.secure.test."),
        srv("_sips._tcp.secure.test.", 10, 0, 5063, "edge.secure.test."),
        a("edge.secure.test.", LOOPBACK),
    ])
    .await;
    let certificate = Certificate::new();
    let endpoint = endpoint(dns.addr(), Some(certificate.settings())).await;
    let hops = endpoint.locate("sips:bob@secure.test").await.expect("sips");
    assert_eq!(hops, vec![hop(5063, Transport::Tls)]);
    // A sip: URI may use every service we offer, in NAPTR order.
    let hops = endpoint.locate("sip:bob@secure.test").await.expect("sip");
    assert_eq!(
        hops,
        vec![hop(5064, Transport::Udp), hop(5063, Transport::Tls)]
    );
    endpoint.shutdown().await;
}

#[tokio::test]
async fn an_unknown_name_is_unreachable_at_once() {
    let dns = DnsServer::start(vec![a("known.test.", LOOPBACK)]).await;
    let endpoint = endpoint(dns.addr(), None).await;
    let started = Instant::now();
    let error = endpoint
        .locate("sip:bob@nowhere.test")
        .await
        .expect_err("unknown name");
    let SipError::Unreachable {
        destination,
        reason,
    } = &error
    else {
        panic!("expected Unreachable, got {error}");
    };
    assert_eq!(destination, "nowhere.test");
    for lookup in [
        "NAPTR nowhere.test",
        "SRV _sip._udp.nowhere.test",
        "A/AAAA nowhere.test",
    ] {
        assert!(reason.contains(lookup), "{lookup} missing from {reason}");
    }
    // NXDOMAIN answers at once; only a timeout could take seconds.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let error = endpoint
        .call(OutgoingRequest {
            target: "sip:bob@nowhere.test".to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect_err("call to an unknown name");
    assert!(matches!(error, SipError::Unreachable { .. }), "{error}");
    endpoint.shutdown().await;
}

#[tokio::test]
async fn a_silent_dns_server_fails_within_the_deadline() {
    // Bound but never read: every query times out.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = endpoint(silent.local_addr().expect("address"), None).await;
    let started = Instant::now();
    let error = endpoint
        .locate("sip:bob@example.test")
        .await
        .expect_err("no DNS answer");
    let elapsed = started.elapsed();
    let SipError::Unreachable { reason, .. } = &error else {
        panic!("expected Unreachable, got {error}");
    };
    assert!(
        reason.contains("NAPTR example.test: request timed out"),
        "{reason}"
    );
    // A silent server is not asked for the SRV records too.
    assert!(reason.contains("skipped"), "{reason}");
    assert!(
        elapsed <= RESOLUTION_DEADLINE + Duration::from_secs(5),
        "took {elapsed:?}: {error}"
    );
    endpoint.shutdown().await;
}

/// The call reaches SIPp on the port of an SRV record, over TCP because
/// NAPTR prefers it, though the target names neither; the better SRV
/// target refuses the connection and the call moves on to the next.
#[tokio::test]
async fn a_call_by_name_reaches_sipp_through_naptr_and_srv() {
    let callee = Callee::start("uas-answer-bye.xml", true).await;
    // A port nobody listens on: the connection is refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let dns = DnsServer::start(vec![
        naptr(
            "example.test.",
            10,
            10,
            "SIP+D2T",
            "_sip._tcp.example.test.",
        ),
        naptr(
            "example.test.",
            20,
            10,
            "SIP+D2U",
            "_sip._udp.example.test.",
        ),
        srv(
            "_sip._tcp.example.test.",
            10,
            0,
            closed,
            "down.example.test.",
        ),
        srv(
            "_sip._tcp.example.test.",
            20,
            0,
            callee.addr().port(),
            "sipp.example.test.",
        ),
        srv(
            "_sip._udp.example.test.",
            10,
            0,
            closed,
            "down.example.test.",
        ),
        a("down.example.test.", LOOPBACK),
        a("sipp.example.test.", LOOPBACK),
    ])
    .await;
    let endpoint = endpoint(dns.addr(), None).await;
    let mut call = endpoint
        .call(OutgoingRequest {
            target: "sip:bob@example.test?X-Foo=bar&X-Other=a%20b".to_string(),
            headers: vec![("X-Authorization".to_string(), "me@my.place".to_string())],
            offer_sdp: ANSWER_SDP.to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect("call");
    assert_eq!(call.remote, callee.addr());
    assert_eq!(call.transport, Transport::Tcp);
    assert_eq!(call.request_uri, "sip:bob@example.test");
    let mut answered = false;
    loop {
        let event = tokio::time::timeout(EVENT_WAIT, call.events.recv())
            .await
            .expect("no call event within 20 s");
        match event {
            Some(CallEvent::Progress { .. }) => {}
            Some(CallEvent::Answered { .. }) => answered = true,
            Some(CallEvent::Bye) => break,
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(answered, "BYE before the answer");
    assert_all_successful(&callee.finish().await, 1);
    endpoint.shutdown().await;
}
