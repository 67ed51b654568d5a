//! Test guest "scenarios" version 1.0.0 for the runtime's integration tests.
//!
//! `application-parameters` picks the scenario:
//! - `normal`: exercises every WIT interface in a fixed order and returns 7 when
//!   every check passes, or a distinct code <= -100 naming the first failed check;
//! - `chatty`: 20 short plays, returns 0 (the healthy call of the fairness test);
//! - `panic`: panics with a known message;
//! - `spin`: loops forever without calling the host;
//! - `alloc`: allocates without bound;
//! - `recurse`: recurses without bound (stack exhaustion);
//! - `wait`: waits for the call to go idle, returns 0;
//! - `stdio`: prints to stdout and stderr, returns 0;
//! - `legs`: outbound and multi-leg functions plus the `sip` interface, returns 8
//!   when every check passes (see `legs`);
//! - `files`: the `files` interface and an encrypted play, returns 9 when every
//!   check passes (see `files`);
//! - `oversized`: answers, then passes oversized strings (file names, speech
//!   text, end digits, a tone name, a 1 MiB log line); returns 10 when each is
//!   refused with a short "argument too large" error (see `oversized`).

wit_bindgen::generate!({ path: "../../../../../wit", world: "app", additional_derives: [PartialEq] });

use callhost::call::dtmf_detector::{self, DetectorCause, GetDigitsOptions};
use callhost::call::dtmf_player::{self, DtmfPlayerCause};
use callhost::call::file_player::{self, PlayOptions, PlayerCause};
use callhost::call::file_recorder::{self, RecordFormat, RecordOptions, RecorderCause, RecorderState};
use callhost::call::whole_call_recorder::{self, WholeCallLayout, WholeCallOptions};
use callhost::call::channel::CallOptions;
use callhost::call::log::{Level, write};
use callhost::call::sip::{self, HeaderField, SipState};
use callhost::call::types::{AesCbcCipher, CallCause, CallError, CallState};
use callhost::call::files::{self, ValidateResult};

struct Scenarios;

impl Guest for Scenarios {
    fn main(channel: Channel, instance_id: String, application_parameters: String, _outbound_parameters: Option<String>) -> i32 {
        write(Level::Debug, &format!("instance {instance_id} scenario {application_parameters}"));
        match application_parameters.as_str() {
            "normal" => normal(&channel),
            "chatty" => chatty(&channel),
            "panic" => panic!("deliberate panic from the scenarios guest"),
            "spin" => spin(),
            "alloc" => alloc(),
            "recurse" => recurse(std::hint::black_box(1)) as i32,
            "legs" => legs(&channel, _outbound_parameters),
            "recording" => recording(&channel),
            "files" => files(&channel),
            "oversized" => oversized(&channel),
            "wait" => match channel.wait_for_idle(None) {
                Ok(_) => 0,
                Err(_) => -100,
            },
            "stdio" => {
                println!("first stdout line");
                println!("second stdout line");
                eprintln!("a stderr line");
                0
            }
            _ => -199,
        }
    }

    fn name() -> String {
        "scenarios".to_string()
    }

    fn version() -> String {
        "1.0.0".to_string()
    }
}

fn normal(channel: &Channel) -> i32 {
    write(Level::Info, "scenario normal starting");
    if std::env::vars().count() != 0 || std::env::args().count() != 0 {
        return -101;
    }
    match std::fs::read_to_string("/greeting.txt") {
        Ok(text) if text == "hi from media\n" => {}
        _ => return -102,
    }
    if std::fs::write("/written.txt", b"nope").is_ok() {
        return -103;
    }
    if channel.state() != CallState::CallIncoming {
        return -104;
    }
    if channel.details().service != "scenarios-service" {
        return -105;
    }
    if channel.ring(0).is_err() {
        return -106;
    }
    if channel.answer().is_err() || channel.state() != CallState::Answered {
        return -107;
    }
    match file_player::play(channel, "hello.wav", &PlayOptions { barge_in: true, cipher: None }) {
        Ok(PlayerCause::Normal) => {}
        _ => return -108,
    }
    match file_player::play(channel, "missing.wav", &PlayOptions { barge_in: false, cipher: None }) {
        Err(CallError::Error(_)) => {}
        _ => return -109,
    }
    let options = GetDigitsOptions {
        count: Some(3),
        end: "#".to_string(),
        seconds_predigits_timeout: Some(5.0),
        seconds_interdigit_timeout: Some(2.5),
        seconds_timeout: None,
        clear: false,
    };
    match dtmf_detector::get_digits(channel, &options) {
        Ok(digits) if digits == "12#" && dtmf_detector::cause(channel) == DetectorCause::End => {}
        _ => return -110,
    }
    match dtmf_player::play(channel, "4,5") {
        Ok(DtmfPlayerCause::Normal) => {}
        _ => return -111,
    }
    write(Level::Warning, "scenario normal about to hang up");
    match channel.hang_up() {
        Ok(CallState::Idle) => {}
        _ => return -112,
    }
    if channel.state() != CallState::Idle {
        return -113;
    }
    if channel.cause() != Some(CallCause::Normal) || channel.raw_cause() != Some(200) {
        return -114;
    }
    // The fake call's figures arrive converted to milliseconds.
    match channel.media_statistics() {
        Some(figures)
            if figures.codec == "PCMA"
                && (figures.packets_sent, figures.packets_lost) == (50, 1)
                && figures.jitter_ms == 2.5
                && figures.playout_delay_ms == 40
                && figures.remote.is_some_and(|remote| remote.round_trip_ms == Some(1.5)) => {}
        _ => return -115,
    }
    write(Level::Error, "scenario normal done");
    7
}

