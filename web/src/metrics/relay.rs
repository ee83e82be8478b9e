//! The relay's figures on `/metrics`: what this node's SFU exchanged with the other
//! nodes of the cluster (the cascade, docs/cluster.md) — `PortStats::nodes`, summed over
//! the media workers, as last sampled. All zero on a node alone.

use prometheus_client::encoding::DescriptorEncoder;
use signaling::sfu::NodeFigures;

use super::labelled_counter;

/// Encodes the relay's counters (`hoinghi_relay_*`).
pub(super) fn encode(e: &mut DescriptorEncoder, r: &NodeFigures) -> Result<(), std::fmt::Error> {
    labelled_counter(
        e,
        "relay_packets",
        "Media packets relayed with other nodes of the cluster (the cascade), by direction: \
         sent to watching nodes (once per packet per node), received from origin nodes",
        "direction",
        &[("out", r.packets_out), ("in", r.packets_in)],
    )?;
    labelled_counter(
        e,
        "relay_keyframe_requests",
        "Keyframe requests (PLI) on the relay, by direction: sent to origin nodes, received \
         from watching nodes",
        "direction",
        &[("sent", r.plis_sent), ("received", r.plis_received)],
    )?;
    labelled_counter(
        e,
        "relay_repairs",
        "Losses between nodes: NACKs sent to origin nodes, packets sent again on a watching \
         node's NACK, lost packets that arrived later on ours",
        "what",
        &[
            ("nacks_sent", r.nacks_sent),
            ("retransmitted", r.retransmitted),
            ("repaired", r.repaired),
        ],
    )?;
    labelled_counter(
        e,
        "relay_dropped",
        "Datagrams from linked nodes dropped, by reason: failed authentication, or other \
         (not SRTP, malformed, a replay, a stream not watched)",
        "reason",
        &[("auth", r.auth_failures), ("other", r.dropped)],
    )
}
