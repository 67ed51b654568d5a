//! The REGISTER client against SIPp acting as the registrar, over UDP on
//! 127.0.0.1: refresh of a short binding, digest challenges, 423 with
//! Min-Expires, failure with backoff and Retry-After, and unregistering with
//! Expires: 0. The SIPp scenarios (tests/sipp/registrar-*) check CSeq,
//! Expires, Contact and credentials and fail the run when something is off;
//! these tests check the states the handle reports.

mod common;

use std::time::{Duration, Instant};

use callhost_sip::{
    Credentials, Registration, RegistrationState, SipConfig, SipEndpoint, SipError, Transport,
};
use common::assert_all_successful;
use common::callee::Callee;
use tokio::sync::watch;

/// Longest wait for any one state change.
const STATE_WAIT: Duration = Duration::from_secs(20);

async fn endpoint() -> SipEndpoint {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..SipConfig::default()
    };
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind endpoint");
    endpoint
}

fn registration(registrar: &Callee) -> Registration {
    Registration {
        registrar: format!("sip:127.0.0.1:{}", registrar.addr().port()),
        aor: "sip:alice@example.com".to_string(),
        contact_user: Some("alice".to_string()),
        ..Registration::default()
    }
}

/// The next state change.
async fn next_state(states: &mut watch::Receiver<RegistrationState>) -> RegistrationState {
    tokio::time::timeout(STATE_WAIT, states.changed())
        .await
        .expect("no registration state change within 20 s")
        .expect("the registration task is gone");
    states.borrow_and_update().clone()
}

fn expect_registered(state: RegistrationState) -> Duration {
    match state {
        RegistrationState::Registered { expires, contact } => {
            assert!(
                contact.starts_with("sip:alice@127.0.0.1:"),
                "contact {contact}"
            );
            expires
        }
        other => panic!("expected Registered, got {other:?}"),
    }
}

