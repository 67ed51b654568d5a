//! RTP fixed header parse and build (RFC 3550 §5.1), plus the RTP/RTCP demultiplexing test of
//! RFC 5761 §4 so stray RTCP on the RTP port is recognised instead of miscounted.
//!
//! Pure functions over byte slices; no I/O, no allocation. The parser is tolerant in what it
//! accepts (padding, CSRC lists and header extensions are skipped correctly) and returns an
//! [`RtpError`] for anything that cannot be RTP; it never panics on any input.

/// Length of the fixed RTP header without CSRCs (RFC 3550 §5.1).
pub const RTP_HEADER_LENGTH: usize = 12;

/// The only RTP version in use (RFC 3550 §5.1 `V`).
pub const RTP_VERSION: u8 = 2;

/// The fields of the RTP fixed header that callhost reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// `M`: for audio, the first packet of a talkspurt; for telephone-event, the start of an event.
    pub marker: bool,
    /// `PT`, 0..=127.
    pub payload_type: u8,
    /// Sequence number; increments by one per packet sent.
    pub sequence_number: u16,
    /// Sampling instant of the first octet of the payload.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// The 12-byte fixed header (no padding, extension or CSRCs).
    pub fn to_bytes(&self) -> [u8; RTP_HEADER_LENGTH] {
        let mut header = [0u8; RTP_HEADER_LENGTH];
        header[0] = RTP_VERSION << 6;
        header[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7F);
        header[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        header
    }

    /// Write the fixed header into `out[..12]`.
    ///
    /// Returns the number of bytes written, or `None` if `out` is shorter than 12 bytes.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        out.get_mut(..RTP_HEADER_LENGTH)?
            .copy_from_slice(&self.to_bytes());
        Some(RTP_HEADER_LENGTH)
    }
}

/// Write a complete RTP packet (fixed header + payload) into `out`.
///
/// Returns the packet length, or `None` if `out` is too small.
pub fn write_packet(header: &RtpHeader, payload: &[u8], out: &mut [u8]) -> Option<usize> {
    let total = RTP_HEADER_LENGTH + payload.len();
    let written = header.write(out)?;
    out.get_mut(written..total)?.copy_from_slice(payload);
    Some(total)
}

/// A parsed RTP packet borrowing from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header.
    pub header: RtpHeader,
    /// Number of CSRC identifiers that were skipped.
    pub csrc_count: u8,
    /// The header extension (profile-defined id and its data), if the `X` bit was set.
    pub extension: Option<RtpExtension<'a>>,
    /// The payload, with padding removed.
    pub payload: &'a [u8],
}

/// An RTP header extension (RFC 3550 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The 16-bit profile-defined identifier.
    pub profile: u16,
    /// The extension data (a multiple of 4 bytes).
    pub data: &'a [u8],
}

/// Why a datagram is not a usable RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed header (or than its CSRC list / extension).
    #[error("datagram of {length} bytes is too short for an RTP header")]
    TooShort {
        /// The datagram length.
        length: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version} is not supported")]
    UnsupportedVersion {
        /// The version field found.
        version: u8,
    },
    /// The second octet says RTCP (RFC 5761 §4: payload type range 64..=95 with the marker bit).
    #[error("packet type {packet_type} is RTCP, not RTP")]
    Rtcp {
        /// The RTCP packet type (second octet).
        packet_type: u8,
    },
    /// The CSRC list runs past the end of the datagram.
    #[error("CSRC list of {csrc_count} entries runs past the end of a {length}-byte datagram")]
    CsrcOverflow {
        /// The CC field.
        csrc_count: u8,
        /// The datagram length.
        length: usize,
    },
    /// The header extension runs past the end of the datagram.
    #[error("header extension runs past the end of a {length}-byte datagram")]
    ExtensionOverflow {
        /// The datagram length.
        length: usize,
    },
    /// The padding count is zero or larger than the payload.
    #[error("padding of {padding} bytes does not fit a payload of {available} bytes")]
    InvalidPadding {
        /// The padding count (last octet).
        padding: u8,
        /// Bytes available after the header.
        available: usize,
    },
}

