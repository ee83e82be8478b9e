//! The signaling service: the live rooms by meeting, and the dispatcher of the SFU's events.
//!
//! The SFU has one event channel for all peers; the dispatcher task owns it and maps
//! from peer to room and from speaker group to room, filled by rooms as they create
//! peers (before `add_peer`, so no event can arrive for an unknown peer), and forwards
//! each event to its room. A room's peers are one speaker group (the room's id), so the
//! SFU finds an active speaker per meeting and each room hears only its own.

pub use crate::config::SignalingConfig;
use crate::link::SessionLink;
use crate::load::Load;
use crate::metrics::SignalingMetrics;
use crate::protocol::{ErrorCode, MeetingInfo, ProtocolError};
use crate::recorder::{PresenceChange, PresenceKind, Recorder};
use crate::room::{Command, Gone, Room, RoomHandle, SessionId};
use crate::Admission;
use sfu::{ConfigError, PeerId, Sfu, SfuConfig, SfuEvent, SpeakerGroup};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

mod dispatch;
mod staff;
use dispatch::{dispatch, Route};

/// What rooms share: the SFU, the settings, the registry itself and the route table.
pub(crate) struct Shared {
    pub sfu: Sfu,
    pub config: SignalingConfig,
    rooms: Mutex<HashMap<i64, RoomHandle>>,
    next_peer: AtomicU64,
    next_room: AtomicU64,
    routes: mpsc::UnboundedSender<Route>,
    /// Events of this node's halls' peers on other nodes' SFUs (the remote SFU handle).
    pub(crate) remote_events: mpsc::Sender<(String, SfuEvent)>,
    /// Where presence changes go; nothing is recorded until one is set.
    pub(crate) recorder: OnceLock<Arc<dyn Recorder>>,
    /// Where rooms look up their invited halls (the readiness board) and their
    /// meeting's recorded phase and live state.
    pub roster: OnceLock<scheduler::Store>,
    /// Where rooms write their live state (set with the roster).
    live_states: OnceLock<Arc<crate::live_states::LiveStates>>,
    /// The home-node leases, when this node is one of several (none: home to all).
    home: OnceLock<Arc<crate::home::HomeLeases>>,
    /// The NATS bridge to other nodes' rooms, when this node is one of several.
    bridge: OnceLock<Arc<crate::bridge::Bridge>>,
    /// Meetings ended on this server: nobody may join them again.
    ended: Mutex<HashSet<i64>>,
    /// Roll-call numbers, unique per server.
    next_roll_call: AtomicU64,
    /// The server is stopping: no hall may join any more.
    stopping: std::sync::atomic::AtomicBool,
    /// Halls present and the media port's figures (the capacity guard, `/metrics`).
    pub load: Arc<Load>,
    /// Joins counted as they happen.
    pub metrics: SignalingMetrics,
    /// WHIP and WHEP sessions by id.
    pub feeds: crate::feeds::Sessions,
}

impl Shared {
    /// Reports a presence change of a meeting, now.
    pub fn record(&self, meeting_id: i64, kind: PresenceKind) {
        if let Some(recorder) = self.recorder.get() {
            recorder.record(PresenceChange {
                meeting_id,
                at: scheduler::time::now(),
                kind,
            });
        }
    }

    /// Whether the server is stopping (joins are refused).
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Whether the meeting was ended on this server.
    pub fn is_ended(&self, meeting_id: i64) -> bool {
        let ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        ended.contains(&meeting_id)
    }

    /// Marks the meeting ended: its room refuses every join from now on.
    pub fn end(&self, meeting_id: i64) {
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        ended.insert(meeting_id);
    }

    /// A new roll-call number.
    pub fn new_roll_call(&self) -> u64 {
        self.next_roll_call.fetch_add(1, Ordering::Relaxed)
    }

    /// A roll call another room started goes on in this node's room of `meeting_id`
    /// under number `roll_call`; `key` is the id of the change that started it.
    pub fn resume_roll_call(&self, meeting_id: i64, roll_call: u64, key: String) {
        if let Some(recorder) = self.recorder.get() {
            recorder.resume_roll_call(meeting_id, roll_call, key);
        }
    }

