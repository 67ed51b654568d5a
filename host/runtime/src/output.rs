//! The call's log: guest stdout/stderr and `log.write` lines, sent to `tracing`
//! inside the call's span and tagged with the app name.
//!
//! stdout and stderr are WASI output streams that never block and never fail:
//! bytes are split into lines, each line becomes one `tracing` event. The last
//! few stderr lines are kept so a trap's exit record can quote the panic
//! message a Rust guest prints just before it aborts. A chatty guest cannot
//! flood the host log: lines are rate-limited per call (a token bucket; what is
//! dropped is counted and noted in one line), a per-call byte budget caps the
//! total, and an overlong `log.write` line is cut short and charged only for
//! what is kept. Depends on wasmtime-wasi's stream traits and `tracing` only.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use tracing::Span;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept whole; longer output is split into several events.
const MAX_LINE_BYTES: usize = 4096;
/// Bytes of guest output one call may log before further output is dropped.
const MAX_LOGGED_BYTES_PER_CALL: usize = 1024 * 1024;
/// Lines one call may log at once before the rate limit applies.
const LOG_BURST_LINES: f64 = 200.0;
/// Lines per second one call may log once its burst is spent.
const LOG_LINES_PER_SECOND: f64 = 50.0;
/// Shortest time between two notes of dropped lines (the last one comes when
/// the call ends), so the notes cannot become a flood of their own.
const DROPPED_NOTE_INTERVAL: Duration = Duration::from_secs(5);
/// stderr lines kept for the exit record of a trapped call.
const STDERR_TAIL_LINES: usize = 12;
/// What a stream reports it can accept at once (it accepts anything).
const WRITE_BUDGET: usize = 64 * 1024;

/// The `tracing` target of every line an app produces.
pub const APP_LOG_TARGET: &str = "callhost::app";

/// Severity of a guest log line (mirrors WIT `log.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineLevel {
    Debug,
    Info,
    Warning,
    Error,
}

/// Which standard stream a byte came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StdStream {
    Stdout,
    Stderr,
}

impl StdStream {
    fn name(self) -> &'static str {
        match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        }
    }
}

/// Shared between the store (for `log.write`) and the two WASI streams.
#[derive(Debug)]
pub(crate) struct CallLog {
    app: Arc<str>,
    span: Span,
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    stdout_partial: Vec<u8>,
    stderr_partial: Vec<u8>,
    stderr_tail: VecDeque<String>,
    logged_bytes: usize,
    overflow_reported: bool,
    rate: LineRate,
    /// Lines dropped (by the rate limit or the byte budget) since the last note.
    dropped_lines: u64,
    /// When the last note of dropped lines was logged.
    last_note: Option<Instant>,
}

/// A token bucket over log lines: [`LOG_BURST_LINES`] at once, then
/// [`LOG_LINES_PER_SECOND`].
#[derive(Debug)]
struct LineRate {
    tokens: f64,
    refilled: Option<Instant>,
}

impl Default for LineRate {
    fn default() -> Self {
        LineRate {
            tokens: LOG_BURST_LINES,
            refilled: None,
        }
    }
}

