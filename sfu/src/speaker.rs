//! Active-speaker detection from the RFC 6464 audio levels carried by each audio packet.
//!
//! The host's screen and the halls' layouts follow whoever speaks; a cough or a short
//! "vâng" must not move the picture. A stream's level is smoothed over a window, a new
//! speaker must be louder than the current one by a margin for a hold time before the
//! change is announced, and a silent speaker is dropped after a timeout.

use crate::hdrext::AudioLevel;
use crate::StreamId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Levels are averaged over this window.
    pub window: Duration,
    /// A challenger must stay dominant this long before it is announced.
    pub hold: Duration,
    /// A smoothed level quieter than this many -dBov counts as silence (background noise).
    pub silence_dbov: u8,
    /// A challenger must be louder than an active current speaker by this many dB.
    pub hysteresis_db: u8,
    /// A current speaker silent this long (with nobody else speaking) is dropped.
    pub silence_timeout: Duration,
    /// How often levels are evaluated.
    pub tick: Duration,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(500),
            hold: Duration::from_secs(1),
            silence_dbov: 50,
            hysteresis_db: 6,
            silence_timeout: Duration::from_secs(2),
            tick: Duration::from_millis(100),
        }
    }
}

/// The announced active speaker changed (`None`: nobody is speaking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakerChange {
    /// The new active speaker's audio stream.
    pub speaker: Option<StreamId>,
}

/// Recent levels of one audio stream.
#[derive(Debug, Clone)]
struct Levels {
    id: StreamId,
    /// (arrival, loudness = 127 - level: 0 is silence, 127 the loudest).
    samples: VecDeque<(Instant, u8)>,
    /// Sum of the loudness values in `samples`.
    sum: u32,
}

impl Levels {
    fn smoothed(&self) -> u8 {
        match u32::try_from(self.samples.len()) {
            Ok(n) if n > 0 => u8::try_from(self.sum / n).unwrap_or(u8::MAX),
            _ => 0,
        }
    }
}

/// Decides which audio stream is the active speaker.
#[derive(Debug, Clone)]
pub struct SpeakerDetector {
    config: SpeakerConfig,
    streams: Vec<Levels>,
    /// The announced speaker.
    current: Option<StreamId>,
    /// A stream dominant since the instant given, not yet announced.
    candidate: Option<(StreamId, Instant)>,
    /// Since when the current speaker has been silent.
    silent_since: Option<Instant>,
    /// Next evaluation; `None` until the first level arrives.
    next_tick: Option<Instant>,
    output: VecDeque<SpeakerChange>,
}

impl SpeakerDetector {
    /// A detector with no streams and no speaker.
    pub fn new(config: SpeakerConfig) -> Self {
        Self {
            config,
            streams: Vec::new(),
            current: None,
            candidate: None,
            silent_since: None,
            next_tick: None,
            output: VecDeque::new(),
        }
    }

    /// The announced speaker.
    pub fn current(&self) -> Option<StreamId> {
        self.current
    }

    /// Whether it has nothing left to do: no streams, no speaker, nothing to announce
    /// (its owner may drop it).
    pub fn is_idle(&self) -> bool {
        self.streams.is_empty() && self.current.is_none() && self.output.is_empty()
    }