/// The file and whole-call recorders against the runtime's fake call.
fn recording(channel: &Channel) -> i32 {
    if file_recorder::audio_detected_in_recording(channel).is_some() {
        return -130;
    }
    let options = RecordOptions {
        seconds_max: None,
        milliseconds_max_silence: Some(2000),
        milliseconds_initial_silence: Some(0),
        max_bytes: Some(0),
        barge_in: true,
        beep: true,
        format: RecordFormat::Mulaw,
        cipher: None,
    };
    match file_recorder::record(channel, "message.wav", &options) {
        Ok(RecorderCause::Silence) => {}
        _ => return -131,
    }
    if file_recorder::audio_detected_in_recording(channel) != Some(true)
        || file_recorder::last_recording(channel).map(|summary| summary.milliseconds) != Some(1500)
        || file_recorder::state(channel) != RecorderState::Idle
    {
        return -132;
    }
    let cipher = AesCbcCipher { key: "00112233445566778899aabbccddeeff".into(), vector: "0f0e0d0c0b0a09080706050403020100".into() };
    let whole = WholeCallOptions { format: RecordFormat::Pcm16, layout: WholeCallLayout::Mixed, seconds_max: Some(60), max_bytes: None, cipher: Some(cipher) };
    if whole_call_recorder::start(channel, "call.wav", &whole).is_err()
        || whole_call_recorder::state(channel) != RecorderState::Recording
        || whole_call_recorder::stop(channel).is_err()
        || whole_call_recorder::wait_until_finished(channel) != Ok(RecorderCause::Aborted)
        || whole_call_recorder::cause(channel) != RecorderCause::Aborted
    {
        return -133;
    }
    9
}

/// Outbound and multi-leg calls and the `sip` interface against the runtime's fake call.
fn legs(channel: &Channel, outbound: Option<String>) -> i32 {
    let Some(destination) = outbound else { return -120 };
    let options = CallOptions { call_from: Some("bob@1234".into()), seconds_timeout: Some(30), codecs: vec!["PCMA".into()] };
    let busy = CallOptions { call_from: None, seconds_timeout: None, codecs: Vec::new() };
    if channel.call("sip:busy@127.0.0.1", &busy) != Ok(CallState::Idle) || channel.cause() != Some(CallCause::Busy) {
        return -121;
    }
    if channel.raw_cause() != Some(486) {
        return -122;
    }
    let fields = [HeaderField { name: "X-Account".into(), values: vec!["42".into()] }];
    if sip::set_header_fields_to_send(channel, &fields).is_err() || sip::header_fields_to_send(channel) != fields {
        return -123;
    }
    let reserved = [HeaderField { name: "Via".into(), values: vec!["x".into()] }];
    if !matches!(sip::set_header_fields_to_send(channel, &reserved), Err(CallError::Error(_))) {
        return -124;
    }
    if channel.call(&destination, &options) != Ok(CallState::Answered) {
        return -125;
    }
    match sip::request_header_field(channel, "x-test") {
        Ok(Some(field)) if field.values == ["a", "b"] => {}
        _ => return -126,
    }
    if sip::send_info(channel, "hello", None) != Ok(200) || sip::send_message(channel, "hi", Some("text/plain")) != Ok(200) {
        return -127;
    }
    if sip::send_info_dtmf(channel, "5", Some(500)) != Ok(200) || sip::send_info_dtmf(channel, "55", None).is_ok() {
        return -128;
    }
    if sip::get_infos(channel).len() != 1 || sip::get_messages(channel).len() != 1 || sip::state(channel) != SipState::Idle {
        return -129;
    }
    let extra = match channel.extra_channel(0) {
        Ok(extra) => extra,
        Err(_) => return -130,
    };
    if channel.extra_channel(7).is_ok() || extra.state() != CallState::Idle {
        return -131;
    }
    if extra.start_call("sip:carol@127.0.0.1", &busy).is_err() || extra.wait_for_outgoing_call() != Ok(CallState::Answered) {
        return -132;
    }
    if channel.connect(&extra).is_err() || extra.disconnect().is_err() {
        return -133;
    }
    if extra.call_inbound_service("ivr", &busy) != Ok(CallState::Answered) || extra.call_inbound_service(" ", &busy).is_ok() {
        return -136;
    }
    if !matches!(channel.connect(channel), Err(CallError::Error(_))) {
        return -134;
    }
    if channel.call("", &busy).is_ok() || channel.call("sip:x@y", &CallOptions { seconds_timeout: Some(0), ..busy.clone() }).is_ok() {
        return -135;
    }
    if channel.hold().is_err() || channel.state() != CallState::Holding || channel.unhold().is_err() || channel.state() != CallState::Answered {
        return -137;
    }
    if channel.transfer_to_inbound_service(&extra, "queue", &busy) != Ok(CallState::Transferred)
        || channel.wait_for_transferred_call_retrieval() != Ok(CallState::Answered)
    {
        return -138;
    }
    if channel.transfer_to_inbound_service(channel, "queue", &busy).is_ok() || channel.transfer_to_inbound_service(&extra, "", &busy).is_ok() {
        return -139;
    }
    8
}

