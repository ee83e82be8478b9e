//! The test client's receiving side: its connection's event handler, which records
//! every RTP packet of every remote track (or hands it to an observer).

use super::PacketObserver;
use rtc::rtp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{watch, Notify};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

/// A packet as a subscriber received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Payload type.
    pub payload_type: u8,
    /// The publisher's running packet number carried in the payload (`None`: not ours).
    pub number: Option<u32>,
    /// Whether it starts a VP8 keyframe.
    pub keyframe: bool,
}

/// Packets received, by SSRC.
pub(super) type Received = Arc<Mutex<HashMap<u32, Vec<ReceivedPacket>>>>;

/// Locks a test mutex; a panic elsewhere must not hide the data.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection's events: gathering and state to the client, tracks to reader tasks.
pub(super) struct Handler {
    pub(super) gathered: Arc<Notify>,
    pub(super) state: watch::Sender<RTCPeerConnectionState>,
    pub(super) received: Received,
    pub(super) remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    /// When set, packets go to it instead of into `received`.
    pub(super) observer: Option<PacketObserver>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        lock(&self.remotes).push(Arc::clone(&track));
        let received = Arc::clone(&self.received);
        let observer = self.observer.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    record(&p, observer.as_ref(), &received);
                }
            }
        });
    }
}

/// The publisher's running packet number a synthetic payload carries (bytes 2..6, after
/// the payload descriptor), `None` for a payload too short to be ours.
pub fn payload_number(payload: &[u8]) -> Option<u32> {
    payload
        .get(2..6)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
}

/// What the reader of one track makes of a packet.
fn record(p: &rtp::Packet, observer: Option<&PacketObserver>, received: &Received) {
    if let Some(observe) = observer {
        observe(p);
        return;
    }
    let number = payload_number(&p.payload);
    let packet = ReceivedPacket {
        seq: p.header.sequence_number,
        timestamp: p.header.timestamp,
        payload_type: p.header.payload_type,
        number,
        keyframe: crate::is_keyframe_start(&p.payload).unwrap_or(false),
    };
    lock(received)
        .entry(p.header.ssrc)
        .or_default()
        .push(packet);
}
