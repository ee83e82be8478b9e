//! Who may join: a join token checked into an [`Admission`], refusals as protocol error codes.

use crate::protocol::{ErrorCode, HallInfo, MeetingInfo, ProtocolError};
use std::future::Future;

/// A hall admitted to a meeting: the identity the room trusts from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The meeting.
    pub meeting: MeetingInfo,
    /// The hall, from its token (never from the page).
    pub hall: HallInfo,
}

impl From<scheduler::JoinGrant> for Admission {
    fn from(grant: scheduler::JoinGrant) -> Self {
        Admission {
            meeting: MeetingInfo::from(grant.meeting),
            // A guest's id is its negative participant id (`scheduler::guests`).
            hall: HallInfo {
                id: grant.hall_id,
                name: grant.hall_name,
            },
        }
    }
}

/// Checks join tokens: the web server's implementation asks the scheduler's store (with
/// the logged-in principal, if any); tests use a table.
pub trait Admit: Send + Sync {
    /// The admission a token grants now, or why not.
    fn admit(&self, token: &str) -> impl Future<Output = Result<Admission, ProtocolError>> + Send;
}

/// Checks join tokens against the scheduler's store, now — as the logged-in principal
/// (`presenter`), if any: the web server's admission, also used by tests over a real store.
#[derive(Clone)]
pub struct StoreAdmit {
    /// The store holding the invitations.
    pub store: scheduler::Store,
    /// Who opened the page, when logged in (a secretariat presenting for a hall).
    pub presenter: Option<scheduler::Principal>,
}

impl StoreAdmit {
    /// Admission by token alone.
    pub fn new(store: scheduler::Store) -> Self {
        Self {
            store,
            presenter: None,
        }
    }
}

impl Admit for StoreAdmit {
    async fn admit(&self, token: &str) -> Result<Admission, ProtocolError> {
        let now = scheduler::time::now();
        self.store
            .check_join_token(token, self.presenter.as_ref(), now)
            .await
            .map(Admission::from)
            .map_err(|e| refusal(&e))
    }
}

/// The protocol error for a failed token check.
pub fn refusal(error: &scheduler::Error) -> ProtocolError {
    use scheduler::{Error, JoinRefusal};
    let code = match error {
        Error::NotFound(_) => ErrorCode::JoinRefused,
        Error::JoinRefused(JoinRefusal::Expired) => ErrorCode::TokenExpired,
        Error::JoinRefused(JoinRefusal::TooEarly) => ErrorCode::TokenTooEarly,
        Error::JoinRefused(JoinRefusal::Cancelled) => ErrorCode::MeetingCancelled,
        Error::JoinRefused(JoinRefusal::ForeignHall) => ErrorCode::TokenForeignHall,
        Error::JoinRefused(JoinRefusal::HallDisabled) => ErrorCode::JoinRefused,
        Error::JoinRefused(JoinRefusal::GuestRevoked) => ErrorCode::GuestRevoked,
        other => {
            tracing::error!(error = %other, "join token check failed");
            return ProtocolError::new(ErrorCode::Internal, "the join could not be checked");
        }
    };
    let message = match error {
        Error::NotFound(_) => "unknown join token".to_owned(),
        other => other.to_string(),
    };
    ProtocolError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler::{Error, JoinRefusal};

    #[test]
    fn refusals_map_to_their_codes() {
        for (error, code) in [
            (Error::NotFound("join token"), ErrorCode::JoinRefused),
            (
                Error::JoinRefused(JoinRefusal::Expired),
                ErrorCode::TokenExpired,
            ),
            (
                Error::JoinRefused(JoinRefusal::TooEarly),
                ErrorCode::TokenTooEarly,
            ),
            (
                Error::JoinRefused(JoinRefusal::Cancelled),
                ErrorCode::MeetingCancelled,
            ),
            (
                Error::JoinRefused(JoinRefusal::ForeignHall),
                ErrorCode::TokenForeignHall,
            ),
            (
                Error::JoinRefused(JoinRefusal::HallDisabled),
                ErrorCode::JoinRefused,
            ),
            (
                Error::JoinRefused(JoinRefusal::GuestRevoked),
                ErrorCode::GuestRevoked,
            ),
            (Error::Internal("disk".into()), ErrorCode::Internal),
        ] {
            assert_eq!(refusal(&error).code, code, "{error:?}");
        }
    }
}
