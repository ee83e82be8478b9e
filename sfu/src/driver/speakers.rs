//! Active speakers per group of halls (a meeting): one [`SpeakerDetector`] per
//! [`SpeakerGroup`], fed the audio levels of its connections' microphones, so two
//! meetings on one port each have their own speaker.
//!
//! A connection is in the default group until the owner places it
//! ([`Sfu::set_speaker_group`](crate::Sfu::set_speaker_group)); a detector is made at
//! its group's first level and dropped once idle (nobody left, nothing to announce).

use super::demux::ConnIndex;
use super::relay::speaker_home;
use super::router::Router;
use crate::event::{MediaKind, SfuEvent, SpeakerGroup};
use crate::hdrext::AudioLevel;
use crate::{SpeakerChange, SpeakerConfig, SpeakerDetector, StreamId};
use std::collections::HashMap;
use std::time::Instant;

/// The detectors of the groups that have audio, and which group each connection is in.
#[derive(Debug, Default)]
pub(super) struct Speakers {
    config: SpeakerConfig,
    /// Connections placed in a group other than the default one.
    groups: HashMap<ConnIndex, SpeakerGroup>,
    /// One detector per group that has heard a level and is not idle.
    detectors: HashMap<SpeakerGroup, SpeakerDetector>,
}

impl Speakers {
    /// The group of connection `conn`.
    pub(super) fn group_of(&self, conn: ConnIndex) -> SpeakerGroup {
        self.groups.get(&conn).copied().unwrap_or_default()
    }

    /// The level of a packet of `stream`, whose hall is in `group`, at `now`.
    pub(super) fn handle_level(
        &mut self,
        now: Instant,
        group: SpeakerGroup,
        stream: StreamId,
        level: AudioLevel,
    ) {
        let config = self.config;
        self.detectors
            .entry(group)
            .or_insert_with(|| SpeakerDetector::new(config))
            .handle_level(now, stream, level);
    }

    /// Moves connection `conn`, whose microphones are `streams`, into `group`; its
    /// old group forgets them (and announces nobody if one of them was speaking).
    pub(super) fn set_group(
        &mut self,
        conn: ConnIndex,
        group: SpeakerGroup,
        streams: impl IntoIterator<Item = StreamId>,
    ) {
        let old = self.group_of(conn);
        if old == group {
            return;
        }
        if let Some(detector) = self.detectors.get_mut(&old) {
            for stream in streams {
                detector.remove_stream(stream);
            }
        }
        if group == SpeakerGroup::default() {
            self.groups.remove(&conn);
        } else {
            self.groups.insert(conn, group);
        }
    }

    /// Forgets a stream (unpublished); its group announces nobody if it was speaking.
    pub(super) fn remove_stream(&mut self, stream: StreamId) {
        for detector in self.detectors.values_mut() {
            detector.remove_stream(stream);
        }
    }

    /// Forgets a connection's group (it is gone; its index may be reused).
    pub(super) fn remove_conn(&mut self, conn: ConnIndex) {
        self.groups.remove(&conn);
    }

    /// Evaluates the groups whose tick is due.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for detector in self.detectors.values_mut() {
            if detector.poll_timeout().is_some_and(|t| t <= now) {
                detector.handle_timeout(now);
            }
        }
    }

    /// The next change of a group's speaker; once none is left, idle detectors go.
    pub(super) fn poll_output(&mut self) -> Option<(SpeakerGroup, SpeakerChange)> {
        let change = self
            .detectors
            .iter_mut()
            .find_map(|(&group, d)| d.poll_output().map(|c| (group, c)));
        if change.is_none() {
            self.detectors.retain(|_, d| !d.is_idle());
        }
        change
    }

    /// The earliest tick of any group.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.detectors
            .values()
            .filter_map(SpeakerDetector::poll_timeout)
            .min()
    }
}

impl Router {
    /// Places connection `conn` in speaker group `group` (its published audio with it).
    pub(super) fn set_speaker_group(&mut self, conn: ConnIndex, group: SpeakerGroup) {
        let audio = self
            .routes
            .iter()
            .filter(|(_, r)| r.publisher() == Some(conn) && r.kind == MediaKind::Audio)
            .map(|(&stream, _)| stream);
        let audio: Vec<StreamId> = audio.collect();
        let old = self.speakers.group_of(conn);
        self.speakers.set_group(conn, group, audio.iter().copied());
        // The old group's detector is on another worker: it forgets them too.
        if old != group && speaker_home(old, self.shared.workers) != self.worker {
            for stream in audio {
                self.silence_elsewhere(stream);
            }
        }
    }