impl LineRate {
    /// Take one line's token at `now`; false when the bucket is empty.
    fn take(&mut self, now: Instant) -> bool {
        if let Some(refilled) = self.refilled {
            let seconds = now.saturating_duration_since(refilled).as_secs_f64();
            self.tokens = (self.tokens + seconds * LOG_LINES_PER_SECOND).min(LOG_BURST_LINES);
        }
        self.refilled = Some(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

impl CallLog {
    /// A log for one instance of `app`, attached to `span`.
    pub(crate) fn new(app: Arc<str>, span: Span) -> Arc<Self> {
        Arc::new(CallLog {
            app,
            span,
            state: Mutex::new(LogState::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, LogState> {
        // A poisoned lock only means a tracing subscriber panicked mid-line;
        // the buffered bytes are still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One line from `log.write`; an overlong one is cut to [`MAX_LINE_BYTES`]
    /// (and charged only for that).
    pub(crate) fn write_line(&self, level: LineLevel, message: &str) {
        self.write_line_at(level, message, Instant::now());
    }

    fn write_line_at(&self, level: LineLevel, message: &str, now: Instant) {
        let mut state = self.state();
        let kept = truncate_to_char_boundary(message, MAX_LINE_BYTES);
        if !self.admit(&mut state, kept.len(), now) {
            return;
        }
        if kept.len() == message.len() {
            self.emit(level, "log", message);
        } else {
            let note = format!(
                "{kept}… [line of {} bytes cut to {}]",
                message.len(),
                kept.len()
            );
            self.emit(level, "log", &note);
        }
    }

    /// Raw bytes from a standard stream.
    pub(crate) fn write_bytes(&self, stream: StdStream, bytes: &[u8]) {
        let mut state = self.state();
        let mut partial = std::mem::take(match stream {
            StdStream::Stdout => &mut state.stdout_partial,
            StdStream::Stderr => &mut state.stderr_partial,
        });
        for &byte in bytes {
            if byte == b'\n' {
                self.finish_line(&mut state, stream, &partial);
                partial.clear();
            } else {
                partial.push(byte);
                if partial.len() >= MAX_LINE_BYTES {
                    self.finish_line(&mut state, stream, &partial);
                    partial.clear();
                }
            }
        }
        match stream {
            StdStream::Stdout => state.stdout_partial = partial,
            StdStream::Stderr => state.stderr_partial = partial,
        }
    }

    /// Emit unterminated output and note lines dropped since the last note.
    /// Called once when the call ends.
    pub(crate) fn flush(&self) {
        let mut state = self.state();
        let state = &mut *state;
        for stream in [StdStream::Stdout, StdStream::Stderr] {
            let partial = std::mem::take(match stream {
                StdStream::Stdout => &mut state.stdout_partial,
                StdStream::Stderr => &mut state.stderr_partial,
            });
            if !partial.is_empty() {
                self.finish_line(state, stream, &partial);
            }
        }
        self.note_dropped(state);
    }

    /// The last stderr lines (oldest first), e.g. a Rust panic message.
    pub(crate) fn stderr_tail(&self) -> Vec<String> {
        self.state().stderr_tail.iter().cloned().collect()
    }

    fn finish_line(&self, state: &mut LogState, stream: StdStream, bytes: &[u8]) {
        let line = String::from_utf8_lossy(bytes);
        let line = line.trim_end_matches('\r');
        if stream == StdStream::Stderr {
            if state.stderr_tail.len() == STDERR_TAIL_LINES {
                state.stderr_tail.pop_front();
            }
            state.stderr_tail.push_back(line.to_owned());
        }
        if self.admit(state, line.len(), Instant::now()) {
            let level = match stream {
                StdStream::Stdout => LineLevel::Info,
                StdStream::Stderr => LineLevel::Warning,
            };
            self.emit(level, stream.name(), line);
        }
    }

    /// Whether a line of `bytes` may be logged at `now`: within the line rate
    /// and the byte budget. A dropped line is counted; a line admitted after
    /// some were dropped is preceded by a note of how many, at most once per
    /// [`DROPPED_NOTE_INTERVAL`].
    fn admit(&self, state: &mut LogState, bytes: usize, now: Instant) -> bool {
        if !state.rate.take(now) || !self.charge(state, bytes) {
            state.dropped_lines += 1;
            return false;
        }
        let noted_lately = state
            .last_note
            .is_some_and(|last| now.saturating_duration_since(last) < DROPPED_NOTE_INTERVAL);
        if state.dropped_lines > 0 && !noted_lately {
            self.note_dropped(state);
            state.last_note = Some(now);
        }
        true
    }

    /// Log how many lines were dropped since the last note, if any.
    fn note_dropped(&self, state: &mut LogState) {
        if state.dropped_lines == 0 {
            return;
        }
        tracing::warn!(
            target: APP_LOG_TARGET,
            parent: &self.span,
            app = %self.app,
            dropped_lines = state.dropped_lines,
            "app log rate limit: {} lines dropped (at most {LOG_LINES_PER_SECOND} a second after a burst of {LOG_BURST_LINES}, {MAX_LOGGED_BYTES_PER_CALL} bytes a call)",
            state.dropped_lines
        );
        state.dropped_lines = 0;
    }

    /// Count `bytes` against the call's log budget; false once it is spent.
    fn charge(&self, state: &mut LogState, bytes: usize) -> bool {
        state.logged_bytes = state.logged_bytes.saturating_add(bytes);
        if state.logged_bytes <= MAX_LOGGED_BYTES_PER_CALL {
            return true;
        }
        if !state.overflow_reported {
            state.overflow_reported = true;
            tracing::warn!(
                target: APP_LOG_TARGET,
                parent: &self.span,
                app = %self.app,
                "app output exceeded {MAX_LOGGED_BYTES_PER_CALL} bytes; dropping the rest for this call"
            );
        }
        false
    }

    fn emit(&self, level: LineLevel, source: &str, message: &str) {
        let app = &*self.app;
        match level {
            LineLevel::Debug => {
                tracing::debug!(target: APP_LOG_TARGET, parent: &self.span, app, source, "{message}")
            }
            LineLevel::Info => {
                tracing::info!(target: APP_LOG_TARGET, parent: &self.span, app, source, "{message}")
            }
            LineLevel::Warning => {
                tracing::warn!(target: APP_LOG_TARGET, parent: &self.span, app, source, "{message}")
            }
            LineLevel::Error => {
                tracing::error!(target: APP_LOG_TARGET, parent: &self.span, app, source, "{message}")
            }
        }
    }
}

fn truncate_to_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A guest standard output or error stream that feeds a [`CallLog`].
#[derive(Debug, Clone)]
pub(crate) struct GuestOutput {
    log: Arc<CallLog>,
    stream: StdStream,
}

impl GuestOutput {
    pub(crate) fn new(log: Arc<CallLog>, stream: StdStream) -> Self {
        GuestOutput { log, stream }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    // Always writable: output is handled synchronously.
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.log.write_bytes(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.log.write_bytes(self.stream, bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> Arc<CallLog> {
        CallLog::new("test-app".into(), Span::none())
    }

    #[test]
    fn stderr_lines_are_split_and_the_tail_is_kept() {
        let log = log();
        log.write_bytes(
            StdStream::Stderr,
            b"thread panicked at src/lib.rs:1:1:\nboo",
        );
        log.write_bytes(StdStream::Stderr, b"m\r\nnote: run with RUST_BACKTRACE=1\n");
        assert_eq!(
            log.stderr_tail(),
            vec![
                "thread panicked at src/lib.rs:1:1:",
                "boom",
                "note: run with RUST_BACKTRACE=1"
            ]
        );
    }

    #[test]
    fn unterminated_stderr_reaches_the_tail_on_flush() {
        let log = log();
        log.write_bytes(StdStream::Stderr, b"no newline");
        assert!(log.stderr_tail().is_empty());
        log.flush();
        assert_eq!(log.stderr_tail(), vec!["no newline"]);
    }

    #[test]
    fn the_tail_keeps_only_the_last_lines() {
        let log = log();
        for index in 0..40 {
            log.write_bytes(StdStream::Stderr, format!("line {index}\n").as_bytes());
        }
        let tail = log.stderr_tail();
        assert_eq!(tail.len(), STDERR_TAIL_LINES);
        assert_eq!(tail.last().map(String::as_str), Some("line 39"));
    }

    #[test]
    fn overlong_lines_are_split() {
        let log = log();
        log.write_bytes(StdStream::Stderr, &vec![b'x'; MAX_LINE_BYTES + 10]);
        log.flush();
        let tail = log.stderr_tail();
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[0].len(), MAX_LINE_BYTES);
        assert_eq!(tail[1].len(), 10);
    }

    #[test]
    fn output_beyond_the_limits_is_dropped_but_never_fails() {
        let log = log();
        let mut stream = GuestOutput::new(log.clone(), StdStream::Stdout);
        let chunk = bytes::Bytes::from(vec![b'y'; 1000]);
        for _ in 0..(MAX_LOGGED_BYTES_PER_CALL / 1000 + 10) {
            assert!(stream.write(chunk.clone()).is_ok());
        }
        assert!(log.state().dropped_lines > 0);
    }

    #[test]
    fn output_beyond_the_byte_budget_is_dropped() {
        let log = log();
        let start = Instant::now();
        let line = "z".repeat(MAX_LINE_BYTES);
        // One line a second stays well inside the line rate.
        for second in 0..(MAX_LOGGED_BYTES_PER_CALL / MAX_LINE_BYTES + 10) {
            let now = start + Duration::from_secs(second as u64);
            log.write_line_at(LineLevel::Info, &line, now);
        }
        let state = log.state();
        assert!(state.overflow_reported);
        assert_eq!(state.dropped_lines, 10);
    }

    #[test]
    fn a_burst_beyond_the_line_rate_is_dropped_and_counted() {
        let log = log();
        let start = Instant::now();
        for line in 0..(LOG_BURST_LINES as u64 + 100) {
            log.write_line_at(LineLevel::Info, &format!("line {line}"), start);
        }
        assert_eq!(log.state().dropped_lines, 100);
        // A second later the bucket has refilled a little: the next line is
        // admitted, after the note that resets the count.
        let later = start + Duration::from_secs(1);
        log.write_line_at(LineLevel::Info, "after the pause", later);
        assert_eq!(log.state().dropped_lines, 0);
        assert!(log.state().logged_bytes < 10_000);
        // Notes come at most once per interval; the rest is counted for the
        // next note (or the one at the end of the call).
        for line in 0..1000 {
            log.write_line_at(LineLevel::Info, &format!("more {line}"), later);
        }
        let soon = later + Duration::from_secs(1);
        log.write_line_at(LineLevel::Info, "still flooding", soon);
        assert_eq!(log.state().dropped_lines, 1000 - 49);
        log.flush();
        assert_eq!(log.state().dropped_lines, 0);
    }

    #[test]
    fn an_overlong_log_line_is_cut_and_charged_for_what_is_kept() {
        let log = log();
        let huge = "x".repeat(50 * 1024 * 1024);
        log.write_line_at(LineLevel::Info, &huge, Instant::now());
        let state = log.state();
        assert_eq!(state.logged_bytes, MAX_LINE_BYTES);
        assert!(!state.overflow_reported);
        assert_eq!(state.dropped_lines, 0);
    }

    #[test]
    fn truncation_respects_utf8() {
        assert_eq!(truncate_to_char_boundary("héllo", 2), "h");
        assert_eq!(truncate_to_char_boundary("hi", 10), "hi");
    }
}
