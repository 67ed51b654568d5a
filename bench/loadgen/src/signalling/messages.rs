//! Incoming SIP for the run: responses to our INVITEs and BYEs, and requests from the host
//! (its BYE, anything else), mapped to calls by Call-ID.
//!
//! Part of [`super`] (same state, split for size). RFC 3261 sections 13.2.2.4 (ACK each
//! 2xx, including retransmissions), 17.1.1.2-3 (provisional responses stop INVITE
//! retransmission; failure responses are ACKed in the transaction), 17.1.2.2 (a BYE that
//! got a provisional response keeps retransmitting at T2), 15.1.2 (answering the host's
//! BYE), 12.1.1 (a 2xx without a To tag forms no dialog).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Run, Stage, T2};
use crate::media::{Command, MediaCall};
use crate::sdp::{self, AudioAnswer};
use crate::sip::{self, Message, StartLine};

impl Run {
    // Maps a Call-ID back to the call: the index is its prefix, the rest must match.
    fn call_index(&self, call_id: &str) -> Option<usize> {
        let index: usize = call_id.split_once('-')?.0.parse().ok()?;
        let call = self.calls.get(index)?;
        (call.leg.call_id == call_id).then_some(index)
    }

    /// Handles one datagram from the SIP socket.
    pub(super) async fn on_datagram(&mut self, datagram: &[u8], source: SocketAddr) {
        if datagram.iter().all(|byte| byte.is_ascii_whitespace()) {
            return; // keep-alive
        }
        let Ok(message) = Message::parse(datagram) else {
            self.counts.stray_messages += 1;
            return;
        };
        let index = message
            .call_id()
            .and_then(|call_id| self.call_index(call_id));
        match (&message.start, index) {
            (StartLine::Response { status }, Some(index)) => {
                let status = *status;
                match message.cseq() {
                    Some((_, method)) if method.eq_ignore_ascii_case("INVITE") => {
                        self.on_invite_response(index, status, &message).await
                    }
                    Some((_, method)) if method.eq_ignore_ascii_case("BYE") => {
                        self.on_bye_response(index, status)
                    }
                    _ => self.counts.stray_messages += 1,
                }
            }
            (StartLine::Request { method, .. }, index) => {
                let method = method.clone();
                self.on_request(&method, index, &message, source).await;
            }
            (StartLine::Response { .. }, None) => self.counts.stray_messages += 1,
        }
    }

    async fn on_invite_response(&mut self, index: usize, status: u16, message: &Message) {
        let stage = self.calls[index].stage;
        match status {
            100..=199 => {
                if let Some(transaction) = self.calls[index].transaction.as_mut() {
                    transaction.proceeding = true;
                }
            }
            200..=299 => match stage {
                Stage::Inviting => self.establish(index, message).await,
                Stage::Failed => {
                    // We had given up; RFC 3261 still wants the 2xx ACKed, then we hang up.
                    self.counts.late_answers += 1;
                    let Some((remote_to, remote_target, destination)) =
                        dialog_of(message, self.settings.target_for(index))
                    else {
                        return;
                    };
                    let (ack_branch, bye_branch) = (self.new_branch(index), self.new_branch(index));
                    let leg = &self.calls[index].leg;
                    let ack = leg.in_dialog("ACK", 1, &ack_branch, &remote_target, &remote_to);
                    let bye = leg.in_dialog("BYE", 2, &bye_branch, &remote_target, &remote_to);
                    self.calls[index].stage = Stage::Ended;
                    self.send(&ack, destination).await;
                    self.send(&bye, destination).await;
                }
                Stage::Waiting | Stage::Ended if self.calls[index].ack.is_none() => {}
                _ => {
                    self.counts.answer_retransmissions += 1;
                    if let Some((ack, destination)) = self.calls[index].ack.clone() {
                        self.send(&ack, destination).await;
                    }
                }
            },
            _ => match stage {
                Stage::Inviting => {
                    let call = &mut self.calls[index];
                    call.stage = Stage::Failed;
                    call.transaction = None;
                    call.media_socket = None;
                    let to = message.header("to").unwrap_or_default().to_string();
                    let ack = call.leg.failure_ack(&to);
                    let target = self.settings.target_for(index);
                    call.ack = Some((ack.clone(), target));
                    self.counts.failed += 1;
                    *self.counts.failed_by_status.entry(status).or_default() += 1;
                    self.send(&ack, target).await;
                }
                Stage::Failed => {
                    if let Some((ack, destination)) = self.calls[index].ack.clone() {
                        self.send(&ack, destination).await;
                    }
                }
                _ => {}
            },
        }
    }

