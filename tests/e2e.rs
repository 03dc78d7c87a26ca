//! End to end, through pcdr's public API and the real adapters, on an emulated world
//! served over TDS (no mocks): failover with a backlog, failback after a rebuild, a
//! whole cycle followed by an hour of log shipping on named instances, a missing log
//! backup, a primary site still answering, standby readers, a mirrored
//! rebuilt primary, and a failover interrupted at every step and resumed; copy and
//! restore pipelined (the default) and, where the order matters, sequential.
//!
//! Each test builds its own world in its own temporary folder, served on loopback.

mod common;

use common::asserts::{
    assert_done, assert_serving_principal, assert_skipped, assert_verified, traffic_with_jobs,
};
use common::{Interrupt, Served, backlog, drop_connection, fail, wait_until_down};
use pcdr_core::Error;
use pcdr_core::error::PreconditionKind;
use pcdr_core::log_chain::Lsn;
use pcdr_core::planes::{RestoreThresholds, SecondaryLogShipping};
use pcdr_core::procedure::{Event, RunOptions, StepId};
use pcdr_core::procedure::{failback, failover};
use pcdr_core::runbook::Report;
use pcdr_core::status::{LogShippingHealth, Status};
use pcdr_core::topology::RestoreMode;
use pcdr_core::topology::SiteRole;
use pcdr_sim::backup_file::BackupSet;
use pcdr_sim::world::faults::{StatementFault, StatementKind, StatementMatch, StoredCmdletFault};
use pcdr_sim::world::model::{DbState, InstanceId, MirrorRole};
use pcdr_sim::world::msdb::JobKind;
use pcdr_sim::world::server_paths::{self, COPY_FOLDER_ON_BACKUP};
use pcdr_sim::world::version::SqlVersion;
use pcdr_sim::world::{Expect, World, WorldOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Messages committed after the last log backup before the disaster: in no log backup,
/// so log shipping cannot save them.
const UNSHIPPED: u32 = 3;

/// The failback's outage runs from the start of the fence (`clear_active_servers`) to
/// the end of the activation (`activate_primary_servers`).
fn assert_outage_from_fence_to_activation(report: &Report) {
    let outage = report
        .outage
        .as_ref()
        .expect("the failback fenced the pool");
    let step = |id| report.steps.iter().find(|s| s.step == id).unwrap();
    let (fence, activation) = (
        step(failback::CLEAR_ACTIVE_SERVERS),
        step(failback::ACTIVATE_PRIMARY_SERVERS),
    );
    assert_eq!(outage.fenced_by, Some(failback::CLEAR_ACTIVE_SERVERS));
    assert_eq!(Some(outage.started), fence.started, "{outage:?}");
    assert!(activation.ended.is_some(), "{activation:?}");
    assert_eq!(outage.ended, activation.ended, "{outage:?}");
    let (start, end) = (outage.started, activation.ended.unwrap());
    assert_eq!(
        outage.seconds,
        (end - start).num_milliseconds() as f64 / 1000.0
    );
}

/// The bytes moved inside the failback's outage count at least its full backup of the
/// backup database, as the emulator wrote it on the share (written once, restored once
/// and the re-seed on top).
fn assert_outage_moves_the_failback_backup(served: &Served, report: &Report) {
    let file = served
        .world
        .share_dir()
        .join(format!("mgc_pcdr_failback_{}.bak", report.run_id));
    let written = std::fs::metadata(&file)
        .expect("the failback backup is on the share")
        .len();
    let outage = report
        .outage
        .as_ref()
        .expect("the failback fenced the pool");
    assert!(
        outage.bytes_moved >= written,
        "{} bytes moved inside the outage, less than the {written} bytes of {}",
        outage.bytes_moved,
        file.display()
    );
}

/// Traffic no log backup holds, then a disaster at the primary site.
async fn strike(served: &Served) {
    served
        .world
        .traffic(UNSHIPPED, false)
        .expect("traffic on the primary");
    served.disaster().await;
}

/// A served backlog world, struck and failed over.
async fn failed_over() -> Served {
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    served.completes(failover::PROCEDURE).await;
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_a_backlog_keeps_every_message_up_to_the_last_log_backup() {
    let served = Served::new(&backlog()).await;
    let options = backlog();
    let on_share = Served::log_backups(&served.world.share_dir());
    let newest = on_share.last().cloned().expect("log backups on the share");
    let copied = Served::log_backups(&served.world.copy_dir());
    assert_eq!(on_share.len() - copied.len(), options.uncopied as usize);
    strike(&served).await;

    let report = served.completes(failover::PROCEDURE).await;

    // Pipelined (the default): the copy step restores every log backup as it lands,
    // so the apply step finds nothing left.
    for step in failover::PROCEDURE.steps() {
        if *step == failover::APPLY_UNAPPLIED_LOGS {
            assert_skipped(&report, *step);
        } else {
            assert_done(&report, *step);
        }
    }
    let truth = served
        .world
        .read()
        .unwrap()
        .ground_truth
        .expect("the disaster recorded the ground truth");
    let backed_up = u64::from(options.logs * options.messages_per_log);
    assert_eq!(truth.guaranteed_through, backed_up);
    assert_eq!(truth.committed_through, backed_up + u64::from(UNSHIPPED));
    assert_eq!(
        served.messages(InstanceId::Backup),
        (1..=backed_up).collect::<Vec<_>>(),
        "the backup mgc holds every message of the log backups on the share, and no other"
    );
    assert_serving_principal(&served, InstanceId::Backup);
    let state = served.world.read().unwrap();
    assert!(state.pool.failed_over, "the pool is FailedOver");
    assert_eq!(state.pool.active, state.pool.backup_servers);
    let backup = state.instance(InstanceId::Backup).unwrap();
    assert!(backup.msdb.secondary_databases.is_empty());
    assert_verified(&served, Expect::FailedOver);

    assert_eq!(report.files_copied, u64::from(options.uncopied));
    assert_eq!(report.logs_restored, u64::from(options.unrestored));
    assert!(report.rpo.accepted_gap.is_none());
    let last = report.rpo.last_applied_file.as_deref().unwrap_or_default();
    assert!(last.ends_with(&newest), "{last} is not {newest}");
    // The SQL Servers date backups in their local time (UTC-06:00 here); the report
    // says when the last one finished in UTC. It names the file as the backup instance
    // does, in its own copy folder; the world keeps that folder in DIR/copy.
    assert!(last.starts_with(COPY_FOLDER_ON_BACKUP), "{last}");
    let in_copy = served.world.copy_dir().join(server_paths::file_name(last));
    let taken = BackupSet::read(&in_copy).expect("the last applied log backup");
    assert_eq!(report.rpo.last_applied_finish, Some(taken.header.finish));
}

/// The copy folder by its two paths (issue 13, item 6): pcdr copies the uncopied log
/// backups through `copy_destination_from_pcdr` (the world's `DIR/copy`), and the backup
/// instance reads and restores them by its own `D:\LogShipping\mgc`, the path msdb
/// names, which means nothing on pcdr's machine; the real folder's path means nothing
/// to the instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_copies_through_pcdrs_path_and_restores_by_the_backup_instances_path() {
    let served = Served::new(&backlog()).await;
    let topology = &served.topology.log_shipping;
    assert_eq!(topology.copy_destination, COPY_FOLDER_ON_BACKUP);
    let real = served.world.copy_dir().display().to_string();
    assert_eq!(topology.copy_destination_from_pcdr, real);
    let newest = Served::log_backups(&served.world.share_dir()).pop();
    strike(&served).await;

    served.completes(failover::PROCEDURE).await;

    assert_eq!(Served::log_backups(&served.world.copy_dir()).pop(), newest);
    let read_by_backup: Vec<String> = served
        .statements()
        .into_iter()
        .filter(|s| s.on(InstanceId::Backup) && s.contains("RESTORE"))
        .filter_map(|s| s.param("@file").map(str::to_owned))
        .collect();
    assert!(!read_by_backup.is_empty());
    for file in &read_by_backup {
        assert!(file.starts_with(COPY_FOLDER_ON_BACKUP), "{file}");
    }
}

/// When pcdr's path to the copy folder reaches another folder than the one the backup
/// instance restores from, the instance cannot open (3201) the first file pcdr copied
/// that only pcdr's folder holds: the failover stops in the copy step, naming both paths
/// and the settings to correct, and nothing is recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_folder_reached_by_a_path_to_another_folder_stops_the_failover_naming_both() {
    let mut served = Served::new(&backlog()).await;
    let elsewhere = served.path().join("not-the-copy-folder");
    std::fs::create_dir(&elsewhere).expect("another folder");
    let elsewhere = elsewhere.display().to_string();
    served.topology.log_shipping.copy_destination_from_pcdr = elsewhere.clone();
    strike(&served).await;

    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the backup instance does not see what pcdr copied");

    let text = error.to_string();
    assert!(
        matches!(
            error,
            Error::Precondition {
                step: failover::COPY_LOG_BACKUPS,
                kind: PreconditionKind::Topology,
                ..
            }
        ),
        "{text}"
    );
    for part in [
        COPY_FOLDER_ON_BACKUP,
        elsewhere.as_str(),
        "log_shipping.copy_destination_from_pcdr",
    ] {
        assert!(text.contains(part), "{text} does not name {part}");
    }
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
    assert!(!served.world.read().unwrap().pool.failed_over);
}

