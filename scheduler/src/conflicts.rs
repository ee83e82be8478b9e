//! Scheduling conflicts: meetings that already invite some of the same halls at an
//! overlapping time, and what a caller may be told of them.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

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
        let mut c = self.pool.acquire().await?;
        conflicts_on(&mut c, halls, slots, except).await
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

/// [`Store::find_conflicts`] on connection `c`: inside a scheduling transaction
/// ([`Store::begin_scheduling`]) no other node can book between this check and the
/// insert it allows.
pub(crate) async fn conflicts_on(
    c: &mut AnyConnection,
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
    .fetch_all(&mut *c)
    .await?;
    let overlapping: Vec<(i64, String, i64, i64)> = rows
        .iter()
        .map(|r| -> Result<_> {
            Ok((
                r.try_get("id")?,
                r.try_get("title")?,
                r.try_get("starts_at")?,
                r.try_get("ends_at")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|&(id, _, s, e)| {
            !except.contains(&id) && slots.iter().any(|&(a, b)| s < b && e > a)
        })
        .collect();
    if overlapping.is_empty() || halls.is_empty() {
        return Ok(Vec::new());
    }
    // One query for the shared halls of every overlapping meeting, filtered in SQL:
    // a national meeting asks about 3,355 halls, and one query per meeting reading
    // all its invitations cost PostgreSQL ~190 ms (BENCHMARKS.md). The ids are
    // integers written into the text (a bound parameter per hall would exceed the
    // backends' limits), so the statement is not kept prepared. The `+` before
    // `i.hall_id` keeps SQLite off the hall index (it would otherwise walk every
    // invitation of each of the 3,355 halls: 46 ms instead of 16 ms); both then read
    // the overlapping meetings' invitations by meeting and test the hall in the list.
    let ids: Vec<i64> = overlapping.iter().map(|m| m.0).collect();
    let sql = format!(
        "SELECT meeting_id, name, unit_name, shared FROM (
           SELECT i.meeting_id, h.name, u.name AS unit_name,
             ROW_NUMBER() OVER (PARTITION BY i.meeting_id ORDER BY u.path, h.id) AS nth,
             COUNT(*) OVER (PARTITION BY i.meeting_id) AS shared
           FROM invitations i JOIN halls h ON h.id = i.hall_id JOIN units u ON u.id = h.unit_id
           WHERE i.meeting_id IN ({}) AND +i.hall_id IN ({})
         ) t WHERE nth <= 5 ORDER BY meeting_id, nth",
        id_list(&ids),
        id_list(halls)
    );
    // Per meeting: how many of the halls it shares, and the first five by place.
    let mut shared: HashMap<i64, (usize, Vec<String>)> = HashMap::new();
    for i in sqlx::query(&sql)
        .persistent(false)
        .fetch_all(&mut *c)
        .await?
    {
        let count: i64 = i.try_get("shared")?;
        let (n, names) = shared.entry(i.try_get("meeting_id")?).or_default();
        *n = usize::try_from(count).unwrap_or_default();
        let hall: String = i.try_get("name")?;
        let unit: String = i.try_get("unit_name")?;
        names.push(format!("{hall} — {unit}"));
    }
    let out = overlapping
        .into_iter()
        .filter_map(|(id, title, starts_at, ends_at)| {
            let (halls, hall_names) = shared.remove(&id)?;
            Some(Conflict {
                meeting_id: Some(id),
                title,
                starts_at,
                ends_at,
                halls,
                hall_names,
            })
        })
        .collect();
    Ok(out)
}

/// A list of ids as SQL text (`1,2,3`): integers only, so nothing can be injected.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
