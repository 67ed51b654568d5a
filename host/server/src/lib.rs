//! callhost: a telephony application server running call logic in WebAssembly.
//!
//! This crate is the top of the stack (`server → runtime, sip, media`): the
//! configuration ([`config`]), the per-call task that wires a SIP dialog, a media
//! session and an app instance together ([`call`]), and the host's life cycle
//! ([`server`]: bind, accept, drain on shutdown), the admin HTTP API ([`admin`]) and
//! its command-line client ([`originate`]), call-progress status callbacks
//! ([`status_callback`]) and text to speech ([`tts`]). `main.rs` is only the CLI.

pub mod accounts;
pub mod admin;
pub mod call;
pub mod config;
pub mod digits;
pub mod media_path;
pub mod open_files;
pub mod originate;
pub mod server;
pub mod status_callback;
pub mod tts;
