//! Reading just enough of a datagram to demultiplex it: its class (RFC 7983) and, for a
//! STUN binding request, the local ICE username fragment in its USERNAME attribute.
//!
//! On the one media port a datagram from an address we have not seen yet can only be an ICE
//! connectivity check; its USERNAME is `<our ufrag>:<their ufrag>` (RFC 8445 §7.2.2), so
//! the part before the colon names the peer connection it belongs to. Nothing here
//! allocates or panics; the ICE agent of that connection checks the message integrity.

/// What a datagram on the media port is, by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramClass {
    /// 0–3: STUN (ICE checks and consent).
    Stun,
    /// 20–63: DTLS (handshake, alerts).
    Dtls,
    /// 128–191: SRTP or SRTCP.
    Media,
    /// Anything else (TURN channel data, ZRTP, garbage).
    Other,
}

/// Classifies a datagram by its first byte.
pub fn classify(datagram: &[u8]) -> DatagramClass {
    match datagram.first() {
        Some(0..=3) => DatagramClass::Stun,
        Some(20..=63) => DatagramClass::Dtls,
        Some(128..=191) => DatagramClass::Media,
        _ => DatagramClass::Other,
    }
}

/// Length of the STUN header (RFC 5389 §6).
const HEADER_LEN: usize = 20;
/// The fixed magic cookie of RFC 5389 STUN.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// The USERNAME attribute.
const ATTR_USERNAME: u16 = 0x0006;

/// The local ufrag (the part of USERNAME before `:`) of a STUN message, if it has one.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    username(datagram)?.split(':').next()
}

/// The USERNAME attribute of a well-formed STUN message.
fn username(datagram: &[u8]) -> Option<&str> {
    let header = datagram.get(..HEADER_LEN)?;
    if header[0] & 0xC0 != 0 || header[4..8] != MAGIC_COOKIE {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut attrs = datagram.get(HEADER_LEN..HEADER_LEN + length)?;
    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            return std::str::from_utf8(value).ok();
        }
        // Values are padded to a multiple of four bytes.
        attrs = attrs.get(4 + len.next_multiple_of(4)..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding request with the given attributes (type, value).
    fn stun(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_local_ufrag_after_other_attributes() {
        let msg = stun(&[
            (0x0024, &[0, 0, 0, 1]),      // PRIORITY
            (0x8029, &[1; 8]),            // ICE-CONTROLLED
            (ATTR_USERNAME, b"abc:wxyz"), // 8 bytes
        ]);
        assert_eq!(classify(&msg), DatagramClass::Stun);
        assert_eq!(local_ufrag(&msg), Some("abc"));
        let odd = stun(&[(0x0006, b"hallX:y1"), (0x0008, &[0; 20])]);
        assert_eq!(local_ufrag(&odd), Some("hallX"));
        let padded = stun(&[(0x0101, b"x"), (ATTR_USERNAME, b"q:r")]);
        assert_eq!(local_ufrag(&padded), Some("q"));
    }

    #[test]
    fn rejects_what_is_not_a_stun_request_with_username() {
        assert_eq!(local_ufrag(&stun(&[(0x0024, &[0; 4])])), None);
        let mut no_cookie = stun(&[(ATTR_USERNAME, b"a:b")]);
        no_cookie[4] = 0;
        assert_eq!(local_ufrag(&no_cookie), None);
        let mut rtp = stun(&[(ATTR_USERNAME, b"a:b")]);
        rtp[0] = 0x80;
        assert_eq!(classify(&rtp), DatagramClass::Media);
        assert_eq!(local_ufrag(&rtp), None);
        assert_eq!(classify(&[22, 254, 253]), DatagramClass::Dtls);
        assert_eq!(classify(&[]), DatagramClass::Other);
    }

    #[test]
    fn never_panics_on_truncated_or_random_input() {
        let msg = stun(&[(0x0024, &[0; 4]), (ATTR_USERNAME, b"abcd:efgh")]);
        for end in 0..msg.len() {
            let _ = local_ufrag(&msg[..end]);
        }
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut buf = msg.clone();
            let at = (seed as usize) % buf.len();
            buf[at] = (seed >> 32) as u8;
            buf.truncate(HEADER_LEN + (seed >> 40) as usize % 24);
            let _ = local_ufrag(&buf);
        }
    }
}
