//! The registration's timing arithmetic and how a 2xx's granted expiry is
//! read (RFC 3261 §10.2.4); the exchanges themselves are tested against
//! SIPp in tests/register.rs.

use super::*;

fn ok(headers: &str) -> Response {
    Response::try_from(format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:alice@example.com>;tag=b\r\n\
         Call-ID: r1@127.0.0.1\r\n\
         CSeq: 3 REGISTER\r\n\
         {headers}\
         Content-Length: 0\r\n\r\n"
    ))
    .expect("parse")
}

const OURS: &str = "sip:alice@127.0.0.1:5060";

#[test]
fn refresh_is_half_the_granted_time_at_least_one_second() {
    assert_eq!(
        refresh_delay(Duration::from_secs(3600)),
        Duration::from_secs(1800)
    );
    assert_eq!(
        refresh_delay(Duration::from_secs(2)),
        Duration::from_secs(1)
    );
    assert_eq!(
        refresh_delay(Duration::from_secs(1)),
        Duration::from_secs(1)
    );
    assert_eq!(refresh_delay(Duration::ZERO), Duration::from_secs(1));
    assert_eq!(
        refresh_delay(Duration::from_secs(61)),
        Duration::from_millis(30_500)
    );
}

#[test]
fn backoff_doubles_up_to_the_cap_and_retry_after_wins() {
    let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n, None).as_secs()).collect();
    assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    assert_eq!(retry_delay(u32::MAX, None), MAX_RETRY_DELAY);
    // 0 failures is treated as the first.
    assert_eq!(retry_delay(0, None), Duration::from_secs(2));
    assert_eq!(
        retry_delay(7, Some(Duration::from_secs(5))),
        Duration::from_secs(5)
    );
    assert_eq!(retry_delay(1, Some(Duration::ZERO)), Duration::from_secs(1));
    assert_eq!(
        retry_delay(1, Some(Duration::from_secs(86_400))),
        Duration::from_secs(3600)
    );
}

#[test]
fn granted_expiry_prefers_our_contacts_parameter() {
    let response = ok("Contact: <sip:bob@127.0.0.1:5999>;expires=7, \
         <sip:alice@127.0.0.1:5060>;expires=42\r\n\
         Expires: 99\r\n");
    assert_eq!(granted_expiry(&response, OURS, 3600), 42);
}

#[test]
fn granted_expiry_matches_case_and_params_loosely() {
    let response =
        ok("Contact: \"A\" <sip:alice@LOCALHOST:5060;transport=udp>;q=0.5;EXPIRES=15\r\n");
    assert_eq!(
        granted_expiry(&response, "sip:alice@localhost:5060", 3600),
        15
    );
    // A different user is a different contact.
    assert_eq!(
        granted_expiry(&response, "sip:bob@localhost:5060", 3600),
        3600
    );
}

#[test]
fn granted_expiry_falls_back_to_expires_then_to_the_request() {
    let others = ok("Contact: <sip:bob@127.0.0.1:5999>;expires=7\r\nExpires: 120\r\n");
    assert_eq!(granted_expiry(&others, OURS, 3600), 120);
    let bare = ok("");
    assert_eq!(granted_expiry(&bare, OURS, 600), 600);
}

#[test]
fn userless_contacts_compare_by_host_and_port() {
    assert!(same_contact(
        "sip:127.0.0.1:5060",
        "sip:127.0.0.1:5060;transport=tcp"
    ));
    assert!(!same_contact("sip:127.0.0.1:5060", "sip:127.0.0.1:5061"));
    assert!(!same_contact("sip:127.0.0.1:5060", "sip:a@127.0.0.1:5060"));
    assert!(!same_contact("nonsense", "sip:127.0.0.1:5060"));
    assert_eq!(name_addr_uri("<sip:a@h>;expires=1"), "sip:a@h");
    assert_eq!(name_addr_uri("sip:a@h;expires=1"), "sip:a@h");
}

#[test]
fn header_seconds_reads_the_leading_number() {
    let response = ok("Retry-After: 18000 (in a meeting);duration=3600\r\nMin-Expires: 60\r\n");
    assert_eq!(header_seconds(&response, "retry-after"), Some(18000));
    assert_eq!(header_seconds(&response, "Min-Expires"), Some(60));
    assert_eq!(header_seconds(&response, "Expires"), None);
}

/// The backoff schedule a registrar that always refuses produces, walked on
/// tokio's paused clock: each retry waits exactly `retry_delay(n)`.
#[tokio::test(start_paused = true)]
async fn backoff_schedule_on_a_paused_clock() {
    let start = tokio::time::Instant::now();
    let mut attempts = vec![Duration::ZERO];
    for failures in 1..=9 {
        tokio::time::sleep(retry_delay(failures, None)).await;
        attempts.push(start.elapsed());
    }
    let seconds: Vec<u64> = attempts.iter().map(Duration::as_secs).collect();
    assert_eq!(seconds, [0, 2, 6, 14, 30, 62, 126, 254, 510, 810]);
}
