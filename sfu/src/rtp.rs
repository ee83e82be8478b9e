//! Minimal RTP packet view (RFC 3550, RFC 8285 header extensions) and in-place header rewriting.
//!
//! The SFU reads only what forwarding needs — sequence number, timestamp, SSRC, payload
//! type, marker, extensions. A subscriber's packet is [`RtpHeader`] fields on the shared
//! payload (`forwarder::OutgoingPacket`); [`rewrite_header`] rewrites the same fields in
//! a buffer for callers that hold raw RTP. Parsing never panics: every malformed input
//! is an [`RtpError`].

use crate::hdrext::{AudioLevel, ExtensionForm, Extensions};
use std::fmt;

/// Length of the fixed RTP header, before CSRCs and extensions.
pub const FIXED_HEADER_LEN: usize = 12;

/// Why a buffer is not an RTP packet we can forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpError {
    /// The buffer ends before the header it declares (fixed part, CSRCs or extension).
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The version field is not 2 (e.g. a STUN or DTLS datagram, or garbage).
    BadVersion(u8),
    /// The padding count is zero or exceeds the bytes after the header.
    BadPadding(u8),
    /// A header-extension element runs past the end of the extension block.
    BadExtension,
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(
                    f,
                    "RTP packet truncated: header needs {needed} bytes, got {got}"
                )
            }
            Self::BadVersion(v) => write!(f, "RTP version {v}, expected 2"),
            Self::BadPadding(n) => write!(f, "invalid RTP padding count {n}"),
            Self::BadExtension => write!(f, "RTP header extension element overruns its block"),
        }
    }
}

impl std::error::Error for RtpError {}

/// The header fields a forwarder reads and rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// End of a frame (video) or start of a talkspurt (audio); kept as received.
    pub marker: bool,
    /// Payload type; rewritten to the number the subscriber negotiated.
    pub payload_type: u8,
    /// Sequence number; rewritten so each subscriber sees one gap-free stream.
    pub sequence_number: u16,
    /// Media timestamp; rewritten so it stays monotonic across source switches.
    pub timestamp: u32,
    /// Synchronisation source; rewritten to the subscriber slot's fixed SSRC.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Serialises a packet with this header (no CSRCs, extensions or padding) and `payload`.
    /// Used by tests and by drivers that synthesise packets.
    pub fn write(&self, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; FIXED_HEADER_LEN];
        buf[0] = 0x80;
        buf.extend_from_slice(payload);
        // Cannot fail: the buffer is at least FIXED_HEADER_LEN long and has version 2.
        let _ = rewrite_header(&mut buf, self);
        buf
    }
}

/// Rewrites marker, payload type, sequence number, timestamp and SSRC of the RTP packet
/// in `buf`, leaving CSRCs, extensions and payload untouched.
pub fn rewrite_header(buf: &mut [u8], new: &RtpHeader) -> Result<(), RtpError> {
    check_fixed(buf)?;
    buf[1] = (u8::from(new.marker) << 7) | (new.payload_type & 0x7F);
    buf[2..4].copy_from_slice(&new.sequence_number.to_be_bytes());
    buf[4..8].copy_from_slice(&new.timestamp.to_be_bytes());
    buf[8..12].copy_from_slice(&new.ssrc.to_be_bytes());
    Ok(())
}

fn check_fixed(buf: &[u8]) -> Result<(), RtpError> {
    if buf.len() < FIXED_HEADER_LEN {
        return Err(RtpError::Truncated {
            needed: FIXED_HEADER_LEN,
            got: buf.len(),
        });
    }
    match buf[0] >> 6 {
        2 => Ok(()),
        v => Err(RtpError::BadVersion(v)),
    }
}

/// A parsed, borrowed view of one RTP packet.
#[derive(Debug, Clone)]
pub struct RtpPacket<'a> {
    /// The fixed header fields.
    pub header: RtpHeader,
    /// Number of contributing sources listed after the fixed header.
    pub csrc_count: u8,
    buf: &'a [u8],
    /// The checked extension block, if any.
    ext: Option<Extensions<'a>>,
    payload: (usize, usize),
}

