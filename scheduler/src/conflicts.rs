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
        let rows = sqlx::query(
            "SELECT id, title, starts_at, ends_at FROM meetings WHERE status <> 'cancelled' AND starts_at < $1 AND ends_at > $2",
        )
        .bind(hi)
        .bind(lo)
        .fetch_all(&self.pool)
        .await?;
        let wanted: HashSet<i64> = halls.iter().copied().collect();
        let mut out = Vec::new();
        for r in rows {
            let (id, s, e): (i64, i64, i64) = (
                r.try_get("id")?,
                r.try_get("starts_at")?,
                r.try_get("ends_at")?,
            );
            if except.contains(&id) || !slots.iter().any(|&(a, b)| s < b && e > a) {
                continue;
            }
            let inv = sqlx::query(
                "SELECT i.hall_id, h.name, u.name AS unit_name FROM invitations i JOIN halls h ON h.id = i.hall_id
                 JOIN units u ON u.id = h.unit_id WHERE i.meeting_id = $1 ORDER BY u.path",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let mut count = 0;
            let mut names = Vec::new();
            for i in &inv {
                if wanted.contains(&i.try_get::<i64, _>("hall_id")?) {
                    count += 1;
                    if names.len() < 5 {
                        let hall: String = i.try_get("name")?;
                        let unit: String = i.try_get("unit_name")?;
                        names.push(format!("{hall} — {unit}"));
                    }
                }
            }
            if count > 0 {
                out.push(Conflict {
                    meeting_id: Some(id),
                    title: r.try_get("title")?,
                    starts_at: s,
                    ends_at: e,
                    halls: count,
                    hall_names: names,
                });
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
