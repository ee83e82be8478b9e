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

/// What [`Store::take_over_lease`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOver {
    /// The lease as this node holds it now.
    pub lease: Lease,
    /// The lease it replaced.
    pub from: Lease,
    /// How many intervals the previous holder had left open (now closed).
    pub closed: u64,
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
        // Take it over if it lapsed (or was given up), or is this node's own. A take
        // that loses a race finds the winner's lease at the next look.
        for _ in 0..3 {
            let Some(found) = self.lease(meeting_id).await? else {
                break;
            };
            if found.is_live(now) && found.node_id != node {
                return Ok(LeaseTake::HeldBy(found));
            }
            if let Some(over) = self.take_over_lease(&found, now, secs).await? {
                return Ok(LeaseTake::Taken(over.lease));
            }
        }
        match self.lease(meeting_id).await? {
            Some(held) => Ok(LeaseTake::HeldBy(held)),
            // Rows are never deleted; a lease that vanished is a broken invariant.
            None => Err(crate::Error::Internal(format!(
                "the lease of meeting {meeting_id} vanished"
            ))),
        }
    }

    /// Takes over `found` — a lease as read a moment ago that lapsed, was given up, or
    /// is this node's own — unless it changed since (another node took it first: then
    /// `None`). One transaction: the lease moves to this node with epoch + 1, and if it
    /// had lapsed (not been given up) the intervals of the meeting that its *previous
    /// holder* left open are closed at that node's last presence write (`node_lost`, or `network_lost` when the link had dropped), so a
    /// hall coming back through the new home opens a new interval.
    pub async fn take_over_lease(
        &self,
        found: &Lease,
        now: Timestamp,
        secs: i64,
    ) -> Result<Option<TakeOver>> {
        let node = &*self.node;
        let mut tx = self.begin_write().await?;
        // Compare and set on the epoch: on PostgreSQL a racing taker waits for this
        // row's lock, then finds another epoch and updates nothing.
        let taken = sqlx::query(&format!(
            "UPDATE meeting_leases SET node_id = $1, epoch = epoch + 1, taken_at = $2, expires_at = $3
             WHERE meeting_id = $4 AND epoch = $5 AND (expires_at <= $2 OR node_id = $1)
             RETURNING {COLUMNS}"
        ))
        .bind(node)
        .bind(now)
        .bind(now + secs)
        .bind(found.meeting_id)
        .bind(found.epoch)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = taken else {
            return Ok(None);
        };
        let taken = lease(&row)?;
        // A lease given up (expires_at 0) was given up by a node that recorded its halls'
        // leaves itself (a graceful stop): only a lapsed one left intervals behind.
        let closed = if found.node_id != node && found.expires_at > 0 {
            crate::attendance::write::close_left_open(
                &mut tx,
                &found.node_id,
                Some(found.meeting_id),
                crate::attendance::LeaveReason::NodeLost,
            )
            .await?
        } else {
            0
        };
        tx.commit().await?;
        Ok(Some(TakeOver {
            lease: taken,
            from: found.clone(),
            closed,
        }))
    }

    /// Closes the intervals that a previous home of this node's meetings left open and
    /// that no hall continued within `grace_secs` (plus `slack_secs`, so a rejoin still
    /// in the attendance writer's queue is not raced): halls a draining node handed over
    /// that never came back. Each is closed at its last presence write, `network_lost`
    /// (docs/cluster.md, draining). Returns how many.
    pub async fn close_strays(
        &self,
        now: Timestamp,
        grace_secs: i64,
        slack_secs: i64,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let before = now - grace_secs - slack_secs;
        let closed =
            crate::attendance::write::close_strays(&mut tx, &self.node, now, before).await?;
        tx.commit().await?;
        Ok(closed)
    }

    /// The identity of the cluster sharing this database (drawn once by migration 0016):
    /// nodes beat with it on NATS and ignore other clusters' beats.
    pub async fn cluster_identity(&self) -> Result<String> {
        let row = sqlx::query("SELECT id FROM cluster_identity")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// The leases that lapsed by `now` without being given up (their holder stopped
    /// renewing: it died or lost the database) of meetings neither ended nor cancelled:
    /// the meetings a lease watcher takes over.
    pub async fn lapsed_leases(&self, now: Timestamp) -> Result<Vec<Lease>> {
        let rows = sqlx::query(
            "SELECT l.meeting_id, l.node_id, l.epoch, l.taken_at, l.expires_at
             FROM meeting_leases l JOIN meetings m ON m.id = l.meeting_id
             WHERE l.expires_at > 0 AND l.expires_at <= $1
               AND m.ended_at IS NULL AND m.status <> 'cancelled'
             ORDER BY l.meeting_id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lease).collect()
    }

    /// A leased meeting as rooms are opened with (no access check: the lease watcher
    /// opens a dead node's rooms on nobody's behalf).
    pub async fn leased_meeting(&self, meeting_id: i64) -> Result<crate::Meeting> {
        Ok(self.meeting_row(meeting_id).await?.meeting)
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
