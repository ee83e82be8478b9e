//! H.264 RTP payloads (RFC 6184), parsed just far enough to spot the start of a keyframe.
//!
//! A source switch may only happen where the subscriber's decoder can start: for H.264
//! that is the first packet of an access unit that carries a sequence parameter set
//! (SPS, which browsers send right before each IDR picture) or an IDR slice. The
//! publisher side classifies each video packet once with [`is_keyframe_start`], as it
//! does for VP8 with [`crate::vp8::is_keyframe_start`].
//!
//! The packetizations: a single NAL unit (types 1–23), the aggregation packets STAP-A
//! (24), STAP-B (25), MTAP16 (26) and MTAP24 (27), whose units are all inspected, and
//! the fragmentation units FU-A (28) and FU-B (29), of which only a first fragment
//! (start bit set) can start a keyframe. The interleaved forms (STAP-B, MTAP, FU-B) need
//! packetization-mode 2, which this SFU never negotiates, but they are parsed rather
//! than trusted. Nothing here panics on any input.

use std::fmt;

/// NAL unit type of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Single-time aggregation packet A.
pub const STAP_A: u8 = 24;
/// Single-time aggregation packet B (with a decoding order number).
pub const STAP_B: u8 = 25;
/// Multi-time aggregation packet, 16-bit timestamp offsets.
pub const MTAP16: u8 = 26;
/// Multi-time aggregation packet, 24-bit timestamp offsets.
pub const MTAP24: u8 = 27;
/// Fragmentation unit A.
pub const FU_A: u8 = 28;
/// Fragmentation unit B (with a decoding order number).
pub const FU_B: u8 = 29;

/// Why a payload is not a usable H.264 RTP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum H264Error {
    /// The payload ends before a header or a unit it declares.
    Truncated {
        /// Bytes the payload would need.
        needed: usize,
        /// Bytes the payload has.
        got: usize,
    },
    /// The forbidden-zero bit of a NAL unit header is set (RFC 6184 §5.3).
    ForbiddenBit,
    /// A NAL unit type RFC 6184 leaves undefined (0, 30, 31), or an aggregation or
    /// fragmentation unit inside an aggregation packet.
    BadType(u8),
    /// An aggregation packet whose unit has size 0 or that holds no unit.
    EmptyUnit,
    /// A fragmentation unit with both its start and end bits set.
    StartAndEnd,
}

impl fmt::Display for H264Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(
                    f,
                    "H.264 payload truncated: needs {needed} bytes, got {got}"
                )
            }
            Self::ForbiddenBit => write!(f, "H.264 NAL unit with the forbidden bit set"),
            Self::BadType(t) => write!(f, "H.264 NAL unit type {t} not allowed here"),
            Self::EmptyUnit => write!(f, "H.264 aggregation packet with an empty unit"),
            Self::StartAndEnd => write!(f, "H.264 fragment with both start and end bits"),
        }
    }
}

impl std::error::Error for H264Error {}

/// The byte at `i`, or how far the payload falls short.
fn byte(payload: &[u8], i: usize) -> Result<u8, H264Error> {
    payload.get(i).copied().ok_or(H264Error::Truncated {
        needed: i + 1,
        got: payload.len(),
    })
}

/// The NAL unit type of a NAL unit header byte, after checking its forbidden bit.
fn nal_type(header: u8) -> Result<u8, H264Error> {
    if header & 0x80 != 0 {
        return Err(H264Error::ForbiddenBit);
    }
    Ok(header & 0x1F)
}

/// Whether a (complete or first) NAL unit of this type lets a decoder start.
fn starts_picture(t: u8) -> bool {
    t == NAL_IDR || t == NAL_SPS
}

