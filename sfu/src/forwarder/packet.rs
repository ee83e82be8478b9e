//! The packets a slot forwarder takes and gives: header fields plus a shared payload.
//!
//! The publisher side parses a packet once; every subscriber slot then reads the same
//! [`IncomingPacket`] and hands on an [`OutgoingPacket`] whose payload is the same
//! reference-counted [`Bytes`] — per subscriber only a header is made, no buffer is
//! copied or parsed again.

use crate::rtp::{RtpError, RtpHeader, RtpPacket, FIXED_HEADER_LEN};
use crate::StreamId;
use bytes::Bytes;

/// A packet of one of the publisher's streams, classified once by the publisher side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPacket {
    /// The publisher track it belongs to.
    pub source: StreamId,
    /// Its simulcast layer (0 for audio and non-simulcast video).
    pub layer: u8,
    /// Whether it starts a keyframe (always `true` for audio).
    pub keyframe: bool,
    /// Its fixed header as received. CSRCs and header extensions are not forwarded:
    /// extension ids are negotiated per connection, and the SFU adds none of its own.
    pub header: RtpHeader,
    /// The media payload, without header, extensions or padding (empty for a
    /// padding-only probe); every slot forwarding the packet shares it.
    pub payload: Bytes,
}

impl IncomingPacket {
    /// Reads a received RTP packet held as raw bytes (a driver that has not parsed it,
    /// a test): the payload is a view into `data`, not a copy. An error means the bytes
    /// are not a packet the SFU can forward.
    pub fn parse(
        source: StreamId,
        layer: u8,
        keyframe: bool,
        data: &Bytes,
    ) -> Result<Self, RtpError> {
        let rtp = RtpPacket::parse(data)?;
        let (start, end) = rtp.payload_range();
        Ok(Self {
            source,
            layer,
            keyframe,
            header: rtp.header,
            payload: data.slice(start..end),
        })
    }
}

/// A packet for the subscriber: the slot's header on the publisher's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPacket {
    /// The slot's SSRC and payload type, its next sequence number, the timestamp mapped
    /// onto its timeline, and the publisher's marker bit. Nothing else goes out: no
    /// CSRCs, header extensions or padding.
    pub header: RtpHeader,
    /// The publisher's payload, shared with every other slot that forwards the packet.
    pub payload: Bytes,
}

impl OutgoingPacket {
    /// Its size on the wire before SRTP: fixed header and payload.
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN + self.payload.len()
    }

    /// Always `false`: a packet has at least its header (for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The packet as bytes on the wire before SRTP (tests, drivers that send raw RTP).
    pub fn to_vec(&self) -> Vec<u8> {
        self.header.write(&self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_shares_the_payload_and_to_vec_writes_the_header_back() {
        let header = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: 7,
            timestamp: 9000,
            ssrc: 5,
        };
        let data = Bytes::from(header.write(b"frame"));
        let p = IncomingPacket::parse(StreamId(1), 2, true, &data).unwrap();
        assert_eq!((p.header, &p.payload[..]), (header, &b"frame"[..]));
        assert_eq!(
            p.payload.as_ptr(),
            data[FIXED_HEADER_LEN..].as_ptr(),
            "a view"
        );
        let out = OutgoingPacket {
            header,
            payload: p.payload,
        };
        assert_eq!((out.to_vec(), out.len()), (data.to_vec(), data.len()));
        let garbage = Bytes::from_static(&[0x80, 1, 2]);
        assert!(IncomingPacket::parse(StreamId(1), 0, false, &garbage).is_err());
    }
}
