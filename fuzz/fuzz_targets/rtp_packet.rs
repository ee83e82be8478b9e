//! Fuzzes the RTP reading the SFU does on every packet from a hall: `RtpPacket::parse`,
//! header extensions (RFC 8285) and the audio level (RFC 6464), the VP8 keyframe check,
//! and `rewrite_header` on a copy, as the forwarder does for each subscriber.
//!
//! Properties, beyond "never panics":
//! - every extension element and the payload lie inside the packet;
//! - rewriting the header of a parsed packet leaves a packet that parses to the new
//!   header and the same CSRC count, extensions and payload;
//! - `rewrite_header` refuses exactly what `parse` refuses for the fixed header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfu::{
    is_keyframe_start, rewrite_header, AudioLevel, ExtensionForm, Extensions, RtpHeader, RtpPacket,
    Vp8Descriptor,
};

fuzz_target!(|data: &[u8]| {
    // The extension parser on its own, in each form, on the raw bytes.
    for form in [
        ExtensionForm::OneByte,
        ExtensionForm::TwoByte,
        ExtensionForm::Other(0),
    ] {
        if let Ok(ext) = Extensions::parse(form, data) {
            for (_, element) in ext {
                let _ = AudioLevel::parse(element);
            }
        }
    }
    let _ = Vp8Descriptor::parse(data);
    let _ = is_keyframe_start(data);

    let packet = RtpPacket::parse(data);
    // A header to rewrite with, taken from the input so it varies.
    let new = RtpHeader {
        marker: data.first().is_some_and(|b| b & 1 != 0),
        payload_type: data.get(1).copied().unwrap_or(0),
        sequence_number: 0xFFFF,
        timestamp: 0xDEAD_BEEF,
        ssrc: 0x1234_5678,
    };
    let mut copy = data.to_vec();
    let rewritten = rewrite_header(&mut copy, &new);
    let Ok(packet) = packet else {
        // A packet with a bad fixed header is refused by both; a bad CSRC list,
        // extension or padding only by `parse`.
        if data.len() < 12 || data[0] >> 6 != 2 {
            assert!(rewritten.is_err());
        }
        return;
    };
    rewritten.expect("rewriting a parsed packet's header succeeds");

    let payload = packet.payload();
    assert!(payload.len() <= data.len());
    let elements: Vec<(u8, &[u8])> = packet.extensions().collect();
    for &(id, element) in &elements {
        assert!(id != 0, "padding is not an element");
        assert!(element.len() <= data.len());
        assert!(packet.extension(id).is_some());
    }
    for id in 0..=15 {
        let _ = packet.audio_level(id);
    }
    let _ = Vp8Descriptor::parse(payload);
    let _ = is_keyframe_start(payload);

    let again = RtpPacket::parse(&copy).expect("a rewritten packet still parses");
    assert_eq!(
        again.header,
        RtpHeader {
            payload_type: new.payload_type & 0x7F,
            ..new
        }
    );
    assert_eq!(again.csrc_count, packet.csrc_count);
    assert_eq!(again.payload(), payload);
    assert_eq!(again.extensions().collect::<Vec<_>>(), elements);
    assert_eq!(again.as_bytes().len(), data.len());
});
