//! What the handle asks of the driver, with the channel each answer goes back on, and the
//! port's counters.

use super::nack::NackFigures;
use super::node::{NodeFigures, NodeKeys, RemoteStream};
use super::router::RouterStats;
use super::tap::RtpTap;
use crate::event::{IceCandidate, PeerAnswer, PeerId, SlotChange, SlotInfo, SpeakerGroup};
use crate::{SfuError, StreamId};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A request to the driver; each carries its reply channel.
pub enum Command {
    /// Answer a hall's offer on the media port.
    AddPeer {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// Apply a connected hall's new offer to its connection.
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// A remote candidate the hall trickled.
    AddIceCandidate {
        peer: PeerId,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Ask a publisher for a keyframe of one layer of its stream (throttled).
    RequestKeyframe {
        track: StreamId,
        layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// One slot change: show a published stream (from its next keyframe), empty a slot,
    /// or change the highest layer it may carry (same source, no keyframe restart).
    Slot {
        change: SlotChange,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Several slot changes at once, each with its result, in order.
    Apply {
        changes: Vec<SlotChange>,
        reply: oneshot::Sender<Vec<Result<(), SfuError>>>,
    },
    /// Put a hall in the speaker group (meeting) whose active speaker it may become.
    SetSpeakerGroup {
        peer: PeerId,
        group: SpeakerGroup,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Close a hall's connection: its tracks are unpublished, `PeerDisconnected` follows.
    ClosePeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Open a tap (a subscriber inside the node): slot 0 video, then `audio_slots`
    /// audio slots, named by `peer` in slot changes; its packets go to `sink`.
    OpenTap {
        peer: PeerId,
        audio_slots: u8,
        sink: Arc<dyn RtpTap>,
        reply: oneshot::Sender<Result<Vec<SlotInfo>, SfuError>>,
    },
    /// Close a tap: its slots go dark, nothing more reaches its sink.
    CloseTap {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Link this worker with another node's media address (its datagrams come here),
    /// keyed for this session.
    LinkNode {
        addr: SocketAddr,
        keys: NodeKeys,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Send layers of a stream (bit `i`: layer `i`; none: stop) to a linked node.
    Export {
        stream: StreamId,
        to: SocketAddr,
        layers: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Receive a stream another (linked) node publishes: its id here.
    WatchRemote {
        from: SocketAddr,
        remote: RemoteStream,
        reply: oneshot::Sender<Result<StreamId, SfuError>>,
    },
    /// Drop the link with another node (it died or left): what it sent goes dark here,
    /// nothing more is sent to it.
    UnlinkNode {
        addr: SocketAddr,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Stop receiving a stream watched from another node: its slots here go dark.
    UnwatchRemote {
        stream: StreamId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Read the counters.
    Stats { reply: oneshot::Sender<PortStats> },
}

/// Counters of the media port since start.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortStats {
    /// Connections on the port.
    pub connections: usize,
    /// Remote addresses bound to connections.
    pub addresses: usize,
    /// Streams published on the port (on their home worker).
    pub streams: usize,
    /// Mirrors: streams of another worker shown by slots of this one, and streams
    /// watched from another node (on the worker carrying the link).
    pub mirrors: usize,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams dropped because no connection claimed them.
    pub unrouted: u64,
    /// Datagrams dropped on the way out (send queue full, or refused by the kernel).
    pub send_dropped: u64,
    /// Events dropped because the caller's event queue was full.
    pub events_dropped: u64,
    /// Media workers (summed: each worker's own figures are added up).
    pub workers: usize,
    /// Batches of messages between workers dropped because a worker's queue was full.
    pub relay_dropped: u64,
    /// The media path's counters.
    pub router: RouterStats,
    /// NACKs from halls, packets sent again on them, NACKs to publishers.
    pub nacks: NackFigures,
    /// The relay with other nodes: packets out and in, repairs, PLIs, refusals.
    pub nodes: NodeFigures,
    /// Time the IO loop spent working (not waiting) since start: its busy ratio is the
    /// growth of this over wall-clock time.
    pub busy: std::time::Duration,
}

impl PortStats {
    /// Adds another worker's counters.
    pub fn add(&mut self, o: &PortStats) {
        self.connections += o.connections;
        self.addresses += o.addresses;
        self.streams += o.streams;
        self.mirrors += o.mirrors;
        self.datagrams_in += o.datagrams_in;
        self.datagrams_out += o.datagrams_out;
        self.unrouted += o.unrouted;
        self.send_dropped += o.send_dropped;
        self.events_dropped += o.events_dropped;
        let (r, x) = (&mut self.router, &o.router);
        r.forwarded += x.forwarded;
        r.dropped += x.dropped;
        r.plis += x.plis;
        r.relayed += x.relayed;
        r.relayed_in += x.relayed_in;
        self.nacks.add(&o.nacks);
        self.nodes.add(&o.nodes);
    }
}
