//! Fuzzes the signalling parser: any text frame a page may send → `parse_client`.
//!
//! Properties, beyond "never panics":
//! - a frame over `MAX_FRAME_BYTES` is refused with `frame_too_large`, whatever it holds;
//! - trailing whitespace up to exactly `MAX_FRAME_BYTES` changes nothing (the size check
//!   is `>`, not `>=`, and JSON ignores the whitespace) — checked on one input in eight;
//! - a parsed message serialises back to a frame that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::protocol::{parse_client, ClientMessage, MAX_FRAME_BYTES};

fuzz_target!(|data: &[u8]| {
    // Binary frames never reach the parser (the session refuses them); lossy decoding
    // keeps every input useful.
    let text = String::from_utf8_lossy(data);
    let parsed = parse_client(&text);

    // The size check, at the boundary and beyond it. Padding to 64 KiB costs more than
    // the parse itself, so only one input in eight (by its length) checks it.
    if text.len() % 8 == 0 && text.len() <= MAX_FRAME_BYTES {
        let mut at_limit = text.to_string();
        at_limit.extend(std::iter::repeat_n(' ', MAX_FRAME_BYTES - text.len()));
        let padded = parse_client(&at_limit);
        assert_eq!(
            padded.as_ref().map_err(|e| e.code),
            parsed.as_ref().map_err(|e| e.code),
            "trailing whitespace up to the limit changed the outcome"
        );
        at_limit.push(' ');
        let over = parse_client(&at_limit).expect_err("a frame over the limit is refused");
        assert_eq!(over.code.as_str(), "frame_too_large");
    } else if text.len() > MAX_FRAME_BYTES {
        let e = parsed
            .as_ref()
            .expect_err("a frame over the limit is refused");
        assert_eq!(e.code.as_str(), "frame_too_large");
    }

    // Round trip of what was accepted.
    if let Ok(message) = parsed {
        let text = serde_json::to_string(&message).expect("a client message serialises");
        let again = parse_client(&text).expect("a serialised message parses again");
        // `ts` goes through a float; serde_json's default float parser may differ by
        // one ULP, which is not a bug of ours.
        if !matches!(message, ClientMessage::Ping { .. }) {
            assert_eq!(again, message, "round trip changed the message");
        }
    }
});