/// The NAL unit types in an aggregation packet's units, starting at `at`; each unit is
/// preceded by a 16-bit size and, in an MTAP, by `extra` bytes (DOND, TS offset).
fn aggregated(payload: &[u8], mut at: usize, extra: usize) -> Result<bool, H264Error> {
    let mut any = false;
    let mut units = 0usize;
    while at < payload.len() {
        let size = usize::from(u16::from_be_bytes([
            byte(payload, at)?,
            byte(payload, at + 1)?,
        ]));
        if size <= extra {
            return Err(H264Error::EmptyUnit);
        }
        let start = at + 2 + extra;
        let end = at + 2 + size;
        if end > payload.len() {
            return Err(H264Error::Truncated {
                needed: end,
                got: payload.len(),
            });
        }
        match nal_type(byte(payload, start)?)? {
            t @ (1..=23) => any |= starts_picture(t),
            t => return Err(H264Error::BadType(t)),
        }
        units += 1;
        at = end;
    }
    if units == 0 {
        return Err(H264Error::EmptyUnit);
    }
    Ok(any)
}

/// True if this H.264 RTP payload starts a keyframe: a single SPS or IDR NAL unit, an
/// aggregation packet holding one, or the first fragment of one.
pub fn is_keyframe_start(payload: &[u8]) -> Result<bool, H264Error> {
    let t = nal_type(byte(payload, 0)?)?;
    match t {
        1..=23 => Ok(starts_picture(t)),
        STAP_A => aggregated(payload, 1, 0),
        STAP_B => {
            byte(payload, 2)?; // the decoding order number
            aggregated(payload, 3, 0)
        }
        MTAP16 | MTAP24 => {
            byte(payload, 2)?; // the decoding order number base
                               // Each unit: DOND (1 byte) and a timestamp offset (2 or 3 bytes).
            aggregated(payload, 3, if t == MTAP16 { 3 } else { 4 })
        }
        FU_A | FU_B => {
            let fu = byte(payload, 1)?;
            let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
            if start && end {
                return Err(H264Error::StartAndEnd);
            }
            let needed = if t == FU_B { 4 } else { 2 }; // FU-B: then a DON
            byte(payload, needed)?; // at least one byte of the fragment itself
            Ok(start && starts_picture(fu & 0x1F))
        }
        other => Err(H264Error::BadType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NAL unit header: NRI 3 and the type.
    fn nal(t: u8) -> u8 {
        0x60 | t
    }

    #[test]
    fn single_nal_units() {
        assert_eq!(is_keyframe_start(&[nal(NAL_IDR), 0x88, 0x84]), Ok(true));
        assert_eq!(
            is_keyframe_start(&[nal(NAL_SPS), 0x42, 0xE0, 0x1F]),
            Ok(true)
        );
        assert_eq!(is_keyframe_start(&[nal(NAL_PPS), 0xCE]), Ok(false));
        assert_eq!(is_keyframe_start(&[0x41, 0x9A, 0x02]), Ok(false)); // non-IDR slice
        assert_eq!(is_keyframe_start(&[0x06, 0x05]), Ok(false)); // SEI
        assert_eq!(is_keyframe_start(&[0x09, 0xF0]), Ok(false)); // access unit delimiter
    }

    #[test]
    fn stap_a_as_browsers_send_parameter_sets() {
        // SPS (4 bytes) + PPS (2 bytes): the packet before an IDR picture's fragments.
        let sps_pps = [
            STAP_A | 0x60,
            0,
            4,
            nal(7),
            0x42,
            0xE0,
            0x1F,
            0,
            2,
            nal(8),
            0xCE,
        ];
        assert_eq!(is_keyframe_start(&sps_pps), Ok(true));
        // Two non-IDR units.
        let slices = [STAP_A, 0, 2, 0x41, 0x9A, 0, 3, 0x41, 0x9B, 0x01];
        assert_eq!(is_keyframe_start(&slices), Ok(false));
        // A unit longer than the packet, a zero size, no unit, a nested STAP-A.
        let long = [STAP_A, 0, 9, nal(7), 0x42];
        assert_eq!(
            is_keyframe_start(&long),
            Err(H264Error::Truncated { needed: 12, got: 5 })
        );
        assert_eq!(
            is_keyframe_start(&[STAP_A, 0, 0]),
            Err(H264Error::EmptyUnit)
        );
        assert_eq!(is_keyframe_start(&[STAP_A]), Err(H264Error::EmptyUnit));
        assert!(is_keyframe_start(&[STAP_A, 0]).is_err()); // half a size field
        let nested = [STAP_A, 0, 2, STAP_A, 0];
        assert_eq!(is_keyframe_start(&nested), Err(H264Error::BadType(STAP_A)));
    }

    #[test]
    fn fragmentation_units() {
        let fu = |header: u8| [0x7C, header, 0xAB, 0xCD];
        assert_eq!(is_keyframe_start(&fu(0x80 | NAL_IDR)), Ok(true)); // start of IDR
        assert_eq!(is_keyframe_start(&fu(NAL_IDR)), Ok(false)); // middle
        assert_eq!(is_keyframe_start(&fu(0x40 | NAL_IDR)), Ok(false)); // end
        assert_eq!(is_keyframe_start(&fu(0x80 | NAL_SPS)), Ok(true));
        assert_eq!(is_keyframe_start(&fu(0x80 | 1)), Ok(false)); // start of a P slice
        assert_eq!(
            is_keyframe_start(&fu(0xC0 | NAL_IDR)),
            Err(H264Error::StartAndEnd)
        );
        // A header and no fragment byte.
        assert!(is_keyframe_start(&[0x7C, 0x85]).is_err());
        // FU-B: indicator, FU header, DON, then the fragment.
        assert_eq!(is_keyframe_start(&[0x7D, 0x85, 0, 1, 0xAA]), Ok(true));
        assert!(is_keyframe_start(&[0x7D, 0x85, 0, 1]).is_err());
    }

    #[test]
    fn interleaved_aggregation_packets() {
        // STAP-B: DON, then units as in STAP-A.
        assert_eq!(
            is_keyframe_start(&[0x79, 0, 7, 0, 2, nal(5), 0x88]),
            Ok(true)
        );
        // MTAP16: DONB; a unit of size 4 = DOND + TS offset (2) + a one-byte NAL unit.
        assert_eq!(
            is_keyframe_start(&[MTAP16, 0, 1, 0, 4, 0, 0, 9, nal(5)]),
            Ok(true)
        );
        assert_eq!(
            is_keyframe_start(&[MTAP16, 0, 1, 0, 4, 0, 0, 9, 0x41]),
            Ok(false)
        );
        // MTAP24: TS offset of 3 bytes, so size 5.
        assert_eq!(
            is_keyframe_start(&[MTAP24, 0, 1, 0, 5, 0, 0, 0, 9, nal(7)]),
            Ok(true)
        );
        // A unit that holds only its DOND and offset: no NAL unit.
        assert_eq!(
            is_keyframe_start(&[MTAP16, 0, 1, 0, 3, 0, 0, 9]),
            Err(H264Error::EmptyUnit)
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(is_keyframe_start(&[]).is_err());
        assert_eq!(
            is_keyframe_start(&[0x80 | nal(5)]),
            Err(H264Error::ForbiddenBit)
        );
        assert_eq!(is_keyframe_start(&[0x00, 1]), Err(H264Error::BadType(0)));
        assert_eq!(is_keyframe_start(&[0x1E, 1]), Err(H264Error::BadType(30)));
        assert_eq!(is_keyframe_start(&[0x1F, 1]), Err(H264Error::BadType(31)));
        assert!(!H264Error::ForbiddenBit.to_string().is_empty());
    }

    #[test]
    fn random_buffers_never_panic() {
        // A small xorshift: deterministic, no dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut buf = [0u8; 24];
        for _ in 0..20_000 {
            let len = (next() % 25) as usize;
            for b in buf.iter_mut().take(len) {
                *b = next() as u8;
            }
            // Bias the first byte towards the packetization types.
            if len > 0 && next() % 2 == 0 {
                buf[0] = 24 + (next() % 8) as u8;
            }
            let _ = is_keyframe_start(&buf[..len]);
        }
    }
}
