//! The dispatcher of the SFU's events: one task owns the SFU's event channel and
//! forwards each event to the room of its peer or speaker group, from a route table the
//! rooms fill as they create peers.

use crate::room::Command;
use sfu::{DisconnectReason, PeerId, SfuEvent, SpeakerGroup};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// A room's new peer, the room's speaker group, and the room.
pub(super) type Route = (PeerId, SpeakerGroup, mpsc::WeakSender<Command>);

/// What an SFU event is about, and so which room it goes to.
#[derive(Clone, Copy)]
enum About {
    Peer(PeerId),
    Group(SpeakerGroup),
}

/// The dispatcher's tables: which room each peer's and each speaker group's events go to.
#[derive(Default)]
struct Routes {
    peers: HashMap<PeerId, mpsc::WeakSender<Command>>,
    /// One group per room; a group of a room that ended goes at the next new group.
    groups: HashMap<SpeakerGroup, mpsc::WeakSender<Command>>,
}

impl Routes {
    fn add(&mut self, (peer, group, room): Route) {
        if !self.groups.contains_key(&group) {
            self.groups.retain(|_, r| r.strong_count() > 0);
            self.groups.insert(group, room.clone());
        }
        self.peers.insert(peer, room);
    }

    fn get(&self, about: About) -> Option<mpsc::Sender<Command>> {
        let room = match about {
            About::Peer(p) => self.peers.get(&p),
            About::Group(g) => self.groups.get(&g),
        };
        room.and_then(mpsc::WeakSender::upgrade)
    }

    fn remove(&mut self, about: About) {
        match about {
            About::Peer(p) => self.peers.remove(&p),
            About::Group(g) => self.groups.remove(&g),
        };
    }
}

/// Routes each SFU event to the room of its peer or speaker group.
/// Events of peers on other nodes (`remote`) come with their node's name.
pub(super) async fn dispatch(
    mut events: mpsc::Receiver<SfuEvent>,
    mut remote: mpsc::Receiver<(String, SfuEvent)>,
    mut routes_rx: mpsc::UnboundedReceiver<Route>,
) {
    let mut routes = Routes::default();
    loop {
        let (node, event) = tokio::select! {
            biased;
            Some(route) = routes_rx.recv() => {
                routes.add(route);
                continue;
            }
            event = events.recv() => match event {
                Some(event) => (None, event),
                None => break,
            },
            Some((node, event)) = remote.recv() => (Some(node), event),
        };
        // Routes were queued before their peer was added: take them all first.
        while let Ok(route) = routes_rx.try_recv() {
            routes.add(route);
        }
        let about = match &event {
            SfuEvent::PeerConnected(p)
            | SfuEvent::PeerDisconnected(p, _)
            | SfuEvent::PeerFailed(p)
            | SfuEvent::TrackPublished { peer: p, .. }
            | SfuEvent::TrackUnpublished { peer: p, .. }
            | SfuEvent::LocalCandidate { peer: p, .. } => About::Peer(*p),
            SfuEvent::Stats(s) => About::Peer(s.peer),
            SfuEvent::ActiveSpeakerChanged { group, .. } => About::Group(*group),
            _ => continue,
        };
        let Some(room) = routes.get(about) else {
            routes.remove(about);
            continue;
        };
        let ends = matches!(
            event,
            SfuEvent::PeerFailed(_)
                | SfuEvent::PeerDisconnected(
                    _,
                    DisconnectReason::Closed | DisconnectReason::ClosedByServer
                )
        );
        let stats = matches!(event, SfuEvent::Stats(_));
        let command = match node {
            None => Command::Sfu(event),
            Some(node) => Command::NodeSfu(node, event),
        };
        let sent = if stats {
            // Statistics are dropped rather than waited for when a room is busy.
            !matches!(
                room.try_send(command),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        } else {
            room.send(command).await.is_ok()
        };
        if !sent || ends {
            routes.remove(about);
        }
    }
}
