//! End to end on an emulated world served over TDS: the guards between a failover and a
//! silent data loss. The backup database is a real log-shipping secondary (RESTORING,
//! so SQL Server shows neither its family GUID nor its recovery fork), and pcdr takes
//! its identity from msdb's restore history.
//!
//! Every test starts from [`backlog`]: six log backups, the first four in the copy
//! folder, the first three of those restored.

mod common;

use common::{Served, backlog, wait_until_listening};
use pcdr_core::Error;
use pcdr_core::log_chain::ChainError;
use pcdr_core::procedure::{RunOptions, failover};
use pcdr_core::runbook::plan;
use pcdr_core::topology::SiteRole;
use pcdr_sim::backup_file::BackupSet;
use pcdr_sim::guid::Guid;
use pcdr_sim::world::model::{DbState, InstanceId, Site};
use pcdr_sim::world::server_paths::{self, COPY_FOLDER_ON_BACKUP};
use pcdr_sim::world::{DeclaredLoss, Expect};
use std::path::{Path, PathBuf};

/// Traffic no log backup holds, then a disaster at the primary site.
async fn strike(served: &Served) {
    served
        .world
        .traffic(3, false)
        .expect("traffic on the primary");
    served.disaster().await;
}

/// The `index`-th log backup in the copy folder (0 is the oldest).
fn copied(served: &Served, index: usize) -> PathBuf {
    let copy = served.world.copy_dir();
    copy.join(&Served::log_backups(&copy)[index])
}

/// The restored log backup the restore job restored last: the restore point is its end.
fn last_restored(served: &Served) -> PathBuf {
    copied(served, 2)
}

/// The copied log backup the restore job has not restored yet: the next one in the chain.
fn next_in_chain(served: &Served) -> PathBuf {
    copied(served, 3)
}

/// Rewrites the log backup at `path` with `change` applied to its header.
fn rewrite(path: &Path, change: impl FnOnce(&mut BackupSet)) {
    let mut set = BackupSet::read(path).expect("the log backup reads");
    change(&mut set);
    std::fs::write(path, set.encode()).expect("the log backup is rewritten");
}

/// Cuts the last bytes off the file at `path`: its header still reads (`RESTORE
/// HEADERONLY` reads nothing else), but restoring it fails (3203).
fn truncate(path: &Path) {
    let bytes = std::fs::read(path).expect("the file reads");
    std::fs::write(path, &bytes[..bytes.len() - 9]).expect("the file is cut");
}

/// Overwrites the start of the file at `path`: not even its header reads (3241, the
/// media family is incorrectly formed).
fn damage_header(path: &Path) {
    let mut bytes = std::fs::read(path).expect("the file reads");
    bytes[..8].fill(0);
    std::fs::write(path, bytes).expect("the file is damaged");
}

/// Runs a failover expected to stop at the apply step before any restore, on a bad
/// log backup; returns why.
async fn refused_before_any_restore(served: &Served) -> (Error, ChainError) {
    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("a log backup the chain cannot use stops the failover");
    let Error::BadLogBackup { step, source, .. } = &error else {
        panic!("expected BadLogBackup, got {error}");
    };
    assert_eq!(*step, failover::APPLY_UNAPPLIED_LOGS);
    assert_eq!(
        served.count(InstanceId::Backup, "RESTORE LOG", |_| true),
        0,
        "nothing is restored past a log backup the chain cannot use"
    );
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
    let source = source.as_ref().clone();
    (error, source)
}

/// The error names the file and says how to go on without it.
#[track_caller]
fn says_how_to_move_it_aside(error: &Error, file: &Path) {
    let text = error.to_string();
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(text.contains(name), "{text}");
    assert!(
        text.contains("move the file aside") && text.contains("and resume"),
        "{text}"
    );
}

/// The failover completes and the world is failed over with no message lost that a
/// surviving log backup held; returns the report's warnings.
async fn completes_losing_nothing(served: &Served) -> Vec<String> {
    let report = served.completes(failover::PROCEDURE).await;
    assert_eq!(served.world.verify(Expect::FailedOver).unwrap(), vec![]);
    assert_eq!(report.rpo.lost_from, None, "no data loss is declared");
    report.warnings
}