impl<'a> RtpPacket<'a> {
    /// Parses `buf` as an RTP packet, checking every length it declares.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        check_fixed(buf)?;
        // Indexing below 12 is in bounds: `check_fixed` checked the length.
        let truncated = |needed| RtpError::Truncated {
            needed,
            got: buf.len(),
        };
        let header = RtpHeader {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7F,
            sequence_number: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        };
        let csrc_count = buf[0] & 0x0F;
        let mut pos = FIXED_HEADER_LEN + 4 * usize::from(csrc_count);
        if buf.len() < pos {
            return Err(truncated(pos));
        }
        let mut ext = None;
        if buf[0] & 0x10 != 0 {
            let block = buf.get(pos..pos + 4).ok_or(truncated(pos + 4))?;
            let profile = u16::from_be_bytes([block[0], block[1]]);
            let words = usize::from(u16::from_be_bytes([block[2], block[3]]));
            let (start, end) = (pos + 4, pos + 4 + 4 * words);
            let data = buf.get(start..end).ok_or(truncated(end))?;
            ext = Some(Extensions::parse(
                ExtensionForm::from_profile(profile),
                data,
            )?);
            pos = end;
        }
        let mut end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = buf[end - 1]; // cannot panic: end >= FIXED_HEADER_LEN > 0
            if pad == 0 || usize::from(pad) > end - pos {
                return Err(RtpError::BadPadding(pad));
            }
            end -= usize::from(pad);
        }
        Ok(Self {
            header,
            csrc_count,
            buf,
            ext,
            payload: (pos, end),
        })
    }

    /// The media payload, without header, extensions or padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload.0..self.payload.1]
    }

    /// Where [`payload`](Self::payload) lies in the packet's bytes, as `(start, end)`.
    pub fn payload_range(&self) -> (usize, usize) {
        self.payload
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Iterates over `(id, data)` of the header-extension elements.
    pub fn extensions(&self) -> Extensions<'a> {
        self.ext.clone().unwrap_or_default()
    }

    /// The data of the extension element with the negotiated `id`, if present.
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions()
            .find(|&(i, _)| i == id)
            .map(|(_, data)| data)
    }

    /// The RFC 6464 client-to-mixer audio level, when negotiated with extension `id`.
    pub fn audio_level(&self, id: u8) -> Option<AudioLevel> {
        self.extension(id).and_then(AudioLevel::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: 65535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
        }
    }

    /// A packet with two CSRCs, a given extension block and optional padding.
    fn with_ext(profile: u16, ext: &[u8], padding: u8) -> Vec<u8> {
        let mut buf = header().write(&[]);
        buf[0] |= 0x10 | 2;
        buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        let mut ext = ext.to_vec();
        while !ext.len().is_multiple_of(4) {
            ext.push(0);
        }
        buf.extend_from_slice(&profile.to_be_bytes());
        buf.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        buf.extend_from_slice(&ext);
        buf.extend_from_slice(b"payload");
        if padding > 0 {
            buf[0] |= 0x20;
            buf.extend(std::iter::repeat_n(0, usize::from(padding) - 1));
            buf.push(padding);
        }
        buf
    }

    #[test]
    fn parses_fixed_header_and_payload() {
        let buf = header().write(b"abc");
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.header, header());
        assert_eq!(p.payload(), b"abc");
        assert_eq!(p.extensions().count(), 0);
    }

    #[test]
    fn packet_with_csrcs_extensions_and_padding() {
        // id 1 = audio level (V set, 42 -dBov), a padding byte, id 3 with 2 bytes.
        let buf = with_ext(0xBEDE, &[0x10, 0x80 | 42, 0x00, 0x31, 7, 8], 3);
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.csrc_count, 2);
        assert_eq!(p.extensions().count(), 2);
        assert_eq!(
            p.audio_level(1),
            Some(AudioLevel {
                voice: true,
                level: 42
            })
        );
        assert_eq!(p.extension(3), Some(&[7u8, 8][..]));
        assert_eq!(p.extension(2), None);
        assert_eq!(p.payload(), b"payload");
    }

    #[test]
    fn rejects_malformed_packets() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 5]).unwrap_err(),
            RtpError::Truncated { needed: 12, got: 5 }
        );
        let mut buf = header().write(b"x");
        buf[0] = 0x40;
        assert_eq!(RtpPacket::parse(&buf).unwrap_err(), RtpError::BadVersion(1));
        let bad_ext = with_ext(0xBEDE, &[0x1F, 0, 0, 0], 0); // id 1 claims 16 bytes
        assert_eq!(
            RtpPacket::parse(&bad_ext).unwrap_err(),
            RtpError::BadExtension
        );
        let mut bad_pad = header().write(b"x");
        bad_pad[0] |= 0x20;
        *bad_pad.last_mut().unwrap() = 9;
        assert_eq!(
            RtpPacket::parse(&bad_pad).unwrap_err(),
            RtpError::BadPadding(9)
        );
    }

    #[test]
    fn rewrites_in_place() {
        let mut buf = with_ext(0xBEDE, &[0x10, 5], 0);
        let new = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number: 7,
            timestamp: 9,
            ssrc: 42,
        };
        rewrite_header(&mut buf, &new).unwrap();
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.header, new);
        assert_eq!(p.csrc_count, 2);
        assert_eq!(p.audio_level(1).map(|l| l.level), Some(5));
        assert!(rewrite_header(&mut [0u8; 4], &new).is_err());
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(b) = buf.first_mut() {
                *b = (*b & 0x3F) | 0x80; // mostly version 2, to reach the deeper checks
            }
            if let Ok(p) = RtpPacket::parse(&buf) {
                let _ = (p.payload(), p.extensions().count(), p.audio_level(1));
            }
        }
    }
}
