//! Who may do what: role checks shared by every operation.

use crate::accounts::{Principal, Role};
use crate::{Error, Result};

impl Principal {
    /// True for the administrator.
    pub fn is_admin(&self) -> bool {
        self.account.role == Role::Admin
    }

    /// The hall of a room account.
    pub fn hall_id(&self) -> Option<i64> {
        match self.account.role {
            Role::Hall { hall_id } => Some(hall_id),
            _ => None,
        }
    }

    /// True when the caller may act on the subtree at `path` (admin: everywhere;
    /// secretariat: inside its unit's subtree; hall: nowhere).
    pub fn covers(&self, path: &str) -> bool {
        match (&self.account.role, &self.scope_path) {
            (Role::Admin, _) => true,
            (Role::Secretariat { .. }, Some(scope)) => path.starts_with(scope.as_str()),
            _ => false,
        }
    }

    /// Fails unless the caller is the administrator.
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden("administrators only"))
        }
    }

    /// Fails unless the caller is an administrator or a secretariat.
    pub fn require_staff(&self) -> Result<()> {
        match self.account.role {
            Role::Admin | Role::Secretariat { .. } => Ok(()),
            Role::Hall { .. } => Err(Error::Forbidden("room accounts cannot do this")),
        }
    }
}