/// A cmdlet that warns and succeeds (exit code 0, `WARNING: …` on stderr) does not fail
/// its step: the failover completes, the warning is in the report, and the cmdlets got
/// the identity each takes (the emulated `Set-CsPersistentChatActiveServer` refuses a
/// `service:` identity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_whose_mirror_cmdlet_warns_completes_and_reports_the_warning() {
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    let warning = "The file share is on a server outside the backup site.";
    served
        .world
        .set_cmdlet_fault(
            "Install-CsMirrorDatabase",
            Some(StoredCmdletFault::Warn(warning.into())),
        )
        .unwrap();

    let report = served.completes(failover::PROCEDURE).await;

    assert_done(&report, failover::MIRROR_NEW_PRIMARY);
    assert_done(&report, failover::ACTIVATE_BACKUP_SERVERS);
    assert_eq!(
        report.warnings,
        [format!(
            "Install-CsMirrorDatabase succeeded with a warning: {warning}"
        )]
    );
    assert_serving_principal(&served, InstanceId::Backup);
    assert_verified(&served, Expect::FailedOver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_after_a_rebuild_brings_every_message_home_and_log_shipping_runs_again() {
    let served = failed_over().await;
    served
        .world
        .traffic(10, false)
        .expect("traffic while failed over");
    let held = served.messages(InstanceId::Backup);
    served.rebuild().await;
    assert!(served.messages(InstanceId::Primary).is_empty());

    let report = served.completes(failback::PROCEDURE).await;

    for step in failback::PROCEDURE.steps() {
        assert_done(&report, *step);
    }
    assert_outage_from_fence_to_activation(&report);
    assert_outage_moves_the_failback_backup(&served, &report);
    assert_eq!(
        served.messages(InstanceId::Primary),
        held,
        "the primary mgc holds every message"
    );
    assert_serving_principal(&served, InstanceId::Primary);
    let state = served.world.read().unwrap();
    assert!(!state.pool.failed_over, "the pool is Normal");
    assert_eq!(state.pool.active, state.pool.primary_servers);
    drop(state);

    // Log shipping primary → backup runs again: a new log backup reaches the backup.
    let secondary = served.mgc(InstanceId::Backup);
    assert!(secondary.accepts_logs(), "{:?}", secondary.state);
    let traffic = served
        .world
        .traffic(5, true)
        .expect("traffic after failback");
    let file = traffic.backups[0].outcome.clone().expect("a log backup");
    let runs = served.world.tick(15).expect("the clock runs");
    let failed: Vec<_> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let after = served.mgc(InstanceId::Backup);
    assert!(
        after.lsn > secondary.lsn,
        "the backup's restore point did not advance past {} after {file}",
        secondary.lsn
    );
    let messages = served.messages(InstanceId::Backup);
    assert!(
        traffic.messages.iter().all(|m| messages.contains(m)),
        "the new messages {:?} did not reach the backup mgc",
        traffic.messages
    );
    assert_eq!(messages, served.messages(InstanceId::Primary));
    assert_verified(&served, Expect::Normal);
}

/// Minutes of chat traffic and log-shipping jobs on the world clock after a failback: at
/// least an hour, so the backup job runs at least four times on its 15-minute schedule.
const AFTER_FAILBACK_MINUTES: u32 = 75;

/// A whole cycle on named instances on static ports: failover, rebuild, failback, then
/// traffic with the log-shipping jobs running for more than an emulated hour. Every new
/// log backup the primary takes reaches the backup database, no job fails, and `pcdr
/// status` shows log shipping up to date. `Install-CsMirrorDatabase` seeds the primary's
/// mirror from a log backup of its own
/// (<https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase>): had
/// failback set log shipping up before mirroring, that backup would sit between the
/// re-seed and the first log-shipping backup, and the restore job would stop at 4305.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_failback_log_shipping_restores_every_new_log_backup_for_an_hour() {
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    served.completes(failover::PROCEDURE).await;
    served
        .world
        .traffic(10, false)
        .expect("traffic while failed over");
    served.rebuild().await;
    served.completes(failback::PROCEDURE).await;
    let share = served.world.share_dir();
    let before = Served::log_backups(&share);

    let runs = traffic_with_jobs(&served, AFTER_FAILBACK_MINUTES);

    let failed: Vec<_> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let new: Vec<String> = Served::log_backups(&share)
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect();
    assert!(new.len() >= 4, "log backups after failback: {new:?}");
    assert_restored(&served, &new);
    assert_eq!(
        served.messages(InstanceId::Backup),
        served.messages(InstanceId::Primary)
    );
    assert_status_shows_log_shipping_up_to(&served, new.last().expect("a new log backup")).await;
    assert_verified(&served, Expect::Normal);
}

