//! Active speakers over real UDP on 127.0.0.1, every hall through one port (the test
//! client's microphone sends RFC 6464 levels): the louder of two halls speaks, and two
//! meetings at once each get their own speaker, never a hall of the other.
//! Bounded waits only; no assertion on speed.

mod common;

use common::{connect, wait_event};
use sfu::testclient::speaking::Speaking;
use sfu::testclient::TestClient;
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuError, SfuEvent, SpeakerGroup, StreamId};
use std::collections::HashMap;
use tokio::sync::mpsc;

const MEETING_A: SpeakerGroup = SpeakerGroup(1);
const MEETING_B: SpeakerGroup = SpeakerGroup(2);

/// The SFU's events as the tests read them: speaker changes, in order, checked against
/// the microphones' tracks published before them.
struct Announcements {
    events: mpsc::Receiver<SfuEvent>,
    /// Each hall's microphone, from `TrackPublished`.
    microphones: HashMap<PeerId, StreamId>,
}

impl Announcements {
    /// The next change of any group's speaker: (group, the hall now speaking). The
    /// track it names is that hall's microphone.
    async fn next_change(&mut self) -> (SpeakerGroup, Option<PeerId>) {
        let microphones = &mut self.microphones;
        let (group, speaker) = wait_event(&mut self.events, |e| match e {
            SfuEvent::TrackPublished {
                peer,
                track,
                kind: MediaKind::Audio,
                ..
            } => {
                microphones.insert(*peer, *track);
                None
            }
            SfuEvent::ActiveSpeakerChanged { group, peer, track } => {
                Some((*group, peer.zip(*track)))
            }
            _ => None,
        })
        .await;
        if let Some((peer, track)) = speaker {
            assert_eq!(
                self.microphones.get(&peer),
                Some(&track),
                "{peer:?}'s microphone"
            );
        }
        (group, speaker.map(|(peer, _)| peer))
    }
}

/// Connects each hall (placed in its group, if any), then starts their microphones
/// at their levels in -dBov (0 loudest), in order; events are left for
/// [`Announcements`]. Nobody speaks before every hall is connected.
async fn speaking_halls(
    sfu: &Sfu,
    halls: &[(PeerId, Option<SpeakerGroup>, u8)],
) -> HashMap<PeerId, (TestClient, Speaking)> {
    let mut clients = Vec::new();
    for &(peer, group, _) in halls {
        let client = TestClient::publisher().await.expect("publisher");
        connect(sfu, peer, &client).await;
        if let Some(group) = group {
            sfu.set_speaker_group(peer, group)
                .await
                .expect("a known peer");
        }
        clients.push(client);
    }
    let mut mics = HashMap::new();
    for (client, &(peer, _, level)) in clients.into_iter().zip(halls) {
        let speaking = client.start_speaking(level).await.expect("speaking");
        mics.insert(peer, (client, speaking));
    }
    mics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_louder_of_two_halls_becomes_the_active_speaker() {
    let (sfu, events) = Sfu::start(SfuConfig::default()).expect("binds");
    let mut told = Announcements {
        events,
        microphones: HashMap::new(),
    };
    let (quiet, loud) = (PeerId(1), PeerId(2));
    // -10 dBov (loud) and -40 dBov (quiet but above the silence floor); never grouped.
    let mics = speaking_halls(&sfu, &[(loud, None, 10), (quiet, None, 40)]).await;
    let ungrouped = SpeakerGroup::default();
    assert_eq!(told.next_change().await, (ungrouped, Some(loud)));

    // The loud hall falls silent and the other speaks up: it takes the floor.
    mics[&loud].1.set_level(127);
    mics[&quiet].1.set_level(5);
    assert_eq!(told.next_change().await, (ungrouped, Some(quiet)));
    for (_, (_, speaking)) in mics {
        speaking.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meetings_on_one_port_each_get_their_own_active_speaker() {
    let (sfu, events) = Sfu::start(SfuConfig::default()).expect("binds");
    let mut told = Announcements {
        events,
        microphones: HashMap::new(),
    };
    assert_eq!(
        sfu.set_speaker_group(PeerId(9), MEETING_A).await,
        Err(SfuError::UnknownPeer(PeerId(9)))
    );
    // Levels in -dBov (0 loudest). The loudest hall of all is in meeting A; meeting B
    // speaks more softly and must still have a speaker of its own.
    let halls = [
        (PeerId(1), Some(MEETING_A), 10),
        (PeerId(2), Some(MEETING_A), 40),
        (PeerId(3), Some(MEETING_B), 30),
        (PeerId(4), Some(MEETING_B), 45),
    ];
    let mics = speaking_halls(&sfu, &halls).await;

    // Each meeting announces its loudest hall, once.
    let mut first = vec![told.next_change().await, told.next_change().await];
    first.sort();
    let hall = |n| Some(PeerId(n));
    assert_eq!(first, [(MEETING_A, hall(1)), (MEETING_B, hall(3))]);

    // In meeting B the speaker falls silent and the other hall speaks up: only B's
    // speaker changes; meeting A hears nothing of it.
    mics[&PeerId(3)].1.set_level(127);
    mics[&PeerId(4)].1.set_level(20);
    assert_eq!(told.next_change().await, (MEETING_B, hall(4)));

    // Meeting A's speaker leaves: A has nobody, then its other hall; B keeps its own.
    sfu.close_peer(PeerId(1)).await.expect("a known peer");
    assert_eq!(told.next_change().await, (MEETING_A, None));
    assert_eq!(told.next_change().await, (MEETING_A, hall(2)));
    for (_, (_, speaking)) in mics {
        speaking.stop().await;
    }
}
