//! The header search on its own: how many `RESTORE HEADERONLY` results it reads to find
//! the unapplied log backups in a large copy folder, with and without a hint of the file
//! restored last, and that a quick reading showing a gap is checked against every header.

use super::fixtures::*;
use crate::log_chain::{ChainIdentity, LogBackup, Lsn};
use crate::procedure::failover::APPLY_UNAPPLIED_LOGS;
use crate::procedure::header_search::restore_plan;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What tells the search which log backup was restored last.
#[derive(Clone, Copy)]
enum LastRestored {
    /// Nothing (a plan, or a resume without a snapshot).
    Unknown,
    /// The snapshot's `last_restored_file`.
    Snapshot,
    /// This run's facts (after the pipelined copy step restored some).
    Facts,
}

const FILES: u128 = 1_000;
const UNAPPLIED: usize = 5;

fn name(i: u128) -> String {
    trn(&format!("{:014}", 20_261_127_000_000 + i))
}

fn span(i: u128) -> (u128, u128) {
    (1_000 + i * 100, 1_100 + i * 100)
}

/// A world whose backup instance answers every header of the 1,000 contiguous log
/// backups (counting the reads), with `hint` naming the newest applied one.
fn world(hint: LastRestored, reads: &Arc<AtomicUsize>) -> World {
    let applied = FILES - UNAPPLIED as u128;
    let newest_applied = format!(r"{COPY}\{}", name(applied - 1));
    let mut w = World::new();
    match hint {
        LastRestored::Unknown => {}
        LastRestored::Snapshot => {
            let mut current = snapshot();
            current.last_restored_file = Some(newest_applied);
            w = w.with_snapshot(current);
        }
        LastRestored::Facts => {
            let (first, last) = span(applied - 1);
            w.facts.last_applied = Some(LogBackup {
                file: newest_applied,
                header: log_header(first, last),
            });
        }
    }
    let counted = Arc::clone(reads);
    w.backup.expect_backup_header().returning(move |file| {
        counted.fetch_add(1, Ordering::Relaxed);
        let stamp = &file[file.len() - "00000000000000.trn".len()..file.len() - 4];
        let (first, last) = span(u128::from(
            stamp.parse::<u64>().unwrap() - 20_261_127_000_000,
        ));
        Ok(log_header(first, last))
    });
    w
}

/// The chain of [`FAMILY`], fork and base unknown.
fn of_family_only() -> ChainIdentity {
    ChainIdentity {
        family: Some(FAMILY.into()),
        ..ChainIdentity::default()
    }
}

/// How many headers the search reads to plan the restores of the newest 5 of 1,000.
async fn header_reads(hint: LastRestored) -> usize {
    let reads = Arc::new(AtomicUsize::new(0));
    let (ctx, _) = world(hint, &reads).build();
    let files: Vec<String> = (0..FILES).map(|i| format!(r"{COPY}\{}", name(i))).collect();
    let point = Lsn(span(FILES - UNAPPLIED as u128 - 1).1);
    let plan = restore_plan(&ctx, APPLY_UNAPPLIED_LOGS, &of_family_only(), point, &files)
        .await
        .expect("a plan");
    assert_eq!(
        plan.to_restore.len(),
        UNAPPLIED,
        "the unapplied five, in order"
    );
    assert!(plan.gap.is_none());
    reads.load(Ordering::Relaxed)
}

#[tokio::test]
async fn the_search_reads_few_headers_and_fewer_knowing_the_last_restored() {
    let searched = header_reads(LastRestored::Unknown).await;
    // A binary search over 1,000 names (10 reads), then the 5 unapplied headers.
    assert!(searched <= 16, "{searched} headers read without a hint");
    for hint in [LastRestored::Snapshot, LastRestored::Facts] {
        // The last restored file and the next one, then the other 4 unapplied headers.
        assert_eq!(header_reads(hint).await, 6);
    }
}

#[tokio::test]
async fn a_gap_the_quick_reading_shows_is_confirmed_by_every_header() {
    let reads = Arc::new(AtomicUsize::new(0));
    let (ctx, _) = world(LastRestored::Unknown, &reads).build();
    // The 998th backup is missing: the chain breaks two files before the end.
    let files: Vec<String> = (0..FILES)
        .filter(|i| *i != FILES - 2)
        .map(|i| format!(r"{COPY}\{}", name(i)))
        .collect();
    let point = Lsn(span(FILES - UNAPPLIED as u128 - 1).1);
    let plan = restore_plan(&ctx, APPLY_UNAPPLIED_LOGS, &of_family_only(), point, &files)
        .await
        .expect("a plan");
    assert!(plan.gap.is_some(), "the missing backup is a gap");
    assert_eq!(
        reads.load(Ordering::Relaxed),
        files.len(),
        "every header was read once before the gap was believed"
    );
}
