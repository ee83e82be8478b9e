//! The scheduler's error type: what went wrong, split into the caller's mistakes and ours.

use crate::meetings::Conflict;

/// Everything the scheduler can refuse or fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of the input is invalid; `field` names it for the form or API client.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A scope asks for a level that has no units under its root on the meeting's date
    /// (districts after the reform of 1 July 2025).
    #[error("scope.levels: {root} has no {} units on {date}", .level.as_str())]
    LevelNotOnDate {
        level: crate::units::Level,
        root: String,
        date: chrono::NaiveDate,
    },
    /// The thing asked for does not exist (or the caller may not know it exists).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is known but lacks the right to do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Login failed: wrong user name or password (never says which).
    #[error("wrong user name or password")]
    BadCredentials,
    /// A room account's password was right but its hall is disabled: disabled means out,
    /// so no session is opened (told only to whoever knows the password).
    #[error("this hall has been disabled; its room account cannot log in")]
    HallDisabled,
    /// The session token is unknown, expired or revoked.
    #[error("session expired or unknown")]
    Unauthenticated,
    /// Halls invited to this meeting are already invited to overlapping meetings.
    #[error("{} conflicting meeting(s)", .0.len())]
    Conflict(Vec<Conflict>),
    /// A unique value is already taken (user name, code …).
    #[error("{0} already exists")]
    Duplicate(String),
    /// The thing asked for existed but is gone for good (`code`: `recording_deleted`,
    /// `recording_expired`).
    #[error("gone: {0}")]
    Gone(&'static str),
    /// The thing cannot be changed in the state it is in (`code`: `recording_in_progress`).
    #[error("not now: {0}")]
    WrongState(&'static str),
    /// A join token is valid but not usable now (too early, ended, cancelled).
    #[error("join refused: {0}")]
    JoinRefused(JoinRefusal),
    /// A CSV import failed; nothing was written.
    #[error("line {line}, column {column}: {message}")]
    Import {
        line: u64,
        column: String,
        message: String,
    },
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations failed at start-up.
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Too many failed logins for this account name or from this address: no password
    /// is checked before `until`.
    #[error("too many failed logins; try again after {}", crate::time::display_local(*until))]
    TooManyAttempts { until: crate::time::Timestamp },
    /// Too many password checks are running; try again in a moment.
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    /// Anything else of ours.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a join token cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinRefusal {
    /// The token opens a little before the start; this is earlier than that.
    TooEarly,
    /// The meeting has ended: the token has expired.
    Expired,
    /// The meeting was cancelled.
    Cancelled,
    /// The token belongs to another hall than the one presenting it.
    ForeignHall,
    /// The hall, or every room account it has, was disabled by an administrator.
    HallDisabled,
    /// The guest's invitation was revoked by the meeting's staff.
    GuestRevoked,
}

impl std::fmt::Display for JoinRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JoinRefusal::TooEarly => "the meeting is not open yet",
            JoinRefusal::Expired => "the meeting has ended; the token has expired",
            JoinRefusal::Cancelled => "the meeting was cancelled",
            JoinRefusal::ForeignHall => "the token belongs to another hall",
            JoinRefusal::HallDisabled => "this hall has been disabled",
            JoinRefusal::GuestRevoked => "this guest invitation was revoked",
        })
    }
}

impl Error {
    /// Shorthand for a field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Error {
    /// Whether trying the same thing again later may succeed: the database was away,
    /// busy, full or failing — not a refusal of the data itself (a constraint, a
    /// validation, a missing row), which no retry changes.
    pub fn is_transient(&self) -> bool {
        use sqlx::error::ErrorKind;
        match self {
            Error::Database(sqlx::Error::Database(e)) => !matches!(
                e.kind(),
                ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation
            ),
            Error::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    // A connection left in a failed transaction (see `Store::connect`).
                    | sqlx::Error::InvalidSavePointStatement
            ),
            _ => false,
        }
    }
}

/// The scheduler's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
