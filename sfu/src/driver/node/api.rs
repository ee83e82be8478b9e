//! What the caller of the relay between nodes gives and reads: the keys of a link, a
//! stream another node publishes, the relay's counters.

use crate::driver::peer::TrackCodec;
use crate::event::{MediaKind, PeerId};
use crate::StreamId;

/// An SRTP master key and salt for AEAD_AES_128_GCM (RFC 7714).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    /// The master key.
    pub key: [u8; 16],
    /// The master salt.
    pub salt: [u8; 12],
}

impl std::fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpKey(…)")
    }
}

/// The keys of the relay with one other node: what this node encrypts with (the other
/// node's `receive`) and what it decrypts with (the other node's `send`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKeys {
    pub send: SrtpKey,
    pub receive: SrtpKey,
}

/// A stream another node publishes, as a watching node is told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteStream {
    /// Its id on its origin node.
    pub stream: StreamId,
    /// The publishing hall.
    pub owner: PeerId,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its codec (which payloads start a keyframe, which slots can show it).
    pub codec: TrackCodec,
}

/// The relay's counters (a worker's; summed over workers in `PortStats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NodeFigures {
    /// Media packets sent to other nodes (once per packet per watching node).
    pub packets_out: u64,
    /// Media packets received from other nodes (authenticated).
    pub packets_in: u64,
    /// NACK packets sent to origins.
    pub nacks_sent: u64,
    /// Packets sent again on a watcher's NACK.
    pub retransmitted: u64,
    /// Lost packets that arrived later, on our NACK.
    pub repaired: u64,
    /// PLIs sent to origins.
    pub plis_sent: u64,
    /// PLIs received from watchers.
    pub plis_received: u64,
    /// Datagrams from a linked node that failed authentication.
    pub auth_failures: u64,
    /// Other datagrams from a linked node dropped: not SRTP/SRTCP, malformed, a
    /// replay, a stream not watched.
    pub dropped: u64,
}

impl NodeFigures {
    /// Adds another worker's figures.
    pub fn add(&mut self, o: &NodeFigures) {
        self.packets_out += o.packets_out;
        self.packets_in += o.packets_in;
        self.nacks_sent += o.nacks_sent;
        self.retransmitted += o.retransmitted;
        self.repaired += o.repaired;
        self.plis_sent += o.plis_sent;
        self.plis_received += o.plis_received;
        self.auth_failures += o.auth_failures;
        self.dropped += o.dropped;
    }
}
