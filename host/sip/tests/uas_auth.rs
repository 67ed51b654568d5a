//! Digest authentication of an inbound call with the server-side
//! primitives: the server rejects the first INVITE with 401 and a
//! `WWW-Authenticate` from `NonceIssuer` (through `ServerCall::reject`), the
//! raw UDP client answers it with the crate's own digest client, and the
//! repeated INVITE's `Authorization` verifies (RFC 3261 §22.3).

mod common;

use std::time::Duration;

use callhost_sip::auth::{AuthVerdict, DigestChallenge, DigestSession, NonceIssuer};
use callhost_sip::{Credentials, SipConfig, SipEndpoint};
use common::{RawRequest, RawUdp, header};

const WAIT: Duration = Duration::from_secs(5);
const REALM: &str = "callhost.test";

fn invite<'a>(cseq: u32, branch: &'a str) -> RawRequest<'a> {
    RawRequest {
        method: "INVITE",
        call_id: "uas-auth-1",
        cseq,
        branch,
        from_tag: "raw-from",
        to_tag: None,
        body: None,
    }
}

fn users(name: &str) -> Option<String> {
    (name == "alice").then(|| "secret".to_string())
}

#[tokio::test]
async fn a_401_from_reject_is_answered_and_verifies() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tcp: false,
        ..SipConfig::default()
    };
    let (endpoint, mut calls) = SipEndpoint::bind(config).await.expect("bind");
    let issuer = NonceIssuer::new(Duration::from_secs(60));
    let client = RawUdp::new(endpoint.local_addr()).await;

    client.send(&invite(1, "z9hG4bKua1").render(&client)).await;
    let first = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    let authorization = first
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Authorization"))
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert_eq!(
        issuer.verify("INVITE", authorization, REALM, users),
        AuthVerdict::Missing
    );
    let challenge = issuer.challenge(REALM, false);
    first
        .call
        .reject(401, None, &[("WWW-Authenticate", &challenge)])
        .await
        .expect("reject");
    let unauthorized = client.expect("SIP/2.0 401", WAIT).await;
    let offered = header(&unauthorized, "WWW-Authenticate").expect("challenge header");
    assert_eq!(offered, challenge, "{unauthorized}");

    let parsed = DigestChallenge::parse(offered).expect("parse");
    let credentials = Credentials {
        username: "alice".to_string(),
        password: "secret".to_string(),
        realm: None,
    };
    let uri = format!("sip:svc@{}", endpoint.local_addr());
    let answer = DigestSession::new(parsed)
        .authorization("INVITE", &uri, &credentials, b"")
        .expect("answer");
    let second_request = invite(2, "z9hG4bKua2").render(&client).replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\nAuthorization: {answer}\r\n"),
    );
    client.send(&second_request).await;
    let second = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("second call")
        .expect("open");
    let authorization = second
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Authorization"))
        .map(|(_, value)| value.clone())
        .expect("Authorization reached the server");
    assert_eq!(
        issuer.verify("INVITE", &authorization, REALM, users),
        AuthVerdict::Accepted {
            username: "alice".to_string()
        }
    );
    second.call.reject(486, None, &[]).await.expect("reject");
    client.expect("SIP/2.0 486", WAIT).await;
    endpoint.shutdown().await;
}
