//! Unit tests of the pure RFC 3263 rules: NAPTR selection, RFC 2782 SRV
//! ordering, transport parameters and special-use names. The DNS path is
//! tested end to end against a DNS server on 127.0.0.1 in tests/dns.rs.

use std::str::FromStr;

use hickory_resolver::proto::rr::Name;

use super::*;

fn naptr(order: u16, preference: u16, flags: &str, service: &str, replacement: &str) -> NAPTR {
    NAPTR::new(
        order,
        preference,
        flags.as_bytes().into(),
        service.as_bytes().into(),
        Box::new([]),
        Name::from_str(replacement).expect("name"),
    )
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SRV {
    SRV::new(
        priority,
        weight,
        port,
        Name::from_str(target).expect("name"),
    )
}

const ALL: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];

#[test]
fn naptr_keeps_offered_services_in_order_and_preference() {
    let records = [
        naptr(20, 10, "s", "SIP+D2U", "_sip._udp.example.test."),
        naptr(10, 20, "S", "sips+d2t", "_sips._tcp.example.test."),
        naptr(10, 10, "s", "SIP+D2T", "_sip._tcp.example.test."),
        // Not for us: another service, a terminal rule, no replacement.
        naptr(1, 1, "s", "E2U+sip", "_sip._udp.example.test."),
        naptr(1, 1, "u", "SIP+D2U", "_sip._udp.example.test."),
        naptr(1, 1, "s", "SIP+D2U", "."),
        naptr(1, 1, "s", "SIP+D2S", "_sip._sctp.example.test."),
    ];
    assert_eq!(
        select_naptr(&records, &ALL),
        vec![
            (Transport::Tcp, "_sip._tcp.example.test.".to_string()),
            (Transport::Tls, "_sips._tcp.example.test.".to_string()),
            (Transport::Udp, "_sip._udp.example.test.".to_string()),
        ]
    );
    // Without a TLS listener, SIPS+D2T is not ours to use.
    assert_eq!(
        select_naptr(&records, &[Transport::Udp, Transport::Tcp]),
        vec![
            (Transport::Tcp, "_sip._tcp.example.test.".to_string()),
            (Transport::Udp, "_sip._udp.example.test.".to_string()),
        ]
    );
    // A sips: URI only takes SIPS+D2T.
    assert_eq!(
        select_naptr(&records, &[Transport::Tls]),
        vec![(Transport::Tls, "_sips._tcp.example.test.".to_string())]
    );
    assert!(select_naptr(&records, &[]).is_empty());
}

fn ports(records: &[SRV]) -> Vec<u16> {
    records.iter().map(|record| record.port).collect()
}

#[test]
fn srv_priority_comes_first_whatever_the_weights() {
    let records = vec![
        srv(20, 100, 3, "c.example.test."),
        srv(10, 0, 1, "a.example.test."),
        srv(30, 5, 4, "d.example.test."),
        srv(10, 0, 2, "b.example.test."),
    ];
    // Always picking the top of the range still honours priority.
    let ordered = order_srv(records, |total| total);
    assert_eq!(ports(&ordered), vec![1, 2, 3, 4]);
}

#[test]
fn srv_weights_select_by_running_sum() {
    let records = vec![
        srv(10, 10, 1, "a.example.test."),
        srv(10, 30, 2, "b.example.test."),
        srv(10, 0, 3, "zero.example.test."),
    ];
    // Running sums in the RFC 2782 order: zero 0, a 10, b 40.
    let ordered = order_srv(records.clone(), |_| 0);
    assert_eq!(ports(&ordered), vec![3, 1, 2]);
    let ordered = order_srv(records.clone(), |total| total);
    assert_eq!(ports(&ordered), vec![2, 1, 3]);
    let mut picks = vec![11, 0, 0].into_iter();
    let ordered = order_srv(records, |_| picks.next().expect("pick"));
    assert_eq!(ports(&ordered), vec![2, 3, 1]);
}