    /// The writer of the rooms' live states, once a store is set.
    pub fn live_states(&self) -> Option<&Arc<crate::live_states::LiveStates>> {
        self.live_states.get()
    }

    /// The home-node leases, if this node is one of several.
    pub fn home(&self) -> Option<&Arc<crate::home::HomeLeases>> {
        self.home.get()
    }

    /// Writes what rooms and the recorder were given so far (a stop, a hand-over), each
    /// within `within`; false if either took longer.
    pub async fn flush_records(&self, within: Duration) -> bool {
        let states = match self.live_states.get() {
            Some(states) => states.flush(within).await,
            None => true,
        };
        let changes = match self.recorder.get() {
            Some(recorder) => recorder.flush_within(within).await,
            None => true,
        };
        states && changes
    }

    /// A new peer id of `room`, whose speaker group is `group`: the peer's events and
    /// the group's are routed to the room from now on.
    pub fn new_peer(&self, room: mpsc::WeakSender<Command>, group: SpeakerGroup) -> PeerId {
        let peer = PeerId(self.next_peer.fetch_add(1, Ordering::Relaxed));
        let _ = self.routes.send((peer, group, room));
        peer
    }

    /// The NATS bridge, if this node is one of several.
    pub fn bridge(&self) -> Option<&Arc<crate::bridge::Bridge>> {
        self.bridge.get()
    }

    /// A speaker group of this node's own (for a home room elsewhere).
    pub fn new_group(&self) -> SpeakerGroup {
        SpeakerGroup(self.next_room.fetch_add(1, Ordering::Relaxed))
    }

    /// Removes a room that ended, unless a newer one took its place.
    pub fn forget_room(&self, meeting: i64, id: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if rooms.get(&meeting).is_some_and(|r| r.id == id) {
            rooms.remove(&meeting);
        }
        drop(rooms);
        if let Some(home) = self.home.get() {
            let home = Arc::clone(home);
            tokio::spawn(async move { home.room_ended(meeting, id).await });
        }
    }
}

/// The signaling service of one server. Cheap to clone.
#[derive(Clone)]
pub struct Signaling {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Signaling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signaling")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Signaling {
    /// Starts an SFU with `sfu_config` and the service over it (inside a tokio runtime).
    pub fn start(sfu_config: SfuConfig, config: SignalingConfig) -> Result<Self, ConfigError> {
        let (sfu, events) = Sfu::start(sfu_config)?;
        Ok(Self::with_sfu(sfu, events, config))
    }

    /// The service over an SFU already started; it takes over the SFU's event channel.
    pub fn with_sfu(sfu: Sfu, events: mpsc::Receiver<SfuEvent>, config: SignalingConfig) -> Self {
        let (routes, routes_rx) = mpsc::unbounded_channel();
        let (remote_events, remote_rx) = mpsc::channel(1024);
        tokio::spawn(dispatch(events, remote_rx, routes_rx));
        let shared = Arc::new(Shared {
            sfu,
            config,
            rooms: Mutex::default(),
            next_peer: AtomicU64::new(1),
            next_room: AtomicU64::new(1),
            routes,
            remote_events,
            recorder: OnceLock::new(),
            roster: OnceLock::new(),
            live_states: OnceLock::new(),
            home: OnceLock::new(),
            bridge: OnceLock::new(),
            ended: Mutex::default(),
            next_roll_call: AtomicU64::new(1),
            stopping: Default::default(),
            load: Arc::default(),
            metrics: SignalingMetrics::default(),
            feeds: Default::default(),
        });
        crate::load::spawn_sampler(Arc::downgrade(&shared));
        Self { shared }
    }

    /// Sends presence changes to `recorder` from now on (set once, before halls join).
    pub fn record_with(self, recorder: Arc<dyn Recorder>) -> Self {
        if self.shared.recorder.set(recorder).is_err() {
            tracing::warn!("a recorder was already set; keeping the first");
        }
        self
    }

