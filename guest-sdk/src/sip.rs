//! [`Sip`]: the SIP specifics of a channel (the UAS `channel.SIP` property) —
//! headers to send with `call`/`answer`, received headers, SIP INFO and MESSAGE.
//!
//! Depends on the generated bindings and [`Channel`](crate::Channel).

use crate::bindings::callhost::call::sip as raw;
use crate::bindings::callhost::call::sip::SipState as RawSipState;
use crate::channel::Channel;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// Whether an INFO or MESSAGE is being sent (the UAS `SIP.State`).
    pub enum SipState mirrors RawSipState {
        /// Nothing is being sent.
        Idle = Idle => "IDLE",
        /// An INFO or MESSAGE is on its way.
        Busy = Busy => "BUSY",
        /// The last send failed.
        Error = Error => "ERROR",
    }
}

/// A SIP header field with its values (the UAS `SIPHeaderField`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The header name (a-z A-Z 0-9 and `-.!%*_+`'~`).
    pub name: String,
    /// Its values; each is sent as its own header line.
    pub values: Vec<String>,
}

impl HeaderField {
    /// A header field with one value (`SIPHeaderField("x-Authorization", "me@my.place")`).
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        HeaderField {
            name: name.into(),
            values: vec![value.into()],
        }
    }

    /// Adds another value (the UAS `add_value`).
    pub fn add_value(&mut self, value: impl Into<String>) -> &mut Self {
        self.values.push(value.into());
        self
    }

    /// The header name (the UAS `get_name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The values (the UAS `get_values`).
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

impl From<raw::HeaderField> for HeaderField {
    fn from(field: raw::HeaderField) -> Self {
        HeaderField {
            name: field.name,
            values: field.values,
        }
    }
}

impl From<&HeaderField> for raw::HeaderField {
    fn from(field: &HeaderField) -> Self {
        raw::HeaderField {
            name: field.name.clone(),
            values: field.values.clone(),
        }
    }
}

/// A received SIP INFO or MESSAGE (the UAS `SIPInfo` / `SIPMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipBody {
    /// The body text (the UAS `get_body`).
    pub body: String,
    /// Its Content-Type (the UAS `get_content_type`).
    pub content_type: String,
}

impl From<raw::SipBody> for SipBody {
    fn from(body: raw::SipBody) -> Self {
        SipBody {
            body: body.body,
            content_type: body.content_type,
        }
    }
}

/// The channel's SIP property, borrowed from [`Channel::sip`].
#[derive(Debug, Clone, Copy)]
pub struct Sip<'channel> {
    channel: &'channel Channel,
}

impl<'channel> Sip<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        Sip { channel }
    }

    /// The header fields [`Channel::call`] and [`Channel::answer`] will send (the UAS
    /// `HeaderFieldsToSend`). Never blocks.
    pub fn header_fields_to_send(&self) -> Vec<HeaderField> {
        raw::header_fields_to_send(self.channel.raw())
            .into_iter()
            .map(HeaderField::from)
            .collect()
    }

    /// Replaces the header fields to send.
    ///
    /// Errors: `Error` for a name outside the allowed characters, a header the host
    /// writes itself (Via, From, To, Call-ID, CSeq, Contact, Content-*, Route …), an
    /// empty value list or a value with a line break.
    pub fn set_header_fields_to_send(&self, fields: &[HeaderField]) -> Result<()> {
        let fields: Vec<raw::HeaderField> = fields.iter().map(raw::HeaderField::from).collect();
        Ok(raw::set_header_fields_to_send(self.channel.raw(), &fields)?)
    }

    /// Appends one header field to those to send
    /// (`HeaderFieldsToSend.append(SIPHeaderField(...))`).
    pub fn add_header_field_to_send(&self, field: HeaderField) -> Result<()> {
        let mut fields = self.header_fields_to_send();
        fields.push(field);
        self.set_header_fields_to_send(&fields)
    }

    /// Every value of a received header (of the INVITE; for an outbound leg, of the
    /// answer), matched case-insensitively; `None` when absent.
    ///
    /// Errors: `Error` unless the call is CALL_INCOMING, RING_INCOMING or ANSWERED.
    pub fn request_header_field(&self, name: &str) -> Result<Option<HeaderField>> {
        Ok(raw::request_header_field(self.channel.raw(), name)?.map(HeaderField::from))
    }

    /// Sends a SIP INFO and returns the response code (e.g. 200). The content type
    /// follows the UAS defaults: one DTMF digit goes as `application/dtmf-relay`
    /// (250 ms), other text as `text/plain` (charset ascii for ASCII text, else UTF-8).
    ///
    /// Errors: `Hangup` unless the call is ANSWERED.
    pub fn send_info(&self, body: &str) -> Result<u16> {
        Ok(raw::send_info(self.channel.raw(), body, None)?)
    }

    /// Sends a SIP INFO with an explicit content type.
    pub fn send_info_with_type(&self, body: &str, content_type: &str) -> Result<u16> {
        Ok(raw::send_info(
            self.channel.raw(),
            body,
            Some(content_type),
        )?)
    }

    /// Sends one DTMF digit as SIP INFO `application/dtmf-relay` lasting
    /// `milliseconds` (100–5000; the UAS `SIPInfoDTMFRelay`).
    pub fn send_info_dtmf(&self, digit: char, milliseconds: u32) -> Result<u16> {
        Ok(raw::send_info_dtmf(
            self.channel.raw(),
            &digit.to_string(),
            Some(milliseconds),
        )?)
    }

    /// Sends a SIP MESSAGE (content type as for [`Sip::send_info`], without the
    /// DTMF rule) and returns the response code.
    pub fn send_message(&self, body: &str) -> Result<u16> {
        Ok(raw::send_message(self.channel.raw(), body, None)?)
    }

    /// Sends a SIP MESSAGE with an explicit content type.
    pub fn send_message_with_type(&self, body: &str, content_type: &str) -> Result<u16> {
        Ok(raw::send_message(
            self.channel.raw(),
            body,
            Some(content_type),
        )?)
    }

    /// The SIP INFOs received since the last call (the buffer is emptied).
    pub fn get_infos(&self) -> Vec<SipBody> {
        raw::get_infos(self.channel.raw())
            .into_iter()
            .map(SipBody::from)
            .collect()
    }

    /// The SIP MESSAGEs received since the last call (the buffer is emptied).
    pub fn get_messages(&self) -> Vec<SipBody> {
        raw::get_messages(self.channel.raw())
            .into_iter()
            .map(SipBody::from)
            .collect()
    }

    /// Whether an INFO or MESSAGE is being sent. Never blocks.
    pub fn state(&self) -> SipState {
        raw::state(self.channel.raw()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_build_like_the_uas_class() {
        let mut field = HeaderField::new("x-Authorization", "me@my.place");
        field.add_value("you@my.place");
        assert_eq!(field.name(), "x-Authorization");
        assert_eq!(field.values(), ["me@my.place", "you@my.place"]);
        let raw_field = raw::HeaderField::from(&field);
        assert_eq!(HeaderField::from(raw_field), field);
    }
}
