//! Call-progress tones: [`ToneManager`] defines named tones for this app
//! instance (the UAS `ToneManager`) and picks the ringtone; [`TonePlayer`]
//! plays a tone on a channel.
//!
//! A tone is a list of [`ToneSegment`]s, two [`ToneComponent`]s each
//! (frequency in Hz, 0 = silence; level in dBm0) added or modulated for some
//! milliseconds; it plays once or repeats until stopped. The host predefines
//! [`RINGBACK_EU`], [`RINGBACK_UK`] and [`RINGBACK`] (US). Depends on the
//! generated bindings and [`Channel`](crate::Channel).

use crate::bindings::callhost::call::tone_player as raw;
use crate::channel::Channel;
use crate::error::Result;
use crate::file_player::PlayerCause;

/// 425 Hz, 1 s on, 4 s off (CEPT countries).
pub const RINGBACK_EU: &str = "RINGBACK_EU";
/// 400+450 Hz, 0.4 s on, 0.2 off, 0.4 on, 2 off (UK).
pub const RINGBACK_UK: &str = "RINGBACK_UK";
/// 440+480 Hz, 2 s on, 4 s off (North America).
pub const RINGBACK: &str = "RINGBACK";

/// One sine of a segment: `frequency` Hz (0: silence, at most 3999) at `level` dBm0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneComponent {
    /// Hz; 0 is silence.
    pub frequency: u32,
    /// dBm0 (-60 to +3.17); -19 is a typical ringback level.
    pub level: f32,
}

impl ToneComponent {
    /// A component.
    pub const fn new(frequency: u32, level: f32) -> Self {
        Self { frequency, level }
    }

    /// Silence.
    pub const SILENCE: ToneComponent = ToneComponent::new(0, 0.0);
}

/// How a segment's components combine (the UAS `'add'` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToneMix {
    /// Added (`'summation'`).
    #[default]
    Summation,
    /// The first amplitude-modulated by the second (`'modulation'`); the second's
    /// level is each sideband's.
    Modulation,
}

/// One step of a cadence (the UAS tone pair plus `{'duration': ms, 'add': …}`).
///
/// ```
/// use callhost_sdk::{ToneComponent, ToneSegment};
/// // The seed's MY_RING_TONE: 400 and 600 Hz for 3 s, then 3 s of silence.
/// let on = ToneSegment::sum(ToneComponent::new(400, -19.0), ToneComponent::new(600, -19.0), 3000);
/// let off = ToneSegment::silence(3000);
/// assert_eq!(on.milliseconds + off.milliseconds, 6000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSegment {
    /// First sine (the carrier under modulation).
    pub first: ToneComponent,
    /// Second sine (the modulating frequency under modulation).
    pub second: ToneComponent,
    /// Duration, 1 to 3 600 000 ms.
    pub milliseconds: u32,
    /// How the two combine.
    pub mix: ToneMix,
}

impl ToneSegment {
    /// Two sines added for `milliseconds`.
    pub const fn sum(first: ToneComponent, second: ToneComponent, milliseconds: u32) -> Self {
        Self {
            first,
            second,
            milliseconds,
            mix: ToneMix::Summation,
        }
    }

    /// Silence for `milliseconds`.
    pub const fn silence(milliseconds: u32) -> Self {
        Self::sum(ToneComponent::SILENCE, ToneComponent::SILENCE, milliseconds)
    }

    fn to_raw(self) -> raw::ToneSegment {
        let component = |component: ToneComponent| raw::ToneComponent {
            frequency: component.frequency,
            level: component.level,
        };
        raw::ToneSegment {
            first: component(self.first),
            second: component(self.second),
            milliseconds: self.milliseconds,
            mix: match self.mix {
                ToneMix::Summation => raw::ToneMix::Summation,
                ToneMix::Modulation => raw::ToneMix::Modulation,
            },
        }
    }
}

/// The app instance's tones (the UAS `ToneManager`). Tones are shared by every
/// channel of the instance and last until `main` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToneManager;

impl ToneManager {
    /// The instance's tone manager.
    pub fn new() -> Self {
        ToneManager
    }

    /// Define (or redefine) tone `name`. Errors: `Error` for a bad segment (a
    /// frequency over 3999 Hz, a level out of range, a zero duration) or a
    /// predefined name.
    pub fn create_tone(&self, name: &str, segments: &[ToneSegment], repeat: bool) -> Result<()> {
        let segments: Vec<_> = segments.iter().map(|segment| segment.to_raw()).collect();
        Ok(raw::create_tone(name, &segments, repeat)?)
    }

    /// Make `name` the ringtone: [`Channel::ring`] then sends 183 Session Progress
    /// and plays it as early media until [`Channel::answer`], and a caller handed
    /// on with [`Channel::transfer_to_inbound_service`] hears it while the service
    /// rings (the predefined `RINGBACK` when no default was set).
    pub fn set_default(&self, name: &str) -> Result<()> {
        Ok(raw::set_default(name)?)
    }
}

/// A channel's tone player, borrowed from [`Channel::tone_player`]. A tone is a
/// play job of the channel: it replaces a file being played, and the file
/// player's `state` and `wait_until_finished` follow it.
#[derive(Debug, Clone, Copy)]
pub struct TonePlayer<'channel> {
    channel: &'channel Channel,
}

impl<'channel> TonePlayer<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        TonePlayer { channel }
    }

    /// Play tone `name` and wait until it ends: a tone that plays once by itself,
    /// a repeating one after `seconds` (none: until stopped from elsewhere).
    pub fn play(&self, name: &str, seconds: Option<u32>) -> Result<PlayerCause> {
        Ok(raw::play(self.channel.raw(), name, seconds)?.into())
    }

    /// Start tone `name` and return at once.
    pub fn start(&self, name: &str) -> Result<()> {
        Ok(raw::start(self.channel.raw(), name)?)
    }

    /// Stop the tone (or whatever plays).
    pub fn stop(&self) -> Result<()> {
        Ok(raw::stop(self.channel.raw())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_map_to_the_wit_record() {
        let segment = ToneSegment {
            first: ToneComponent::new(400, -10.0),
            second: ToneComponent::new(25, -16.0),
            milliseconds: 1500,
            mix: ToneMix::Modulation,
        }
        .to_raw();
        assert_eq!(segment.first.frequency, 400);
        assert_eq!(segment.second.level, -16.0);
        assert_eq!(segment.milliseconds, 1500);
        assert!(matches!(segment.mix, raw::ToneMix::Modulation));
        assert!(matches!(
            ToneSegment::silence(10).to_raw().mix,
            raw::ToneMix::Summation
        ));
        assert_eq!(ToneSegment::silence(10).first.frequency, 0);
    }
}
