//! Hoinghi's domain and store: units, halls, accounts, meetings, invitations and join tokens.
//!
//! Everything persists through [`Store`], one `sqlx::Any` pool over SQLite (the default)
//! or PostgreSQL, with the same SQL and the same tests for both (see [`db`]).

pub mod access;
pub mod accounts;
mod conflicts;
pub mod db;
pub mod devices;
pub mod error;
pub mod feeds;
pub mod floor;
pub mod guests;
pub mod halls;
mod history;
pub mod import;
mod import_diff;
pub mod invitations;
pub mod leases;
pub mod live_states;
pub mod login_devices;
pub mod login_guard;
pub mod login_networks;
pub mod meetings;
pub mod minutes;
pub mod national;
mod password_pool;
pub mod recordings;
pub mod recurrence;
mod revocable;
pub mod schedule;
pub mod scope;
pub mod series;
pub mod tiers;
pub mod time;
pub mod units;

pub use accounts::{
    hash_password, Account, Client, Lifetimes, NewAccount, Principal, Role, SignedIn,
};
pub use db::{Backend, Store, LOCAL_NODE};
pub use devices::{DeviceSession, Session};
pub use error::{Error, JoinRefusal, Result};
pub use feeds::{Feed, FeedKind, NewFeed, NewToken};
pub use guests::{Guest, NewGuest};
pub use halls::Hall;
pub use import::{ImportOptions, ImportReport};
pub use invitations::{Invitation, JoinGrant, MeetingEvent};
pub use leases::{Lease, LeaseTake, TakeOver};
pub use live_states::{LatestRollCall, SavedLiveState};
pub use login_guard::{LockKind, Lockout, LoginCounts, LoginPolicy};
pub use meetings::{Conflict, Meeting, MeetingFilter, MeetingKind, MeetingStatus};
pub use recordings::{Recording, RecordingState};
pub use schedule::{MeetingChange, MeetingDraft};
pub use scope::{Scope, ScopePreview};
pub use tiers::Tier;
pub use units::{Level, Unit, UnitNode};
pub mod attendance;
pub mod carry;
pub mod changes;
pub mod demo;
mod demo_history;
pub mod demo_today;
pub mod live;
pub mod reports;
pub mod testing;