    /// Records the level of a packet of stream `id` that arrived at `now`.
    pub fn handle_level(&mut self, now: Instant, id: StreamId, level: AudioLevel) {
        let loudness = 127 - level.level.min(127);
        let i = match self.streams.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                self.streams.push(Levels {
                    id,
                    samples: VecDeque::new(),
                    sum: 0,
                });
                self.streams.len() - 1
            }
        };
        let s = &mut self.streams[i];
        s.samples.push_back((now, loudness));
        s.sum += u32::from(loudness);
        self.next_tick.get_or_insert(now + self.config.tick);
    }

    /// Forgets a stream (its hall left or was muted); announces `None` if it was speaking.
    pub fn remove_stream(&mut self, id: StreamId) {
        self.streams.retain(|s| s.id != id);
        if self.candidate.is_some_and(|(c, _)| c == id) {
            self.candidate = None;
        }
        if self.current == Some(id) {
            self.announce(None);
        }
    }

    /// Evaluates the levels if a tick is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.next_tick {
            Some(at) if now >= at => self.next_tick = Some(now + self.config.tick),
            _ => return,
        }
        let horizon = now.checked_sub(self.config.window);
        for s in &mut self.streams {
            while let Some(&(at, l)) = s.samples.front() {
                if horizon.is_none_or(|h| at >= h) {
                    break;
                }
                s.samples.pop_front();
                s.sum -= u32::from(l);
            }
        }
        let threshold = 127 - self.config.silence_dbov.min(127);
        let level_of = |id| {
            self.streams
                .iter()
                .find(|s| s.id == id)
                .map_or(0, Levels::smoothed)
        };
        let current_level = self.current.map(level_of).filter(|&l| l >= threshold);
        let loudest = self
            .streams
            .iter()
            .filter(|s| Some(s.id) != self.current)
            .map(|s| (s.id, s.smoothed()))
            .filter(|&(_, l)| l >= threshold)
            .max_by_key(|&(_, l)| l);
        let challenger = loudest
            .filter(|&(_, l)| {
                current_level.is_none_or(|c| l >= c.saturating_add(self.config.hysteresis_db))
            })
            .map(|(id, _)| id);

        match (challenger, self.candidate) {
            (Some(id), Some((c, since))) if c == id => {
                if now.saturating_duration_since(since) >= self.config.hold {
                    self.announce(Some(id));
                    return;
                }
            }
            (Some(id), _) => self.candidate = Some((id, now)),
            (None, _) => self.candidate = None,
        }
        if self.current.is_some() && current_level.is_none() {
            let since = *self.silent_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= self.config.silence_timeout {
                self.announce(None);
            }
        } else {
            self.silent_since = None;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// The next speaker change to tell the halls about.
    pub fn poll_output(&mut self) -> Option<SpeakerChange> {
        self.output.pop_front()
    }

    fn announce(&mut self, speaker: Option<StreamId>) {
        self.current = speaker;
        self.candidate = None;
        self.silent_since = None;
        self.output.push_back(SpeakerChange { speaker });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: StreamId = StreamId(1);
    const B: StreamId = StreamId(2);

    /// Feeds 20 ms audio packets with the given -dBov levels for `ms`, ticking as asked.
    fn run(
        d: &mut SpeakerDetector,
        t: &mut Instant,
        ms: u64,
        levels: &[(StreamId, u8)],
    ) -> Vec<Option<StreamId>> {
        let mut changes = Vec::new();
        for _ in 0..ms / 20 {
            *t += Duration::from_millis(20);
            for &(id, level) in levels {
                d.handle_level(
                    *t,
                    id,
                    AudioLevel {
                        voice: level < 50,
                        level,
                    },
                );
            }
            if d.poll_timeout().is_some_and(|at| *t >= at) {
                d.handle_timeout(*t);
            }
            changes.extend(std::iter::from_fn(|| d.poll_output()).map(|c| c.speaker));
        }
        changes
    }

    #[test]
    fn speaker_is_announced_after_the_hold_and_kept_through_short_noise() {
        let mut t = Instant::now();
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        assert_eq!(run(&mut d, &mut t, 900, &[(A, 30), (B, 100)]), []);
        assert_eq!(run(&mut d, &mut t, 600, &[(A, 30), (B, 100)]), [Some(A)]);
        // B coughs for 600 ms, much louder than A: not long enough to take over.
        assert_eq!(run(&mut d, &mut t, 600, &[(A, 30), (B, 0)]), []);
        assert_eq!(run(&mut d, &mut t, 2000, &[(A, 30), (B, 100)]), []);
        assert_eq!(d.current(), Some(A));
    }

    #[test]
    fn hysteresis_keeps_the_current_speaker_against_a_slightly_louder_one() {
        let mut t = Instant::now();
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        run(&mut d, &mut t, 1500, &[(A, 30)]);
        assert_eq!(run(&mut d, &mut t, 3000, &[(A, 30), (B, 27)]), []);
        assert_eq!(run(&mut d, &mut t, 2000, &[(A, 30), (B, 20)]), [Some(B)]);
    }

    #[test]
    fn silence_times_out_and_removal_announces_nobody() {
        let mut t = Instant::now();
        let mut d = SpeakerDetector::new(SpeakerConfig::default());
        assert_eq!(run(&mut d, &mut t, 1500, &[(A, 30)]), [Some(A)]);
        assert_eq!(run(&mut d, &mut t, 1500, &[(A, 127)]), []);
        assert_eq!(run(&mut d, &mut t, 1500, &[(A, 127)]), [None]);
        run(&mut d, &mut t, 1500, &[(B, 30)]);
        assert_eq!(d.current(), Some(B));
        d.remove_stream(B);
        assert_eq!(d.poll_output(), Some(SpeakerChange { speaker: None }));
    }
}
