//! End-to-end tests: the real hoinghi server on port 0 with a fresh database, over HTTP.

mod api_auth;
mod api_input;
mod api_meetings;
mod calendar;
mod devices;
mod guests;
mod hall_access;
mod input_edges;
mod limits;
mod live;
mod login_guard;
mod meeting_ownership;
mod minutes;
mod national;
mod recordings;
mod recordings_startup;
mod reports;
mod series;
mod whip;
