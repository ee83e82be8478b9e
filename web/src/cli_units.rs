//! What `hoinghi units import`, `hoinghi units carry-halls` and `hoinghi demo` print about
//! the unit tree: per-level counts, what a re-import changed, what a carry moved or listed.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use scheduler::carry::{self, CarryKind, CarryOptions, CarryReport, ReviewReason};
use scheduler::demo_today::DemoSummary;
use scheduler::{ImportReport, Store};

/// How many code changes and removals an import prints one by one.
const LISTED: usize = 200;

/// Prints an import's report: per level, totals, and what changed.
pub fn print_import(report: &ImportReport) {
    for (level, n) in &report.per_level {
        println!("{level:>9}: {n}");
    }
    println!(
        "inserted {}, updated {}, unchanged {}",
        report.inserted, report.updated, report.unchanged
    );
    if !report.changed.is_empty() {
        let parts: Vec<String> = report
            .changed
            .iter()
            .map(|(what, n)| format!("{what} {n}"))
            .collect();
        println!("changed: {}", parts.join(", "));
    }
    if !report.code_changes.is_empty() {
        println!(
            "code changes (same unit, new code): {}",
            report.code_changes.len()
        );
        for c in report.code_changes.iter().take(LISTED) {
            println!("  {} → {}  {}", c.old_code, c.new_code, c.name);
        }
    }
    if !report.removed.is_empty() {
        println!("removed (not in the file): {}", report.removed.len());
        for r in report.removed.iter().take(LISTED) {
            println!("  {}  {}", r.code, r.name);
        }
    }
}

fn kind_name(kind: CarryKind) -> &'static str {
    match kind {
        CarryKind::Whole => "whole",
        CarryKind::Main => "main",
        CarryKind::SplitToMain => "split → main",
        CarryKind::District => "district",
        CarryKind::Province => "province",
    }
}

fn reason_name(reason: ReviewReason) -> &'static str {
    match reason {
        ReviewReason::Split => "split",
        ReviewReason::District => "district",
        ReviewReason::Province => "province",
        ReviewReason::Unmapped => "unmapped",
        ReviewReason::TargetMissing => "target missing",
    }
}

/// Prints a carry: counts per kind, the halls listed for review with their candidates.
pub fn print_carry(report: &CarryReport) {
    println!(
        "carry-halls on {}{}",
        report.on,
        if report.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    let verb = if report.dry_run {
        "would move"
    } else {
        "moved"
    };
    println!("{verb}: {}", report.moved.len());
    for (kind, n) in report.moved_per_kind() {
        println!("  {:>13}: {n}", kind_name(kind));
    }
    println!("listed for review: {}", report.review.len());
    for (reason, n) in report.review_per_reason() {
        println!("  {:>13}: {n}", reason_name(reason));
    }
    println!("already on the tree of {}: {}", report.on, report.already);
    for r in &report.review {
        let candidates: Vec<String> = r
            .candidates
            .iter()
            .map(|c| format!("{} {}", c.code, c.name))
            .collect();
        println!(
            "  review hall {} \"{}\" ({} {}): {} → {}",
            r.hall_id,
            r.hall_name,
            r.from.code,
            r.from.name,
            reason_name(r.reason),
            if candidates.is_empty() {
                "no candidate".to_string()
            } else {
                candidates.join(" | ")
            }
        );
    }
    if report.moved.is_empty() {
        println!("nothing to change / không có gì thay đổi");
    }
}

/// `hoinghi units carry-halls`.
pub async fn carry_halls(
    database_url: &str,
    mapping: &Path,
    provinces: Option<&Path>,
    options: CarryOptions,
) -> anyhow::Result<()> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let communes = carry::parse_commune_mapping(&read(mapping)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", mapping.display()))?;
    let provinces = match provinces {
        Some(p) => Some(
            carry::parse_province_mapping(&read(p)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let store = Store::connect(database_url)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let report = store
        .carry_halls(&communes, provinces.as_ref(), options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_carry(&report);
    if let Some(provinces) = &provinces {
        let moved = store
            .carry_province_secretariats(provinces, options.on, options.dry_run)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for m in moved {
            println!(
                "secretariat {}: {} → {}",
                m.username, m.from.name, m.to.name
            );
        }
    }
    // Secretariats whose unit ended (the districts): listed, for the administrator.
    let provinces = match provinces {
        Some(p) => p,
        None => store
            .provinces_from_communes(&communes, options.on)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let ended = store
        .ended_secretariats(&provinces, options.on)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_ended_secretariats(&ended);
    Ok(())
}

/// Prints the secretariats whose unit ended, each with its suggested unit.
fn print_ended_secretariats(ended: &[carry::SecretariatReview]) {
    if ended.is_empty() {
        return;
    }
    println!(
        "secretariats whose unit ended (re-point or disable each at /admin/carry): {}",
        ended.len()
    );
    for s in ended {
        println!(
            "  review secretariat {} ({} {}): suggested {}",
            s.username,
            s.from.code,
            s.from.name,
            s.suggested
                .as_ref()
                .map_or("none".to_string(), |u| format!("{} {}", u.code, u.name))
        );
    }
}

/// What `hoinghi demo` made of the two trees.
pub fn print_demo(summary: &DemoSummary, took: Duration) {
    println!("Dữ liệu demo / demo data ({:.1} s):", took.as_secs_f64());
    for (title, invited, came) in &summary.history {
        println!("  2024: {title}: {came}/{invited} điểm cầu dự / halls attended");
    }
    let c = &summary.carry;
    let per_kind: Vec<String> = c
        .moved_per_kind()
        .into_iter()
        .map(|(k, n)| format!("{} {n}", kind_name(k)))
        .collect();
    println!(
        "  1/7/2025: {} điểm cầu chuyển sang đơn vị mới / halls carried ({}); {} chờ xếp / listed",
        c.moved.len(),
        per_kind.join(", "),
        c.review.len()
    );
    println!(
        "  {} điểm cầu mới cho xã chưa có / halls added for communes that had none ({} xã của tỉnh Phú Thọ)",
        summary.added_halls, summary.communes_2025
    );
    println!(
        "  Họp toàn tỉnh hôm nay (tỉnh + xã) mời {} điểm cầu / today's province-wide meeting invites {} halls",
        summary.province_wide_halls, summary.province_wide_halls
    );
}