/// Parse an RTP packet. Never panics; every malformed input yields an [`RtpError`].
pub fn parse(datagram: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    let length = datagram.len();
    if length < RTP_HEADER_LENGTH {
        return Err(RtpError::TooShort { length });
    }
    let version = datagram[0] >> 6;
    if version != RTP_VERSION {
        return Err(RtpError::UnsupportedVersion { version });
    }
    // RFC 5761 §4: RTCP packet types 192..=223 look like RTP with M=1 and PT 64..=95.
    if (192..=223).contains(&datagram[1]) {
        return Err(RtpError::Rtcp {
            packet_type: datagram[1],
        });
    }
    let has_padding = datagram[0] & 0x20 != 0;
    let has_extension = datagram[0] & 0x10 != 0;
    let csrc_count = datagram[0] & 0x0F;
    let header = RtpHeader {
        marker: datagram[1] & 0x80 != 0,
        payload_type: datagram[1] & 0x7F,
        sequence_number: u16::from_be_bytes([datagram[2], datagram[3]]),
        timestamp: u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]),
        ssrc: u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]),
    };

    let mut offset = RTP_HEADER_LENGTH + 4 * usize::from(csrc_count);
    if offset > length {
        return Err(RtpError::CsrcOverflow { csrc_count, length });
    }

    let mut extension = None;
    if has_extension {
        let Some(extension_header) = datagram.get(offset..offset + 4) else {
            return Err(RtpError::ExtensionOverflow { length });
        };
        let profile = u16::from_be_bytes([extension_header[0], extension_header[1]]);
        let words = usize::from(u16::from_be_bytes([
            extension_header[2],
            extension_header[3],
        ]));
        let data_start = offset + 4;
        let data_end = data_start + 4 * words;
        let Some(data) = datagram.get(data_start..data_end) else {
            return Err(RtpError::ExtensionOverflow { length });
        };
        extension = Some(RtpExtension { profile, data });
        offset = data_end;
    }

    let mut end = length;
    if has_padding {
        let padding = datagram[length - 1];
        let available = length - offset;
        if padding == 0 || usize::from(padding) > available {
            return Err(RtpError::InvalidPadding { padding, available });
        }
        end -= usize::from(padding);
    }

    Ok(RtpPacket {
        header,
        csrc_count,
        extension,
        payload: &datagram[offset..end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3550 §5.1 layout, written out by hand: V=2, P=0, X=0, CC=0, M=1, PT=0,
    // seq 0x1234, ts 0xDEADBEEF, SSRC 0x01020304, then 4 payload bytes.
    const SIMPLE: [u8; 16] = [
        0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xFF, 0xFE, 0xFD,
        0xFC,
    ];

    #[test]
    fn parses_a_hand_written_packet() {
        let packet = parse(&SIMPLE).expect("valid");
        assert_eq!(
            packet.header,
            RtpHeader {
                marker: true,
                payload_type: 0,
                sequence_number: 0x1234,
                timestamp: 0xDEAD_BEEF,
                ssrc: 0x0102_0304
            }
        );
        assert_eq!(packet.payload, &[0xFF, 0xFE, 0xFD, 0xFC]);
        assert_eq!(packet.csrc_count, 0);
        assert!(packet.extension.is_none());
    }

    #[test]
    fn build_produces_the_same_bytes() {
        let header = parse(&SIMPLE).unwrap().header;
        let mut out = [0u8; 64];
        let length = write_packet(&header, &SIMPLE[12..], &mut out).unwrap();
        assert_eq!(&out[..length], &SIMPLE);
        assert_eq!(
            write_packet(&header, &[0u8; 60], &mut out),
            None,
            "too small a buffer"
        );
        assert_eq!(header.write(&mut [0u8; 11]), None);
    }

    #[test]
    fn skips_csrcs_extension_and_padding() {
        let mut datagram = vec![0xB2, 101]; // V=2 P=1 X=1 CC=2, M=0 PT=101
        datagram.extend_from_slice(&[0, 7, 0, 0, 0, 160, 0xAA, 0xBB, 0xCC, 0xDD]);
        datagram.extend_from_slice(&[1, 1, 1, 1, 2, 2, 2, 2]); // two CSRCs
        datagram.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // one-word extension
        datagram.extend_from_slice(&[5, 0x8A, 0x03, 0x20]); // payload
        datagram.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let packet = parse(&datagram).expect("valid");
        assert_eq!(packet.csrc_count, 2);
        assert_eq!(packet.header.payload_type, 101);
        assert_eq!(packet.header.sequence_number, 7);
        assert_eq!(packet.header.timestamp, 160);
        assert_eq!(
            packet.extension,
            Some(RtpExtension {
                profile: 0xBEDE,
                data: &[9, 9, 9, 9]
            })
        );
        assert_eq!(packet.payload, &[5, 0x8A, 0x03, 0x20]);
    }

    #[test]
    fn rejects_garbage_with_typed_errors() {
        assert_eq!(parse(&[]), Err(RtpError::TooShort { length: 0 }));
        assert_eq!(parse(&SIMPLE[..11]), Err(RtpError::TooShort { length: 11 }));
        let mut bad_version = SIMPLE;
        bad_version[0] = 0x40;
        assert_eq!(
            parse(&bad_version),
            Err(RtpError::UnsupportedVersion { version: 1 })
        );
        let mut rtcp = SIMPLE;
        rtcp[1] = 200; // sender report
        assert_eq!(parse(&rtcp), Err(RtpError::Rtcp { packet_type: 200 }));
        let mut csrc = SIMPLE;
        csrc[0] = 0x8F; // 15 CSRCs in a 16-byte datagram
        assert_eq!(
            parse(&csrc),
            Err(RtpError::CsrcOverflow {
                csrc_count: 15,
                length: 16
            })
        );
        let mut extension = SIMPLE;
        extension[0] = 0x90; // X=1, but the "extension" claims 0xFDFC words
        assert_eq!(
            parse(&extension),
            Err(RtpError::ExtensionOverflow { length: 16 })
        );
        let mut padding = SIMPLE;
        padding[0] = 0xA0; // P=1, last octet 0xFC > 4 bytes available
        assert_eq!(
            parse(&padding),
            Err(RtpError::InvalidPadding {
                padding: 0xFC,
                available: 4
            })
        );
        let mut zero_padding = SIMPLE;
        zero_padding[0] = 0xA0;
        zero_padding[15] = 0;
        assert_eq!(
            parse(&zero_padding),
            Err(RtpError::InvalidPadding {
                padding: 0,
                available: 4
            })
        );
    }

    #[test]
    fn never_panics_on_pseudo_random_input() {
        // A fixed xorshift sequence gives reproducible "garbage" of every length up to 80 bytes,
        // biased so that the version bits are often 2 and the deeper checks are reached.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut parsed = 0;
        for round in 0..20_000 {
            let length = round % 80;
            let mut datagram = Vec::with_capacity(length);
            for _ in 0..length {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                datagram.push(state as u8);
            }
            if let Some(first) = datagram.first_mut() {
                *first = (*first & 0x3F) | 0x80;
            }
            if let Ok(packet) = parse(&datagram) {
                parsed += 1;
                assert!(packet.payload.len() <= datagram.len() - RTP_HEADER_LENGTH);
            }
        }
        assert!(
            parsed > 100,
            "the generator should also produce some valid packets ({parsed})"
        );
    }
}