    async fn establish(&mut self, index: usize, message: &Message) {
        let now = Instant::now();
        let Some((remote_to, remote_target, destination)) =
            dialog_of(message, self.settings.target_for(index))
        else {
            self.counts.stray_messages += 1;
            return;
        };
        let branch = self.new_branch(index);
        let call = &mut self.calls[index];
        let ack = call
            .leg
            .in_dialog("ACK", 1, &branch, &remote_target, &remote_to);
        call.stage = Stage::Established;
        call.transaction = None;
        call.ack = Some((ack.clone(), destination));
        call.dialog = Some((remote_to, remote_target, destination));
        if let Some(sent_at) = call.invite_sent_at {
            self.setup_times.record((now - sent_at).as_micros() as u64);
        }
        self.counts.established += 1;
        let socket = call.media_socket.take();
        match (sdp::audio_answer(&message.body), socket) {
            (AudioAnswer::Address(remote), Some(socket)) => {
                call.media_active = true;
                self.shard_for(index).send(Command::Start(MediaCall {
                    index,
                    socket,
                    remote,
                }));
            }
            _ => self.counts.answers_without_audio += 1,
        }
        self.send(&ack, destination).await;
    }

    fn on_bye_response(&mut self, index: usize, status: u16) {
        let call = &mut self.calls[index];
        if call.stage != Stage::Byeing {
            return;
        }
        if status < 200 {
            if let Some(transaction) = call.transaction.as_mut() {
                // Proceeding: keep retransmitting, at T2 (RFC 3261 17.1.2.2).
                transaction.proceeding = true;
                transaction.interval = T2;
            }
            return;
        }
        call.stage = Stage::Ended;
        call.transaction = None;
        if status < 300 {
            self.counts.byes_answered += 1;
        } else {
            self.counts.byes_rejected += 1;
        }
        self.finish_media(index);
    }

    async fn on_request(
        &mut self,
        method: &str,
        index: Option<usize>,
        message: &Message,
        source: SocketAddr,
    ) {
        if method.eq_ignore_ascii_case("ACK") {
            return; // ACKs of our own responses need nothing
        }
        let local_tag = index.map_or_else(
            || "none".to_string(),
            |index| self.calls[index].leg.local_tag.clone(),
        );
        let response = match (method.to_ascii_uppercase().as_str(), index) {
            ("BYE", Some(index)) => {
                let call = &mut self.calls[index];
                match call.stage {
                    Stage::Established => {
                        self.counts.dropped += 1;
                        call.stage = Stage::Ended;
                        self.finish_media(index);
                    }
                    Stage::Byeing => {
                        // Both sides hung up at once: our BYE's answer no longer matters.
                        call.stage = Stage::Ended;
                        call.transaction = None;
                        self.counts.byes_answered += 1;
                        self.finish_media(index);
                    }
                    _ => {}
                }
                sip::response_to(message, 200, "OK", &local_tag)
            }
            (_, None) => {
                self.counts.stray_messages += 1;
                sip::response_to(message, 481, "Call/Transaction Does Not Exist", &local_tag)
            }
            ("INVITE", Some(_)) => {
                // A re-INVITE: the generator keeps its media as it is.
                self.counts.unexpected_requests += 1;
                sip::response_to(message, 488, "Not Acceptable Here", &local_tag)
            }
            (_, Some(_)) => {
                self.counts.unexpected_requests += 1;
                sip::response_to(message, 200, "OK", &local_tag)
            }
        };
        self.send(&response, source).await;
    }
}

// The remote side of a dialog from its 2xx: To (with tag), Contact URI (or the Request-URI
// target when absent) and the address to send in-dialog requests to.
// A 2xx without a To tag cannot form a dialog (RFC 3261 section 12.1.1) and is ignored.
fn dialog_of(message: &Message, target: SocketAddr) -> Option<(String, String, SocketAddr)> {
    message.to_tag()?;
    let to = message.header("to")?.to_string();
    let contact = message.contact_uri().map(str::to_string);
    let destination = contact
        .as_deref()
        .and_then(sip::uri_socket_address)
        .unwrap_or(target);
    let remote_target = contact.unwrap_or_else(|| format!("sip:{target}"));
    Some((to, remote_target, destination))
}
