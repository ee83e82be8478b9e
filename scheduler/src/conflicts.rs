//! Scheduling conflicts: meetings that already invite some of the same halls at an
//! overlapping time, and what a caller may be told of them.

use std::collections::HashSet;

use sqlx::Row;

use crate::accounts::Principal;
use crate::meetings::Conflict;
use crate::time::Timestamp;
use crate::{Result, Store};

impl Store {
    /// Meetings (other than `except`) overlapping any of `slots` that invite any of `halls`.
    pub async fn find_conflicts(
        &self,
        halls: &[i64],
        slots: &[(Timestamp, Timestamp)],
        except: &[i64],
    ) -> Result<Vec<Conflict>> {
        let (Some(lo), Some(hi)) = (
            slots.iter().map(|s| s.0).min(),
            slots.iter().map(|s| s.1).max(),
        ) else {
            return Ok(Vec::new());
        };
        // One query for every invitation of the overlapping meetings (not one per
        // meeting): a national meeting overlaps every province's briefing at once.
        let rows = sqlx::query(
            "SELECT m.id, m.title, m.starts_at, m.ends_at, i.hall_id, h.name, u.name AS unit_name
             FROM meetings m JOIN invitations i ON i.meeting_id = m.id
             JOIN halls h ON h.id = i.hall_id JOIN units u ON u.id = h.unit_id
             WHERE m.status <> 'cancelled' AND m.starts_at < $1 AND m.ends_at > $2
             ORDER BY m.id, u.path",
        )
        .bind(hi)
        .bind(lo)
        .fetch_all(&self.pool)
        .await?;
        let wanted: HashSet<i64> = halls.iter().copied().collect();
        let mut out: Vec<Conflict> = Vec::new();
        let mut current: Option<i64> = None;
        let mut relevant = false;
        for r in rows {
            let (id, s, e): (i64, i64, i64) = (
                r.try_get("id")?,
                r.try_get("starts_at")?,
                r.try_get("ends_at")?,
            );
            if current != Some(id) {
                current = Some(id);
                relevant = !except.contains(&id) && slots.iter().any(|&(a, b)| s < b && e > a);
            }
            if !relevant || !wanted.contains(&r.try_get::<i64, _>("hall_id")?) {
                continue;
            }
            if out.last().and_then(|c| c.meeting_id) != Some(id) {
                out.push(Conflict {
                    meeting_id: Some(id),
                    title: r.try_get("title")?,
                    starts_at: s,
                    ends_at: e,
                    halls: 0,
                    hall_names: Vec::new(),
                });
            }
            let c = out.last_mut().expect("pushed above for this meeting");
            c.halls += 1;
            if c.hall_names.len() < 5 {
                let hall: String = r.try_get("name")?;
                let unit: String = r.try_get("unit_name")?;
                c.hall_names.push(format!("{hall} — {unit}"));
            }
        }
        Ok(out)
    }

    /// The conflicts as `who` may be told them: a meeting it cannot see keeps its time
    /// and the overlapping halls (the caller's own) but not its id or title.
    pub(crate) async fn conflicts_for(
        &self,
        who: &Principal,
        conflicts: Vec<Conflict>,
    ) -> Result<Vec<Conflict>> {
        let mut out = Vec::with_capacity(conflicts.len());
        for mut c in conflicts {
            let visible = match c.meeting_id {
                Some(id) => self.may_see(who, &self.meeting_row(id).await?).await?,
                None => false,
            };
            if !visible {
                c.meeting_id = None;
                c.title = "Cuộc họp của đơn vị khác".into();
            }
            out.push(c);
        }
        Ok(out)
    }
}
