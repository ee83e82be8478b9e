//! Applying a hall's offer: one connection, its receive slots, and the answer.
//!
//! Runs in a task of its own, off the owner task, because it binds a socket and waits
//! for ICE gathering. The order matters: the slots' `sendonly` transceivers are added
//! *before* the offer is applied so the offer's `recvonly` m-lines bind to them (see
//! [`slot`](crate::slot)); the answer is returned once gathering is complete, so it
//! carries every host candidate and the hall need not trickle ours — unless
//! `trickle_candidates` is set: then it is returned at once and the candidates follow
//! as events. A new offer for the same connection is [`renegotiate`](crate::renegotiate).

use crate::config::SfuConfig;
use crate::engine::{Control, MediaIn};
use crate::event::{PeerAnswer, PeerId};
use crate::peer::{self, OfferedTracks, PeerHandler, PortCursor, AUDIO_LEVEL_URI};
use crate::slot::{self, NegotiatedSlot};
use crate::SfuError;
use rtc::sdp::SessionDescription;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

/// What a negotiation needs from the owner task.
pub struct Context {
    pub peer: PeerId,
    pub config: Arc<SfuConfig>,
    pub ports: Arc<PortCursor>,
    pub control: mpsc::UnboundedSender<Control>,
    pub media: mpsc::Sender<MediaIn>,
    pub track_ids: Arc<AtomicU64>,
}

/// A negotiated connection, handed to the owner task.
pub struct Negotiation {
    pub pc: Arc<dyn PeerConnection>,
    pub answer: PeerAnswer,
    pub slots: Vec<NegotiatedSlot>,
    pub audio_level_id: Option<u8>,
    /// The tracks its offer announced, shared with its event handler.
    pub offered: OfferedTracks,
}

/// Upper bound on an offer's size; a real one is a few kilobytes per m-line.
pub const MAX_OFFER_BYTES: usize = 256 * 1024;

/// Checks a hall's offer — its size, its syntax, that it has media — and returns the
/// description to apply with its parse. Every driver's first step with an offer.
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

/// Applies `offer` on a new connection and answers it.
pub async fn negotiate(ctx: Context, offer: String) -> Result<Negotiation, SfuError> {
    let (description, parsed) = parse_offer(offer)?;
    let gathered = Arc::new(Notify::new());
    let offered = Arc::new(Mutex::new(peer::offered_tracks(&parsed)));
    let handler = Arc::new(PeerHandler {
        peer: ctx.peer,
        control: ctx.control,
        media: ctx.media,
        track_ids: ctx.track_ids,
        gathered: Arc::clone(&gathered),
        offered: Arc::clone(&offered),
        trickle: ctx.config.trickle_candidates,
    });
    let pc = peer::build_connection(&ctx.config, &ctx.ports, handler, 0).await?;
    let wanted = receive_lines(&parsed);
    match answer(&pc, &ctx.config, description, wanted, &gathered).await {
        Ok((sdp, slots)) => {
            let answer = PeerAnswer {
                sdp,
                slots: slots.iter().map(|s| s.info.clone()).collect(),
            };
            Ok(Negotiation {
                pc,
                answer,
                slots,
                audio_level_id: extmap_id(&parsed, AUDIO_LEVEL_URI),
                offered,
            })
        }
        Err(e) => {
            let _ = pc.close().await;
            Err(e)
        }
    }
}

async fn answer(
    pc: &Arc<dyn PeerConnection>,
    config: &SfuConfig,
    offer: RTCSessionDescription,
    wanted: (usize, usize),
    gathered: &Notify,
) -> Result<(String, Vec<NegotiatedSlot>), SfuError> {
    let invalid = |e: rtc::shared::error::Error| SfuError::InvalidSdp(e.to_string());
    let planned = slot::plan(pc, config, wanted, (0, 0)).await?;
    pc.set_remote_description(offer).await.map_err(invalid)?;
    let answer = pc.create_answer(None).await.map_err(invalid)?;
    pc.set_local_description(answer)
        .await
        .map_err(SfuError::webrtc)?;
    // A timeout still answers, with whatever candidates were gathered by then. With
    // trickle the candidates follow the answer as events instead.
    if !config.trickle_candidates {
        let _ = tokio::time::timeout(config.gathering_timeout, gathered.notified()).await;
    }
    let sdp = pc
        .local_description()
        .await
        .ok_or_else(|| SfuError::Webrtc("no local description after answering".into()))?
        .sdp;
    Ok((sdp, slot::negotiated(planned, 0).await))
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