    /// Evaluates the audio levels; a group's new active speaker becomes an event for the
    /// caller.
    pub(super) fn speaker_timeout(&mut self, now: Instant) {
        self.speakers.handle_timeout(now);
        while let Some((group, change)) = self.speakers.poll_output() {
            // A stream of another worker is named by the directory.
            let peer = change.speaker.and_then(|t| match self.routes.get(&t) {
                Some(r) => Some(r.owner),
                None => self.shared.stream(t).map(|p| p.owner),
            });
            self.outbox.push_back(SfuEvent::ActiveSpeakerChanged {
                group,
                peer,
                track: change.speaker,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MEETING_A: SpeakerGroup = SpeakerGroup(7);
    const MEETING_B: SpeakerGroup = SpeakerGroup(8);

    /// Feeds 20 ms packets from (connection, stream, -dBov level) for `ms`, ticking as
    /// the detectors ask; returns the changes announced, with their groups.
    fn run(
        s: &mut Speakers,
        t: &mut Instant,
        ms: u64,
        mics: &[(ConnIndex, StreamId, u8)],
    ) -> Vec<(SpeakerGroup, Option<StreamId>)> {
        let mut changes = Vec::new();
        for _ in 0..ms / 20 {
            *t += Duration::from_millis(20);
            for &(conn, stream, level) in mics {
                let voice = level < 127;
                let group = s.group_of(conn);
                s.handle_level(*t, group, stream, AudioLevel { voice, level });
            }
            if s.poll_timeout().is_some_and(|at| at <= *t) {
                s.handle_timeout(*t);
            }
            changes.extend(std::iter::from_fn(|| s.poll_output()).map(|(g, c)| (g, c.speaker)));
        }
        changes
    }

    #[test]
    fn each_group_announces_its_own_speaker() {
        let (a1, a2, b1, b2) = (StreamId(1), StreamId(2), StreamId(3), StreamId(4));
        let mut s = Speakers::default();
        for (conn, group) in [
            (0, MEETING_A),
            (1, MEETING_A),
            (2, MEETING_B),
            (3, MEETING_B),
        ] {
            s.set_group(conn, group, []);
        }
        let mut t = Instant::now();
        // The loudest hall of all is in meeting A; meeting B still has its own speaker.
        let mics = [(0, a1, 10), (1, a2, 40), (2, b1, 30), (3, b2, 45)];
        let mut changes = run(&mut s, &mut t, 1500, &mics);
        changes.sort();
        assert_eq!(changes, [(MEETING_A, Some(a1)), (MEETING_B, Some(b1))]);
        // b1 falls silent, b2 speaks up: only meeting B changes.
        let mics = [(0, a1, 10), (1, a2, 40), (2, b1, 127), (3, b2, 35)];
        assert_eq!(run(&mut s, &mut t, 2000, &mics), [(MEETING_B, Some(b2))]);
    }

    #[test]
    fn a_speaker_moved_to_another_group_leaves_its_old_group_silent() {
        let (a, b) = (StreamId(1), StreamId(2));
        let mut s = Speakers::default();
        let mut t = Instant::now();
        let ungrouped = SpeakerGroup::default();
        let mics = [(0, a, 20), (1, b, 30)];
        assert_eq!(run(&mut s, &mut t, 1500, &mics), [(ungrouped, Some(a))]);
        s.set_group(0, MEETING_A, [a]);
        s.set_group(1, MEETING_B, [b]);
        let mut changes = run(&mut s, &mut t, 1500, &mics);
        changes.sort();
        assert_eq!(
            changes,
            [
                (ungrouped, None),
                (MEETING_A, Some(a)),
                (MEETING_B, Some(b))
            ]
        );
        assert!(
            !s.detectors.contains_key(&ungrouped),
            "the idle group is gone"
        );
        // Meeting B's hall leaves: B announces nobody, then B's detector goes too.
        s.remove_stream(b);
        s.remove_conn(1);
        assert_eq!(run(&mut s, &mut t, 100, &[(0, a, 20)]), [(MEETING_B, None)]);
        run(&mut s, &mut t, 100, &[(0, a, 20)]);
        let live: Vec<_> = s.detectors.keys().copied().collect();
        assert_eq!(live, [MEETING_A]);
    }
}
