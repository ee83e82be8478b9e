//! What a connection's `rtc` events mean to the driver: connection state and new tracks.
//!
//! A publisher's stream becomes known on `OnOpen` (its first packet): it gets an SFU-wide
//! [`StreamId`], a route, and a [`SfuEvent::TrackPublished`] for the caller, as the async
//! driver reports it. `Connected` and `Failed`/`Closed` become
//! [`SfuEvent::PeerConnected`] and [`SfuEvent::PeerFailed`]; a failed connection is removed
//! at the end of the turn.

use super::conn::InTrack;
use super::demux::ConnIndex;
use super::driver::Driver;
use crate::event::{MediaKind, SfuEvent};
use crate::StreamId;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent, RTCTrackEventInit};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;

/// Handles every pending event of connection `index`.
pub fn drain(driver: &mut Driver, index: ConnIndex) {
    loop {
        let Some(conn) = driver.table.get_mut(index) else {
            return;
        };
        let Some(event) = conn.pc.poll_event() else {
            return;
        };
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                state_changed(driver, index, state);
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                track_opened(driver, index, &init);
            }
            other => tracing::trace!(?other, "sansio: event"),
        }
    }
}

fn state_changed(driver: &mut Driver, index: ConnIndex, state: RTCPeerConnectionState) {
    let Some(conn) = driver.table.get_mut(index) else {
        return;
    };
    tracing::debug!(peer = conn.id.0, %state, "sansio: connection state");
    let peer = conn.id;
    match state {
        RTCPeerConnectionState::Connected if !conn.connected => {
            conn.connected = true;
            let _ = driver.events.send(SfuEvent::PeerConnected(peer));
        }
        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
            let _ = driver.events.send(SfuEvent::PeerFailed(peer));
            driver.doomed.push(index);
        }
        _ => {}
    }
}

fn track_opened(driver: &mut Driver, index: ConnIndex, init: &RTCTrackEventInit) {
    let Some(conn) = driver.table.get_mut(index) else {
        return;
    };
    if conn.track(init.ssrc).is_some() {
        return;
    }
    let Some(kind) = conn
        .pc
        .rtp_receiver(init.receiver_id)
        .map(|r| r.track().kind())
    else {
        tracing::debug!(ssrc = init.ssrc, "sansio: track of no receiver");
        return;
    };
    let kind = match kind {
        RtpCodecKind::Audio => MediaKind::Audio,
        _ => MediaKind::Video,
    };
    let stream = StreamId(driver.next_stream);
    driver.next_stream += 1;
    let track = InTrack {
        ssrc: init.ssrc,
        kind,
        receiver: init.receiver_id,
        stream,
    };
    conn.tracks.push(track);
    let peer = conn.id;
    driver.router.add_track(index, track);
    let _ = driver.events.send(SfuEvent::TrackPublished {
        peer,
        track: stream,
        kind,
        rids: Vec::new(),
    });
}
