//! [`FilePlayer`]: play WAV files from the app's media directory to the call, or
//! speak text ([`FilePlayer::say`]).
//!
//! Mirrors the UAS `channel.FilePlayer`: `play` blocks until the file ends, `start`
//! returns at once and `wait_until_finished`/`state`/`cause` follow the job. Files
//! are opened by bare name ("hello.wav") relative to the app's own media directory
//! on the host; any common WAV format works (the host converts on load), and an
//! AES-CBC encrypted one plays with [`PlayOptions::cipher`]. Depends on the
//! generated bindings, [`Channel`](crate::Channel) and
//! [`AesCbcCipher`](crate::AesCbcCipher).

use crate::bindings::callhost::call::file_player as raw;
use crate::bindings::callhost::call::file_player::{
    PlayerCause as RawPlayerCause, PlayerState as RawPlayerState,
};
use crate::channel::Channel;
use crate::cipher::AesCbcCipher;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// Whether the file player is busy (the UAS `FilePlayer.State`).
    pub enum PlayerState mirrors RawPlayerState {
        /// No play job is running.
        Idle = Idle => "IDLE",
        /// A file is playing.
        Playing = Playing => "PLAYING",
    }
}

mirror_enum! {
    /// Why the last play job ended (the UAS `FilePlayer.Cause`).
    pub enum PlayerCause mirrors RawPlayerCause {
        /// No job has run yet, or one is still running.
        None = None => "NONE",
        /// The whole file was played.
        Normal = Normal => "NORMAL",
        /// A DTMF digit interrupted a barge-in play; the digit stays buffered for
        /// [`DtmfDetector::get_digits`](crate::DtmfDetector::get_digits).
        BargeIn = Bargein => "BARGEIN",
        /// [`FilePlayer::stop`] was called.
        Aborted = Aborted => "ABORTED",
        /// The call went idle while playing.
        Hangup = Hangup => "HANGUP",
        /// The file could not be played.
        Error = Error => "ERROR",
    }
}

/// Options for a play job; build with [`PlayOptions::new`] and the setters.
///
/// ```
/// use callhost_sdk::PlayOptions;
/// let options = PlayOptions::new().barge_in(true);
/// assert!(options.is_barge_in());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PlayOptions {
    barge_in: bool,
    cipher: Option<AesCbcCipher>,
}

impl PlayOptions {
    /// Default options: no barge-in.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop playing as soon as the caller presses any DTMF digit (the play then ends
    /// with [`PlayerCause::BargeIn`] and the digit stays buffered).
    pub fn barge_in(mut self, barge_in: bool) -> Self {
        self.barge_in = barge_in;
        self
    }

    /// Whether barge-in is on.
    pub fn is_barge_in(&self) -> bool {
        self.barge_in
    }

    /// Decrypt the file with `cipher` before playing it (the UAS
    /// `play(filename=..., cipher=...)`). A wrong key, or a file that is not
    /// encrypted, makes the play fail with [`CallError::Error`](crate::CallError::Error);
    /// check with [`files::validate`](crate::files::validate) first.
    ///
    /// ```
    /// use callhost_sdk::{AesCbcCipher, PlayOptions};
    /// let cipher = AesCbcCipher::new("00112233445566778899aabbccddeeff", "0f0e0d0c0b0a09080706050403020100");
    /// let options = PlayOptions::new().cipher(cipher.clone());
    /// assert_eq!(options.cipher_ref(), Some(&cipher));
    /// ```
    pub fn cipher(mut self, cipher: AesCbcCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The cipher the file will be decrypted with, if any.
    pub fn cipher_ref(&self) -> Option<&AesCbcCipher> {
        self.cipher.as_ref()
    }

    fn to_raw(&self) -> raw::PlayOptions {
        raw::PlayOptions {
            barge_in: self.barge_in,
            cipher: self.cipher.as_ref().map(AesCbcCipher::to_raw),
        }
    }
}

/// The channel's file player, borrowed from [`Channel::file_player`].
///
/// One play job runs at a time per channel. Lifecycle: a job started with
/// [`FilePlayer::start`] keeps playing after this view is dropped; stop it with
/// [`FilePlayer::stop`] or let it end.
#[derive(Debug, Clone, Copy)]
pub struct FilePlayer<'channel> {
    channel: &'channel Channel,
}

