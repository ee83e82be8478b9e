//! One ordered queue per remote media node (docs/cluster.md, "Step 2b"): the room never
//! awaits another node. Slot changes (with the watches they need), unwatches, closes and
//! candidates for a node go into its queue, served in order by its own task; what took
//! comes back as [`Command::NodeDone`] and the room records it as the local path does (the
//! slot's fill, the page's `subscription`). A slow node delays its own halls only.
//!
//! The task also keeps the node's watches: a stream is watched there before the first
//! `Show` that needs it (layers 0 to the highest asked), and watched again with fewer
//! layers once no slot there has shown its higher layers for a while (`watches`).
//!
//! Each queue holds [`QUEUE_LEN`] jobs. When it is full a refill's changes for that node
//! are not sent (their slots keep their last plan) and the node is marked behind: at its
//! next answer the room refills every hall, which plans the latest wish per slot against
//! what the node was asked — coalescing the missed changes into one batch. A close or a
//! candidate that finds the queue full is sent on its own (unordered, logged).

use sfu::{IceCandidate, PeerId, SfuError, SlotChange, SlotId, StreamId};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use super::nodes::MediaNode;
use super::watches::Watches;
use super::{error, Command, Room};
use crate::policy::Fill;
use crate::protocol::{ErrorCode, Kind, ServerMessage};

/// Jobs a node's queue holds before the room coalesces (module doc).
pub(super) const QUEUE_LEN: usize = 64;

/// A slot change for a remote node, with what the room records once it took.
#[derive(Debug)]
pub(crate) struct Sent {
    pub hall_id: i64,
    pub slot: SlotId,
    pub want: Fill,
    /// The stream to watch there first: its origin node, its track there, layers 0..=top.
    pub watch: Option<(String, StreamId, u8)>,
    pub change: SlotChange,
}

/// What a node's task is asked to do, in order.
#[derive(Debug)]
pub(crate) enum Job {
    Apply(Vec<Sent>),
    /// No slot there shows the origin's track any more.
    Unwatch(String, StreamId),
    Close(PeerId),
    Candidate(i64, PeerId, IceCandidate),
}

/// What a node's task reports back to the room.
#[derive(Debug)]
pub(crate) enum Done {
    Applied(Vec<(Sent, Result<(), SfuError>)>),
    /// A candidate the node refused: (hall, peer, why).
    Candidate(i64, PeerId, SfuError),
    /// Its queue ran empty after jobs that report nothing (a room behind refills).
    Drained,
}

/// The room's end of one node's queue.
#[derive(Debug)]
pub(crate) struct NodeQueue {
    tx: mpsc::Sender<Job>,
    /// A refill's changes found the queue full: refill all at its next answer.
    behind: bool,
}

impl Room {
    /// Puts `job` in remote node `node`'s queue (its task started at first use); the job
    /// back if the queue is full.
    pub(super) fn enqueue(&mut self, node: &str, job: Job) -> Result<(), Job> {
        if !self.nodes.queues.contains_key(node) {
            let (tx, rx) = mpsc::channel(QUEUE_LEN);
            let worker = Worker {
                media: self.media_of(Some(node)),
                node: node.to_owned(),
                me: self.me.clone(),
                watches: Watches::default(),
            };
            tokio::spawn(worker.run(rx));
            let queue = NodeQueue { tx, behind: false };
            self.nodes.queues.insert(node.to_owned(), queue);
        }
        let queue = self.nodes.queues.get_mut(node).expect("inserted above");
        match queue.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => {
                if matches!(job, Job::Apply(_)) {
                    queue.behind = true;
                }
                tracing::warn!(node, "a media node's queue is full");
                Err(job)
            }
            Err(TrySendError::Closed(job)) => Err(job),
        }
    }

    /// Closes `peer` on remote node `node`, after what its queue holds.
    pub(super) fn close_remote(&mut self, node: &str, peer: PeerId) {
        if let Err(Job::Close(peer)) = self.enqueue(node, Job::Close(peer)) {
            let media = self.media_of(Some(node));
            tokio::spawn(async move { media.close_peer(peer).await });
        }
    }

    /// Sends a candidate of member `hall_id`'s `peer` to remote node `node`.
    pub(super) fn candidate_remote(
        &mut self,
        node: &str,
        hall: i64,
        peer: PeerId,
        c: IceCandidate,
    ) {
        if let Err(Job::Candidate(_, peer, c)) = self.enqueue(node, Job::Candidate(hall, peer, c)) {
            let media = self.media_of(Some(node));
            tokio::spawn(async move { media.add_ice_candidate(peer, c).await });
        }
    }

    /// Node `node`'s task reports: slots' fills recorded and pages told, as the local path.
    pub(super) async fn node_done(&mut self, node: String, done: Done) {
        match done {
            Done::Applied(results) => {
                for (sent, result) in results {
                    self.took(sent, result);
                }
                self.tell_send_layers();
            }
            Done::Candidate(hall, peer, e) => {
                if let Some(i) = self.peer_index(hall, peer) {
                    self.members[i].tell(error(ErrorCode::InvalidCandidate, e.to_string()));
                }
            }
            Done::Drained => {}
        }
        let behind = self
            .nodes
            .queues
            .get_mut(&node)
            .map(|q| std::mem::take(&mut q.behind));
        if behind == Some(true) {
            self.refill_all().await;
        }
    }

    /// Records what one sent slot change did.
    fn took(&mut self, sent: Sent, result: Result<(), SfuError>) {
        let Some(i) = self.peer_index(sent.hall_id, peer_of(&sent.change)) else {
            return; // replaced or gone meanwhile
        };
        let m = &mut self.members[i];
        let Some(slot) = m.slots.iter_mut().find(|s| s.info.id == sent.slot) else {
            return;
        };
        if slot.asked == Some(sent.want) {
            slot.asked = None; // nothing newer asked
        }
        let before = slot.fill;
        slot.fill = match result {
            Ok(()) => sent.want,
            Err(e) => {
                tracing::debug!(slot = slot.info.id.0, error = %e, "slot not filled");
                None
            }
        };
        let hall = |f: Fill| f.map(|p| p.hall_id);
        if hall(slot.fill) != hall(before) {
            let message = ServerMessage::Subscription {
                slot: slot.info.id.0,
                source_hall_id: hall(slot.fill),
                kind: Kind::from(slot.info.kind),
            };
            m.tell(message);
        }
    }
}

