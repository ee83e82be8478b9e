//! Which hall fills which receive slot: the one replaceable subscription policy.
//!
//! A pure function of the meeting (who is present, who hosts, who has the floor, who is
//! in the spotlight, who is muted, who spoke last) and of one viewer (its slots, its grid
//! page) — the room applies what it returns as a diff of SFU subscriptions. A hall never
//! receives every other hall:
//!
//! - a hall's video slots: 0 = the host, 1 = the floor holder (else the spotlight),
//!   2 = the spotlight when someone else has the floor; all at the high layer; the rest
//!   stay dark;
//! - the host's video slots: 0 = the floor holder (else the spotlight) at the high layer,
//!   the rest page through every other hall at the lowest layer (its monitoring grid);
//! - audio slots: the host, the floor holder, then unmuted halls, most recent speakers
//!   first, then in join order. A muted hall's audio goes to no one.
//!
//! A WHEP viewer (an egress: a TV station, a lobby screen) is not a hall: its one video
//! slot shows the main picture — what halls see large: the floor holder, else the
//! spotlight, else the meeting's default source (a `national_relay` meeting's ingest),
//! else the host — and its audio slots hear what halls hear.
//!
//! Nobody receives itself.

use sfu::{StreamId, MAX_LAYER};

/// The simulcast layer for the main picture.
pub const HIGH: u8 = MAX_LAYER;
/// The simulcast layer for grid tiles.
pub const LOW: u8 = 0;

/// A hall that may be shown: its identity, its tracks and whether it is muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The hall.
    pub hall_id: i64,
    /// Its camera, if published.
    pub video: Option<StreamId>,
    /// Its microphone, if published.
    pub audio: Option<StreamId>,
    /// Muted by the host or by itself: its audio is forwarded to no one.
    pub muted: bool,
}

/// The meeting's roles, the same for every viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage<'a> {
    /// The host hall.
    pub host: i64,
    /// The hall holding the floor.
    pub floor: Option<i64>,
    /// The hall in the spotlight.
    pub spotlight: Option<i64>,
    /// Halls that spoke, most recent first (from active-speaker detection).
    pub speakers: &'a [i64],
    /// The main picture when nobody holds the floor or the spotlight (a
    /// `national_relay` meeting's ingest source).
    pub default_main: Option<i64>,
}

/// One viewer: who it is and what it can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The viewing hall.
    pub hall_id: i64,
    /// Its negotiated video slots.
    pub video_slots: usize,
    /// Its negotiated audio slots.
    pub audio_slots: usize,
    /// The host's grid page (ignored for other halls).
    pub grid_page: usize,
    /// A WHEP viewer: its first video slot shows the main picture.
    pub egress: bool,
}

/// What one slot shows: a hall's track at a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The hall shown.
    pub hall_id: i64,
    /// Its track.
    pub track: StreamId,
    /// The highest simulcast layer for this slot.
    pub layer: u8,
}

/// What one slot should show (`None`: dark).
pub type Fill = Option<Placement>;

/// The fill of a viewer's video and audio slots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// One entry per video slot, in slot order.
    pub video: Vec<Fill>,
    /// One entry per audio slot, in slot order.
    pub audio: Vec<Fill>,
    /// The grid page shown (clamped) and how many there are; `None` for non-hosts.
    pub grid: Option<(usize, usize)>,
}