#[tokio::test]
async fn short_expiry_is_refreshed_and_unregister_sends_expires_zero() {
    let endpoint = endpoint().await;
    let registrar = Callee::start("registrar-refresh.xml", false).await;
    let handle = endpoint
        .register(registration(&registrar))
        .expect("register");
    let mut states = handle.watch();
    assert_eq!(*states.borrow_and_update(), RegistrationState::Registering);
    let granted = expect_registered(next_state(&mut states).await);
    let first = Instant::now();
    assert_eq!(granted, Duration::from_secs(2), "read from Contact;expires");
    // The refresh comes on its own, about a second later (half of 2 s).
    let granted = expect_registered(next_state(&mut states).await);
    assert_eq!(granted, Duration::from_secs(60));
    let gap = first.elapsed();
    assert!(gap >= Duration::from_millis(500), "refreshed after {gap:?}");
    assert!(gap < Duration::from_secs(15), "refreshed after {gap:?}");
    handle.unregister().await;
    assert_eq!(*states.borrow(), RegistrationState::Unregistered);
    assert_all_successful(&registrar.finish().await, 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn digest_challenges_are_answered_for_register_and_unregister() {
    let endpoint = endpoint().await;
    let registrar = Callee::start("registrar-auth.xml", false).await;
    let handle = endpoint
        .register(Registration {
            credentials: Some(Credentials {
                username: "alice".to_string(),
                password: "secret".to_string(),
                realm: None,
            }),
            ..registration(&registrar)
        })
        .expect("register");
    let mut states = handle.watch();
    let granted = expect_registered(next_state(&mut states).await);
    assert_eq!(granted, Duration::from_secs(300));
    assert_eq!(handle.state(), states.borrow().clone());
    handle.unregister().await;
    assert_eq!(*states.borrow(), RegistrationState::Unregistered);
    assert_all_successful(&registrar.finish().await, 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn interval_too_brief_is_retried_with_min_expires_and_drop_unregisters() {
    let endpoint = endpoint().await;
    let registrar = Callee::start("registrar-423.xml", false).await;
    let handle = endpoint
        .register(Registration {
            expires: Duration::from_secs(30),
            ..registration(&registrar)
        })
        .expect("register");
    let mut states = handle.watch();
    // The 423 is retried at once: no Failed state in between.
    let granted = expect_registered(next_state(&mut states).await);
    assert_eq!(granted, Duration::from_secs(120));
    // Dropping the handle unregisters in the background: SIPp expects
    // Expires: 0 and the state ends Unregistered.
    drop(handle);
    assert_eq!(
        next_state(&mut states).await,
        RegistrationState::Unregistered
    );
    assert_all_successful(&registrar.finish().await, 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn refusals_back_off_and_retry_after_is_honoured() {
    let endpoint = endpoint().await;
    let registrar = Callee::start("registrar-refuse.xml", false).await;
    let handle = endpoint
        .register(registration(&registrar))
        .expect("register");
    let mut states = handle.watch();
    match next_state(&mut states).await {
        RegistrationState::Failed {
            code,
            reason,
            retry_in,
        } => {
            assert_eq!(code, 403);
            assert_eq!(reason, "Forbidden");
            assert_eq!(retry_in, Duration::from_secs(2), "first backoff step");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    let first = Instant::now();
    match next_state(&mut states).await {
        RegistrationState::Failed { code, retry_in, .. } => {
            assert_eq!(code, 503);
            assert_eq!(retry_in, Duration::from_secs(1), "Retry-After wins");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    let gap = first.elapsed();
    assert!(gap >= Duration::from_millis(1500), "retried after {gap:?}");
    let granted = expect_registered(next_state(&mut states).await);
    assert_eq!(granted, Duration::from_secs(600));
    handle.unregister().await;
    assert_all_successful(&registrar.finish().await, 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn no_registrar_fails_with_408_and_backs_off() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        // Timer F = 64*T1 = 640 ms, to keep the test short.
        timers: callhost_sip::SipTimers {
            t1: Duration::from_millis(10),
            ..Default::default()
        },
        ..SipConfig::default()
    };
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind");
    // A bound UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind silent");
    let handle = endpoint
        .register(Registration {
            registrar: format!(
                "sip:127.0.0.1:{}",
                silent.local_addr().expect("addr").port()
            ),
            aor: "sip:alice@example.com".to_string(),
            ..Registration::default()
        })
        .expect("register");
    let mut states = handle.watch();
    match next_state(&mut states).await {
        RegistrationState::Failed { code, retry_in, .. } => {
            assert_eq!(code, 408);
            assert_eq!(retry_in, Duration::from_secs(2));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // Never registered: unregistering sends nothing and ends at once.
    let started = Instant::now();
    handle.unregister().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    endpoint.shutdown().await;
}

#[tokio::test]
async fn bad_registrations_are_refused_at_once() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tcp: false,
        ..SipConfig::default()
    };
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind");
    let good = Registration {
        registrar: "sip:127.0.0.1:5070".to_string(),
        aor: "sip:alice@example.com".to_string(),
        ..Registration::default()
    };
    let cases = [
        Registration {
            registrar: "tel:+15551234".to_string(),
            ..good.clone()
        },
        Registration {
            aor: "not a uri".to_string(),
            ..good.clone()
        },
        Registration {
            contact_user: Some("a@b".to_string()),
            ..good.clone()
        },
        Registration {
            expires: Duration::ZERO,
            ..good.clone()
        },
        Registration {
            registrar: "sip:127.0.0.1:5070;transport=tcp".to_string(),
            ..good.clone()
        },
        Registration {
            transport: Transport::Tcp,
            ..good.clone()
        },
    ];
    for case in cases {
        let result = endpoint.register(case.clone());
        assert!(
            matches!(
                result,
                Err(SipError::InvalidAddress { .. }
                    | SipError::Config { .. }
                    | SipError::UnsupportedTransport { .. })
            ),
            "{case:?} gave {result:?}"
        );
    }
    endpoint.shutdown().await;
}