/// Failback restores the HA/DR configuration's log shipping from the primary's mirror:
/// "Database Mirroring and Log Shipping (SQL Server)"
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>)
/// sets the mirror up as a log-shipping primary on the same share, so that after a
/// mirroring failover (`ALTER DATABASE … SET PARTNER FAILOVER`,
/// <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>)
/// its backup job takes the log backups and the backup database restores them, with no
/// gap, for an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_failback_log_shipping_goes_on_from_the_primary_mirror_after_a_mirroring_failover() {
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    served.completes(failover::PROCEDURE).await;
    served.rebuild().await;
    served.completes(failback::PROCEDURE).await;
    assert_ships_logs(&served, InstanceId::PrimaryMirror);
    assert_serving_principal(&served, InstanceId::Primary);

    served
        .world
        .fail_over_mirroring(InstanceId::Primary)
        .expect("the mirroring session fails over");
    let share = served.world.share_dir();
    let before = Served::log_backups(&share);
    let runs = traffic_with_jobs(&served, AFTER_FAILBACK_MINUTES);

    let failed: Vec<_> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let from_mirror = runs.iter().filter(|r| {
        r.instance == InstanceId::PrimaryMirror
            && r.job.starts_with("LSBackup")
            && r.outcome
                .as_ref()
                .is_ok_and(|o| !o.contains("no log backup"))
    });
    assert!(from_mirror.count() >= 4, "{runs:#?}");
    let new: Vec<String> = Served::log_backups(&share)
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect();
    assert_restored(&served, &new);
    assert_eq!(
        served.messages(InstanceId::Backup),
        served.messages(InstanceId::PrimaryMirror)
    );
}

/// `instance`'s msdb holds a log-shipping primary row for `mgc` and its backup job.
fn assert_ships_logs(served: &Served, instance: InstanceId) {
    let state = served.world.read().expect("the world reads");
    let msdb = &state.instance(instance).expect("the instance").msdb;
    let row = msdb
        .primary_databases
        .iter()
        .find(|r| r.primary_database == "mgc")
        .expect("a log-shipping primary row for mgc");
    assert!(
        msdb.jobs
            .iter()
            .any(|j| j.job_id == row.backup_job_id && j.enabled),
        "the backup job of {instance:?}: {:#?}",
        msdb.jobs
    );
}

/// The backup instance's restore history names every one of `files` (log backups on
/// the share), each restored from the copy folder (a path as the backup instance names
/// it, `D:\LogShipping\mgc\…`).
fn assert_restored(served: &Served, files: &[String]) {
    let state = served.world.read().expect("the world reads");
    let backup = state
        .instance(InstanceId::Backup)
        .expect("the backup instance");
    let restored: Vec<&str> = backup
        .msdb
        .restores
        .iter()
        .filter(|r| r.restore_type == 'L')
        .filter_map(|r| r.set.physical_device_name.rsplit(['\\', '/']).next())
        .collect();
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !restored.contains(&f.as_str()))
        .collect();
    assert!(missing.is_empty(), "never restored: {missing:?}");
}