/// The file manager and an encrypted play against the runtime's fake call; the
/// file requests work before the call is answered and after it is idle.
fn files(channel: &Channel) -> i32 {
    let zero = AesCbcCipher { key: "00".repeat(32), vector: "00".repeat(16) };
    let other = AesCbcCipher { key: "11".repeat(32), vector: "00".repeat(16) };
    if files::validate("hello.wav", Some(&zero)) != Ok(ValidateResult::Validated)
        || files::validate("hello.wav", Some(&other)) != Ok(ValidateResult::DecryptFailed)
    {
        return -140;
    }
    if files::exists("hello.wav") != Ok(true) || files::exists("nope.wav") != Ok(false) {
        return -141;
    }
    if !matches!(files::exists("../outside.wav"), Err(CallError::Error(_))) {
        return -142;
    }
    if files::list(None) != Ok(vec!["hello.wav".to_string(), "sub/".to_string()]) {
        return -143;
    }
    if channel.answer().is_err() {
        return -144;
    }
    let options = PlayOptions { barge_in: false, cipher: Some(zero) };
    if file_player::play(channel, "hello.wav", &options) != Ok(PlayerCause::Normal) {
        return -145;
    }
    if channel.hang_up().is_err() {
        return -146;
    }
    if files::rename("hello.wav", "old.wav").is_err() || files::delete("old.wav").is_err() {
        return -147;
    }
    9
}

fn chatty(channel: &Channel) -> i32 {
    for _ in 0..20 {
        if file_player::play(channel, "beep.wav", &PlayOptions { barge_in: false, cipher: None }).is_err() {
            return -100;
        }
    }
    0
}

fn spin() -> i32 {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn alloc() -> i32 {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        std::hint::black_box(&hoard);
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let below = recurse(std::hint::black_box(depth + 1));
    std::hint::black_box(below) + depth
}

export!(Scenarios);

/// Oversized strings come back as short errors before they reach the call task.
fn oversized(channel: &Channel) -> i32 {
    fn refused<T>(outcome: Result<T, CallError>) -> bool {
        matches!(outcome, Err(CallError::Error(message))
            if message.starts_with("argument too large") && message.len() < 200)
    }
    if channel.answer().is_err() {
        return -150;
    }
    let name = "n".repeat(5000);
    let plain = PlayOptions { barge_in: false, cipher: None };
    if !refused(file_player::play(channel, &name, &plain)) || !refused(file_player::start(channel, &name, &plain)) {
        return -151;
    }
    if !refused(file_player::say(channel, &"s".repeat(20_000), &plain)) {
        return -152;
    }
    let record = RecordOptions { seconds_max: None, milliseconds_max_silence: None, milliseconds_initial_silence: None, max_bytes: None, barge_in: false, beep: false, format: RecordFormat::Pcm16, cipher: None };
    if !refused(file_recorder::start(channel, &name, &record)) {
        return -153;
    }
    if !refused(files::exists(&name)) || !refused(files::rename("a.wav", &name)) {
        return -154;
    }
    let digits = GetDigitsOptions { count: Some(1), end: "#".repeat(17), seconds_predigits_timeout: None, seconds_interdigit_timeout: None, seconds_timeout: None, clear: false };
    if !refused(dtmf_detector::get_digits(channel, &digits)) {
        return -155;
    }
    if !refused(callhost::call::tone_player::create_tone(&"t".repeat(200), &[], false)) {
        return -156;
    }
    // Cannot fail: the host cuts it short.
    write(Level::Info, &"x".repeat(1 << 20));
    10
}
