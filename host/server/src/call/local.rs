//! `call-inbound-service`: a leg that calls another service of this host without
//! SIP leaving the process.
//!
//! The calling leg builds a real SDP offer, the called service's app gets a fresh
//! instance whose primary leg accepts it like any inbound offer, and the two media
//! sessions exchange RTP over loopback: media, DTMF and `connect` work exactly as
//! for SIP legs. Signalling is a pair of event queues carrying the same
//! [`CallEvent`]s a SIP dialog would deliver: what the called app does (ring,
//! answer, reject, hang up, INFO, MESSAGE) arrives at the caller as Progress,
//! Answered, Failed, Bye …, and the other way round.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

use callhost_runtime::port::{CallDetails, CallSnapshot};
use callhost_runtime::{Invocation, RunningCall, StartError};
use callhost_sip::CallEvent;

use super::leg::Signalling;
use super::{Host, Instance, log_exit_record};

/// Events a local dialog queues for its far end.
const LOCAL_EVENT_QUEUE: usize = 16;

/// One end of a local dialog: where this end's actions go.
#[derive(Clone)]
pub(crate) struct LocalLink {
    peer: mpsc::Sender<CallEvent>,
}

impl LocalLink {
    /// Tell the far end; a far end that has gone needs nothing more.
    pub(crate) fn send(&self, event: CallEvent) {
        if self.peer.try_send(event).is_err() {
            warn!("the local call's far end is gone or not keeping up");
        }
    }
}

/// Why a local call could not start: the SIP status a real dialog would have got.
pub(crate) struct Refused {
    pub code: u16,
    pub reason: String,
}

/// Start the app serving `service` for a call from `caller_from` with
/// `offer_sdp`; returns the caller's signalling, its event queue and the call's
/// details as the caller sees them. The new instance runs in its own task.
pub(crate) async fn start(
    host: &Arc<Host>,
    service: &str,
    offer_sdp: &str,
    caller_from: &str,
) -> Result<(Signalling, mpsc::Receiver<CallEvent>, CallDetails), Refused> {
    let (app_key, parameters) = host.config.route(service);
    let Some(app) = host.registry.get(&app_key) else {
        return Err(Refused {
            code: 404,
            reason: format!("no app serves service {service}"),
        });
    };
    let (media, answer_sdp) =
        host.media
            .accept_offer(offer_sdp)
            .await
            .map_err(|error| Refused {
                code: 488,
                reason: format!("media: {error}"),
            })?;
    let (to_caller, caller_events) = mpsc::channel(LOCAL_EVENT_QUEUE);
    let (to_callee, callee_events) = mpsc::channel(LOCAL_EVENT_QUEUE);
    let instance_id = super::new_instance_id();
    let details = CallDetails {
        sip_call_id: format!("local-{instance_id}"),
        call_from: caller_from.to_owned(),
        call_to: format!("local:{service}"),
        request_uri: format!("local:{service}"),
        service: service.to_owned(),
        remote_address: "local".into(),
    };
    let span = info_span!(
        "call",
        call.id = %instance_id,
        service = %service,
        from = %details.call_from,
        local = true,
        app = %app.name,
        app.version = %app.version,
    );
    let (mut callee, port) =
        Instance::new_leg(host, &app_key, 0, CallSnapshot::incoming(details.clone()));
    callee.signalling = Signalling::LocalCallee(LocalLink { peer: to_caller });
    callee.sip_events = Some(callee_events);
    callee.media = Some(media);
    callee.final_statistics = None;
    callee.local_sdp = answer_sdp;
    let invocation = Invocation {
        instance_id: instance_id.clone(),
        application_parameters: parameters,
        outbound_parameters: None,
        media_dir: callee.media_dir.is_dir().then(|| callee.media_dir.clone()),
    };
    let running = match host
        .runtime
        .start_call(app, port, invocation)
        .instrument(span.clone())
        .await
    {
        Ok(running) => running,
        Err(StartError::PoolExhausted { .. }) => {
            return Err(Refused {
                code: 503,
                reason: "no free app instance".into(),
            });
        }
        Err(error) => {
            return Err(Refused {
                code: 500,
                reason: format!("cannot start the app: {error}"),
            });
        }
    };
    spawn_callee(host.clone(), app_key, callee, running, span);
    Ok((
        Signalling::LocalCaller(LocalLink { peer: to_callee }),
        caller_events,
        details,
    ))
}

/// Run the called app's instance in its own task. A plain function, not part of
/// `start`'s future: the instance may itself place local calls, and keeping the
/// spawn here keeps that recursion out of `start`'s future type.
fn spawn_callee(
    host: Arc<Host>,
    app_key: String,
    callee: super::leg::Leg,
    running: RunningCall,
    span: tracing::Span,
) {
    tokio::spawn(
        async move {
            info!("local call from another app");
            let mut instance = Instance::new(host, app_key, callee);
            let record = instance.serve(running.run()).await;
            instance.finish(&record.outcome).await;
            log_exit_record(&record);
        }
        .instrument(span),
    );
}

/// What a leg's own hang-up tells the far end of a local dialog.
pub(crate) fn hang_up(link: &LocalLink) {
    link.send(CallEvent::Bye);
}

/// A callee leg's reject: the caller sees the final status.
pub(crate) fn reject(link: &LocalLink, code: u16) {
    link.send(CallEvent::Failed {
        code,
        reason: "Rejected".into(),
        headers: Vec::new(),
    });
}

/// A callee leg's ringing.
pub(crate) fn ringing(link: &LocalLink) {
    link.send(CallEvent::Progress {
        code: 180,
        reason: "Ringing".into(),
        sdp: None,
    });
}

/// A callee leg's answer: the caller applies the SDP answer to its offer.
pub(crate) fn answer(link: &LocalLink, sdp: String, headers: Vec<(String, String)>) {
    link.send(CallEvent::Answered {
        answer_sdp: Some(sdp),
        headers,
    });
}
