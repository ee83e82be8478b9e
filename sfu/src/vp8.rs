//! VP8 RTP payload descriptor (RFC 7741), parsed just far enough to spot keyframes.
//!
//! Layer and source switches may only happen on a keyframe, so the publisher side
//! classifies each video packet once with [`is_keyframe_start`] and passes the flag on
//! to every forwarder.

use std::fmt;

/// Why a payload is not a usable VP8 payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Vp8Error {
    /// The payload ends inside the descriptor (or before the VP8 payload header).
    Truncated {
        /// Bytes the descriptor declares.
        needed: usize,
        /// Bytes the payload has.
        got: usize,
    },
}

impl fmt::Display for Vp8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(
                    f,
                    "VP8 payload truncated: descriptor needs {needed} bytes, got {got}"
                )
            }
        }
    }
}

impl std::error::Error for Vp8Error {}

/// The VP8 payload descriptor at the start of each RTP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Descriptor {
    /// S bit: this packet starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: partition index; a frame starts with S=1, PID=0.
    pub partition_id: u8,
    /// PictureID (7 or 15 bits), which a forwarder may rewrite in a later version.
    pub picture_id: Option<u16>,
    /// TL0PICIDX, the temporal-layer-0 picture index.
    pub tl0_pic_idx: Option<u8>,
    /// TID, the temporal layer, for temporal-layer dropping.
    pub temporal_id: Option<u8>,
    /// Length of the descriptor; the VP8 payload (header) starts here.
    pub len: usize,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of `payload`.
    pub fn parse(payload: &[u8]) -> Result<Self, Vp8Error> {
        let byte = |i: usize| {
            payload.get(i).copied().ok_or(Vp8Error::Truncated {
                needed: i + 1,
                got: payload.len(),
            })
        };
        let first = byte(0)?;
        let mut d = Self {
            start_of_partition: first & 0x10 != 0,
            partition_id: first & 0x07,
            picture_id: None,
            tl0_pic_idx: None,
            temporal_id: None,
            len: 1,
        };
        if first & 0x80 == 0 {
            return Ok(d);
        }
        let ext = byte(1)?;
        let mut at = 2;
        if ext & 0x80 != 0 {
            let b = byte(at)?;
            if b & 0x80 != 0 {
                d.picture_id = Some(u16::from_be_bytes([b & 0x7F, byte(at + 1)?]));
                at += 2;
            } else {
                d.picture_id = Some(u16::from(b));
                at += 1;
            }
        }
        if ext & 0x40 != 0 {
            d.tl0_pic_idx = Some(byte(at)?);
            at += 1;
        }
        if ext & 0x30 != 0 {
            // T or K: one byte holding TID, Y and KEYIDX.
            let b = byte(at)?;
            if ext & 0x20 != 0 {
                d.temporal_id = Some(b >> 6);
            }
            at += 1;
        }
        d.len = at;
        Ok(d)
    }
}

/// True if this VP8 RTP payload is the first packet of a keyframe: the descriptor says
/// start of partition 0, and the VP8 payload header's P (inverse key frame) bit is 0.
pub fn is_keyframe_start(payload: &[u8]) -> Result<bool, Vp8Error> {
    let d = Vp8Descriptor::parse(payload)?;
    if !d.start_of_partition || d.partition_id != 0 {
        return Ok(false);
    }
    let header = payload.get(d.len).ok_or(Vp8Error::Truncated {
        needed: d.len + 1,
        got: payload.len(),
    })?;
    Ok(header & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_descriptor_keyframe_and_delta() {
        assert_eq!(is_keyframe_start(&[0x10, 0x00, 0x9D]), Ok(true));
        assert_eq!(is_keyframe_start(&[0x10, 0x01, 0x9D]), Ok(false)); // P=1: interframe
        assert_eq!(is_keyframe_start(&[0x00, 0x00]), Ok(false)); // not a partition start
        assert_eq!(is_keyframe_start(&[0x11, 0x00]), Ok(false)); // partition 1
    }

    #[test]
    fn extended_descriptor_with_long_picture_id() {
        // X=1,S=1; I,L,T set; PictureID 15 bits = 0x1234; TL0PICIDX 9; TID 2; VP8 header P=0.
        let payload = [0x90, 0xE0, 0x80 | 0x12, 0x34, 9, 0x80, 0x00];
        let d = Vp8Descriptor::parse(&payload).unwrap();
        assert_eq!(d.picture_id, Some(0x1234));
        assert_eq!(d.tl0_pic_idx, Some(9));
        assert_eq!(d.temporal_id, Some(2));
        assert_eq!(d.len, 6);
        assert_eq!(is_keyframe_start(&payload), Ok(true));
    }

    #[test]
    fn truncated_payloads_are_errors() {
        assert!(is_keyframe_start(&[]).is_err());
        assert!(is_keyframe_start(&[0x90, 0x80, 0x80]).is_err());
        assert_eq!(
            is_keyframe_start(&[0x10]),
            Err(Vp8Error::Truncated { needed: 2, got: 1 })
        );
        for len in 0..8 {
            let _ = is_keyframe_start(&[0xFF; 8][..len]); // never panics
        }
    }
}