/// A node's task: its jobs in order, and its watches.
struct Worker {
    media: MediaNode,
    node: String,
    me: mpsc::WeakSender<Command>,
    /// The streams watched here (`watches`).
    watches: Watches,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        loop {
            let shrink = self.watches.next_shrink();
            let job = tokio::select! {
                job = rx.recv() => job,
                () = sleep_until(shrink) => {
                    self.shrink().await;
                    continue;
                }
            };
            let Some(job) = job else {
                return; // the room ended
            };
            let done = match job {
                Job::Apply(sent) => Some(Done::Applied(self.apply(sent).await)),
                Job::Unwatch(origin, track) => {
                    if let Some(local) = self.watches.unwatch(&(origin, track)) {
                        self.media.unwatch(local).await;
                    }
                    None
                }
                Job::Close(peer) => {
                    self.watches.closed(peer);
                    if let Err(e) = self.media.close_peer(peer).await {
                        tracing::debug!(?peer, error = %e, "closing a peer that is already gone");
                    }
                    None
                }
                Job::Candidate(hall, peer, c) => {
                    match self.media.add_ice_candidate(peer, c).await {
                        Ok(()) => None,
                        Err(e) => Some(Done::Candidate(hall, peer, e)),
                    }
                }
            };
            self.watches.note(Instant::now());
            let done = done.or_else(|| rx.is_empty().then_some(Done::Drained));
            if let (Some(done), Some(room)) = (done, self.me.upgrade()) {
                let _ = room.send(Command::NodeDone(self.node.clone(), done)).await;
            }
        }
    }

    /// Watches what the changes need, then applies them in one batch.
    async fn apply(&mut self, sent: Vec<Sent>) -> Vec<(Sent, Result<(), SfuError>)> {
        let mut results: Vec<Option<Result<(), SfuError>>> = Vec::new();
        let (mut at, mut changes) = (Vec::new(), Vec::new());
        for (k, s) in sent.iter().enumerate() {
            results.push(None);
            let mut change = s.change;
            let (peer, slot) = (peer_of(&s.change), s.slot);
            match &s.watch {
                Some((origin, track, top)) => match self.watch(origin, *track, *top).await {
                    Ok(local) => {
                        if let SlotChange::Show { track, .. } = &mut change {
                            *track = local;
                        }
                        let shown = ((origin.clone(), *track), *top);
                        self.watches.show(peer, slot, Some(shown));
                    }
                    Err(e) => {
                        self.watches.show(peer, slot, None);
                        results[k] = Some(Err(SfuError::Webrtc(e)));
                        continue;
                    }
                },
                None => {
                    self.watches.show(peer, slot, None);
                }
            }
            at.push(k);
            changes.push(change);
        }
        if !changes.is_empty() {
            match self.media.apply(changes).await {
                Ok(rs) => at
                    .into_iter()
                    .zip(rs)
                    .for_each(|(k, r)| results[k] = Some(r)),
                Err(e) => {
                    tracing::warn!(node = %self.node, error = %e, "slot changes not applied");
                    at.into_iter()
                        .for_each(|k| results[k] = Some(Err(e.clone())));
                }
            }
        }
        sent.into_iter()
            .zip(results)
            .map(|(s, r)| (s, r.unwrap_or(Err(SfuError::Stopped))))
            .collect()
    }

    /// The id here of `track` of `origin`, watched with layers 0 to `top` at least.
    async fn watch(&mut self, origin: &str, track: StreamId, top: u8) -> Result<StreamId, String> {
        let key = (origin.to_owned(), track);
        if let Some(local) = self.watches.local(&key, top) {
            return Ok(local);
        }
        let local = self.media.watch_tried(origin, track, top).await?;
        self.watches.watched(key, local, top);
        Ok(local)
    }

    /// Watches again, with fewer layers, the streams whose higher layers went unshown.
    async fn shrink(&mut self) {
        for (key, top) in self.watches.due(Instant::now()) {
            match self.media.watch_tried(&key.0, key.1, top).await {
                Ok(local) => {
                    tracing::debug!(node = %self.node, layers = top + 1, "a watch shrank");
                    self.watches.watched(key, local, top);
                }
                Err(e) => tracing::debug!(error = %e, "a watch did not shrink"),
            }
        }
        self.watches.note(Instant::now());
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The viewing peer of a slot change.
fn peer_of(change: &SlotChange) -> PeerId {
    match *change {
        SlotChange::Show { peer, .. }
        | SlotChange::Layer { peer, .. }
        | SlotChange::Clear { peer, .. } => peer,
    }
}
