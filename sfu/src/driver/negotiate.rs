//! Reading a hall's offer: its size and syntax, the receive slots it asks for, and the
//! ids it gives header extensions. Every offer — a first one or a renegotiation — goes
//! through [`parse_offer`] before `rtc` applies it.

use crate::SfuError;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::sdp::SessionDescription;

/// Upper bound on an offer's size; a real one is a few kilobytes per m-line.
pub const MAX_OFFER_BYTES: usize = 256 * 1024;

/// Checks a hall's offer — its size, its syntax, that it has media — and returns the
/// description to apply with its parse.
pub fn parse_offer(offer: String) -> Result<(RTCSessionDescription, SessionDescription), SfuError> {
    if offer.len() > MAX_OFFER_BYTES {
        return Err(SfuError::InvalidSdp(format!(
            "offer of {} bytes exceeds {MAX_OFFER_BYTES}",
            offer.len()
        )));
    }
    let invalid = |e: rtc::shared::error::Error| SfuError::InvalidSdp(e.to_string());
    let description = RTCSessionDescription::offer(offer).map_err(invalid)?;
    let parsed = description.unmarshal().map_err(invalid)?;
    if parsed.media_descriptions.is_empty() {
        return Err(SfuError::InvalidSdp("offer has no media".into()));
    }
    Ok((description, parsed))
}

/// How many `recvonly` video and audio m-lines an offer has: the receive slots it asks
/// for. The host's page asks for a whole grid, a commune's for a few pictures.
pub fn receive_lines(sdp: &SessionDescription) -> (usize, usize) {
    let recvonly = |kind: &str| {
        sdp.media_descriptions
            .iter()
            .filter(|m| m.media_name.media == kind)
            .filter(|m| m.attributes.iter().any(|a| a.key == "recvonly"))
            .count()
    };
    (recvonly("video"), recvonly("audio"))
}

/// The id an offer gives a header extension (`a=extmap:<id> <uri>`), first mention.
pub fn extmap_id(sdp: &SessionDescription, uri: &str) -> Option<u8> {
    let session = sdp.attributes.iter();
    let media = sdp
        .media_descriptions
        .iter()
        .flat_map(|m| m.attributes.iter());
    session.chain(media).find_map(|a| {
        if a.key != "extmap" {
            return None;
        }
        let value = a.value.as_deref()?;
        let mut parts = value.split_whitespace();
        let id = parts.next()?.split('/').next()?.parse::<u8>().ok()?;
        (parts.next()? == uri).then_some(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::peer::AUDIO_LEVEL_URI;

    #[test]
    fn finds_the_audio_level_extension_id() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
            a=extmap:1/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        let parsed = SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes()))
            .expect("a valid SDP written above");
        assert_eq!(extmap_id(&parsed, AUDIO_LEVEL_URI), Some(1));
        assert_eq!(extmap_id(&parsed, "urn:x"), None);
    }

    #[test]
    fn counts_the_receive_slots_an_offer_asks_for() {
        let m = |kind: &str, dir: &str, mid: u8| {
            format!(
                "m={kind} 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na={dir}\r\n"
            )
        };
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{}{}{}{}{}",
            m("video", "sendonly", 0),
            m("audio", "sendonly", 1),
            m("video", "recvonly", 2),
            m("video", "recvonly", 3),
            m("audio", "recvonly", 4),
        );
        let parsed = SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes()))
            .expect("a valid SDP written above");
        assert_eq!(receive_lines(&parsed), (2, 1));
    }
}