impl<'channel> FilePlayer<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        FilePlayer { channel }
    }

    /// Plays `filename` and waits until it ends; returns why it ended. The call must
    /// be [`CallState::Answered`](crate::CallState::Answered).
    ///
    /// Errors: `Error` if the file is missing or unreadable, `Hangup` if the call is
    /// idle.
    pub fn play(&self, filename: &str) -> Result<PlayerCause> {
        self.play_with_options(filename, PlayOptions::new())
    }

    /// Like [`FilePlayer::play`], with options (e.g. barge-in).
    pub fn play_with_options(&self, filename: &str, options: PlayOptions) -> Result<PlayerCause> {
        Ok(raw::play(self.channel.raw(), filename, &options.to_raw())?.into())
    }

    /// Starts playing `filename` and returns at once; follow the job with
    /// [`FilePlayer::state`] or [`FilePlayer::wait_until_finished`].
    ///
    /// Errors: `Error` if the file cannot be played (the UAS `start(...) is False`).
    pub fn start(&self, filename: &str) -> Result<()> {
        self.start_with_options(filename, PlayOptions::new())
    }

    /// Like [`FilePlayer::start`], with options (e.g. barge-in).
    pub fn start_with_options(&self, filename: &str, options: PlayOptions) -> Result<()> {
        Ok(raw::start(self.channel.raw(), filename, &options.to_raw())?)
    }

    /// Speaks `text` with the host's text-to-speech engine and waits until it ends
    /// (the UAS `FilePlayer.say`). The text may be SSML: `<say-as interpret-as="date"
    /// format="ymd">2026/11/23</say-as>` and `interpret-as="time" format="hms24"` are
    /// said in words, `<voice name="en-gb">` picks a voice the engine has, and tags
    /// the engine does not know (vendor tags) are dropped, their text kept.
    ///
    /// ```no_run
    /// # fn speak(channel: &callhost_sdk::Channel) -> callhost_sdk::Result<()> {
    /// use callhost_sdk::PlayerCause;
    /// let cause = channel.file_player().say("Welcome to the speaking clock")?;
    /// assert_eq!(cause, PlayerCause::Normal);
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: `Error` for empty text or when the host has no speech engine,
    /// `Hangup` if the call is idle.
    pub fn say(&self, text: &str) -> Result<PlayerCause> {
        self.say_with_options(text, PlayOptions::new())
    }

    /// Like [`FilePlayer::say`], with options (e.g. barge-in: a digit stops the speech).
    pub fn say_with_options(&self, text: &str, options: PlayOptions) -> Result<PlayerCause> {
        Ok(raw::say(self.channel.raw(), text, &options.to_raw())?.into())
    }

    /// Starts speaking `text` and returns once it plays, like [`FilePlayer::start`].
    pub fn start_say(&self, text: &str, options: PlayOptions) -> Result<()> {
        Ok(raw::start_say(self.channel.raw(), text, &options.to_raw())?)
    }

    /// Stops the current play job (its cause becomes [`PlayerCause::Aborted`]).
    /// Does nothing when the player is idle.
    pub fn stop(&self) -> Result<()> {
        Ok(raw::stop(self.channel.raw())?)
    }

    /// Waits for the current play job to end and returns its cause.
    pub fn wait_until_finished(&self) -> Result<PlayerCause> {
        Ok(raw::wait_until_finished(self.channel.raw())?.into())
    }

    /// Whether a file is playing. Never blocks.
    pub fn state(&self) -> PlayerState {
        raw::state(self.channel.raw()).into()
    }

    /// Why the last finished play job ended. Never blocks.
    pub fn cause(&self) -> PlayerCause {
        raw::cause(self.channel.raw()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_no_barge_in_and_map_to_the_wit_record() {
        assert!(!PlayOptions::new().to_raw().barge_in);
        assert!(PlayOptions::new().barge_in(true).to_raw().barge_in);
        assert!(
            !PlayOptions::new()
                .barge_in(true)
                .barge_in(false)
                .is_barge_in()
        );
        assert!(PlayOptions::new().to_raw().cipher.is_none());
        let raw = PlayOptions::new()
            .cipher(AesCbcCipher::new("aa", "bb"))
            .to_raw();
        let cipher = raw.cipher.expect("cipher");
        assert_eq!((cipher.key.as_str(), cipher.vector.as_str()), ("aa", "bb"));
    }

    #[test]
    fn player_enums_round_trip_and_use_uas_names() {
        for &cause in PlayerCause::ALL {
            assert_eq!(PlayerCause::from(RawPlayerCause::from(cause)), cause);
        }
        for &state in PlayerState::ALL {
            assert_eq!(PlayerState::from(RawPlayerState::from(state)), state);
        }
        assert_eq!(PlayerCause::BargeIn.to_string(), "BARGEIN");
        assert_eq!(PlayerState::Playing.to_string(), "PLAYING");
    }
}
