//! The forwarding policy with plain data: what each hall's slots show.

use super::*;

/// Hall `id` publishing video `id*10` and audio `id*10+1`.
fn hall(id: i64) -> Source {
    let t = id as u64 * 10;
    Source {
        hall_id: id,
        video: Some(StreamId(t)),
        audio: Some(StreamId(t + 1)),
        muted: false,
    }
}

fn muted(id: i64) -> Source {
    Source {
        muted: true,
        ..hall(id)
    }
}

fn viewer(hall_id: i64, video_slots: usize, audio_slots: usize) -> Viewer {
    Viewer {
        hall_id,
        video_slots,
        audio_slots,
        grid_page: 0,
        egress: false,
    }
}

fn stage(floor: Option<i64>, spotlight: Option<i64>) -> Stage<'static> {
    Stage {
        host: 1,
        floor,
        spotlight,
        speakers: &[],
        default_main: None,
    }
}

/// The halls shown, with their layers (`None`: dark).
fn shown(fills: &[Fill]) -> Vec<Option<(i64, u8)>> {
    fills
        .iter()
        .map(|f| f.map(|p| (p.hall_id, p.layer)))
        .collect()
}

fn heard(fills: &[Fill]) -> Vec<Option<i64>> {
    fills.iter().map(|f| f.map(|p| p.hall_id)).collect()
}

#[test]
fn a_hall_sees_the_host_then_the_floor_holder_at_high_quality_and_nothing_else() {
    let sources: Vec<Source> = (1..=6).map(hall).collect();
    let a = assign(&stage(Some(4), None), &sources, &viewer(3, 4, 2));
    assert_eq!(
        shown(&a.video),
        vec![Some((1, HIGH)), Some((4, HIGH)), None, None]
    );
    assert_eq!(a.grid, None);
    // With a spotlight too, it takes the third slot.
    let a = assign(&stage(Some(4), Some(6)), &sources, &viewer(3, 4, 2));
    assert_eq!(
        shown(&a.video),
        vec![Some((1, HIGH)), Some((4, HIGH)), Some((6, HIGH)), None]
    );
    // No floor: the spotlight is the main picture.
    let a = assign(&stage(None, Some(6)), &sources, &viewer(3, 4, 2));
    assert_eq!(shown(&a.video)[1], Some((6, HIGH)));
}

#[test]
fn the_floor_holder_does_not_receive_itself() {
    let sources: Vec<Source> = (1..=4).map(hall).collect();
    let a = assign(&stage(Some(4), None), &sources, &viewer(4, 2, 2));
    assert_eq!(shown(&a.video), vec![Some((1, HIGH)), None]);
    assert_eq!(heard(&a.audio), vec![Some(1), Some(2)]);
}

#[test]
fn audio_comes_from_the_host_the_floor_and_unmuted_halls_never_from_muted_ones() {
    let sources = vec![hall(1), muted(2), muted(3), hall(4), muted(5), hall(6)];
    let a = assign(&stage(Some(5), None), &sources, &viewer(3, 2, 4));
    // Hall 5 holds the floor but was muted by the host: not heard.
    assert_eq!(heard(&a.audio), vec![Some(1), Some(4), Some(6), None]);
    let sources = vec![hall(1), muted(2), muted(3), hall(4), hall(5), hall(6)];
    let a = assign(&stage(Some(5), None), &sources, &viewer(3, 2, 3));
    assert_eq!(heard(&a.audio), vec![Some(1), Some(5), Some(4)]);
}

#[test]
fn recent_speakers_come_first_among_unmuted_halls() {
    let sources: Vec<Source> = (1..=6).map(hall).collect();
    let speakers = [6, 2];
    let stage = Stage {
        host: 1,
        floor: None,
        spotlight: None,
        speakers: &speakers,
        default_main: None,
    };
    let a = assign(&stage, &sources, &viewer(3, 2, 3));
    assert_eq!(heard(&a.audio), vec![Some(1), Some(6), Some(2)]);
}

