//! callhost-media: the media layer of callhost — RTP sessions with RTCP reports and an adaptive
//! jitter buffer, SDP offer/answer, G.711, RFC 4733 DTMF, in-band DTMF detection, WAV prompts.
//!
//! Layering: everything except [`driver`] and [`engine`] is sans-IO (pure functions and state
//! machines tested with byte fixtures). [`driver`] owns each session's UDP socket and 20 ms
//! frame timer in one tokio task per call; [`engine`] holds the public handles the server uses.
//! This crate knows nothing of SIP or WebAssembly.
//!
//! Typical use by the server:
//! 1. `MediaEngine::new(MediaConfig::new(ip))` once;
//! 2. per INVITE, `engine.accept_offer(sdp).await` → `(MediaSession, answer)` (488 on
//!    [`MediaError::is_not_acceptable`]);
//! 3. on answer, `session.start_sending()`; then `play`, `send_dtmf`, and a loop on
//!    `session.next_event().await`;
//! 4. drop the session when the call ends.
//!
//! Outbound calls: `engine.create_offer(None).await` → `(PendingMedia, offer)`; on the answer,
//! `pending.accept_answer(sdp)` → `MediaSession`. Two-leg apps: `a.connect(&b)` bridges two
//! sessions' audio (transcoding between codecs), `disconnect` undoes it. Hold: `update_offer`
//! handles the peer's hold; `hold_offer` / `accept_reanswer` hold the peer.

pub mod cipher;
pub mod codec;
pub mod driver;
pub mod engine;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod g711;
pub mod inband_dtmf;
pub mod jitter;
pub mod ports;
pub mod prompt;
pub mod recorder;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod source;
pub mod telephone_event;
pub mod tone;
pub mod tts;
pub mod wav;

pub use cipher::{AesCbcCipher, CbcEncryptWriter, CipherError};
pub use codec::Codec;
pub use engine::{MediaConfig, MediaEngine, MediaSession, PendingMedia};
pub use error::MediaError;
pub use prompt::{Prompt, PromptCache, PromptError};
pub use session::{MediaEvent, MediaStats, RemoteReport};
