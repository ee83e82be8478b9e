//! Halls on any node: a socket accepted on one node for a meeting whose home room is on
//! another node is bridged to that room over NATS (docs/cluster.md, "The NATS bridge").
//!
//! - The bridging node checks the token (one shared database), finds the home node in
//!   the meeting's lease and asks it to join the hall ([`wire::JoinRequest`] on
//!   `hoinghi.node.<home>.join`). The home node joins it into its room as any hall, over
//!   a [`SessionLink`] whose writer publishes to `hoinghi.link.<node>.<link>` — the same
//!   outbox, coalescing and write timeout as a local socket ([`hosted`]).
//! - The socket's reader stays on the bridging node (rate limit, pings, parsing) and
//!   publishes what the page sends to `hoinghi.room.<meeting>.<home>.in` ([`remote`]); the home
//!   room stays the one owner of floor, mutes, roll call and attendance. SDP and ICE go
//!   through too, so the hall's media goes to the home node's SFU.
//! - A socket that ends without `leave` is published as lost (the grace period starts,
//!   as for a local socket); a node silent for three beats or restarted ([`beats`]) has
//!   all its links ended on the other side.
//! - A staff action (HTTP) on a meeting homed elsewhere is asked of the home node
//!   ([`wire::ActRequest`] on `hoinghi.node.<home>.act`) and answered by its room ([`acts`]).
//! - A recording's file downloaded through a node that did not write it is read from the
//!   writer a slice at a time (`hoinghi.node.<writer>.file`, [`files`]).
//! - A stream published on another node's SFU is watched through a relay set up over
//!   NATS (`hoinghi.media.<origin>.watch`, [`media`]): the cascade's step 2.

mod acts;
mod beats;
mod files;
mod hosted;
pub(crate) mod media;
mod remote;
mod wire;

pub use acts::Shown;
pub use files::{RemoteFileError, RemoteSlice, SLICE as RECORDING_SLICE};
pub use media::MediaError;
pub use remote::RemoteLink;
pub use wire::redact_url;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use crate::registry::Signaling;