    /// Looks up invited halls in `store` for the readiness board, and the recorded phase
    /// and live state a room takes up when it opens; rooms write their live state there
    /// (set once; the store's node id is this node's).
    pub fn with_roster(self, store: scheduler::Store) -> Self {
        let states = crate::live_states::LiveStates::start(store.clone());
        if self.shared.roster.set(store).is_err() {
            tracing::warn!("a roster was already set; keeping the first");
            return self;
        }
        let _ = self.shared.live_states.set(states);
        self
    }

    /// Opens rooms only as the meeting's home node, holding its lease in `leases` (set
    /// once, before halls join; several nodes on one database).
    pub fn with_home(self, leases: Arc<crate::home::HomeLeases>) -> Self {
        if self.shared.home.set(leases).is_err() {
            tracing::warn!("home leases were already set; keeping the first");
        }
        self
    }

    /// Bridges halls of meetings homed on other nodes to their rooms there (set once,
    /// before halls join; see [`crate::bridge::Bridge::start`]).
    pub fn with_bridge(self, bridge: Arc<crate::bridge::Bridge>) -> Self {
        if self.shared.bridge.set(bridge).is_err() {
            tracing::warn!("a bridge was already set; keeping the first");
        }
        self
    }

    /// The NATS bridge, if this node is one of several.
    pub fn bridge(&self) -> Option<&Arc<crate::bridge::Bridge>> {
        self.shared.bridge.get()
    }

    /// This node's name (`local` without a cluster).
    pub fn node_name(&self) -> String {
        match self.shared.home.get() {
            Some(home) => home.store().node_id().to_owned(),
            None => "local".to_owned(),
        }
    }

    /// The home-node leases, if this node is one of several.
    pub fn home(&self) -> Option<&Arc<crate::home::HomeLeases>> {
        self.shared.home.get()
    }

    /// Whether the server is stopping: joins are refused with close code 1012.
    pub fn is_stopping(&self) -> bool {
        self.shared.is_stopping()
    }

    /// A graceful stop: refuses joins from now on, ends every present hall's interval
    /// as `server_restart` (recorded now), tells each page with close code 1012 and
    /// waits until their close frames are sent. The caller bounds the time.
    ///
    /// A cluster node with another node alive drains instead (`drain.rs`): its meetings
    /// are handed over to living nodes and its halls sent there, their intervals kept
    /// open (they come back within the grace period); sockets bridged from here go to
    /// their meetings' homes.
    pub async fn stop(&self) {
        let drains = self.drains();
        self.shared.stopping.store(true, Ordering::Relaxed);
        let mut links = Vec::new();
        if drains {
            links.extend(self.hand_over_all().await);
        }
        let rooms = self.live_rooms();
        for room in rooms {
            if let Ok(closed) = room.stop().await {
                links.extend(closed);
            }
        }
        // Sockets bridged to rooms on other nodes: sent to (or told to come back to)
        // their home, their rooms told lost.
        if let Some(bridge) = self.shared.bridge.get() {
            links.extend(match drains {
                true => bridge.move_all().await,
                false => bridge.stop().await,
            });
        }
        tracing::info!(
            halls = links.len(),
            drained = drains,
            "stopping: every hall was told where to go"
        );
        // The rooms' live states are written (under their leases) before the leases go:
        // the next room of each meeting takes them up.
        if let Some(states) = self.shared.live_states.get() {
            if !states.flush(Duration::from_secs(3)).await {
                tracing::warn!("stopping: not every room's live state could be written");
            }
        }
        // Another node may be home to these meetings at once.
        if let Some(home) = self.shared.home.get() {
            home.release_all().await;
        }
        for link in links {
            link.closed().await;
        }
    }

    /// The service over `shared` (a task that holds it weakly).
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// This node's SFU (the cascade's relays link and export through it).
    pub fn sfu(&self) -> &Sfu {
        &self.shared.sfu
    }

    /// The service's timings and limits.
    pub fn config(&self) -> &SignalingConfig {
        &self.shared.config
    }

