//! Home-node leases: each live meeting has one home node whose room owns its state
//! (docs/cluster.md). The node that opens the room takes the lease, renews it while the
//! room lives and gives it up when the room ends; a lease not renewed expires, and then
//! another node may take it over. Each take adds one to the lease's epoch (the fencing
//! number): a holder whose renewal finds another epoch has lost the meeting.
//!
//! Every step is one conditional statement, so two nodes racing for one meeting cannot
//! both win: on PostgreSQL the second `UPDATE` waits for the first's row lock and then
//! re-checks its condition; on SQLite writers take turns. Times are the nodes' own
//! clocks (UTC Unix seconds, kept by NTP); a lease is some seconds long, so a skew well
//! below that is harmless.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::Timestamp;
use crate::{Result, Store};

/// Who holds a meeting's lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The meeting.
    pub meeting_id: i64,
    /// The home node.
    pub node_id: String,
    /// The fencing number: one more at each take.
    pub epoch: i64,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// When it lapses unless renewed (0: given up).
    pub expires_at: Timestamp,
}

impl Lease {
    /// Whether it still holds at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at > now
    }
}

/// What [`Store::take_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseTake {
    /// This node is home now: the lease was free, given up, expired or its own.
    Taken(Lease),
    /// Another node holds a live lease: it is home.
    HeldBy(Lease),
}

fn lease(r: &AnyRow) -> Result<Lease> {
    Ok(Lease {
        meeting_id: r.try_get("meeting_id")?,
        node_id: r.try_get("node_id")?,
        epoch: r.try_get("epoch")?,
        taken_at: r.try_get("taken_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

const COLUMNS: &str = "meeting_id, node_id, epoch, taken_at, expires_at";

impl Store {
    /// Makes this store's node the home of `meeting_id` until `now + secs`, unless
    /// another node holds a live lease on it. A take always starts a new epoch (also
    /// over this node's own lease: a room opened anew, or the node restarted).
    pub async fn take_lease(
        &self,
        meeting_id: i64,
        now: Timestamp,
        secs: i64,
    ) -> Result<LeaseTake> {
        let node = &*self.node;
        // A meeting's first lease; a lease already there is kept by `DO NOTHING`.
        let inserted = sqlx::query(&format!(
            "INSERT INTO meeting_leases ({COLUMNS}) VALUES ($1, $2, 1, $3, $4)
             ON CONFLICT (meeting_id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(meeting_id)
        .bind(node)
        .bind(now)
        .bind(now + secs)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(LeaseTake::Taken(lease(&row)?));
        }
        // Take it over if it lapsed (or was given up), or is this node's own.
        let taken = sqlx::query(&format!(
            "UPDATE meeting_leases SET node_id = $1, epoch = epoch + 1, taken_at = $2, expires_at = $3
             WHERE meeting_id = $4 AND (expires_at <= $2 OR node_id = $1) RETURNING {COLUMNS}"
        ))
        .bind(node)
        .bind(now)
        .bind(now + secs)
        .bind(meeting_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(LeaseTake::Taken(lease(&row)?));
        }
        match self.lease(meeting_id).await? {
            Some(held) => Ok(LeaseTake::HeldBy(held)),
            // Rows are never deleted; a lease that vanished is a broken invariant.
            None => Err(crate::Error::Internal(format!(
                "the lease of meeting {meeting_id} vanished"
            ))),
        }
    }

    /// Extends this node's lease `epoch` of `meeting_id` to `now + secs`. False when it
    /// is no longer this node's (another node took it over: this node is not home any
    /// more and must not act for the meeting).
    pub async fn renew_lease(
        &self,
        meeting_id: i64,
        epoch: i64,
        now: Timestamp,
        secs: i64,
    ) -> Result<bool> {
        let renewed = sqlx::query(
            "UPDATE meeting_leases SET expires_at = $1
             WHERE meeting_id = $2 AND node_id = $3 AND epoch = $4",
        )
        .bind(now + secs)
        .bind(meeting_id)
        .bind(&*self.node)
        .bind(epoch)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(renewed == 1)
    }

    /// Gives up this node's lease `epoch` of `meeting_id` (the room ended, the node
    /// stops): any node may take it at once. False when it was not this node's any more.
    pub async fn release_lease(&self, meeting_id: i64, epoch: i64) -> Result<bool> {
        let released = sqlx::query(
            "UPDATE meeting_leases SET expires_at = 0
             WHERE meeting_id = $1 AND node_id = $2 AND epoch = $3",
        )
        .bind(meeting_id)
        .bind(&*self.node)
        .bind(epoch)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released == 1)
    }

    /// The lease of `meeting_id`, live or not, if it ever had one.
    pub async fn lease(&self, meeting_id: i64) -> Result<Option<Lease>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM meeting_leases WHERE meeting_id = $1"
        ))
        .bind(meeting_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(lease).transpose()
    }
}