#[tokio::test]
async fn a_log_backup_of_another_family_is_refused_before_any_restore_on_a_restoring_secondary() {
    let served = Served::new(&backlog()).await;
    let foreign = next_in_chain(&served);
    rewrite(&foreign, |set| set.header.family_guid = Guid([0x42; 16]));
    strike(&served).await;
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);

    let (error, source) = refused_before_any_restore(&served).await;
    let ChainError::WrongFamily { file, .. } = &source else {
        panic!("expected WrongFamily, got {source}");
    };
    // Named as the backup instance names it, in its own copy folder.
    let name = foreign.file_name().unwrap().to_str().unwrap();
    assert_eq!(*file, server_paths::join(COPY_FOLDER_ON_BACKUP, name));
    says_how_to_move_it_aside(&error, &foreign);
}

/// A log backup of the same database and family but taken on another recovery path
/// (the primary was restored and recovered elsewhere in between): SQL Server would
/// refuse it with 4330, pcdr refuses it before restoring anything.
#[tokio::test]
async fn a_log_backup_on_another_recovery_fork_is_refused_before_any_restore() {
    let served = Served::new(&backlog()).await;
    let forked = next_in_chain(&served);
    rewrite(&forked, |set| {
        set.header.first_recovery_fork = Guid([0x43; 16]);
        set.header.recovery_fork = Guid([0x43; 16]);
    });
    strike(&served).await;

    let (error, source) = refused_before_any_restore(&served).await;
    assert!(matches!(source, ChainError::WrongFork { .. }), "{source}");
    says_how_to_move_it_aside(&error, &forked);
}

/// A log backup based on an older full backup than the one the secondary's chain
/// already passed belongs to another recovery path, however well its LSNs fit.
#[tokio::test]
async fn a_log_backup_based_on_an_older_full_backup_is_refused_before_any_restore() {
    let served = Served::new(&backlog()).await;
    let older = next_in_chain(&served);
    rewrite(&older, |set| {
        set.header.database_backup_lsn -= 1;
    });
    strike(&served).await;

    let (error, source) = refused_before_any_restore(&served).await;
    assert!(matches!(source, ChainError::OlderBase { .. }), "{source}");
    says_how_to_move_it_aside(&error, &older);
}

/// The file restored last, made a log backup of another family: the header search
/// reads it first, its header shows the database already holds everything it could
/// add, so it is named in a warning and the failover goes on.
#[tokio::test]
async fn a_foreign_file_the_database_already_holds_is_named_and_does_not_block_the_failover() {
    let served = Served::new(&backlog()).await;
    let foreign = last_restored(&served);
    rewrite(&foreign, |set| set.header.family_guid = Guid([0x44; 16]));
    strike(&served).await;

    let warnings = completes_losing_nothing(&served).await;
    let name = foreign.file_name().unwrap().to_str().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(name) && w.contains("its header shows that")),
        "{warnings:?}"
    );
}

/// The file restored last, damaged since: SQL Server cannot read its header (3241), but
/// msdb records it restored into mgc up to the restore point, so it cannot matter.
#[tokio::test]
async fn an_unreadable_file_msdb_records_as_applied_is_named_and_does_not_block_the_failover() {
    let served = Served::new(&backlog()).await;
    let damaged = last_restored(&served);
    damage_header(&damaged);
    strike(&served).await;

    let warnings = completes_losing_nothing(&served).await;
    let name = damaged.file_name().unwrap().to_str().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(name) && w.contains("msdb records it restored into mgc")),
        "{warnings:?}"
    );
}

/// The next file in the chain, damaged on the share and in the copy folder alike (so
/// copying it again cannot help): nothing shows it is irrelevant, so the failover stops
/// and says what to do.
#[tokio::test]
async fn an_unreadable_file_the_database_still_needs_stops_the_failover_naming_it() {
    let served = Served::new(&backlog()).await;
    let damaged = next_in_chain(&served);
    damage_header(&damaged);
    damage_header(&served.world.share_dir().join(damaged.file_name().unwrap()));
    strike(&served).await;

    let (error, source) = refused_before_any_restore(&served).await;
    assert!(matches!(source, ChainError::Damaged { .. }), "{source}");
    says_how_to_move_it_aside(&error, &damaged);
}

