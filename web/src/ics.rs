//! A hall's calendar feed (RFC 5545), with the join link as RFC 7986 CONFERENCE and URL.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use scheduler::time::to_utc;
use scheduler::{MeetingFilter, MeetingStatus};

use crate::error::ApiResult;
use crate::state::AppState;

/// A text value as a calendar may carry it: line breaks become `\n` (which the crate
/// escapes), other control characters (a bare CR starts a new property line in some
/// readers) are dropped. Names and titles refuse them at input; older rows may have them.
fn text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}

/// `GET /calendar/{feed_token}.ics`: the hall's meetings from 30 days ago on, cancelled ones marked.
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    let hall = state.store.hall_by_feed_token(token).await?;
    let who = scheduler::Principal {
        account: scheduler::Account {
            id: 0,
            username: String::new(),
            display_name: hall.name.clone(),
            role: scheduler::Role::Hall { hall_id: hall.id },
            active: true,
        },
        scope_path: None,
    };
    let filter = MeetingFilter {
        from: Some(scheduler::time::now() - 30 * 86400),
        to: None,
        include_cancelled: true,
    };
    let mut cal = Calendar::new();
    // `Calendar::name` writes NAME unescaped; as TEXT the crate escapes it (RFC 5545 3.3.11).
    let name = text(&format!("Hội nghị — {}", hall.name));
    let mut name_property = Property::new("NAME", &name);
    name_property.add_parameter("VALUE", "TEXT");
    cal.append_property(name_property);
    cal.append_property(Property::new("X-WR-CALNAME", &name));
    cal.append_property(Property::new("X-WR-TIMEZONE", "Asia/Ho_Chi_Minh"));
    for m in state.store.meetings_for(&who, filter).await? {
        let mut event = Event::new();
        event
            .uid(&format!("meeting-{}@hoinghi", m.id))
            .summary(&text(&m.title))
            .description(&text(&m.description))
            .starts(to_utc(m.starts_at))
            .ends(to_utc(m.ends_at))
            .location(&text(&m.host_hall_name))
            .sequence(u32::try_from(m.sequence).unwrap_or(0))
            .timestamp(to_utc(m.updated_at));
        event.status(if m.status == MeetingStatus::Cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
        if let Some(token) = state.store.join_token_of(m.id, hall.id).await? {
            let link = format!("{}/j/{token}", state.public_base);
            event.url(&link);
            let mut conference = Property::new("CONFERENCE", &link);
            conference
                .add_parameter("VALUE", "URI")
                .add_parameter("FEATURE", "AUDIO,VIDEO")
                .add_parameter("LABEL", "Tham gia hội nghị");
            event.append_property(conference);
        }
        cal.push(event.done());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        cal.done().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_start_a_property_line() {
        let mut cal = Calendar::new();
        let mut name = Property::new("NAME", text("Hội nghị — Phòng\r\nNAME:giả"));
        name.add_parameter("VALUE", "TEXT");
        cal.append_property(name);
        let summary = text("Giao ban\rSUMMARY:giả\u{7}");
        cal.push(Event::new().uid("x").summary(&summary).done());
        let ics = cal.done().to_string().replace("\r\n ", "");
        let lines: Vec<&str> = ics.split("\r\n").collect();
        assert!(
            lines.contains(&"NAME;VALUE=TEXT:Hội nghị — Phòng\\nNAME:giả"),
            "{ics}"
        );
        assert!(lines.contains(&"SUMMARY:Giao ban\\nSUMMARY:giả"), "{ics}");
        assert!(!ics.contains('\u{7}'), "{ics}");
        assert_eq!(lines.iter().filter(|l| l.starts_with("NAME")).count(), 1);
        assert_eq!(lines.iter().filter(|l| l.starts_with("SUMMARY")).count(), 1);
    }
}
