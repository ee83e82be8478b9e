//! A new offer on a ready peer's existing connection: tracks added or removed, receive
//! slots added, without a new socket, ICE check or DTLS handshake.
//!
//! `rtc` 0.21 treats a `set_remote_description` on a connection that already has a
//! remote description as a renegotiation: m-lines it knows are found by `mid` (a
//! `recvonly` or `inactive` one stops its transceiver), new ones bind to unbound
//! transceivers of the same kind and direction (`satisfy_type_and_direction`), and
//! the ICE and DTLS transports are left running unless the ICE credentials changed.
//! So, as for a first offer, the new slots' `sendonly` transceivers are added first;
//! the slots that continue keep their transceivers, SSRCs and subscriptions.
//!
//! The work runs off the owner task (the `webrtc` calls wait for the connection's
//! driver) and reports back with [`Control::Renegotiated`].

use crate::engine::{Control, Engine, Reply};
use crate::event::{MediaKind, PeerAnswer, PeerId};
use crate::negotiate::{extmap_id, receive_lines};
use crate::peer::{self, offered_now, OfferedTracks, AUDIO_LEVEL_URI};
use crate::routing::Slot;
use crate::slot::{self, NegotiatedSlot};
use crate::{SfuConfig, SfuError, StreamId};
use std::sync::Arc;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::PeerConnection;

/// What a renegotiation changed, handed to the owner task.
pub struct Renegotiation {
    /// The answer's SDP.
    pub sdp: String,
    /// The receive slots it added, numbered after the existing ones.
    pub added: Vec<NegotiatedSlot>,
    /// Published tracks the new offer no longer sends.
    pub removed: Vec<StreamId>,
    /// The audio-level extension id, if the offer names one.
    pub audio_level_id: Option<u8>,
}

/// What the renegotiation task needs from the owner task.
struct Input {
    pc: Arc<dyn PeerConnection>,
    config: Arc<SfuConfig>,
    /// The peer's slots so far: (video, audio).
    existing: (usize, usize),
    offered: OfferedTracks,
    /// The peer's published tracks.
    published: Vec<(StreamId, Arc<dyn TrackRemote>)>,
}

/// Applies `offer` to the existing connection and answers it.
async fn renegotiate(input: Input, offer: String) -> Result<Renegotiation, SfuError> {
    let (description, parsed) = crate::negotiate::parse_offer(offer)?;
    let invalid = |e: rtc::shared::error::Error| SfuError::InvalidSdp(e.to_string());
    let pc = &input.pc;
    let wanted = receive_lines(&parsed);
    let planned = slot::plan(pc, &input.config, wanted, input.existing).await?;
    pc.set_remote_description(description)
        .await
        .map_err(invalid)?;
    let answer = pc.create_answer(None).await.map_err(invalid)?;
    pc.set_local_description(answer)
        .await
        .map_err(SfuError::webrtc)?;
    let sdp = pc
        .local_description()
        .await
        .ok_or_else(|| SfuError::Webrtc("no local description after answering".into()))?
        .sdp;
    let tracks = peer::offered_tracks(&parsed);
    let mut removed = Vec::new();
    for (id, remote) in input.published {
        let track_id = remote.track_id().await;
        if !tracks
            .iter()
            .any(|t| t.track_id.as_deref() == Some(track_id.as_str()))
        {
            removed.push(id);
        }
    }
    *offered_now(&input.offered) = tracks;
    let first = input.existing.0 + input.existing.1;
    Ok(Renegotiation {
        sdp,
        added: slot::negotiated(planned, first).await,
        removed,
        audio_level_id: extmap_id(&parsed, AUDIO_LEVEL_URI),
    })
}

impl Engine {
    /// Starts applying a new offer to `peer`'s connection; one at a time per peer.
    pub(crate) fn renegotiate(&mut self, peer: PeerId, offer: String, reply: Reply<PeerAnswer>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            drop(reply.send(Err(SfuError::UnknownPeer(peer))));
            return;
        };
        let Some(pc) = p.pc.clone().filter(|_| !p.renegotiating) else {
            drop(reply.send(Err(SfuError::NotReady(peer))));
            return;
        };
        p.renegotiating = true;
        let count = |kind| p.slots.iter().filter(|s| s.info.kind == kind).count();
        let existing = (count(MediaKind::Video), count(MediaKind::Audio));
        let published = p
            .tracks
            .iter()
            .filter_map(|t| self.tracks.get(t).map(|pb| (*t, Arc::clone(&pb.remote))))
            .collect();
        let input = Input {
            pc,
            config: Arc::clone(&self.config),
            existing,
            offered: Arc::clone(&p.offered),
            published,
        };
        let control = self.control_tx.clone();
        tokio::spawn(async move {
            let result = renegotiate(input, offer).await;
            let _ = control.send(Control::Renegotiated(peer, Box::new(result), reply));
        });
    }

    /// Takes in what a renegotiation changed: starts the new slots, unpublishes the
    /// tracks no longer sent, and answers with every slot of the connection.
    pub(crate) fn renegotiated(
        &mut self,
        peer: PeerId,
        result: Result<Renegotiation, SfuError>,
        reply: Reply<PeerAnswer>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            drop(reply.send(Err(SfuError::UnknownPeer(peer)))); // closed meanwhile
            return;
        };
        p.renegotiating = false;
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                drop(reply.send(Err(e)));
                return;
            }
        };
        let queue = self.config.slot_queue;
        for s in r.added {
            p.slots
                .push(Slot::start(peer, s, queue, self.control_tx.clone()));
        }
        if r.audio_level_id.is_some() {
            p.audio_level_id = r.audio_level_id;
        }
        let answer = PeerAnswer {
            sdp: r.sdp,
            slots: p.slots.iter().map(|s| s.info.clone()).collect(),
        };
        for track in r.removed {
            self.unpublish(track);
        }
        drop(reply.send(Ok(answer)));
    }
}