/// A file damaged after its header (cut short, on the share and in the copy folder
/// alike) reads its header like a sound one, since `RESTORE HEADERONLY` reads the header
/// only; the damage shows when it is restored (3203, "Possible Media Errors During
/// Backup and Restore"). The failover stops there, naming the file and SQL Server's
/// error, with the database still restoring and nothing after it restored.
#[tokio::test]
async fn a_file_damaged_after_its_header_stops_the_failover_at_its_restore_naming_it() {
    let served = Served::new(&backlog()).await;
    let damaged = next_in_chain(&served);
    truncate(&damaged);
    truncate(&served.world.share_dir().join(damaged.file_name().unwrap()));
    strike(&served).await;

    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the damaged log backup cannot be restored");

    let text = error.to_string();
    let name = damaged.file_name().unwrap().to_str().unwrap();
    assert_eq!(error.sql_number(), Some(3203), "{text}");
    assert!(text.contains(name), "{text}");
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
    let restored: Vec<String> = served
        .statements()
        .iter()
        .filter(|s| s.on(InstanceId::Backup) && s.contains("RESTORE LOG"))
        .filter_map(|s| s.file_name().map(str::to_owned))
        .collect();
    assert_eq!(
        restored.last().map(String::as_str),
        Some(name),
        "{restored:?}"
    );
}

/// A log backup the copy job copied but that is gone from the copy folder before the
/// restore job restored it: still on the share, it is copied again, not reported as a
/// gap (the copy step's bound is the last restored file, not the last copied one).
#[tokio::test]
async fn a_log_backup_gone_from_the_copy_folder_is_copied_again_from_the_share() {
    let served = Served::new(&backlog()).await;
    let gone = next_in_chain(&served);
    std::fs::remove_file(&gone).expect("the copied file is removed");
    strike(&served).await;

    completes_losing_nothing(&served).await;
    let name = gone.file_name().unwrap().to_str().unwrap();
    assert!(gone.is_file(), "{name} is in the copy folder again");
    assert_eq!(
        served.count(InstanceId::Backup, "RESTORE LOG", |s| s.file_name()
            == Some(name)),
        1,
        "{name} is restored once"
    );
}

/// The share cannot be read and data loss was accepted: the failover goes on with the
/// copied files, and the report records the share and where the loss starts, which
/// `verify` then holds to exactly the messages missing.
#[tokio::test]
async fn an_unreadable_share_with_accepted_loss_is_recorded_and_declares_exactly_what_is_lost() {
    let served = Served::new(&backlog()).await;
    served
        .world
        .traffic(3, false)
        .expect("traffic on the primary");
    served
        .world
        .disaster(Site::Primary, true)
        .expect("the primary site and its share go down");
    wait_until_listening(&served.topology, SiteRole::Primary, false).await;

    let options = RunOptions {
        accept_data_loss: true,
        ..RunOptions::default()
    };
    let report = served
        .run(failover::PROCEDURE, options)
        .await
        .expect("the failover completes on the copied log backups");
    assert!(report.completed, "{report:#?}");
    let share = report
        .rpo
        .share_not_read
        .expect("the unread share is recorded");
    assert!(share.share.ends_with("share"), "{}", share.share);
    let lost_from = report.rpo.lost_from.expect("the loss is declared");
    assert_eq!(Some(lost_from), report.rpo.restore_point);

    let primary = served.messages(InstanceId::Primary);
    let backup = served.messages(InstanceId::Backup);
    assert!(backup.len() < primary.len(), "messages were lost");
    let declared = Some(DeclaredLoss {
        lost_from: lost_from.0,
    });
    let differences = served
        .world
        .verify_declaring(Expect::FailedOver, declared)
        .unwrap();
    assert_eq!(differences, vec![]);
}

/// A log backup copied by hand into the copy folder under another name, and one on the
/// share named another way: pcdr reads neither (only log shipping's names order the
/// chain), but names each in a warning, in the plan and in the report.
#[tokio::test]
async fn log_backups_not_named_as_log_shipping_names_them_are_named_in_a_warning() {
    let served = Served::new(&backlog()).await;
    let hand_copy = served
        .world
        .copy_dir()
        .join("mgc_20261127084500 - Copy.trn");
    std::fs::copy(copied(&served, 0), &hand_copy).expect("a copy by hand");
    let odd = served.world.share_dir().join("MGC-2026-11-27.TRN");
    std::fs::write(&odd, b"whatever it is").expect("an oddly named file");
    strike(&served).await;

    let names = ["mgc_20261127084500 - Copy.trn", "MGC-2026-11-27.TRN"];
    let warned = |texts: &[String]| {
        names.iter().all(|name| {
            texts
                .iter()
                .any(|t| t.contains(name) && t.contains("is not read"))
        })
    };
    let planned = plan(&served.context(RunOptions::default()), failover::PROCEDURE).await;
    let notes: Vec<String> = planned.steps.into_iter().flat_map(|s| s.notes).collect();
    assert!(warned(&notes), "{notes:?}");
    let warnings = completes_losing_nothing(&served).await;
    assert!(warned(&warnings), "{warnings:?}");
}
