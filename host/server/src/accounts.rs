//! Account registration (seeds 002 and 004): every `[accounts.<id>]` with a
//! registrar is registered when the host starts, refreshed by callhost-sip before
//! it expires (with backoff on failure), and unregistered on shutdown. Each state
//! change is logged (`registration … state=registered …`). Calls to a registered
//! contact route to the account's app (see `Config::route`); an app's From picks
//! the account for outbound calls (see `call/outbound.rs`).
//!
//! Depends on callhost-sip's registration client and the config. RFC 3261 §10.

use std::time::Duration;

use tracing::{Instrument, info, info_span, warn};

use callhost_sip::{
    Credentials, Registration, RegistrationHandle, RegistrationState, SipEndpoint, SipError,
    Transport,
};

use crate::config::Account;

/// How long shutdown waits for all unregisters together.
const UNREGISTER_GRACE: Duration = Duration::from_secs(5);

/// The host's registrations; unregistered by [`Registrations::shutdown`].
pub struct Registrations {
    handles: Vec<(String, RegistrationHandle)>,
    watches: Vec<RegistrationWatch>,
}

/// One account's registration as the admin API shows it.
#[derive(Debug, Clone)]
pub struct RegistrationWatch {
    /// The account id (`[accounts.<id>]`).
    pub account: String,
    /// Its address of record.
    pub aor: String,
    /// Its registrar URI.
    pub registrar: String,
    /// Its live state.
    pub state: tokio::sync::watch::Receiver<RegistrationState>,
}

impl RegistrationWatch {
    /// The state as JSON: `registering`, `registered` (with the granted expiry
    /// and contact), `failed` (code, reason, seconds to the next try) or
    /// `unregistered`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut entry = serde_json::json!({ "account": self.account, "aor": self.aor, "registrar": self.registrar });
        let state = match &*self.state.borrow() {
            RegistrationState::Registering => serde_json::json!({ "state": "registering" }),
            RegistrationState::Registered { expires, contact } => {
                serde_json::json!({ "state": "registered", "expires_seconds": expires.as_secs(), "contact": contact })
            }
            RegistrationState::Failed {
                code,
                reason,
                retry_in,
            } => serde_json::json!({
                "state": "failed", "code": code, "reason": reason, "retry_in_seconds": retry_in.as_secs()
            }),
            RegistrationState::Unregistered => serde_json::json!({ "state": "unregistered" }),
        };
        if let (Some(entry), Some(state)) = (entry.as_object_mut(), state.as_object()) {
            entry.extend(state.clone());
        }
        entry
    }
}

/// The transport a registrar URI asks for (`;transport=tcp|tls`, `sips:`), else UDP.
fn transport_of(uri: &str) -> Transport {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("sips:") || lower.contains(";transport=tls") {
        Transport::Tls
    } else if lower.contains(";transport=tcp") {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// What an account's registration asks for.
pub fn registration(account: &Account) -> Option<Registration> {
    let registrar = account.registrar.clone()?;
    Some(Registration {
        transport: transport_of(&registrar),
        registrar,
        aor: account.aor.clone(),
        contact_user: (!account.contact_user.is_empty()).then(|| account.contact_user.clone()),
        credentials: account.password.clone().map(|password| Credentials {
            username: account.username.clone(),
            password,
            realm: account.realm.clone(),
        }),
        expires: account.expires,
        outbound_proxy: account.outbound_proxy.clone(),
    })
}

impl Registrations {
    /// Start registering every account that has a registrar; each one logs its
    /// state changes in its own task.
    pub fn start(endpoint: &SipEndpoint, accounts: &[Account]) -> Result<Registrations, SipError> {
        let mut handles = Vec::new();
        let mut watches = Vec::new();
        for account in accounts {
            let Some(registration) = registration(account) else {
                continue;
            };
            let registrar = registration.registrar.clone();
            let handle = endpoint.register(registration)?;
            watches.push(RegistrationWatch {
                account: account.id.clone(),
                aor: account.aor.clone(),
                registrar,
                state: handle.watch(),
            });
            let mut states = handle.watch();
            let span = info_span!("registration", account = %account.id, aor = %account.aor);
            tokio::spawn(
                async move {
                    loop {
                        let state = states.borrow_and_update().clone();
                        match state {
                            RegistrationState::Registering => info!(state = "registering", "registration"),
                            RegistrationState::Registered { expires, contact } => {
                                info!(state = "registered", expires_seconds = expires.as_secs(), %contact, "registration")
                            }
                            RegistrationState::Failed { code, reason, retry_in } => {
                                warn!(state = "failed", code, %reason, retry_in_seconds = retry_in.as_secs(), "registration")
                            }
                            RegistrationState::Unregistered => info!(state = "unregistered", "registration"),
                        }
                        if states.changed().await.is_err() {
                            return;
                        }
                    }
                }
                .instrument(span),
            );
            handles.push((account.id.clone(), handle));
        }
        Ok(Registrations { handles, watches })
    }

    /// Every registration's live state, for the admin API.
    pub fn watches(&self) -> Vec<RegistrationWatch> {
        self.watches.clone()
    }

    /// Unregister everything (Expires: 0), bounded by a grace period.
    pub async fn shutdown(self) {
        let all = futures_unregister(self.handles);
        if tokio::time::timeout(UNREGISTER_GRACE, all).await.is_err() {
            warn!("unregistering took too long; leaving the rest to expire");
        }
    }
}

async fn futures_unregister(handles: Vec<(String, RegistrationHandle)>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (id, handle) in handles {
        tasks.spawn(async move {
            handle.unregister().await;
            info!(account = %id, "unregistered");
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registrar_uri_picks_the_transport() {
        assert_eq!(transport_of("sip:127.0.0.1:5070"), Transport::Udp);
        assert_eq!(
            transport_of("sip:r.example.com;transport=TCP"),
            Transport::Tcp
        );
        assert_eq!(transport_of("sips:r.example.com"), Transport::Tls);
        assert_eq!(
            transport_of("sip:r.example.com;transport=tls"),
            Transport::Tls
        );
    }
}