#[test]
fn the_host_pages_through_every_other_hall_at_the_lowest_layer() {
    let sources: Vec<Source> = (1..=8).map(hall).collect();
    let mut host = viewer(1, 4, 2);
    let a = assign(&stage(Some(5), None), &sources, &host);
    // Slot 0: the floor holder, high; then halls 2, 3, 4 of 2..=8 at the lowest layer.
    assert_eq!(
        shown(&a.video),
        vec![
            Some((5, HIGH)),
            Some((2, LOW)),
            Some((3, LOW)),
            Some((4, LOW))
        ]
    );
    assert_eq!(a.grid, Some((0, 3)));
    host.grid_page = 2;
    let a = assign(&stage(Some(5), None), &sources, &host);
    assert_eq!(
        shown(&a.video),
        vec![Some((5, HIGH)), Some((8, LOW)), None, None]
    );
    assert_eq!(a.grid, Some((2, 3)));
    // A page past the end shows the last.
    host.grid_page = 9;
    assert_eq!(
        assign(&stage(None, None), &sources, &host).grid,
        Some((2, 3))
    );
    // The host hears unmuted halls, not itself.
    assert_eq!(heard(&a.audio), vec![Some(5), Some(2)]);
}

#[test]
fn halls_without_tracks_leave_slots_dark() {
    let silent = Source {
        hall_id: 2,
        video: None,
        audio: None,
        muted: false,
    };
    let a = assign(&stage(Some(2), None), &[hall(1), silent], &viewer(3, 2, 2));
    assert_eq!(shown(&a.video), vec![Some((1, HIGH)), None]);
    assert_eq!(heard(&a.audio), vec![Some(1), None]);
}

#[test]
fn audio_fills_keep_their_places_when_the_set_changes() {
    let p = |id: i64| {
        Some(Placement {
            hall_id: id,
            track: StreamId(id as u64),
            layer: 0,
        })
    };
    let current = vec![p(1), p(4), p(6)];
    // Hall 9 is a new speaker; 4 no longer wanted.
    let wanted = vec![p(1), p(9), p(6)];
    assert_eq!(keep_places(&current, wanted), vec![p(1), p(9), p(6)]);
    let current = vec![p(1), None, p(6)];
    let wanted = vec![p(1), p(6), p(7)];
    assert_eq!(keep_places(&current, wanted), vec![p(1), p(7), p(6)]);
    assert_eq!(keep_places(&[], vec![p(1), None]), vec![p(1), None]);
}

#[test]
fn a_whep_viewer_sees_the_main_picture_else_the_host_and_hears_what_halls_hear() {
    let sources: Vec<Source> = (1..=4).map(hall).collect();
    let egress = Viewer {
        egress: true,
        ..viewer(100, 1, 2)
    };
    let a = assign(&stage(None, None), &sources, &egress);
    assert_eq!(shown(&a.video), vec![Some((1, HIGH))]);
    let a = assign(&stage(Some(3), Some(2)), &sources, &egress);
    assert_eq!(shown(&a.video), vec![Some((3, HIGH))]);
    assert_eq!(heard(&a.audio), vec![Some(1), Some(3)]);
    let a = assign(&stage(None, Some(2)), &sources, &egress);
    assert_eq!(shown(&a.video), vec![Some((2, HIGH))]);
}

#[test]
fn the_default_source_is_the_main_picture_until_someone_has_the_floor() {
    let sources: Vec<Source> = (1..=4).map(hall).collect();
    let relay = Stage {
        default_main: Some(4),
        ..stage(None, None)
    };
    // A hall: the host, then the default source.
    let a = assign(&relay, &sources, &viewer(2, 2, 0));
    assert_eq!(shown(&a.video), vec![Some((1, HIGH)), Some((4, HIGH))]);
    // The floor given to a hall takes the main picture from it.
    let floor = Stage {
        floor: Some(3),
        ..relay
    };
    let a = assign(&floor, &sources, &viewer(2, 2, 0));
    assert_eq!(shown(&a.video), vec![Some((1, HIGH)), Some((3, HIGH))]);
    // The host sees it as its main picture.
    let a = assign(&relay, &sources, &viewer(1, 2, 0));
    assert_eq!(shown(&a.video)[0], Some((4, HIGH)));
}