    /// What rooms share (for the feeds' side of the service).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Halls present, and the media port's last figures.
    pub fn load(&self) -> &Load {
        &self.shared.load
    }

    /// Joins counted so far (for `/metrics`).
    pub fn metrics(&self) -> &SignalingMetrics {
        &self.shared.metrics
    }

    /// The live room of a meeting, if any hall is (or was recently) in it.
    pub fn room(&self, meeting_id: i64) -> Option<RoomHandle> {
        let rooms = self
            .shared
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        rooms.get(&meeting_id).cloned()
    }

    /// How many rooms are live.
    pub fn room_count(&self) -> usize {
        self.shared
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The live room of `meeting`, opened if no hall is in it yet (a secretariat may
    /// start a meeting before any hall connects).
    pub fn open_room(&self, meeting: &MeetingInfo) -> RoomHandle {
        let mut rooms = self
            .shared
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        rooms
            .entry(meeting.id)
            .or_insert_with(|| {
                let id = self.shared.next_room.fetch_add(1, Ordering::Relaxed);
                Room::spawn(id, meeting.clone(), Arc::clone(&self.shared))
            })
            .clone()
    }

    /// The room of `meeting` as [`Signaling::open_room`] gives it, once this node is
    /// the meeting's home (with several nodes: it holds, or has just taken, the lease;
    /// refused with `home_elsewhere` when another node holds it).
    pub(crate) async fn home_room(
        &self,
        meeting: &MeetingInfo,
    ) -> Result<RoomHandle, ProtocolError> {
        match self.shared.home.get() {
            None => Ok(self.open_room(meeting)),
            // A stopping node gave its leases up: it must not take them again.
            Some(_) if self.is_stopping() => Err(ProtocolError::new(
                ErrorCode::HomeElsewhere,
                format!("node {} is stopping", self.node_name()),
            )),
            Some(home) => {
                home.open_as_home(meeting.id, || {
                    let room = self.open_room(meeting);
                    let id = room.id;
                    (room, id)
                })
                .await
            }
        }
    }

    /// Puts a hall into its meeting's room (spawning the room if needed); the room
    /// may refuse it (locked, removed, ended).
    pub(crate) async fn join(
        &self,
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
    ) -> Result<Result<(RoomHandle, SessionId), ProtocolError>, Gone> {
        // A room may end between the lookup and the join; then a new one is made.
        for _ in 0..3 {
            let room = match self.home_room(&admission.meeting).await {
                Ok(room) => room,
                Err(refused) => return Ok(Err(refused)),
            };
            match room
                .join(admission.clone(), resume.clone(), link.clone())
                .await
            {
                Ok(joined) => return Ok(joined.map(|session| (room, session))),
                Err(Gone) => self.shared.forget_room(admission.meeting.id, room.id),
            }
        }
        Err(Gone)
    }

    /// Every live room now (the list is copied: no lock is held while they are told).
    pub(crate) fn live_rooms(&self) -> Vec<RoomHandle> {
        self.shared
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The latest media statistics of every hall in every live room (`/metrics`: loss);
    /// a room that does not answer within a second is left out.
    pub async fn hall_stats(&self) -> Vec<crate::room::HallStats> {
        let mut all = Vec::new();
        for room in self.live_rooms() {
            if let Ok(Ok(stats)) = tokio::time::timeout(Duration::from_secs(1), room.stats()).await
            {
                all.extend(stats);
            }
        }
        all
    }

    /// Closes the sockets of a hall that was disabled (or whose room account was), in
    /// every live room: it is out at once, not at its next join.
    pub async fn shut_out_hall(&self, hall_id: i64) {
        let rooms = self.live_rooms();
        for room in rooms {
            // A room that ended meanwhile has nobody to shut out.
            let _ = room.send(Command::ShutOut { hall_id }).await;
        }
    }

    /// Closes the socket of a guest whose invitation was revoked (the store refuses its
    /// link from now on): it is out at once, as a disabled hall is.
    pub async fn shut_out_guest(&self, guest_id: i64) {
        self.shut_out_hall(scheduler::guests::participant_id(guest_id))
            .await;
    }
}
