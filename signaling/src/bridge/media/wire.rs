//! The cascade's relay set-up on the wire (`hoinghi.media.<node>.watch`, `.unwatch`):
//! the requests, the answers and the keys they carry. No type here derives `Debug`: a
//! key must never reach a log line.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use sfu::{MediaKind, PeerId, RemoteStream, SrtpKey, StreamId, TrackCodec};

/// The subject on which `node` answers watches.
pub(super) fn watch_subject(node: &str) -> String {
    format!("hoinghi.media.{node}.watch")
}

/// The subject on which `node` answers unwatches.
pub(super) fn unwatch_subject(node: &str) -> String {
    format!("hoinghi.media.{node}.unwatch")
}

/// A key on the wire (NATS must be TLS with credentials in a real deployment).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct WireKey {
    pub key: [u8; 16],
    pub salt: [u8; 12],
}

impl WireKey {
    /// A fresh key from the OS random source.
    pub fn fresh() -> Self {
        let hex = scheduler::accounts::random_token();
        let mut bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default());
        let mut key = WireKey {
            key: [0; 16],
            salt: [0; 12],
        };
        for b in key.key.iter_mut().chain(key.salt.iter_mut()) {
            *b = bytes.next().unwrap_or_default();
        }
        key
    }

    pub fn srtp(&self) -> SrtpKey {
        SrtpKey {
            key: self.key,
            salt: self.salt,
        }
    }
}

/// A watching node's request.
#[derive(Serialize, Deserialize)]
pub(super) struct WatchRequest {
    pub node: String,
    pub incarnation: u64,
    pub media: SocketAddr,
    pub key: WireKey,
    pub track: u64,
    pub layers: Vec<u8>,
}

/// What a stream is, on the wire.
#[derive(Serialize, Deserialize)]
pub(super) struct WireStream {
    pub stream: u64,
    pub owner: u64,
    pub video: bool,
    pub codec: String,
}

/// The origin's answer.
#[derive(Serialize, Deserialize)]
pub(super) enum WatchReply {
    Watching {
        incarnation: u64,
        media: SocketAddr,
        key: WireKey,
        stream: WireStream,
    },
    Refused {
        message: String,
    },
}

/// A watching node stops watching.
#[derive(Serialize, Deserialize)]
pub(super) struct UnwatchRequest {
    pub node: String,
    pub track: u64,
}

impl WireStream {
    /// `remote` on the wire.
    pub fn of(remote: &RemoteStream) -> Self {
        WireStream {
            stream: remote.stream.0,
            owner: remote.owner.0,
            video: remote.kind == MediaKind::Video,
            codec: format!("{:?}", remote.codec),
        }
    }

    /// What the watcher's SFU is told of it.
    pub fn remote(&self) -> RemoteStream {
        RemoteStream {
            stream: StreamId(self.stream),
            owner: PeerId(self.owner),
            kind: if self.video {
                MediaKind::Video
            } else {
                MediaKind::Audio
            },
            codec: codec_of(&self.codec),
        }
    }
}

fn codec_of(name: &str) -> TrackCodec {
    match name {
        "Opus" => TrackCodec::Opus,
        "Vp8" => TrackCodec::Vp8,
        "H264" => TrackCodec::H264,
        _ => TrackCodec::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_and_streams_cross_whole() {
        let (a, b) = (WireKey::fresh(), WireKey::fresh());
        assert!(a != b && a.key != [0; 16] && a.salt != [0; 12]);
        for (kind, codec) in [
            (MediaKind::Video, TrackCodec::Vp8),
            (MediaKind::Video, TrackCodec::H264),
            (MediaKind::Audio, TrackCodec::Opus),
        ] {
            let remote = RemoteStream {
                stream: StreamId(7),
                owner: PeerId(3),
                kind,
                codec,
            };
            let sent = serde_json::to_vec(&WireStream::of(&remote)).expect("encoded");
            let got: WireStream = serde_json::from_slice(&sent).expect("decoded");
            assert_eq!(got.remote(), remote);
        }
    }
}