/// How long a bridged join waits for the home node before it is refused.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the NATS server at `url` as `node`; keeps trying in the background if it
/// is away at start (bridged joins are refused `home_elsewhere` meanwhile). Credentials
/// in the URL are handed to the client apart from the address, which it logs.
pub async fn connect(url: &str, node: &str) -> Result<async_nats::Client, String> {
    let (address, credentials) = wire::split_credentials(url);
    let options = match credentials {
        Some(wire::Credentials::UserPassword(user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        Some(wire::Credentials::Token(token)) => async_nats::ConnectOptions::with_token(token),
        None => async_nats::ConnectOptions::new(),
    };
    options
        .name(format!("hoinghi {node}"))
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(address)
        .await
        // The error may quote the URL: name it redacted instead.
        .map_err(|e| format!("NATS {}: {:?}", redact_url(url), e.kind()))
}

/// This node's end of the bridge: its sockets bridged elsewhere and the links it hosts.
#[derive(Debug)]
pub struct Bridge {
    nats: async_nats::Client,
    /// This node's name.
    node: String,
    /// This run of the node: a restart is a new one.
    incarnation: u64,
    /// The identity of this node's cluster (its database's): only its beats are heard.
    cluster: String,
    /// Where the meetings' leases name their home node.
    store: scheduler::Store,
    beats: beats::Beats,
    /// Sockets on this node bridged to a room elsewhere.
    remote: remote::Remotes,
    /// Sockets on other nodes bridged to rooms here.
    hosted: hosted::Hosted,
    /// The relays of media with other nodes' SFUs.
    media: media::Media,
    /// Peers held here for home rooms elsewhere, and placed elsewhere by rooms here.
    held: media::cmd::Remote,
}

impl Bridge {
    /// Starts the bridge of `signaling` over `nats` (its node named by `store`):
    /// subscribes to this node's joins, links and everyone's beats, and beats.
    pub async fn start(
        signaling: &Signaling,
        nats: async_nats::Client,
        store: scheduler::Store,
    ) -> Result<Arc<Bridge>, async_nats::SubscribeError> {
        let node = store.node_id().to_owned();
        // Without it (the database away at start) the node still beats, as a node of an
        // earlier version would: every node hears it.
        let cluster = store.cluster_identity().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the cluster's identity was not read; other clusters' beats may be heard");
            String::new()
        });
        let bridge = Arc::new(Bridge {
            incarnation: uuid::Uuid::new_v4().as_u64_pair().0,
            cluster,
            nats,
            node,
            store,
            beats: beats::Beats::default(),
            remote: remote::Remotes::default(),
            hosted: hosted::Hosted::default(),
            media: media::Media::new(signaling.sfu().clone()),
            held: media::cmd::Remote::new(
                signaling.sfu().clone(),
                signaling.shared().remote_events.clone(),
            ),
        });
        let joins = bridge
            .nats
            .subscribe(wire::join_subject(&bridge.node))
            .await?;
        let links = bridge.nats.subscribe(wire::links_of(&bridge.node)).await?;
        let heard = bridge.nats.subscribe(wire::ALL_BEATS).await?;
        let acts = bridge
            .nats
            .subscribe(wire::act_subject(&bridge.node))
            .await?;
        let files = bridge
            .nats
            .subscribe(files::file_subject(&bridge.node))
            .await?;
        let (watches, unwatches) = media::subscribe(&bridge.nats, &bridge.node).await?;
        tokio::spawn(media::take_watches(Arc::clone(&bridge), watches, unwatches));
        let (cmds, evs) = media::subscribe_cmds(&bridge.nats, &bridge.node).await?;
        tokio::spawn(media::cmd::serve(
            Arc::clone(&bridge),
            signaling.clone(),
            cmds,
            evs,
        ));
        tokio::spawn(files::take_reads(
            Arc::clone(&bridge),
            signaling.config().recordings_dir.clone(),
            files,
        ));
        tokio::spawn(acts::take_acts(
            Arc::clone(&bridge),
            signaling.clone(),
            acts,
        ));
        tokio::spawn(hosted::take_joins(
            Arc::clone(&bridge),
            signaling.clone(),
            joins,
        ));
        tokio::spawn(remote::deliver(Arc::clone(&bridge), links));
        tokio::spawn(listen(Arc::clone(&bridge), heard));
        tokio::spawn(beat(Arc::downgrade(&bridge)));
        tracing::info!(node = %bridge.node, "halls of meetings homed elsewhere are bridged over NATS");
        Ok(bridge)
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The living node (not this one) that takes over `meeting` when this node stops:
    /// the meetings are spread over the nodes heard beating, by id. None: no other node.
    pub(crate) fn successor(&self, meeting: i64) -> Option<String> {
        let others: Vec<String> = self
            .beats
            .alive_nodes(Instant::now())
            .into_iter()
            .filter(|n| *n != self.node)
            .collect();
        let count = i64::try_from(others.len()).ok().filter(|c| *c > 0)?;
        let at = usize::try_from(meeting.rem_euclid(count)).ok()?;
        others.into_iter().nth(at)
    }

    /// Sends every socket bridged from here to its meeting's home node (a drain): each
    /// page is told `home_elsewhere` naming it and goes there at once; each home room
    /// is told the link is lost (the page's rejoin resumes within the grace period).
    pub(crate) async fn move_all(&self) -> Vec<crate::link::SessionLink> {
        self.remote.move_all(self).await
    }

    /// Ends every socket bridged from here (a graceful stop): each page is told the
    /// server restarts, each home room that the link is lost. The links to wait on.
    pub(crate) async fn stop(&self) -> Vec<crate::link::SessionLink> {
        self.remote.close_all(self).await
    }

    /// Ends the links whose other end is gone (silent or restarted), both ways.
    async fn sweep(&self, now: Instant) {
        self.remote.sweep(&self.beats, now);
        self.hosted.sweep(&self.beats, now).await;
        self.media.sweep(&self.beats, now).await;
        self.sweep_remote(now).await;
    }
}

/// Beats once a second while the bridge lives.
async fn beat(bridge: std::sync::Weak<Bridge>) {
    let mut tick = tokio::time::interval(beats::BEAT);
    loop {
        tick.tick().await;
        let Some(bridge) = bridge.upgrade() else {
            return;
        };
        let subject = wire::beat_subject(&bridge.node);
        let payload = match bridge.cluster.as_str() {
            "" => bridge.incarnation.to_string(),
            cluster => beats::payload(bridge.incarnation, cluster),
        };
        if let Err(e) = bridge.nats.publish(subject, payload.into()).await {
            tracing::debug!(error = %e, "a beat was not sent");
        }
        bridge.sweep(Instant::now()).await;
    }
}

/// Notes every node's beats.
async fn listen(bridge: Arc<Bridge>, mut heard: async_nats::Subscriber) {
    while let Some(msg) = heard.next().await {
        let node = wire::node_of_beat(msg.subject.as_str());
        let run = beats::run_of(&msg.payload, &bridge.cluster);
        if let (Some(node), Some(run)) = (node, run) {
            bridge.beats.heard(node, run, Instant::now());
        }
    }
}
