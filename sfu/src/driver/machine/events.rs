//! What a connection's `rtc` events mean to the driver: connection state and new tracks.
//!
//! A publisher's stream becomes known on `OnOpen` (its first packet): it gets an SFU-wide
//! [`StreamId`], a route, and a [`SfuEvent::TrackPublished`] (with the offer's RIDs) for
//! the caller. Each simulcast layer opens on its own
//! `OnOpen` with its RID, mapped to a layer with [`layer_of_rid`], on the same stream.
//! `Connected` becomes [`SfuEvent::PeerConnected`] (again after a recovery),
//! `Disconnected` `PeerDisconnected(ConnectionLost)`, `Failed` [`SfuEvent::PeerFailed`]
//! and `Closed` `PeerDisconnected(Closed)`; a failed or closed connection is removed at
//! the end of the turn.

use super::Driver;
use crate::driver::conn::InTrack;
use crate::driver::demux::ConnIndex;
use crate::driver::peer::layer_of_rid;
use crate::driver::peer::TrackCodec;
use crate::event::{DisconnectReason, MediaKind, SfuEvent};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent, RTCTrackEventInit};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use std::time::Instant;

impl Driver {
    /// Handles every pending event of connection `index` at `now`.
    pub(super) fn drain_events(&mut self, now: Instant, index: ConnIndex) {
        loop {
            let Some(conn) = self.table.get_mut(index) else {
                return;
            };
            let Some(event) = conn.pc.poll_event() else {
                return;
            };
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    self.state_changed(index, state);
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    self.track_opened(now, index, &init);
                }
                other => tracing::trace!(?other, "sfu: event"),
            }
        }
    }

    fn state_changed(&mut self, index: ConnIndex, state: RTCPeerConnectionState) {
        let Some(conn) = self.table.get_mut(index) else {
            return;
        };
        tracing::debug!(peer = conn.id.0, %state, "sfu: connection state");
        let peer = conn.id;
        match state {
            RTCPeerConnectionState::Connected if !conn.connected => {
                conn.connected = true;
                self.emit(SfuEvent::PeerConnected(peer));
            }
            // ICE may still recover it (then `PeerConnected` again).
            RTCPeerConnectionState::Disconnected if conn.connected => {
                conn.connected = false;
                let reason = DisconnectReason::ConnectionLost;
                self.emit(SfuEvent::PeerDisconnected(peer, reason));
            }
            RTCPeerConnectionState::Failed => {
                self.emit(SfuEvent::PeerFailed(peer));
                self.doom(index);
            }
            RTCPeerConnectionState::Closed => {
                let reason = DisconnectReason::Closed;
                self.emit(SfuEvent::PeerDisconnected(peer, reason));
                self.doom(index);
            }
            _ => {}
        }
    }

    fn track_opened(&mut self, now: Instant, index: ConnIndex, init: &RTCTrackEventInit) {
        let Some(conn) = self.table.get_mut(index) else {
            return;
        };
        if conn.track(init.ssrc).is_some() {
            return;
        }
        let Some((kind, mime)) = conn.pc.rtp_receiver(init.receiver_id).map(|r| {
            let track = r.track();
            let mime = track.codec(init.ssrc).map(|c| c.mime_type.clone());
            (track.kind(), mime)
        }) else {
            tracing::debug!(ssrc = init.ssrc, "sfu: track of no receiver");
            return;
        };
        // What was negotiated, not assumed.
        let (kind, codec) = match (kind, mime.as_deref().map(TrackCodec::from_mime)) {
            (RtpCodecKind::Audio, _) => (MediaKind::Audio, TrackCodec::Opus),
            (_, Some(c @ (TrackCodec::Vp8 | TrackCodec::H264))) => (MediaKind::Video, c),
            (_, None) => (MediaKind::Video, TrackCodec::Vp8), // the only video codec offered
            (_, Some(other)) => {
                tracing::warn!(ssrc = init.ssrc, ?other, "sfu: video of an unknown codec");
                (MediaKind::Video, TrackCodec::Other)
            }
        };
        let rids = conn
            .offered
            .iter()
            .find(|t| t.track_id.as_deref() == Some(init.track_id.as_str()))
            .map(|t| t.rids.clone())
            .unwrap_or_default();
        let layer = layer_of_rid(init.rid.as_deref(), &rids);
        // Another layer of a track already published keeps the track's id.
        let known = conn
            .tracks
            .iter()
            .find(|t| t.receiver == init.receiver_id)
            .map(|t| t.stream);
        let shared = &self.router.shared;
        let stream = known.unwrap_or_else(|| shared.next_stream());
        let track = InTrack {
            ssrc: init.ssrc,
            kind,
            receiver: init.receiver_id,
            stream,
            layer,
            codec,
        };
        tracing::debug!(
            ssrc = init.ssrc,
            stream = stream.0,
            layer,
            "sfu: layer open"
        );
        conn.tracks.push(track);
        let (peer, level_id) = (conn.id, conn.audio_level_id);
        self.router.open_layer(now, (index, peer), &track, level_id);
        if known.is_none() {
            conn.track_ids.push((stream, init.track_id.clone()));
            self.emit(SfuEvent::TrackPublished {
                peer,
                track: stream,
                kind,
                rids,
            });
        }
    }
}