/// Fills the slots of `viewer` from `sources` (in join order).
pub fn assign(stage: &Stage, sources: &[Source], viewer: &Viewer) -> Assignment {
    let find = |id: i64| sources.iter().find(|s| s.hall_id == id);
    let video_of = |id: i64, layer: u8| -> Fill {
        if id == viewer.hall_id {
            return None;
        }
        let s = find(id)?;
        s.video.map(|track| Placement {
            hall_id: id,
            track,
            layer,
        })
    };
    // The main pictures: the floor holder, then the spotlight, never the host twice.
    let mut main: Vec<i64> = Vec::new();
    let chosen = [stage.floor, stage.spotlight].into_iter().flatten();
    let default = stage
        .default_main
        .filter(|_| stage.floor.is_none() && stage.spotlight.is_none());
    for id in chosen.chain(default) {
        if id != stage.host && id != viewer.hall_id && !main.contains(&id) {
            main.push(id);
        }
    }
    let mut video: Vec<Fill> = vec![None; viewer.video_slots];
    let mut grid = None;
    if viewer.egress {
        // The stream halls see large: the main picture, else the host.
        if let Some(first) = video.first_mut() {
            let shown = main.first().copied().unwrap_or(stage.host);
            *first = video_of(shown, HIGH);
        }
    } else if viewer.hall_id == stage.host {
        if let Some(first) = video.first_mut() {
            *first = main.first().and_then(|&id| video_of(id, HIGH));
        }
        let size = viewer.video_slots.saturating_sub(1);
        let halls: Vec<i64> = sources
            .iter()
            .filter(|s| s.hall_id != stage.host && s.video.is_some())
            .map(|s| s.hall_id)
            .collect();
        let pages = if size == 0 {
            0
        } else {
            halls.len().div_ceil(size).max(1)
        };
        let page = viewer.grid_page.min(pages.saturating_sub(1));
        for (slot, &id) in video.iter_mut().skip(1).zip(halls.iter().skip(page * size)) {
            *slot = video_of(id, LOW);
        }
        grid = Some((page, pages));
    } else {
        let wanted = std::iter::once(stage.host).chain(main);
        for (slot, id) in video.iter_mut().zip(wanted) {
            *slot = video_of(id, HIGH);
        }
    }
    Assignment {
        video,
        audio: audio(stage, sources, viewer),
        grid,
    }
}

/// The audio slots: host, floor holder, recent speakers, others — unmuted only.
fn audio(stage: &Stage, sources: &[Source], viewer: &Viewer) -> Vec<Fill> {
    let order = [stage.host]
        .into_iter()
        .chain(stage.floor)
        .chain(stage.speakers.iter().copied())
        .chain(sources.iter().map(|s| s.hall_id));
    let mut chosen: Vec<Fill> = Vec::with_capacity(viewer.audio_slots);
    for id in order {
        if chosen.len() == viewer.audio_slots {
            break;
        }
        if id == viewer.hall_id || chosen.iter().flatten().any(|p| p.hall_id == id) {
            continue;
        }
        let Some(s) = sources.iter().find(|s| s.hall_id == id && !s.muted) else {
            continue;
        };
        if let Some(track) = s.audio {
            chosen.push(Some(Placement {
                hall_id: id,
                track,
                layer: 0,
            }));
        }
    }
    chosen.resize(viewer.audio_slots, None);
    chosen
}

/// Keeps fills where they already are: a wanted hall already in some slot stays there,
/// the others take the free slots in order. For audio, whose slot order means nothing,
/// so a new speaker never reshuffles the others (fewer switches, fewer gaps).
pub fn keep_places(current: &[Fill], wanted: Vec<Fill>) -> Vec<Fill> {
    let same = |a: &Placement, b: &Placement| a.hall_id == b.hall_id && a.track == b.track;
    let mut out: Vec<Fill> = current
        .iter()
        .map(|c| {
            c.filter(|c| wanted.iter().flatten().any(|w| same(w, c)))
                .and_then(|c| wanted.iter().flatten().find(|w| same(w, &c)).copied())
        })
        .collect();
    out.resize(wanted.len(), None);
    out.truncate(wanted.len());
    let placed: Vec<Placement> = out.iter().flatten().copied().collect();
    let mut rest = wanted
        .into_iter()
        .flatten()
        .filter(|w| !placed.iter().any(|p| same(p, w)));
    for slot in out.iter_mut().filter(|s| s.is_none()) {
        *slot = rest.next();
    }
    out
}

#[cfg(test)]
mod tests;