#[test]
fn srv_weights_share_the_first_place() {
    use rand::Rng;
    let records = vec![
        srv(10, 10, 1, "a.example.test."),
        srv(10, 30, 2, "b.example.test."),
    ];
    let mut random = rand::rng();
    let rounds = 4000;
    let heavy_first = (0..rounds)
        .filter(|_| {
            let ordered = order_srv(records.clone(), |total| random.random_range(0..=total));
            ordered[0].port == 2
        })
        .count();
    // RFC 2782 draws from 0..=total, so the record first in the running
    // sum gets one extra value: b comes first with probability 30/41, about
    // 2927 of 4000 (σ ≈ 28). The bounds are ±15σ wide and still far from
    // the 2000 of a choice that ignored the weights.
    assert!((2500..=3350).contains(&heavy_first), "{heavy_first}");
}

#[test]
fn srv_dot_target_means_no_service() {
    let records = vec![srv(0, 0, 0, "."), srv(10, 0, 5060, "a.example.test.")];
    assert_eq!(ports(&order_srv(records, |_| 0)), vec![5060]);
    assert!(order_srv(vec![srv(0, 0, 0, ".")], |_| 0).is_empty());
}

#[test]
fn transport_parameters() {
    let parse = |text: &str| Uri::try_from(text).expect("uri");
    let sip = parse("sip:a@example.test;transport=TCP");
    assert_eq!(
        uri_transport(&sip, false).expect("tcp"),
        Some(Transport::Tcp)
    );
    let sips = parse("sips:a@example.test;transport=tcp");
    assert_eq!(
        uri_transport(&sips, true).expect("sips tcp"),
        Some(Transport::Tls)
    );
    let plain = parse("sip:a@example.test");
    assert_eq!(uri_transport(&plain, false).expect("none"), None);
    let sctp = parse("sip:a@example.test;transport=sctp");
    assert!(matches!(
        uri_transport(&sctp, false),
        Err(SipError::UnsupportedTransport { .. })
    ));
    let sips_udp = parse("sips:a@example.test;transport=udp");
    assert!(matches!(
        uri_transport(&sips_udp, true),
        Err(SipError::UnsupportedTransport { .. })
    ));
}

#[test]
fn special_use_names() {
    for name in ["localhost", "LocalHost.", "pbx.localhost"] {
        assert!(is_under(name, "localhost"), "{name}");
    }
    for name in ["mylocalhost", "localhost.example.test", "host"] {
        assert!(!is_under(name, "localhost"), "{name}");
    }
    assert!(is_under("no-such-host.invalid", "invalid"));
    assert!(!is_under("invalid.example.test", "invalid"));
}

#[tokio::test]
async fn literals_localhost_and_invalid_need_no_dns() {
    // No DNS server is named, and none of these may ask one.
    let locator = Locator::new(&["127.0.0.1:9".parse().expect("address")]);
    let locate = |text: &str| {
        let uri = Uri::try_from(text).expect("uri");
        let locator = &locator;
        async move { locator.locate(&uri, None, &ALL).await }
    };
    let hops = locate("sip:a@127.0.0.1:5070").await.expect("literal");
    assert_eq!(
        hops,
        vec![NextHop {
            address: "127.0.0.1:5070".parse().expect("address"),
            transport: Transport::Udp,
        }]
    );
    for (uri, port, transport) in [
        ("sips:a@127.0.0.1", 5061, Transport::Tls),
        ("sip:a@127.0.0.1;transport=tls", 5061, Transport::Tls),
        ("sip:a@[::1];transport=tcp", 5060, Transport::Tcp),
    ] {
        let hops = locate(uri).await.expect(uri);
        assert_eq!(hops.len(), 1, "{uri}");
        assert_eq!(
            (hops[0].address.port(), hops[0].transport),
            (port, transport),
            "{uri}"
        );
    }
    let hops = locate("sip:a@localhost").await.expect("localhost");
    assert!(hops[0].address.ip().is_loopback());
    assert_eq!(
        (hops[0].address.port(), hops[0].transport),
        (5060, Transport::Udp)
    );
    let hops = locate("sips:a@localhost:5071")
        .await
        .expect("localhost tls");
    assert_eq!(
        (hops[0].address.port(), hops[0].transport),
        (5071, Transport::Tls)
    );
    let started = std::time::Instant::now();
    let error = locate("sip:a@no-such-host.invalid")
        .await
        .expect_err("invalid");
    assert!(matches!(error, SipError::Unreachable { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1), "asked DNS");
}