/// `pcdr status` (the same observation, through the real adapters): every instance
/// answers, the pool is Normal, the backup `mgc` is restoring, and log shipping has
/// copied and restored the newest log backup, `newest`, and is healthy on the backup
/// instance's clock.
async fn assert_status_shows_log_shipping_up_to(served: &Served, newest: &str) {
    let status = Status::observe(&served.topology).await.expect("the status");
    assert!(status.instances.iter().all(|i| i.answering), "{status:#?}");
    assert_eq!(status.pool_state.as_deref(), Some("Normal"));
    let backup = status.instances.iter().find(|i| i.role == "backup");
    let chat = backup
        .and_then(|i| i.chat.as_ref())
        .expect("the backup mgc");
    assert!(chat.accepts_logs(), "{chat:?}");
    let shipping = status.log_shipping.as_ref().expect("log shipping reads");
    let snapshot = shipping
        .snapshot
        .as_ref()
        .expect("log shipping is configured");
    let named = |file: &Option<String>| file.as_deref().is_some_and(|f| f.ends_with(newest));
    assert!(named(&snapshot.last_copied_file), "{snapshot:#?}");
    assert!(named(&snapshot.last_restored_file), "{snapshot:#?}");
    assert!(
        matches!(shipping.health, LogShippingHealth::Healthy { .. }),
        "{shipping:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_log_backup_stops_failover_before_recovery_until_data_loss_is_accepted() {
    let options = WorldOptions {
        uncopied: 3,
        ..backlog()
    };
    let served = Served::new(&options).await;
    let share = served.world.share_dir();
    let on_share = Served::log_backups(&share);
    let uncopied = &on_share[on_share.len() - options.uncopied as usize..];
    let missing = share.join(&uncopied[0]);
    let header = BackupSet::read(&missing)
        .expect("the log backup reads")
        .header;
    std::fs::remove_file(&missing).expect("the log backup is deleted");
    strike(&served).await;

    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("a gap in the log chain stops failover");

    let Error::DataLossRefused { step, gap, .. } = &error else {
        panic!("expected DataLossRefused, got {error}");
    };
    assert_eq!(*step, failover::APPLY_UNAPPLIED_LOGS);
    assert_eq!(gap.missing_from, Lsn(header.first_lsn), "{gap}");
    assert_eq!(gap.missing_to, Lsn(header.last_lsn), "{gap}");
    assert!(gap.next_file.ends_with(&uncopied[1]), "{gap}");
    let text = error.to_string();
    assert!(
        text.contains(&header.first_lsn.to_string()) && text.contains(&header.last_lsn.to_string()),
        "the error names the missing LSN range: {text}"
    );
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
    assert_eq!(
        served.count(InstanceId::Backup, "WITH RECOVERY", |_| true),
        0
    );
    assert!(!served.world.read().unwrap().pool.failed_over);

    let accept = RunOptions {
        accept_data_loss: true,
        ..RunOptions::default()
    };
    let report = served
        .resume(failover::PROCEDURE, accept)
        .await
        .expect("failover resumes accepting the data loss");

    assert!(report.completed);
    assert_eq!(report.rpo.accepted_gap.as_ref(), Some(gap.as_ref()));
    let kept = u64::from((options.logs - options.uncopied) * options.messages_per_log);
    assert_eq!(
        served.messages(InstanceId::Backup),
        (1..=kept).collect::<Vec<_>>(),
        "the backup mgc holds the messages before the gap"
    );
    assert_serving_principal(&served, InstanceId::Backup);
    let differences = served.world.verify(Expect::FailedOver).unwrap();
    assert!(
        !differences.is_empty()
            && differences
                .iter()
                .all(|d| d.what == "messages of backup mgc" && d.found.contains("lost")),
        "only the accepted loss differs: {differences:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_site_that_still_answers_refuses_failover_unless_allowed() {
    let served = Served::new(&backlog()).await;
    let primary = served.topology.sites.primary.sql.display_name();
    let mirror = served
        .topology
        .sites
        .primary
        .mirror
        .as_ref()
        .unwrap()
        .display_name();

    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the primary answers");
    assert!(
        matches!(&error, Error::Precondition { step: failover::CHECK_SITES, kind: PreconditionKind::PrimaryReachable, message, .. } if message.contains(&primary)),
        "{error}"
    );

    served
        .world
        .set_instance_down(InstanceId::Primary, true)
        .unwrap();
    wait_until_down(&served, InstanceId::Primary).await;
    let error = served
        .resume(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the primary's mirror answers");
    assert!(
        matches!(&error, Error::Precondition { step: failover::CHECK_SITES, kind: PreconditionKind::PrimaryReachable, message, .. } if message.contains(&mirror)),
        "{error}"
    );
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
    let mutating = served
        .statements()
        .into_iter()
        .filter(|s| !s.contains("SELECT"))
        .collect::<Vec<_>>();
    assert!(mutating.is_empty(), "a refused run changed: {mutating:#?}");

    let allowed = RunOptions {
        allow_primary_reachable: true,
        ..RunOptions::default()
    };
    let report = served
        .resume(failover::PROCEDURE, allowed)
        .await
        .expect("failover runs when a reachable primary is allowed");
    assert!(report.completed);
    assert_serving_principal(&served, InstanceId::Backup);
    assert!(served.world.read().unwrap().pool.failed_over);
    assert_verified(&served, Expect::FailedOver);
}

/// Copy everything, then restore: the order `--sequential-restore` chooses.
/// The position of the first statement `matches` accepts among `statements`.
fn position(
    statements: &[common::Statement],
    what: &str,
    matches: impl Fn(&common::Statement) -> bool,
) -> usize {
    statements
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("no {what} was sent"))
}

/// A restore job still running when failover starts holds `mgc` on the backup instance
/// (sqllogship.exe restoring into it) and would race pcdr's own restores. KILL ends its
/// session but not the job, which takes the database again (RESTORE gets 3101 each
/// time); `sp_stop_job` ends it, after a while: "it may take a while before the job is
/// canceled" while it runs a RESTORE
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql>).
/// pcdr sees the job running (`msdb.dbo.sysjobactivity` of the newest Agent session in
/// `msdb.dbo.syssessions`), stops it and waits until it stopped, before it removes log
/// shipping and restores anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_shipping_job_still_running_is_stopped_and_waited_for_before_log_shipping_is_removed()
{
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    let restore_job = |kind: &JobKind| matches!(kind, JobKind::Restore(_));
    let job = served
        .world
        .start_running_job(InstanceId::Backup, restore_job, 1500)
        .unwrap()
        .expect("the backup instance has a restore job");

    let report = served.completes(failover::PROCEDURE).await;

    assert_done(&report, failover::REMOVE_LOG_SHIPPING);
    let backup: Vec<_> = served
        .statements()
        .into_iter()
        .filter(|s| s.on(InstanceId::Backup))
        .collect();
    let stop = position(&backup, "sp_stop_job", |s| {
        s.contains("sp_stop_job") && s.param("@job") == Some(job.as_str())
    });
    let remove = position(&backup, "removal of log shipping", |s| {
        s.contains("sp_delete_log_shipping_secondary_database")
    });
    let restore = position(&backup, "log restore", |s| s.contains("RESTORE LOG"));
    assert!(
        stop < remove && remove < restore,
        "the job is stopped ({stop}) before log shipping is removed ({remove}) and logs restored ({restore})"
    );
    let state = served.world.read().unwrap();
    let activity = &state.instances[&InstanceId::Backup].msdb.activity;
    assert!(activity.iter().all(|a| !a.is_running()), "{activity:#?}");
    drop(state);
    assert_serving_principal(&served, InstanceId::Backup);
    assert_verified(&served, Expect::FailedOver);
}

fn sequential() -> RunOptions {
    RunOptions {
        sequential_restore: true,
        ..RunOptions::default()
    }
}

/// A backlog world whose secondary is in standby with two readers.
fn standby_world() -> WorldOptions {
    WorldOptions {
        standby: true,
        readers: 2,
        ..backlog()
    }
}

/// Fails over `world` (a standby secondary with two readers), copying and restoring as
/// `options` says; `restorer` is the step that then restores the log backups. Checks
/// each reader is ended once, before the first log restore.
async fn standby_failover(world: WorldOptions, options: RunOptions, restorer: StepId) -> Served {
    let served = Served::new(&world).await;
    let readers: Vec<u16> = served.world.read().unwrap().instances[&InstanceId::Backup]
        .readers
        .iter()
        .map(|r| r.spid)
        .collect();
    assert_eq!(readers.len(), 2);
    assert!(served.mgc(InstanceId::Backup).standby);
    strike(&served).await;

    let report = served
        .run(failover::PROCEDURE, options)
        .await
        .expect("the failover completes");
    assert!(report.completed, "{report:#?}");

    assert_done(&report, restorer);
    assert_done(&report, failover::RECOVER_DATABASE);
    let backup: Vec<_> = served
        .statements()
        .into_iter()
        .filter(|s| s.on(InstanceId::Backup))
        .collect();
    let first_restore = backup
        .iter()
        .position(|s| s.contains("RESTORE LOG"))
        .expect("log backups are restored");
    for spid in &readers {
        let kills: Vec<usize> = backup
            .iter()
            .enumerate()
            .filter(|(_, s)| s.text.trim_end_matches(';') == format!("KILL {spid}"))
            .map(|(n, _)| n)
            .collect();
        assert_eq!(kills.len(), 1, "reader {spid} is ended once");
        assert!(
            kills[0] < first_restore,
            "reader {spid} is ended before the first log restore, which needs the database to itself"
        );
    }
    let state = served.world.read().unwrap();
    assert!(state.instances[&InstanceId::Backup].readers.is_empty());
    drop(state);
    assert_serving_principal(&served, InstanceId::Backup);
    assert_verified(&served, Expect::FailedOver);
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_readers_are_ended_before_restoring_sequentially() {
    standby_failover(
        standby_world(),
        sequential(),
        failover::APPLY_UNAPPLIED_LOGS,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_readers_are_ended_and_recovery_succeeds() {
    let served = standby_failover(
        standby_world(),
        RunOptions::default(),
        failover::COPY_LOG_BACKUPS,
    )
    .await;
    fails_back_and_log_shipping_runs(&served).await;
}

/// On SQL Server 2008 R2, a supported back end of Skype for Business Server 2015,
/// `sys.dm_exec_sessions` has no `database_id` (it came with SQL Server 2012): the
/// readers of the standby secondary are found all the same, ended before the restores,
/// and the pool fails over and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_and_failback_on_sql_server_2008_r2_end_the_sessions_holding_the_database() {
    let world = WorldOptions {
        sql_version: SqlVersion::Sql2008R2,
        ..standby_world()
    };
    let served = standby_failover(world, RunOptions::default(), failover::COPY_LOG_BACKUPS).await;
    fails_back_and_log_shipping_runs(&served).await;
}

/// Rebuilds the primary site of a failed-over standby world, fails back, and checks
/// that log shipping runs again into a standby secondary.
async fn fails_back_and_log_shipping_runs(served: &Served) {
    // Back home, the backup site is a standby secondary again, and log shipping runs.
    served.rebuild().await;
    served.completes(failback::PROCEDURE).await;
    served
        .world
        .traffic(5, true)
        .expect("traffic after failback");
    served.world.tick(15).expect("the clock runs");
    assert!(
        served.mgc(InstanceId::Backup).standby,
        "the secondary is in standby again"
    );
    assert_eq!(
        served.messages(InstanceId::Backup),
        served.messages(InstanceId::Primary)
    );
    assert_verified(served, Expect::Normal);
}

/// Fails back a struck backlog world whose log-shipping setup fails at the `offset`-th
/// statement of the batch sent to `instance` (counting the statements that run:
/// `DECLARE`, then each `EXEC` and the `IF` that checks it), then resumes with the
/// fault gone: the setup completes without anyone cleaning msdb up, and log shipping
/// runs. Microsoft's script sets log shipping up the same way
/// (<https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>).
async fn log_shipping_setup_interrupted_resumes(instance: InstanceId, offset: u64) -> Served {
    let served = failed_over().await;
    served.rebuild().await;
    let interrupt = Interrupt::new(
        served.world.clone(),
        |event: &Event| matches!(event, Event::Planned { step, .. } if *step == failback::SETUP_LOG_SHIPPING),
        move |world: &World| {
            let state = world.read().unwrap();
            let sent = state.instance(instance).expect("the instance").statements;
            let on = StatementMatch {
                instance: Some(instance),
                kind: Some(StatementKind::Execute),
                nth: Some(sent + offset),
            };
            world
                .add_statement_fault(StatementFault::Fail { on, error: 50000 })
                .unwrap();
        },
    );
    let error = served
        .run_observed(
            failback::PROCEDURE,
            RunOptions::default(),
            interrupt.clone(),
        )
        .await
        .expect_err("the interrupted failback fails");
    assert!(interrupt.struck(), "the fault was never injected");
    assert_eq!(
        error.step_id(),
        Some(failback::SETUP_LOG_SHIPPING),
        "{error}"
    );

    served.world.clear_faults().unwrap();
    let report = served
        .resume(failback::PROCEDURE, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("the resumed failback failed: {e}"));
    assert!(report.completed, "{report:#?}");
    assert_done(&report, failback::SETUP_LOG_SHIPPING);
    let traffic = served
        .world
        .traffic(5, true)
        .expect("traffic after failback");
    let runs = served.world.tick(15).expect("the clock runs");
    let failed: Vec<_> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let messages = served.messages(InstanceId::Backup);
    assert!(traffic.messages.iter().all(|m| messages.contains(m)));
    assert_verified(&served, Expect::Normal);
    served
}

/// The snapshot records the secondary's alert thresholds from
/// `log_shipping_monitor_secondary`, so that failback can set them up again
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-monitor-secondary-transact-sql>).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_records_the_secondarys_alert_thresholds() {
    let served = Served::new(&backlog()).await;
    let snapshot = served
        .context(RunOptions::default())
        .sql(SiteRole::Backup)
        .log_shipping_snapshot("mgc")
        .await
        .expect("the snapshot is read")
        .expect("mgc is a log-shipping secondary");
    let state = served.world.read().unwrap();
    let monitor = &state
        .instance(InstanceId::Backup)
        .unwrap()
        .msdb
        .monitor_secondaries[0];
    assert_eq!(
        snapshot.thresholds,
        Some(RestoreThresholds {
            restore_threshold_minutes: monitor.restore_threshold,
            alert_enabled: monitor.threshold_alert_enabled,
            history_retention_minutes: monitor.history_retention_period,
        })
    );
}

/// The settings of a log-shipping secondary that a failback keeps: `disconnect_users`,
/// restore delay and mode, file retention, alert thresholds.
type KeptSettings = (bool, i32, RestoreMode, i32, Option<RestoreThresholds>);

/// The kept settings of the backup instance's `mgc`, as msdb holds them now.
async fn kept_settings(served: &Served) -> KeptSettings {
    let s = served
        .context(RunOptions::default())
        .sql(SiteRole::Backup)
        .log_shipping_snapshot("mgc")
        .await
        .expect("the snapshot is read")
        .expect("mgc is a log-shipping secondary");
    (
        s.disconnect_users,
        s.restore_delay_minutes,
        s.restore_mode,
        s.file_retention_minutes,
        s.thresholds,
    )
}

/// Sets the backup's secondary up again (`@overwrite = 1`) with settings none of which
/// is the world's or pcdr's default.
async fn own_secondary_settings(served: &Served) {
    let ctx = served.context(RunOptions::default());
    let backup = ctx.sql(SiteRole::Backup);
    let now = backup.log_shipping_snapshot("mgc").await.unwrap().unwrap();
    let primary = now.primary_server.clone();
    let setup = SecondaryLogShipping {
        copy_job_name: format!("LSCopy_{primary}_mgc"),
        restore_job_name: format!("LSRestore_{primary}_mgc"),
        primary_server: primary,
        primary_database: "mgc".into(),
        secondary_database: "mgc".into(),
        backup_source_directory: now.backup_source_directory,
        backup_destination_directory: now.backup_destination_directory,
        interval_minutes: 15,
        retention_minutes: 2880,
        restore_delay_minutes: 7,
        restore_mode: RestoreMode::NoRecovery,
        disconnect_users: false,
        thresholds: Some(RestoreThresholds {
            restore_threshold_minutes: 60,
            alert_enabled: false,
            history_retention_minutes: 10080,
        }),
    };
    backup
        .setup_log_shipping_secondary(&setup)
        .await
        .expect("the secondary is set up again with its own settings");
}

/// A failback reads the failover's journal and sets log shipping up again with every
/// setting the failover's snapshot recorded (issue 13, item 5), not the topology's
/// values and pcdr's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_sets_log_shipping_up_with_the_settings_the_failover_journal_recorded() {
    let served = Served::new(&backlog()).await;
    own_secondary_settings(&served).await;
    let before = kept_settings(&served).await;
    assert_eq!(before.1, 7, "{before:?}");
    strike(&served).await;
    served.completes(failover::PROCEDURE).await;
    served.rebuild().await;
    let options = RunOptions {
        failover_journal: Some(served.journal(failover::PROCEDURE)),
        ..RunOptions::default()
    };
    let report = served
        .run(failback::PROCEDURE, options)
        .await
        .expect("the failback runs");
    assert!(report.completed, "{report:#?}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(kept_settings(&served).await, before);
}

/// One job of each kind on `instance`, each enabled, and one alert job: nothing a
/// stopped setup left behind survives next to what the resumed one made.
fn assert_log_shipping_jobs(served: &Served, instance: InstanceId, kinds: &[fn(&JobKind) -> bool]) {
    let state = served.world.read().unwrap();
    let jobs = &state.instance(instance).expect("the instance").msdb.jobs;
    for kind in kinds
        .iter()
        .chain([&((|k: &JobKind| *k == JobKind::Alert) as fn(&JobKind) -> bool)])
    {
        let matching: Vec<_> = jobs.iter().filter(|j| kind(&j.kind)).collect();
        assert_eq!(matching.len(), 1, "{jobs:#?}");
        assert!(matching[0].enabled, "{jobs:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_shipping_setup_stopped_after_the_schedules_of_the_secondary_resumes() {
    // The batch to the backup instance: DECLARE, then EXEC and IF for
    // sp_add_log_shipping_secondary_primary, two sp_add_schedule with their
    // sp_attach_schedule, and sp_add_log_shipping_alert_job; the 14th statement is
    // sp_add_log_shipping_secondary_database, which fails.
    let served = log_shipping_setup_interrupted_resumes(InstanceId::Backup, 14).await;
    assert_log_shipping_jobs(
        &served,
        InstanceId::Backup,
        &[
            |k| matches!(k, JobKind::Copy(_)),
            |k| matches!(k, JobKind::Restore(_)),
        ],
    );
    let failed_once = "sp_add_log_shipping_secondary_database";
    assert_eq!(served.count(InstanceId::Backup, failed_once, |_| true), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_shipping_setup_stopped_after_the_primary_database_resumes() {
    // The batch to the primary: DECLARE, then EXEC and IF for
    // sp_add_log_shipping_primary_database; the 4th statement is sp_add_schedule, which
    // fails, leaving a primary whose backup job is disabled and has no schedule.
    let served = log_shipping_setup_interrupted_resumes(InstanceId::Primary, 4).await;
    assert_log_shipping_jobs(
        &served,
        InstanceId::Primary,
        &[|k| matches!(k, JobKind::Backup(_))],
    );
    let state = served.world.read().unwrap();
    let msdb = &state.instance(InstanceId::Primary).unwrap().msdb;
    assert_eq!(msdb.primary_databases.len(), 1, "{msdb:#?}");
    assert_eq!(msdb.primary_secondaries.len(), 1, "{msdb:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_over_a_mirrored_rebuilt_primary_removes_mirroring_first() {
    let served = failed_over().await;
    served.rebuild().await;
    let rebuilt = served.mgc(InstanceId::Primary);
    assert_eq!(
        rebuilt.mirroring.as_ref().map(|m| m.role),
        Some(MirrorRole::Principal),
        "the rebuild mirrors the primary mgc"
    );

    let report = served.completes(failback::PROCEDURE).await;

    assert_done(&report, failback::RESTORE_PRIMARY);
    let primary: Vec<_> = served
        .statements()
        .into_iter()
        .filter(|s| s.on(InstanceId::Primary))
        .collect();
    let partner_off = primary
        .iter()
        .position(|s| s.contains("ALTER DATABASE [mgc] SET PARTNER OFF"))
        .expect("mirroring is removed from the primary mgc");
    let restores: Vec<usize> = primary
        .iter()
        .enumerate()
        .filter(|(_, s)| s.contains("RESTORE DATABASE") && s.contains("FROM DISK"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        restores.len(),
        1,
        "the primary mgc is restored once, first time (no 3104 and retry)"
    );
    assert!(partner_off < restores[0], "mirroring is removed first");
    assert_serving_principal(&served, InstanceId::Primary);
    assert_verified(&served, Expect::Normal);
}

/// The original primary site comes back instead of being rebuilt: its `mgc` still holds
/// the messages no log backup carried. The failback replaces it with the backup site's
/// data, but only after a `COPY_ONLY` backup of it is on the share (Copy-only backups,
/// Microsoft Learn), and only from this run's verified backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_over_an_original_primary_keeps_a_copy_only_backup_of_what_it_held() {
    let served = failed_over().await;
    let held_before = served.messages(InstanceId::Primary);
    for instance in [InstanceId::Primary, InstanceId::PrimaryMirror] {
        served
            .world
            .set_instance_down(instance, false)
            .expect("back up");
    }
    common::wait_until_listening(&served.topology, SiteRole::Primary, true).await;

    let report = served
        .run(failback::PROCEDURE, RunOptions::default())
        .await
        .expect("failback completes");

    assert_done(&report, failback::RESTORE_PRIMARY);
    let copy = served
        .world
        .share_dir()
        .join(format!("mgc_pcdr_before_failback_{}.bak", report.run_id));
    let set = BackupSet::read(&copy).expect("the copy of the primary's mgc is on the share");
    assert!(set.header.is_copy_only, "taken WITH COPY_ONLY");
    let copied: Vec<u64> = set.messages.iter().map(|m| m.id).collect();
    assert_eq!(copied, held_before, "the copy holds what the primary held");
    assert_eq!(
        served.messages(InstanceId::Primary),
        served.messages(InstanceId::Backup),
        "the primary now holds the backup's data"
    );
    let primary: Vec<_> = served
        .statements()
        .into_iter()
        .filter(|s| s.on(InstanceId::Primary))
        .collect();
    let position = |what: &str, file: &str| {
        primary
            .iter()
            .position(|s| s.contains(what) && s.file_name().is_some_and(|f| f.contains(file)))
            .unwrap_or_else(|| panic!("{what} of {file} was not sent to the primary"))
    };
    let restore = position("RESTORE DATABASE", "_pcdr_failback_");
    assert!(position("COPY_ONLY", "_pcdr_before_failback_") < restore);
    assert!(position("VERIFYONLY", "_pcdr_before_failback_") < restore);
    assert!(position("VERIFYONLY", "_pcdr_failback_") < restore);
}

/// The failback file of the run on the share, once `backup_for_failback` wrote it.
fn failback_file_on(share: &Path) -> PathBuf {
    std::fs::read_dir(share)
        .expect("the share lists")
        .map(|entry| entry.expect("a share entry").path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("mgc_pcdr_failback_"))
        })
        .expect("the failback backup is on the share")
}

/// Fails back a failed-over world whose primary site was rebuilt, with the failback file
/// replaced by a copy of `replacement` right after `backup_for_failback` took and
/// verified it. The restore over the primary refuses before sending it anything that
/// changes it: the error names the file and says what differs (`differs`), and the
/// primary `mgc` is as it was.
async fn refused_after_the_failback_file_becomes(
    served: &Served,
    replacement: PathBuf,
    differs: &[&str],
) {
    let primary_before = served.mgc(InstanceId::Primary);
    let interrupt = Interrupt::new(
        served.world.clone(),
        |event: &Event| When::Finished(failback::BACKUP_FOR_FAILBACK).matches(event),
        move |world: &World| {
            let file = failback_file_on(&world.share_dir());
            std::fs::copy(&replacement, file).expect("the failback file is replaced");
        },
    );

    let error = served
        .run_observed(
            failback::PROCEDURE,
            RunOptions::default(),
            interrupt.clone(),
        )
        .await
        .expect_err("the restore over the primary refuses");

    assert!(interrupt.struck(), "the file was never replaced");
    assert_eq!(error.step_id(), Some(failback::RESTORE_PRIMARY), "{error}");
    assert_eq!(
        error.precondition_kind(),
        Some(PreconditionKind::EarlierStep),
        "{error}"
    );
    let text = error.to_string();
    let file = failback_file_on(&served.world.share_dir());
    let file = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    for part in std::iter::once(file).chain(differs.iter().copied()) {
        assert!(text.contains(part), "{text:?} does not name {part:?}");
    }
    assert_eq!(
        served.mgc(InstanceId::Primary),
        primary_before,
        "the primary mgc is untouched"
    );
    for change in [
        "BACKUP DATABASE",
        "RESTORE DATABASE",
        "KILL",
        "SET PARTNER OFF",
    ] {
        assert_eq!(
            served.count(InstanceId::Primary, change, |_| true),
            0,
            "{change} was sent to the primary"
        );
    }
}

/// An older backup of the very backup database (taken before the run, by an operator
/// or an earlier attempt) is not the backup this run took: it finished before the run
/// started, on the backup instance's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_refuses_a_failback_file_replaced_by_an_older_backup() {
    let served = failed_over().await;
    served.rebuild().await;
    let older = served.world.share_dir().join("mgc_before_the_run.bak");
    served
        .context(RunOptions::default())
        .sql(SiteRole::Backup)
        .backup_database("mgc", &older.display().to_string(), false)
        .await
        .expect("an older backup of the backup mgc");
    served.world.tick(5).expect("the clock runs");

    refused_after_the_failback_file_becomes(
        &served,
        older,
        &["finished at", "before this run started"],
    )
    .await;
}

/// Another database's backup of the same family: the seed of log shipping, a full
/// backup of the original primary `mgc`. Log shipping keeps the family GUID, so only
/// the database GUID (`BindingID`) tells it from the backup database (RESTORE
/// HEADERONLY, Microsoft Learn); restoring it would bring back the primary as it was
/// before log shipping started, without the messages since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_refuses_a_failback_file_replaced_by_another_databases_backup() {
    let served = failed_over().await;
    served.rebuild().await;
    let seed = std::fs::read_dir(served.world.share_dir())
        .expect("the share lists")
        .map(|entry| entry.expect("a share entry").path())
        .find(|path| path.to_string_lossy().contains("mgc_seed_"))
        .expect("the seed of log shipping is on the share");

    refused_after_the_failback_file_becomes(
        &served,
        seed,
        &["another database of its family", "BindingID"],
    )
    .await;
}

/// Where a failover is interrupted, and how.
struct Interruption {
    /// The event that strikes.
    when: When,
    /// What breaks then.
    fault: Fault,
    /// The step the first run fails in.
    fails_in: StepId,
    /// What that step does when the run is resumed: `true` when it finds its work done.
    resumed_skips: bool,
    /// Statements the fault stopped before they ran: (text, file) sent twice.
    lost: Option<(&'static str, Option<usize>)>,
    /// A cmdlet the fault made fail, so run twice.
    failed_cmdlet: Option<&'static str>,
}

enum Fault {
    Statement(StatementFault),
    Cmdlet(&'static str),
}

/// The progress event a fault is injected at.
#[derive(Clone, Copy)]
enum When {
    /// The step finished (journaled; the flush to disk may still be running).
    Finished(StepId),
    /// The step is about to carry out its actions.
    AboutToAct(StepId),
    /// The first log backup was restored.
    FirstLogRestored,
    /// The step ended the sessions on a database, right before its exclusive operation.
    SessionsEnded(StepId),
}

impl When {
    fn matches(self, event: &Event) -> bool {
        match (self, event) {
            (When::Finished(step), Event::StepFinished { step: s, .. }) => *s == step,
            (When::AboutToAct(step), Event::Planned { step: s, .. }) => *s == step,
            (When::FirstLogRestored, Event::LogRestored { .. }) => true,
            (When::SessionsEnded(step), Event::SessionsEnded { step: s, .. }) => *s == step,
            _ => false,
        }
    }
}

/// Interrupts a failover of a backlog world as `case` says, resumes it, and checks it
/// completes with every mutating statement and cmdlet that succeeded sent once.
async fn interrupted_failover(case: Interruption) {
    interrupted_failover_with(case, RunOptions::default()).await;
}

/// [`interrupted_failover`] with `options` for both runs.
async fn interrupted_failover_with(case: Interruption, options: RunOptions) {
    let served = Served::new(&backlog()).await;
    strike(&served).await;
    let fault = case.fault;
    let interrupt = Interrupt::new(
        served.world.clone(),
        move |event: &Event| case.when.matches(event),
        move |world: &World| match fault {
            Fault::Statement(fault) => world.add_statement_fault(fault).unwrap(),
            Fault::Cmdlet(cmdlet) => world
                .set_cmdlet_fault(
                    cmdlet,
                    Some(StoredCmdletFault::Fail(format!(
                        "{cmdlet} failed (injected)"
                    ))),
                )
                .unwrap(),
        },
    );

    let error = served
        .run_observed(failover::PROCEDURE, options.clone(), interrupt.clone())
        .await
        .expect_err("the interrupted failover fails");
    assert!(interrupt.struck(), "the fault was never injected");
    assert_eq!(error.step_id(), Some(case.fails_in), "{error}");

    served.world.clear_faults().unwrap();
    let report = served
        .resume(failover::PROCEDURE, options)
        .await
        .unwrap_or_else(|e| panic!("the resumed failover failed: {e}"));

    assert!(report.completed, "{report:#?}");
    if case.resumed_skips {
        assert_skipped(&report, case.fails_in);
    } else {
        assert_done(&report, case.fails_in);
    }
    assert_serving_principal(&served, InstanceId::Backup);
    assert!(served.world.read().unwrap().pool.failed_over);
    assert_verified(&served, Expect::FailedOver);

    // Nothing done twice: each mutating statement that succeeded was sent once.
    let files = restored_files(&served);
    let sent_twice = |text: &str, file: Option<&str>| {
        case.lost
            .is_some_and(|(lost, index)| lost == text && index.map(|i| files[i].as_str()) == file)
    };
    let expect = |text: &'static str, file: Option<&str>| 1 + usize::from(sent_twice(text, file));
    let remove = "sp_delete_log_shipping_secondary_database";
    assert_eq!(
        served.count(InstanceId::Backup, remove, |_| true),
        expect(remove, None)
    );
    let recovery = "RESTORE DATABASE @db WITH RECOVERY";
    assert_eq!(
        served.count(InstanceId::Backup, recovery, |_| true),
        expect(recovery, None)
    );
    assert_eq!(files.len(), backlog().unrestored as usize, "{files:?}");
    for file in &files {
        assert_eq!(
            served.count(InstanceId::Backup, "RESTORE LOG", |s| s.file_name()
                == Some(file)),
            expect("RESTORE LOG", Some(file)),
            "RESTORE LOG of {file}"
        );
    }
    assert_eq!(
        served.count(InstanceId::Backup, "KILL", |_| true),
        0,
        "no session to end"
    );
    if cfg!(unix) {
        for cmdlet in [
            "Set-CsPersistentChatState",
            "Install-CsMirrorDatabase",
            "Set-CsPersistentChatActiveServer",
        ] {
            let runs = 1 + usize::from(case.failed_cmdlet == Some(cmdlet));
            assert_eq!(served.cmdlet_runs(cmdlet), runs, "{cmdlet}");
        }
    }
}

/// The distinct log backups restored on the backup instance, in the order first sent.
fn restored_files(served: &Served) -> Vec<String> {
    let mut seen = BTreeMap::new();
    for statement in served.statements() {
        if statement.on(InstanceId::Backup)
            && statement.contains("RESTORE LOG")
            && let Some(file) = statement.file_name()
        {
            let next = seen.len();
            seen.entry(file.to_owned()).or_insert(next);
        }
    }
    let mut files: Vec<(usize, String)> = seen.into_iter().map(|(f, n)| (n, f)).collect();
    files.sort();
    files.into_iter().map(|(_, f)| f).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_check_sites_resumes() {
    interrupted_failover(Interruption {
        when: When::Finished(failover::CHECK_SITES),
        fault: Fault::Statement(fail(InstanceId::Backup, None)),
        fails_in: failover::SNAPSHOT_LOG_SHIPPING,
        resumed_skips: false,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_snapshot_resumes() {
    interrupted_failover(Interruption {
        when: When::Finished(failover::SNAPSHOT_LOG_SHIPPING),
        fault: Fault::Statement(fail(InstanceId::Backup, None)),
        fails_in: failover::REMOVE_LOG_SHIPPING,
        resumed_skips: false,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_removing_log_shipping_resumes() {
    // The removal succeeds; the read that verifies it fails.
    interrupted_failover(Interruption {
        when: When::AboutToAct(failover::REMOVE_LOG_SHIPPING),
        fault: Fault::Statement(fail(InstanceId::Backup, Some(StatementKind::Select))),
        fails_in: failover::REMOVE_LOG_SHIPPING,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_copying_resumes() {
    // Sequential: nothing is restored yet.
    let case = Interruption {
        when: When::Finished(failover::COPY_LOG_BACKUPS),
        fault: Fault::Statement(fail(InstanceId::Backup, None)),
        fails_in: failover::APPLY_UNAPPLIED_LOGS,
        resumed_skips: false,
        lost: None,
        failed_cmdlet: None,
    };
    interrupted_failover_with(case, sequential()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_copying_and_restoring_as_the_files_landed_resumes() {
    // Pipelined: the copy step restored everything, so the resumed apply step skips.
    interrupted_failover(Interruption {
        when: When::Finished(failover::COPY_LOG_BACKUPS),
        fault: Fault::Statement(fail(InstanceId::Backup, None)),
        fails_in: failover::APPLY_UNAPPLIED_LOGS,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_between_two_log_restores_resumes() {
    // The first log backup is restored; the connection drops during the second.
    let case = Interruption {
        when: When::FirstLogRestored,
        fault: Fault::Statement(drop_connection(
            InstanceId::Backup,
            StatementKind::RestoreLog,
        )),
        fails_in: failover::APPLY_UNAPPLIED_LOGS,
        resumed_skips: false,
        lost: Some(("RESTORE LOG", Some(1))),
        failed_cmdlet: None,
    };
    interrupted_failover_with(case, sequential()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_between_two_log_restores_while_copying_resumes() {
    // Pipelined: the copy step fails; resumed, it finds every file copied and the apply
    // step restores the rest.
    interrupted_failover(Interruption {
        when: When::FirstLogRestored,
        fault: Fault::Statement(drop_connection(
            InstanceId::Backup,
            StatementKind::RestoreLog,
        )),
        fails_in: failover::COPY_LOG_BACKUPS,
        resumed_skips: true,
        lost: Some(("RESTORE LOG", Some(1))),
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_the_last_log_restore_resumes() {
    // Every log backup is restored; the read of the restore point that verifies fails.
    let case = Interruption {
        when: When::AboutToAct(failover::APPLY_UNAPPLIED_LOGS),
        fault: Fault::Statement(fail(InstanceId::Backup, Some(StatementKind::Select))),
        fails_in: failover::APPLY_UNAPPLIED_LOGS,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    };
    interrupted_failover_with(case, sequential()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_recovery_resumes() {
    // Recovery succeeds; the read that verifies it fails.
    interrupted_failover(Interruption {
        when: When::SessionsEnded(failover::RECOVER_DATABASE),
        fault: Fault::Statement(fail(InstanceId::Backup, Some(StatementKind::Select))),
        fails_in: failover::RECOVER_DATABASE,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_whose_connection_drops_during_recovery_resumes() {
    // The connection drops before RESTORE … WITH RECOVERY runs: its effect is unknown to
    // pcdr, which must not retry it blindly; the resumed run observes and recovers.
    interrupted_failover(Interruption {
        when: When::AboutToAct(failover::RECOVER_DATABASE),
        fault: Fault::Statement(drop_connection(
            InstanceId::Backup,
            StatementKind::RestoreDatabase,
        )),
        fails_in: failover::RECOVER_DATABASE,
        resumed_skips: false,
        lost: Some(("RESTORE DATABASE @db WITH RECOVERY", None)),
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_setting_the_pool_state_resumes() {
    // Set-CsPersistentChatState succeeds; reading the state back fails.
    interrupted_failover(Interruption {
        when: When::AboutToAct(failover::SET_POOL_FAILED_OVER),
        fault: Fault::Cmdlet("Get-CsPersistentChatState"),
        fails_in: failover::SET_POOL_FAILED_OVER,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_after_mirroring_resumes() {
    // Install-CsMirrorDatabase succeeds; the read that verifies the mirroring fails.
    interrupted_failover(Interruption {
        when: When::AboutToAct(failover::MIRROR_NEW_PRIMARY),
        fault: Fault::Statement(fail(InstanceId::Backup, Some(StatementKind::Select))),
        fails_in: failover::MIRROR_NEW_PRIMARY,
        resumed_skips: true,
        lost: None,
        failed_cmdlet: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_interrupted_while_activating_servers_resumes() {
    // The last step has nothing to verify (the pool cannot list its active servers), so
    // it is interrupted by its own cmdlet failing; resumed, it sets the list again.
    interrupted_failover(Interruption {
        when: When::AboutToAct(failover::ACTIVATE_BACKUP_SERVERS),
        fault: Fault::Cmdlet("Set-CsPersistentChatActiveServer"),
        fails_in: failover::ACTIVATE_BACKUP_SERVERS,
        resumed_skips: false,
        lost: None,
        failed_cmdlet: Some("Set-CsPersistentChatActiveServer"),
    })
    .await;
}
