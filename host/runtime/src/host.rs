//! Host implementations of the `callhost:call@0.1.0` interfaces, one module per
//! WIT interface, all on [`crate::store::CallView`].
//!
//! Blocking WIT functions send a [`crate::port::CallCommand`] through the
//! channel's port and await the reply while the guest is suspended on its
//! fiber; never-blocking ones read the port's snapshot. A handle the guest
//! misuses traps; a fault on the host side is returned as `call-error::error`.
//! Depends on the generated bindings and the port only.

pub mod channel;
pub mod dtmf_detector;
pub mod dtmf_player;
pub mod file_player;
pub mod file_recorder;
pub mod files;
pub mod log;
pub mod sip;
pub mod tone_player;
pub mod types;
pub mod whole_call_recorder;
