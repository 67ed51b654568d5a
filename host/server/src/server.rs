//! The host's life cycle: build the runtime, load the plugins, bind SIP and
//! media, accept calls, and drain on shutdown.
//!
//! The admin API (`crate::admin`) hands originate requests to the same loop,
//! which starts each outbound app instance as a task beside the calls.
//! Each incoming call gets its own task ([`crate::call::handle_incoming`]) in a
//! `JoinSet`, so shutdown can wait for calls in progress up to the grace period
//! and then drop the rest (dropping a call task frees its instance and ports).

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use callhost_media::{MediaConfig, MediaEngine};
use callhost_runtime::{PluginRegistry, Runtime, RuntimeConfig};
use callhost_sip::auth::NonceIssuer;
use callhost_sip::{SessionTimerSettings, SipConfig, SipEndpoint, TlsSettings};

use crate::accounts::Registrations;
use crate::admin::{Originate, OriginateError};
use crate::call::{Host, handle_incoming, start_outbound};
use crate::config::Config;

/// How long a digest nonce we issue stays fresh (then the caller gets stale=true).
const NONCE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// Originate requests waiting for the host loop.
const ORIGINATE_QUEUE: usize = 64;

/// The SIP User-Agent / Server header value.
pub const USER_AGENT: &str = concat!("callhost/", env!("CARGO_PKG_VERSION"));

/// The runtime settings a configuration implies.
pub fn runtime_config(config: &Config) -> RuntimeConfig {
    RuntimeConfig {
        max_concurrent_calls: config.max_calls,
        memory_limit_bytes: config.memory_limit_bytes,
        cpu_budget: config.cpu_budget,
        wall_clock_limit: Some(config.call_limit),
        cache_dir: Some(config.cache_dir.clone()),
    }
}

/// Run the host until `shutdown` resolves, then drain calls in progress.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::open_files::raise(config.max_calls);
    let runtime = Runtime::new(runtime_config(&config)).context("cannot start the Wasm runtime")?;
    let registry = PluginRegistry::start(runtime.clone(), config.plugins_dir.clone())
        .await
        .with_context(|| {
            format!(
                "cannot watch the plugins directory {}",
                config.plugins_dir.display()
            )
        })?;
    let media = MediaEngine::new(MediaConfig {
        bind_ip: config.media_ip,
        advertised_ip: None,
        rtp_ports: config.rtp_ports.clone(),
        symmetric_rtp: config.symmetric_rtp,
        codecs: config.media_codecs.clone(),
    })
    .context("cannot set up media")?;
    let (endpoint, mut incoming) = SipEndpoint::bind(SipConfig {
        listen: config.sip_listen,
        udp: config.sip_udp,
        tcp: config.sip_tcp,
        user_agent: USER_AGENT.into(),
        tls: config.tls.as_ref().map(|tls| TlsSettings {
            listen: tls.listen,
            certificate_chain_pem: tls.certificate.clone(),
            private_key_pem: tls.key.clone(),
            trust_anchor_pem: tls.trust.clone(),
        }),
        session_timer: SessionTimerSettings {
            session_expires: std::time::Duration::from_secs(config.sip_tuning.session_expires),
            min_se: std::time::Duration::from_secs(config.sip_tuning.min_se),
        },
        dns_servers: config.sip_tuning.dns_servers.clone(),
        ..SipConfig::default()
    })
    .await
    .with_context(|| format!("cannot listen for SIP on {}", config.sip_listen))?;
    let registrations = Registrations::start(&endpoint, &config.accounts)
        .context("cannot register the accounts")?;
    if let Some(tls) = endpoint.tls_local_addr() {
        info!(sip.tls = %tls, "SIP over TLS is on");
    }
    info!(sip = %endpoint.local_addr(), plugins = %config.plugins_dir.display(), media = %config.media_dir.display(), "callhost is running");

    // The admin API binds after SIP, so a host that cannot take calls never
    // accepts originate requests.
    let admin_stop = CancellationToken::new();
    let (originate_tx, mut originate_rx) = mpsc::channel::<Originate>(ORIGINATE_QUEUE);
    let admin_task = match &config.admin {
        Some(admin) => {
            let listener = TcpListener::bind(admin.listen)
                .await
                .with_context(|| format!("cannot listen for the admin API on {}", admin.listen))?;
            Some(tokio::spawn(crate::admin::serve(
                listener,
                admin.token.clone(),
                originate_tx.clone(),
                registrations.watches(),
                admin_stop.clone(),
            )))
        }
        None => None,
    };
    drop(originate_tx);

    let drain = config.drain;
    let speech = crate::tts::speaker(config.tts.as_ref());
    let host = Arc::new(Host {
        config,
        runtime,
        registry,
        media,
        sip: endpoint.client(),
        nonces: NonceIssuer::new(NONCE_LIFETIME),
        speech,
    });
    let mut calls = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            call = incoming.recv() => match call {
                Some(call) => { calls.spawn(handle_incoming(host.clone(), call)); }
                None => { warn!("the SIP endpoint stopped"); break; }
            },
            Some(Originate { request, reply }) = originate_rx.recv() => {
                match start_outbound(host.clone(), request).await {
                    Ok((instance_id, run)) => {
                        calls.spawn(run);
                        let _ = reply.send(Ok(instance_id));
                    }
                    Err(error) => {
                        info!(%error, "originate request refused");
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
        }
    }

    // Draining: no new originate requests (they get 503), no new calls.
    originate_rx.close();
    while let Ok(Originate { reply, .. }) = originate_rx.try_recv() {
        let _ = reply.send(Err(OriginateError::Unavailable(
            "the host is shutting down".into(),
        )));
    }
    endpoint.stop_accepting();
    info!(
        calls = calls.len(),
        grace_seconds = drain.as_secs_f64(),
        "shutting down: draining calls in progress"
    );
    let drained =
        tokio::time::timeout(drain, async { while calls.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(
            calls = calls.len(),
            "grace period over: ending the remaining calls"
        );
        calls.shutdown().await;
    }
    registrations.shutdown().await;
    admin_stop.cancel();
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    endpoint.shutdown().await;
    info!("callhost stopped");
    Ok(())
}
