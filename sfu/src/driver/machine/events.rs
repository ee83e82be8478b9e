//! What a connection's `rtc` events mean to the driver: connection state and new tracks.
//!
//! A publisher's stream becomes known on `OnOpen` (its first packet): it gets an SFU-wide
//! [`StreamId`](crate::StreamId), a route, and a [`SfuEvent::TrackPublished`] (with the
//! offer's RIDs) for the caller. Each simulcast layer opens on its own `OnOpen` with its
//! RID, mapped to a layer with [`layer_of_rid`], on the same stream.
//! `Connected` becomes [`SfuEvent::PeerConnected`] (again after a recovery),
//! `Disconnected` `PeerDisconnected(ConnectionLost)`, `Failed` [`SfuEvent::PeerFailed`]
//! and `Closed` `PeerDisconnected(Closed)`; a failed or closed connection is removed at
//! the end of the turn.
//!
//! [`read`] updates the one connection and says what the rest of the driver must do;
//! the state machine does it (route the layer, tell the caller, remove the connection).

use crate::driver::conn::{Conn, InTrack};
use crate::driver::peer::{layer_of_rid, TrackCodec};
use crate::driver::shared::Shared;
use crate::event::{DisconnectReason, MediaKind, SfuEvent};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent, RTCTrackEventInit};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

/// What one event of a connection asks of the driver.
pub(super) enum Outcome {
    /// Tell the caller.
    Tell(SfuEvent),
    /// Tell the caller, then remove the connection at the end of the turn.
    Remove(SfuEvent),
    /// A layer of a published stream opened: route it, and tell the caller when it is
    /// the stream's first layer.
    Layer {
        track: InTrack,
        audio_level_id: Option<u8>,
        published: Option<SfuEvent>,
    },
}

/// Applies `event` to `conn` (whose new streams take their ids from `shared`).
pub(super) fn read(
    conn: &mut Conn,
    event: RTCPeerConnectionEvent,
    shared: &Shared,
) -> Option<Outcome> {
    match event {
        RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => state_changed(conn, state),
        RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
            track_opened(conn, &init, shared)
        }
        other => {
            tracing::trace!(?other, "sfu: event");
            None
        }
    }
}

fn state_changed(conn: &mut Conn, state: RTCPeerConnectionState) -> Option<Outcome> {
    tracing::debug!(peer = conn.id.0, %state, "sfu: connection state");
    let peer = conn.id;
    match state {
        RTCPeerConnectionState::Connected if !conn.connected => {
            conn.connected = true;
            Some(Outcome::Tell(SfuEvent::PeerConnected(peer)))
        }
        // ICE may still recover it (then `PeerConnected` again).
        RTCPeerConnectionState::Disconnected if conn.connected => {
            conn.connected = false;
            let reason = DisconnectReason::ConnectionLost;
            Some(Outcome::Tell(SfuEvent::PeerDisconnected(peer, reason)))
        }
        RTCPeerConnectionState::Failed => Some(Outcome::Remove(SfuEvent::PeerFailed(peer))),
        RTCPeerConnectionState::Closed => {
            let reason = DisconnectReason::Closed;
            Some(Outcome::Remove(SfuEvent::PeerDisconnected(peer, reason)))
        }
        _ => None,
    }
}

fn track_opened(conn: &mut Conn, init: &RTCTrackEventInit, shared: &Shared) -> Option<Outcome> {
    if conn.track(init.ssrc).is_some() {
        return None;
    }
    let Some((kind, mime)) = conn.pc.rtp_receiver(init.receiver_id).map(|r| {
        let track = r.track();
        let mime = track.codec(init.ssrc).map(|c| c.mime_type.clone());
        (track.kind(), mime)
    }) else {
        tracing::debug!(ssrc = init.ssrc, "sfu: track of no receiver");
        return None;
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
    let published = known.is_none().then(|| {
        conn.track_ids.push((stream, init.track_id.clone()));
        SfuEvent::TrackPublished {
            peer: conn.id,
            track: stream,
            kind,
            rids,
        }
    });
    Some(Outcome::Layer {
        track,
        audio_level_id: conn.audio_level_id,
        published,
    })
}
