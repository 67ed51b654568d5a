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
//! - `stdio`: prints to stdout and stderr, returns 0.

wit_bindgen::generate!({ path: "../../../../../wit", world: "app" });

use callhost::call::dtmf_detector::{self, DetectorCause, GetDigitsOptions};
use callhost::call::dtmf_player::{self, DtmfPlayerCause};
use callhost::call::file_player::{self, PlayOptions, PlayerCause};
use callhost::call::log::{Level, write};
use callhost::call::types::{CallCause, CallError, CallState};

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
    match file_player::play(channel, "hello.wav", PlayOptions { barge_in: true }) {
        Ok(PlayerCause::Normal) => {}
        _ => return -108,
    }
    match file_player::play(channel, "missing.wav", PlayOptions { barge_in: false }) {
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
    write(Level::Error, "scenario normal done");
    7
}

fn chatty(channel: &Channel) -> i32 {
    for _ in 0..20 {
        if file_player::play(channel, "beep.wav", PlayOptions { barge_in: false }).is_err() {
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
