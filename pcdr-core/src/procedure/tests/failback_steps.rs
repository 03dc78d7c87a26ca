//! Failback steps, one section per step.

use super::fixtures::*;
use crate::error::{Error, PreconditionKind};
use crate::log_chain::{BackupHeader, Lsn};
use crate::planes::{
    ChatDatabase, FileMove, FullRestore, MirrorRequest, MirroringRole, PoolState,
    PrimaryLogShipping, RestoreThresholds, SecondaryLogShipping, SessionId, UserAccess,
};
use crate::procedure::failback;
use crate::procedure::failback::{
    activate_primary_servers, backup_for_failback, check_rebuilt_primary, clear_active_servers,
    mirror_primary, reinitialize_backup, remove_backup_mirroring, restore_primary, set_pool_normal,
    setup_log_shipping, ship_logs_from_primary_mirror,
};
use crate::topology::RestoreMode;
use chrono::{DateTime, Utc};
use mockall::Sequence;
use mockall::predicate::eq;

fn servers(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// When the run started, on the backup instance's clock: before every backup of these
/// tests finished ([`full_header`]'s finish is `at(200)`).
fn run_start() -> DateTime<Utc> {
    at(0)
}

// ---------------------------------------------------------------- check_rebuilt_primary

#[tokio::test]
async fn check_rebuilt_primary_passes_when_both_answer_and_the_pool_is_failed_over() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .times(1)
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_server_time()
        .times(1)
        .returning(|| Ok(run_start()));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let summary = done(check_rebuilt_primary(&ctx).await.expect("passes"));
    assert!(summary.contains("failed over"), "{summary}");
    assert_eq!(ctx.facts().failback_started_on_backup, Some(run_start()));
}

/// The start of a run is marked once: a resumed run keeps the mark of the run it
/// continues, or a backup taken before the interruption would look older than the run.
#[tokio::test]
async fn check_rebuilt_primary_keeps_the_start_marked_by_the_run_it_resumes() {
    let mut w = World::new();
    w.facts.failback_started_on_backup = Some(run_start());
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    w.backup.expect_server_time().never();
    w.forbid_mutations();
    let ctx = w.build().0.resuming();
    done(check_rebuilt_primary(&ctx).await.expect("passes"));
    assert_eq!(ctx.facts().failback_started_on_backup, Some(run_start()));
}

#[tokio::test]
async fn check_rebuilt_primary_names_the_backup_when_its_clock_cannot_be_read() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_server_time()
        .returning(|| Err(unreachable(BACKUP_SQL)));
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx).await.expect_err("no clock");
    assert_names(&err, failback::CHECK_REBUILT_PRIMARY, &[BACKUP_SQL]);
    assert_eq!(ctx.facts().failback_started_on_backup, None);
}

#[tokio::test]
async fn check_rebuilt_primary_refuses_a_pool_that_is_not_failed_over() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::Normal));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx).await.expect_err("normal");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(&err, failback::CHECK_REBUILT_PRIMARY, &["Normal"]);
}

#[tokio::test]
async fn check_rebuilt_primary_refuses_a_primary_without_the_chat_database() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary.expect_database_state().returning(|_| Ok(None));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx).await.expect_err("not rebuilt");
    assert_names(
        &err,
        failback::CHECK_REBUILT_PRIMARY,
        &[PRIMARY_SQL, "Topology Builder"],
    );
}

#[tokio::test]
async fn check_rebuilt_primary_refuses_a_backup_database_that_is_not_online() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx)
        .await
        .expect_err("backup not online");
    assert_names(
        &err,
        failback::CHECK_REBUILT_PRIMARY,
        &[BACKUP_SQL, "not online"],
    );
}

#[tokio::test]
async fn check_rebuilt_primary_names_the_primary_when_it_does_not_answer() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Err(unreachable(PRIMARY_SQL)));
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx).await.expect_err("unreachable");
    assert_names(
        &err,
        failback::CHECK_REBUILT_PRIMARY,
        &[PRIMARY_SQL, "database mgc", "cannot reach"],
    );
}

#[tokio::test]
async fn check_rebuilt_primary_names_the_pool_when_the_shell_fails() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Err(shell_error("Get-CsPersistentChatState")));
    let (ctx, _) = w.build();
    let err = check_rebuilt_primary(&ctx).await.expect_err("shell fails");
    assert_names(
        &err,
        failback::CHECK_REBUILT_PRIMARY,
        &[POOL, "Get-CsPersistentChatState"],
    );
}

// ---------------------------------------------------------------- clear_active_servers

#[tokio::test]
async fn clear_active_servers_clears_the_list_and_names_the_agent_account() {
    let mut w = World::new();
    let mut seq = Sequence::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc3.contoso.com", "pc4.contoso.com"]))));
    w.backup
        .expect_agent_service_account()
        .times(1)
        .returning(|| Ok(Some(r"CONTOSO\sqlagent".into())));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list.is_empty())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(vec![])));
    let (ctx, rec) = w.build();
    assert_eq!(
        done(clear_active_servers(&ctx).await.expect("cleared")),
        "active servers cleared"
    );
    let notes = rec.notes();
    assert!(
        notes.iter().any(|n| n.contains(r"CONTOSO\sqlagent")
            && n.contains(BACKUP_SQL)
            && n.contains(SHARE)
            && n.contains(COPY)),
        "{notes:?}"
    );
}

#[tokio::test]
async fn clear_active_servers_is_skipped_when_none_are_active() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .returning(|| Ok(Some(vec![])));
    w.backup
        .expect_agent_service_account()
        .returning(|| Ok(None));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(clear_active_servers(&ctx).await.expect("skipped"));
}

#[tokio::test]
async fn clear_active_servers_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.pool.expect_active_servers().returning(|| Ok(None));
    w.backup
        .expect_agent_service_account()
        .returning(|| Ok(None));
    w.pool
        .expect_set_active_servers()
        .times(1)
        .returning(|_| Err(shell_error("Set-CsPersistentChatActiveServer")));
    let (ctx, _) = w.build();
    let err = clear_active_servers(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::CLEAR_ACTIVE_SERVERS,
        &[POOL, "Set-CsPersistentChatActiveServer"],
    );
}

/// The agent account is advice for the operator, not a condition of the step: an
/// account that cannot be read is said so in the note, and the list is still cleared.
#[tokio::test]
async fn clear_active_servers_clears_the_list_when_the_agent_account_cannot_be_read() {
    let mut w = World::new();
    let mut seq = Sequence::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc3.contoso.com"]))));
    w.backup
        .expect_agent_service_account()
        .times(1)
        .returning(|| Err(sql_error(300, "VIEW SERVER STATE permission was denied")));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list.is_empty())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(vec![])));
    let (ctx, rec) = w.build();
    assert_eq!(
        done(clear_active_servers(&ctx).await.expect("cleared")),
        "active servers cleared"
    );
    let notes = rec.notes();
    assert!(
        notes.iter().any(|n| n.contains(BACKUP_SQL)
            && n.contains("could not be read")
            && n.contains("VIEW SERVER STATE")
            && n.contains(SHARE)
            && n.contains(COPY)),
        "{notes:?}"
    );
}

#[tokio::test]
async fn clear_active_servers_is_skipped_despite_an_unreadable_agent_account() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .returning(|| Ok(Some(vec![])));
    w.backup
        .expect_agent_service_account()
        .returning(|| Err(unreachable(BACKUP_SQL)));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(clear_active_servers(&ctx).await.expect("skipped"));
}

#[tokio::test]
async fn clear_active_servers_names_the_snapshots_folders_when_there_is_one() {
    let mut w = World::new().with_snapshot(snapshot());
    w.pool
        .expect_active_servers()
        .times(2)
        .returning(|| Ok(None));
    w.backup
        .expect_agent_service_account()
        .times(1)
        .returning(|| Ok(None));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list.is_empty())
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, rec) = w.build();
    done(clear_active_servers(&ctx).await.expect("cleared"));
    let notes = rec.notes();
    let note = notes
        .iter()
        .find(|n| n.contains("SQL Server Agent"))
        .unwrap_or_else(|| panic!("no agent note in {notes:?}"));
    assert!(
        note.contains("an unknown account")
            && note.contains(&format!("read access to {SNAP_SHARE}"))
            && note.contains(&format!("write access to {SNAP_COPY}")),
        "{note}"
    );
    assert!(!note.contains(SHARE) && !note.contains(COPY), "{note}");
}

// ---------------------------------------------------------------- remove_backup_mirroring

fn expect_state(
    sql: &mut crate::planes::MockDatabasePlane,
    name: &'static str,
    state: Option<crate::planes::DatabaseState>,
) {
    sql.expect_database_state()
        .withf(move |db| db == name)
        .times(1)
        .returning(move |_| Ok(state.clone()));
}

#[tokio::test]
async fn remove_backup_mirroring_treats_both_mgc_and_mgccomp() {
    let mut w = World::new();
    expect_state(
        &mut w.backup,
        "mgc",
        Some(mirrored(MirroringRole::Principal)),
    );
    expect_state(
        &mut w.backup,
        "mgccomp",
        Some(mirrored(MirroringRole::Principal)),
    );
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(&mut w.backup, "mgccomp", Some(online()));
    let mut seq = Sequence::new();
    for name in ["mgc", "mgccomp"] {
        w.backup
            .expect_remove_mirroring()
            .withf(move |db| db == name)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
    }
    let (ctx, _) = w.build();
    assert_eq!(
        done(remove_backup_mirroring(&ctx).await.expect("removed")),
        "mirroring removed from 2 databases"
    );
}

#[tokio::test]
async fn remove_backup_mirroring_removes_only_what_is_mirrored() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(
        &mut w.backup,
        "mgccomp",
        Some(mirrored(MirroringRole::Principal)),
    );
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(&mut w.backup, "mgccomp", Some(online()));
    w.backup
        .expect_remove_mirroring()
        .withf(|db| db == "mgccomp")
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    assert_eq!(
        done(remove_backup_mirroring(&ctx).await.expect("removed")),
        "mirroring removed from 1 databases"
    );
}

#[tokio::test]
async fn remove_backup_mirroring_is_skipped_when_nothing_is_mirrored() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(&mut w.backup, "mgccomp", None);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(remove_backup_mirroring(&ctx).await.expect("skipped"));
    assert!(reason.contains("no database"), "{reason}");
}

#[tokio::test]
async fn remove_backup_mirroring_failure_names_the_step_instance_and_database() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(
        &mut w.backup,
        "mgccomp",
        Some(mirrored(MirroringRole::Principal)),
    );
    w.backup.expect_remove_mirroring().times(1).returning(|_| {
        Err(sql_error(
            5011,
            "User does not have permission to alter database 'mgccomp'",
        ))
    });
    let (ctx, _) = w.build();
    let err = remove_backup_mirroring(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::REMOVE_BACKUP_MIRRORING,
        &[BACKUP_SQL, "database mgccomp", "5011"],
    );
}

#[tokio::test]
async fn remove_backup_mirroring_fails_when_a_database_is_still_mirrored() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(4)
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    w.backup
        .expect_remove_mirroring()
        .times(2)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = remove_backup_mirroring(&ctx)
        .await
        .expect_err("not verified");
    assert_names(
        &err,
        failback::REMOVE_BACKUP_MIRRORING,
        &[BACKUP_SQL, "still mirrored"],
    );
}

// ---------------------------------------------------------------- backup_for_failback

#[tokio::test]
async fn backup_for_failback_backs_up_verifies_and_records_the_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    // Read again after the backup for its size, and once verified: the header the
    // restore over the primary will demand.
    w.backup
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .times(2)
        .returning(|_| Ok(full_header(FAMILY)));
    let mut seq = Sequence::new();
    w.backup
        .expect_backup_database()
        .withf(|db, f, copy_only| db == "mgc" && f == FAILBACK_FILE && !copy_only)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.backup
        .expect_verify_backup()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_backup_file_list()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(backup_files()));
    w.primary.expect_backup_database().never();
    let (ctx, _) = w.build();
    let summary = done(backup_for_failback(&ctx).await.expect("backed up"));
    assert!(summary.contains(FAILBACK_FILE), "{summary}");
    let written = full_header(FAMILY).backup_size;
    assert_eq!(ctx.facts().bytes_moved, written, "the backup's BackupSize");
    assert_eq!(
        ctx.facts().failback_backup_verified.as_deref(),
        Some(FAILBACK_FILE)
    );
    assert_eq!(
        ctx.facts().failback_backup_header,
        Some(full_header(FAMILY))
    );
}

#[tokio::test]
async fn backup_for_failback_only_verifies_a_complete_backup_already_there() {
    let mut w = World::new();
    w.facts.failback_started_on_backup = Some(run_start());
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_verify_backup()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(|_| Ok(()));
    w.backup
        .expect_backup_file_list()
        .times(1)
        .returning(|_| Ok(backup_files()));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    done(backup_for_failback(&ctx).await.expect("verified"));
    assert_eq!(
        ctx.facts().failback_backup_verified.as_deref(),
        Some(FAILBACK_FILE)
    );
}

/// A full backup of the chat database already in the file is only reused when it is
/// this run's: of the backup database (family and `database_guid`), finished after the
/// run started. Anything else is overwritten by a new backup (`INIT`).
async fn backup_for_failback_retakes_over(in_file: BackupHeader) {
    let mut w = World::new();
    w.facts.failback_started_on_backup = Some(run_start());
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(move |_| Ok(in_file.clone()));
    w.backup
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .times(2)
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_backup_database()
        .withf(|_, f, copy_only| f == FAILBACK_FILE && !copy_only)
        .times(1)
        .returning(|_, _, _| Ok(()));
    w.backup
        .expect_verify_backup()
        .times(1)
        .returning(|_| Ok(()));
    w.backup
        .expect_backup_file_list()
        .returning(|_| Ok(backup_files()));
    let (ctx, _) = w.build();
    done(backup_for_failback(&ctx).await.expect("backed up"));
    assert_eq!(
        ctx.facts().failback_backup_header,
        Some(full_header(FAMILY))
    );
}

#[tokio::test]
async fn backup_for_failback_takes_a_new_backup_over_one_finished_before_the_run_started() {
    backup_for_failback_retakes_over(BackupHeader {
        backup_finish: run_start() - chrono::Duration::minutes(10),
        ..full_header(FAMILY)
    })
    .await;
}

#[tokio::test]
async fn backup_for_failback_takes_a_new_backup_over_one_of_another_database_of_its_family() {
    backup_for_failback_retakes_over(BackupHeader {
        binding_id: "0E0E0E0E-0000-4000-8000-0000000000AA".into(),
        ..full_header(FAMILY)
    })
    .await;
}

#[tokio::test]
async fn backup_for_failback_is_skipped_once_verified_in_this_run() {
    let mut w = World::new();
    w.facts.failback_backup_verified = Some(FAILBACK_FILE.into());
    w.facts.failback_backup_header = Some(full_header(FAMILY));
    w.backup.expect_database_state().never();
    w.backup.expect_verify_backup().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(backup_for_failback(&ctx).await.expect("skipped"));
    assert!(reason.contains(FAILBACK_FILE), "{reason}");
}

#[tokio::test]
async fn backup_for_failback_refuses_a_single_user_database() {
    let mut w = World::new();
    w.backup.expect_database_state().returning(|_| {
        Ok(Some(crate::planes::DatabaseState {
            user_access: UserAccess::SingleUser,
            ..online()
        }))
    });
    w.backup.expect_verify_backup().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = backup_for_failback(&ctx).await.expect_err("single user");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(
        &err,
        failback::BACKUP_FOR_FAILBACK,
        &["SingleUser", "1488", "SET MULTI_USER", BACKUP_SQL],
    );
}

#[tokio::test]
async fn backup_for_failback_failure_names_the_step_instance_database_and_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.backup
        .expect_backup_database()
        .times(1)
        .returning(|_, _, _| {
            Err(sql_error(
                3201,
                "Cannot open backup device. Access is denied",
            ))
        });
    w.backup.expect_verify_backup().never();
    let (ctx, _) = w.build();
    let err = backup_for_failback(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::BACKUP_FOR_FAILBACK,
        &[BACKUP_SQL, "database mgc", FAILBACK_FILE, "3201"],
    );
    assert_eq!(ctx.facts().failback_backup_verified, None);
}

#[tokio::test]
async fn backup_for_failback_names_the_file_when_verification_fails() {
    let mut w = World::new();
    w.facts.failback_started_on_backup = Some(run_start());
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_verify_backup()
        .times(1)
        .returning(|_| Err(sql_error(3189, "Damage to the backup set was detected")));
    let (ctx, _) = w.build();
    let err = backup_for_failback(&ctx).await.expect_err("damaged");
    assert_names(
        &err,
        failback::BACKUP_FOR_FAILBACK,
        &[BACKUP_SQL, FAILBACK_FILE, "3189"],
    );
    assert_eq!(ctx.facts().failback_backup_verified, None);
}

#[tokio::test]
async fn backup_for_failback_fails_when_the_backup_lists_no_files() {
    let mut w = World::new();
    w.facts.failback_started_on_backup = Some(run_start());
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_backup_header()
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup.expect_verify_backup().returning(|_| Ok(()));
    w.backup.expect_backup_file_list().returning(|_| Ok(vec![]));
    let (ctx, _) = w.build();
    let err = backup_for_failback(&ctx).await.expect_err("empty");
    assert_names(
        &err,
        failback::BACKUP_FOR_FAILBACK,
        &[BACKUP_SQL, "lists no database files"],
    );
    assert_eq!(ctx.facts().failback_backup_verified, None);
}

// ---------------------------------------------------------------- restore_primary

/// `MOVE`s putting the backup site's files where the primary keeps its own.
fn moves_onto_primary() -> Vec<FileMove> {
    vec![
        FileMove {
            logical_name: "mgc".into(),
            physical_name: r"E:\Data\mgc.mdf".into(),
        },
        FileMove {
            logical_name: "mgc_log".into(),
            physical_name: r"L:\Logs\mgc_log.ldf".into(),
        },
    ]
}

/// `MOVE`s putting the primary's files where the backup instance keeps its own.
fn moves_onto_backup() -> Vec<FileMove> {
    vec![
        FileMove {
            logical_name: "mgc_log".into(),
            physical_name: r"D:\SQLLog\mgc_log.ldf".into(),
        },
        FileMove {
            logical_name: "mgc".into(),
            physical_name: r"D:\SQLData\mgc.mdf".into(),
        },
    ]
}

fn expect_files(w: &mut World) {
    w.backup
        .expect_database_files()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(backup_files()));
    w.primary
        .expect_database_files()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(primary_files()));
}

/// This run's copy of the primary database, taken before the restore replaces it.
const SAFETY_FILE: &str =
    r"\\fs01.contoso.com\pchat-logs\mgc_pcdr_before_failback_20261127130000.bak";

/// The failback file still holds the backup this run took and recorded, the backup
/// database is of its family, and the primary verifies it once. Its header is read
/// once before the restore.
fn expect_this_runs_backup(w: &mut World) {
    w.facts.failback_backup_verified = Some(FAILBACK_FILE.into());
    w.facts.failback_backup_header = Some(full_header(FAMILY));
    w.facts.failback_started_on_backup = Some(run_start());
    w.primary
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_verify_backup()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(|_| Ok(()));
}

/// [`expect_this_runs_backup`], and the restore of it over the primary succeeds: its
/// header is read once more after the restore, for the bytes restored.
fn expect_restore_of_this_runs_backup(w: &mut World) {
    expect_this_runs_backup(w);
    expect_size_read(&mut w.primary, FAILBACK_FILE);
}

/// The online primary database is copied (`COPY_ONLY`) and the copy verified, once; the
/// copy's header is read after it for its size.
fn expect_safety_copy(w: &mut World) {
    let mut seq = Sequence::new();
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.primary
        .expect_backup_database()
        .withf(|db, f, copy_only| db == "mgc" && f == SAFETY_FILE && *copy_only)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(full_header(REBUILT_FAMILY)));
    w.primary
        .expect_verify_backup()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .returning(|_| Ok(()));
}

#[tokio::test]
async fn restore_primary_removes_mirroring_then_ends_sessions_then_restores_with_replace_and_moves()
{
    let mut w = World::new();
    // Read once, before acting; the check afterwards goes by the restore history.
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(
            mirrored(MirroringRole::Principal),
            REBUILT_FAMILY,
        )),
    );
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_last_restore(&mut w.primary, vec![None, Some(FAILBACK_FILE)]);
    w.primary
        .expect_sessions()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(vec![SessionId(61)]));
    expect_files(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_remove_mirroring()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_kill_session()
        .with(eq(SessionId(61)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let wanted = FullRestore {
        replace: true,
        recovery: true,
        moves: moves_onto_primary(),
    };
    w.primary
        .expect_restore_database()
        .withf(move |db, f, options| db == "mgc" && f == FAILBACK_FILE && *options == wanted)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.backup.expect_restore_database().never();
    w.backup.expect_remove_mirroring().never();
    let (ctx, _) = w.build();
    let summary = done(restore_primary(&ctx).await.expect("restored"));
    assert_eq!(
        summary,
        format!(
            "mgc restored on {PRIMARY_SQL}; what it held before is in {SAFETY_FILE} (COPY_ONLY)"
        )
    );
    assert_eq!(
        ctx.facts().failback_safety_backup.as_deref(),
        Some(SAFETY_FILE)
    );
    let (copy, restore) = (full_header(REBUILT_FAMILY), full_header(FAMILY));
    assert_eq!(
        ctx.facts().bytes_moved,
        copy.backup_size + restore.backup_size,
        "the COPY_ONLY copy written, the failback backup restored"
    );
}

#[tokio::test]
async fn restore_primary_does_not_touch_mirroring_of_an_unmirrored_primary() {
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(online(), REBUILT_FAMILY)),
    );
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_last_restore(&mut w.primary, vec![None, Some(FAILBACK_FILE)]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary.expect_remove_mirroring().never();
    w.primary
        .expect_restore_database()
        .withf(|_, _, o| o.replace && o.recovery)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(restore_primary(&ctx).await.expect("restored"));
}

#[tokio::test]
async fn restore_primary_is_skipped_when_the_primary_already_holds_the_backup() {
    let mut w = World::new();
    // The failback file may be gone by now: the header is read only to act.
    w.primary.expect_backup_header().never();
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_last_restore(&mut w.primary, vec![Some(FAILBACK_FILE)]);
    w.primary.expect_sessions().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(restore_primary(&ctx).await.expect("skipped"));
    assert!(reason.contains("already restored"), "{reason}");
    assert!(reason.contains(FAILBACK_FILE), "{reason}");
}

#[tokio::test]
async fn restore_primary_is_skipped_when_the_history_names_the_failback_file_in_another_case() {
    let mut w = World::new();
    w.primary.expect_backup_header().never();
    expect_state(&mut w.primary, "mgc", Some(online()));
    let upper: &'static str = FAILBACK_FILE.to_uppercase().leak();
    expect_last_restore(&mut w.primary, vec![Some(upper)]);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(restore_primary(&ctx).await.expect("skipped"));
    assert!(reason.contains("already restored"), "{reason}");
}

#[tokio::test]
async fn restore_primary_names_the_cause_when_the_failback_backup_cannot_be_read() {
    let mut w = World::new();
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    w.primary.expect_last_restore().returning(|_| Ok(None));
    w.primary
        .expect_backup_header()
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    expect_files(&mut w);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("no backup");
    assert_eq!(err.sql_number(), Some(3201), "{err}");
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[FAILBACK_FILE, "Cannot open backup device"],
    );
}

#[tokio::test]
async fn restore_primary_retries_after_ending_sessions_again_when_in_use() {
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(online(), REBUILT_FAMILY)),
    );
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_last_restore(&mut w.primary, vec![None, Some(FAILBACK_FILE)]);
    expect_files(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_sessions()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    w.primary
        .expect_restore_database()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(sql_error(3101, "Exclusive access could not be obtained")));
    w.primary
        .expect_sessions()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![SessionId(77)]));
    w.primary
        .expect_kill_session()
        .with(eq(SessionId(77)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_restore_database()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let (ctx, rec) = w.build();
    done(restore_primary(&ctx).await.expect("restored"));
    assert!(
        rec.notes().iter().any(|n| n.contains("still in use")),
        "{:?}",
        rec.notes()
    );
}

#[tokio::test]
async fn restore_primary_failure_names_the_step_instance_database_and_file() {
    let mut w = World::new();
    expect_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(online(), REBUILT_FAMILY)),
    );
    expect_last_restore(&mut w.primary, vec![None]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_restore_database()
        .times(1)
        .returning(|_, _, _| Err(sql_error(3104, "cannot be restored because it is mirrored")));
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("fails");
    assert_eq!(err.sql_number(), Some(3104));
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[PRIMARY_SQL, "database mgc", FAILBACK_FILE, "3104"],
    );
}

#[tokio::test]
async fn restore_primary_names_the_primary_when_its_restore_history_cannot_be_read() {
    let mut w = World::new();
    expect_state(&mut w.primary, "mgc", Some(online()));
    w.primary
        .expect_last_restore()
        .times(1)
        .returning(|_| Err(sql_error(229, "The SELECT permission was denied on msdb")));
    w.primary.expect_backup_header().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("no history");
    assert_eq!(err.sql_number(), Some(229));
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[PRIMARY_SQL, "database mgc", "229"],
    );
}

#[tokio::test]
async fn restore_primary_refuses_files_it_cannot_place() {
    let mut w = World::new();
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(online(), REBUILT_FAMILY)),
    );
    expect_last_restore(&mut w.primary, vec![None]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    w.backup
        .expect_database_files()
        .returning(|_| Ok(backup_files()));
    w.primary
        .expect_database_files()
        .returning(|_| Ok(primary_files().into_iter().take(1).collect()));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("cannot place");
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &["no file of the target database can take mgc"],
    );
}

#[tokio::test]
async fn restore_primary_fails_when_the_primary_is_not_the_backup_afterwards() {
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    // Observed again afterwards: the copy is there.
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .returning(|_| Ok(full_header(REBUILT_FAMILY)));
    w.primary
        .expect_database_state()
        .times(2)
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    // The history shows no restore of the failback file afterwards either.
    expect_last_restore(&mut w.primary, vec![None, None]);
    // Sessions are listed right before the restore; observing again lists none.
    w.primary
        .expect_sessions()
        .times(1)
        .returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_restore_database()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[PRIMARY_SQL, "not online with the backup's data"],
    );
}

/// A primary site that came back with its original database (same family as every
/// log-shipped copy and backup of it) still holds the data of before the failover; it
/// must be overwritten with the backup site's newer data, not taken as restored.
#[tokio::test]
async fn restore_primary_does_not_skip_a_surviving_original_primary_of_the_same_family() {
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    // The original primary: online, family FAMILY (log shipping keeps the family), and
    // never restored (it was the source of log shipping); after the restore, its history
    // names the failback file.
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    expect_last_restore(&mut w.primary, vec![None, Some(FAILBACK_FILE)]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_restore_database()
        .withf(|db, f, o| db == "mgc" && f == FAILBACK_FILE && o.replace && o.recovery)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(restore_primary(&ctx).await.expect("restored"));
}

/// Restored by an earlier failback (another run, another file): this run's backup is
/// newer, so it must still be restored.
#[tokio::test]
async fn restore_primary_does_not_skip_a_primary_restored_from_another_runs_backup() {
    const EARLIER: &str = r"\\fs01.contoso.com\pchat-logs\mgc_pcdr_failback_20250301090000.bak";
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_safety_copy(&mut w);
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    expect_last_restore(&mut w.primary, vec![Some(EARLIER), Some(FAILBACK_FILE)]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_restore_database()
        .withf(|_, f, _| f == FAILBACK_FILE)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(restore_primary(&ctx).await.expect("restored"));
}

/// The history alone is not enough: a primary left restoring (a restore interrupted
/// before recovery) is restored again, without asking the history first.
#[tokio::test]
async fn restore_primary_restores_a_primary_that_is_not_online_whatever_its_history() {
    let mut w = World::new();
    expect_restore_of_this_runs_backup(&mut w);
    expect_state(&mut w.primary, "mgc", Some(restoring()));
    expect_state(&mut w.primary, "mgc", Some(online()));
    // Only the check afterwards reads the history.
    expect_last_restore(&mut w.primary, vec![Some(FAILBACK_FILE)]);
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_restore_database()
        .withf(|_, f, o| f == FAILBACK_FILE && o.recovery)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(restore_primary(&ctx).await.expect("restored"));
}

/// A primary about to be restored over: online, unmirrored, never restored, no sessions,
/// its files readable.
fn primary_to_replace(w: &mut World) {
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(of_family(online(), REBUILT_FAMILY))));
    w.primary.expect_last_restore().returning(|_| Ok(None));
    w.primary.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(w);
}

/// Anything but this run's backup in the failback file: nothing is sent to the primary.
/// `taken` and `started` are what the run recorded (the backup it took, its start).
async fn refused_before_touching_the_primary(
    taken: Option<BackupHeader>,
    started: Option<DateTime<Utc>>,
    in_file: BackupHeader,
    backup_family: &'static str,
) -> Error {
    let mut w = World::new();
    primary_to_replace(&mut w);
    w.facts.failback_backup_verified = Some(FAILBACK_FILE.into());
    w.facts.failback_backup_header = taken;
    w.facts.failback_started_on_backup = started;
    w.primary
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .returning(move |_| Ok(in_file.clone()));
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.backup
        .expect_database_state()
        .returning(move |_| Ok(Some(of_family(online(), backup_family))));
    w.primary.expect_verify_backup().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("refused");
    assert_eq!(
        err.precondition_kind(),
        Some(PreconditionKind::EarlierStep),
        "{err}"
    );
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[FAILBACK_FILE, "new failback run"],
    );
    err
}

#[tokio::test]
async fn restore_primary_refuses_a_file_replaced_since_this_run_took_its_backup() {
    // Another backup of the backup database, taken later by someone else.
    let later = BackupHeader {
        first_lsn: Lsn(2000),
        last_lsn: Lsn(3000),
        backup_finish: at(300),
        ..full_header(FAMILY)
    };
    let taken = Some(full_header(FAMILY));
    let err = refused_before_touching_the_primary(taken, Some(run_start()), later, FAMILY).await;
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &[
            "not the backup this run took",
            "LSNs 1000 to 2000",
            "LSNs 2000 to 3000",
        ],
    );
}

#[tokio::test]
async fn restore_primary_refuses_a_backup_finished_before_the_run_started() {
    let older = BackupHeader {
        backup_finish: run_start() - chrono::Duration::minutes(600),
        ..full_header(FAMILY)
    };
    let taken = Some(full_header(FAMILY));
    let err = refused_before_touching_the_primary(taken, Some(run_start()), older, FAMILY).await;
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &["before this run started", "backup instance's clock"],
    );
}

#[tokio::test]
async fn restore_primary_refuses_a_backup_of_another_family_than_the_backup_database() {
    let other = full_header(REBUILT_FAMILY);
    let err =
        refused_before_touching_the_primary(Some(other.clone()), Some(run_start()), other, FAMILY)
            .await;
    assert_names(&err, failback::RESTORE_PRIMARY, &[REBUILT_FAMILY, FAMILY]);
}

/// Log shipping keeps the family: the original primary's database and its backups (the
/// seed of log shipping among them) share the backup database's family GUID, but not
/// its `database_guid`.
#[tokio::test]
async fn restore_primary_refuses_a_backup_of_another_database_of_the_same_family() {
    const ORIGINAL: &str = "0E0E0E0E-0000-4000-8000-0000000000AA";
    let seed = BackupHeader {
        binding_id: ORIGINAL.into(),
        ..full_header(FAMILY)
    };
    let taken = Some(full_header(FAMILY));
    let err = refused_before_touching_the_primary(taken, Some(run_start()), seed, FAMILY).await;
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &["another database", ORIGINAL, DATABASE_GUID],
    );
}

#[tokio::test]
async fn restore_primary_refuses_a_backup_this_run_did_not_record_taking() {
    let err =
        refused_before_touching_the_primary(None, Some(run_start()), full_header(FAMILY), FAMILY)
            .await;
    assert_names(&err, failback::RESTORE_PRIMARY, &["not recorded as taken"]);
}

#[tokio::test]
async fn restore_primary_refuses_a_backup_it_cannot_date_against_the_run() {
    let taken = Some(full_header(FAMILY));
    let err = refused_before_touching_the_primary(taken, None, full_header(FAMILY), FAMILY).await;
    assert_names(&err, failback::RESTORE_PRIMARY, &["start is not recorded"]);
}

/// VERIFYONLY runs right before the restore, also when the backup was taken and verified
/// by an earlier process (the facts come from the journal).
#[tokio::test]
async fn restore_primary_verifies_the_failback_backup_right_before_ending_sessions_and_restoring() {
    let mut w = World::new();
    w.facts.failback_backup_verified = Some(FAILBACK_FILE.into());
    w.facts.failback_backup_header = Some(full_header(FAMILY));
    w.facts.failback_started_on_backup = Some(run_start());
    expect_state(
        &mut w.primary,
        "mgc",
        Some(of_family(restoring(), REBUILT_FAMILY)),
    );
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_last_restore(&mut w.primary, vec![Some(FAILBACK_FILE)]);
    w.primary
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    expect_files(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_verify_backup()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_sessions()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    w.primary
        .expect_restore_database()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary.expect_backup_database().never();
    let (ctx, _) = w.build();
    done(restore_primary(&ctx.resuming()).await.expect("restored"));
}

#[tokio::test]
async fn restore_primary_restores_nothing_when_the_failback_backup_fails_verification() {
    let mut w = World::new();
    primary_to_replace(&mut w);
    w.facts.failback_backup_header = Some(full_header(FAMILY));
    w.facts.failback_started_on_backup = Some(run_start());
    w.primary
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    expect_safety_copy(&mut w);
    w.primary
        .expect_verify_backup()
        .withf(|f| f == FAILBACK_FILE)
        .times(1)
        .returning(|_| Err(sql_error(3189, "Damage to the backup set was detected")));
    w.primary.expect_kill_session().never();
    w.primary.expect_restore_database().never();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("damaged");
    assert_eq!(err.sql_number(), Some(3189), "{err}");
    assert_names(&err, failback::RESTORE_PRIMARY, &[FAILBACK_FILE]);
}

/// Nothing the primary holds is destroyed without a copy: a copy-only backup, verified,
/// comes before anything that changes the primary database.
#[tokio::test]
async fn restore_primary_copies_an_online_primary_before_replacing_it() {
    let mut w = World::new();
    primary_to_replace(&mut w);
    expect_restore_of_this_runs_backup(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .returning(|_| Ok(full_header(REBUILT_FAMILY)));
    w.primary
        .expect_backup_database()
        .withf(|db, f, copy_only| db == "mgc" && f == SAFETY_FILE && *copy_only)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary
        .expect_verify_backup()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_restore_database()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx)
        .await
        .expect_err("history names no restore");
    assert_names(
        &err,
        failback::RESTORE_PRIMARY,
        &["not online with the backup's data"],
    );
    assert_eq!(
        ctx.facts().failback_safety_backup.as_deref(),
        Some(SAFETY_FILE)
    );
}

#[tokio::test]
async fn restore_primary_leaves_the_primary_alone_when_its_copy_fails() {
    let mut w = World::new();
    primary_to_replace(&mut w);
    w.facts.failback_backup_header = Some(full_header(FAMILY));
    w.facts.failback_started_on_backup = Some(run_start());
    w.primary
        .expect_backup_header()
        .withf(|f| f == FAILBACK_FILE)
        .returning(|_| Ok(full_header(FAMILY)));
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_backup_database()
        .times(1)
        .returning(|_, _, _| Err(sql_error(3202, "Write on backup device failed")));
    w.primary.expect_verify_backup().never();
    w.primary.expect_remove_mirroring().never();
    w.primary.expect_kill_session().never();
    w.primary.expect_restore_database().never();
    let (ctx, _) = w.build();
    let err = restore_primary(&ctx).await.expect_err("no copy");
    assert_eq!(err.sql_number(), Some(3202), "{err}");
    assert_names(&err, failback::RESTORE_PRIMARY, &[SAFETY_FILE, PRIMARY_SQL]);
    assert_eq!(ctx.facts().failback_safety_backup, None);
}

/// A resumed run whose copy is already on the share verifies it and does not take it
/// again (`INIT` would overwrite it).
#[tokio::test]
async fn restore_primary_verifies_but_does_not_retake_this_runs_copy() {
    let mut w = World::new();
    primary_to_replace(&mut w);
    expect_restore_of_this_runs_backup(&mut w);
    w.primary
        .expect_backup_header()
        .withf(|f| f == SAFETY_FILE)
        .returning(|_| Ok(full_header(REBUILT_FAMILY)));
    w.primary.expect_backup_database().never();
    w.primary
        .expect_verify_backup()
        .withf(|f| f == SAFETY_FILE)
        .times(1)
        .returning(|_| Ok(()));
    w.primary
        .expect_restore_database()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    let _ = restore_primary(&ctx).await;
    assert_eq!(
        ctx.facts().failback_safety_backup.as_deref(),
        Some(SAFETY_FILE)
    );
}

// ---------------------------------------------------------------- reinitialize_backup

/// `file`'s header as `sql` reads it once after a full backup or restore of it, for the
/// bytes moved.
fn expect_size_read(sql: &mut crate::planes::MockDatabasePlane, file: &'static str) {
    sql.expect_backup_header()
        .withf(move |f| f == file)
        .times(1)
        .returning(|_| Ok(full_header(FAMILY)));
}

#[tokio::test]
async fn reinitialize_backup_reseeds_the_backup_with_norecovery_from_a_new_primary_backup() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(&mut w.backup, "mgc", Some(restoring()));
    // An online backup is not asked for its history; the restoring one afterwards is.
    expect_last_restore(&mut w.backup, vec![Some(REINIT_FILE)]);
    w.primary
        .expect_backup_header()
        .withf(|f| f == REINIT_FILE)
        .times(1)
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    expect_size_read(&mut w.primary, REINIT_FILE);
    expect_size_read(&mut w.backup, REINIT_FILE);
    w.backup
        .expect_sessions()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(vec![SessionId(81)]));
    expect_files(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_backup_database()
        .withf(|db, f, copy_only| db == "mgc" && f == REINIT_FILE && !copy_only)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary
        .expect_verify_backup()
        .withf(|f| f == REINIT_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_kill_session()
        .with(eq(SessionId(81)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let wanted = FullRestore {
        replace: true,
        recovery: false,
        moves: moves_onto_backup(),
    };
    w.backup
        .expect_restore_database()
        .withf(move |db, f, o| db == "mgc" && f == REINIT_FILE && *o == wanted)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary.expect_restore_database().never();
    w.backup.expect_backup_database().never();
    w.backup.expect_verify_backup().never();
    let (ctx, _) = w.build();
    let summary = done(reinitialize_backup(&ctx).await.expect("reseeded"));
    assert!(summary.contains(BACKUP_SQL), "{summary}");
    let size = full_header(FAMILY).backup_size;
    assert_eq!(ctx.facts().bytes_moved, 2 * size, "written, then restored");
}

#[tokio::test]
async fn reinitialize_backup_reuses_a_complete_primary_backup_already_there() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(online()));
    expect_state(&mut w.backup, "mgc", Some(restoring()));
    expect_last_restore(&mut w.backup, vec![Some(REINIT_FILE)]);
    w.primary
        .expect_backup_header()
        .withf(|f| f == REINIT_FILE)
        .returning(|_| Ok(full_header(FAMILY)));
    expect_size_read(&mut w.backup, REINIT_FILE);
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary.expect_backup_database().never();
    let mut seq = Sequence::new();
    // A backup already there may be the torn remains of an interrupted run: verified too.
    w.primary
        .expect_verify_backup()
        .withf(|f| f == REINIT_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_restore_database()
        .withf(|_, f, o| f == REINIT_FILE && !o.recovery)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(reinitialize_backup(&ctx).await.expect("reseeded"));
}

#[tokio::test]
async fn reinitialize_backup_is_skipped_when_the_backup_restores_from_the_primary() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(restoring())));
    expect_last_restore(&mut w.backup, vec![Some(REINIT_FILE)]);
    w.primary.expect_backup_header().never();
    w.primary.expect_verify_backup().never();
    w.backup.expect_sessions().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(reinitialize_backup(&ctx).await.expect("skipped"));
    assert!(reason.contains("already restoring"), "{reason}");
    assert!(reason.contains(REINIT_FILE), "{reason}");
}

#[tokio::test]
async fn reinitialize_backup_is_skipped_for_a_standby_backup_restored_from_the_reinit_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(standby())));
    let lower: &'static str = REINIT_FILE.to_lowercase().leak();
    expect_last_restore(&mut w.backup, vec![Some(lower)]);
    w.primary.expect_verify_backup().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(reinitialize_backup(&ctx).await.expect("skipped"));
    assert!(reason.contains("already restoring"), "{reason}");
}

/// A backup database that accepts logs and shares the primary's family is not enough:
/// it may still be the pre-failover log-shipping copy, restored from other files.
#[tokio::test]
async fn reinitialize_backup_reseeds_a_restoring_backup_last_restored_from_another_file() {
    let mut w = World::new();
    expect_state(&mut w.backup, "mgc", Some(restoring()));
    expect_state(&mut w.backup, "mgc", Some(restoring()));
    let old_log: &'static str = r"D:\LogShipping\mgc\mgc_20261127121500.trn";
    expect_last_restore(&mut w.backup, vec![Some(old_log), Some(REINIT_FILE)]);
    w.primary
        .expect_backup_header()
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    expect_size_read(&mut w.backup, REINIT_FILE);
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    let mut seq = Sequence::new();
    w.primary
        .expect_backup_database()
        .withf(|_, f, _| f == REINIT_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    w.primary
        .expect_verify_backup()
        .withf(|f| f == REINIT_FILE)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_restore_database()
        .withf(|_, f, o| f == REINIT_FILE && o.replace && !o.recovery)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let (ctx, _) = w.build();
    done(reinitialize_backup(&ctx).await.expect("reseeded"));
}

#[tokio::test]
async fn reinitialize_backup_neither_ends_sessions_nor_restores_when_verification_fails() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_backup_header()
        .returning(|_| Ok(full_header(FAMILY)));
    w.backup
        .expect_sessions()
        .returning(|_| Ok(vec![SessionId(81)]));
    expect_files(&mut w);
    w.primary
        .expect_verify_backup()
        .withf(|f| f == REINIT_FILE)
        .times(1)
        .returning(|_| Err(sql_error(3189, "Damage to the backup set was detected")));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = reinitialize_backup(&ctx).await.expect_err("damaged");
    assert_eq!(err.sql_number(), Some(3189));
    assert_names(
        &err,
        failback::REINITIALIZE_BACKUP,
        &[PRIMARY_SQL, REINIT_FILE, "3189"],
    );
}

#[tokio::test]
async fn reinitialize_backup_names_the_backup_when_its_restore_history_cannot_be_read() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_last_restore()
        .times(1)
        .returning(|_| Err(unreachable(BACKUP_SQL)));
    w.primary.expect_verify_backup().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = reinitialize_backup(&ctx).await.expect_err("no history");
    assert!(err.is_transient());
    assert_names(
        &err,
        failback::REINITIALIZE_BACKUP,
        &[BACKUP_SQL, "database mgc"],
    );
}

#[tokio::test]
async fn reinitialize_backup_failure_of_the_backup_names_the_primary_and_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_backup_header()
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.primary
        .expect_backup_database()
        .times(1)
        .returning(|_, _, _| Err(sql_error(3202, "Write on backup device failed")));
    w.primary.expect_verify_backup().never();
    w.backup.expect_restore_database().never();
    let (ctx, _) = w.build();
    let err = reinitialize_backup(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::REINITIALIZE_BACKUP,
        &[PRIMARY_SQL, "database mgc", REINIT_FILE, "3202"],
    );
}

#[tokio::test]
async fn reinitialize_backup_failure_of_the_restore_names_the_backup_instance_and_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_backup_header()
        .returning(|_| Ok(full_header(FAMILY)));
    w.primary.expect_verify_backup().returning(|_| Ok(()));
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    expect_files(&mut w);
    w.backup
        .expect_restore_database()
        .times(1)
        .returning(|_, _, _| {
            Err(sql_error(
                3201,
                "Cannot open backup device. Access is denied",
            ))
        });
    let (ctx, _) = w.build();
    let err = reinitialize_backup(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::REINITIALIZE_BACKUP,
        &[BACKUP_SQL, "database mgc", REINIT_FILE, "3201"],
    );
}

// ---------------------------------------------------------------- setup_log_shipping

fn topology_settings() -> (PrimaryLogShipping, SecondaryLogShipping) {
    (
        PrimaryLogShipping {
            database: "mgc".into(),
            backup_directory: SHARE.into(),
            backup_share: SHARE.into(),
            backup_job_name: "LSBackup_mgc".into(),
            backup_interval_minutes: 15,
            retention_minutes: 4320,
            secondary_server: BACKUP_SERVERNAME.into(),
            secondary_database: "mgc".into(),
        },
        SecondaryLogShipping {
            primary_server: PRIMARY_SERVERNAME.into(),
            primary_database: "mgc".into(),
            secondary_database: "mgc".into(),
            backup_source_directory: SHARE.into(),
            backup_destination_directory: COPY.into(),
            copy_job_name: format!("LSCopy_{PRIMARY_SERVERNAME}_mgc"),
            restore_job_name: format!("LSRestore_{PRIMARY_SERVERNAME}_mgc"),
            interval_minutes: 15,
            retention_minutes: 4320,
            restore_delay_minutes: 0,
            restore_mode: RestoreMode::NoRecovery,
            disconnect_users: true,
            thresholds: None,
        },
    )
}

fn expect_log_shipping_setup(
    w: &mut World,
    primary: PrimaryLogShipping,
    secondary: SecondaryLogShipping,
) {
    expect_server_names(w, 1);
    let mut seq = Sequence::new();
    w.primary
        .expect_is_log_shipping_primary()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(false));
    w.backup
        .expect_is_log_shipping_secondary()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(false));
    w.primary
        .expect_setup_log_shipping_primary()
        .with(eq(primary))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_setup_log_shipping_secondary()
        .with(eq(secondary))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_is_log_shipping_primary()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));
    w.backup
        .expect_is_log_shipping_secondary()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));
}

#[tokio::test]
async fn setup_log_shipping_uses_the_topology_without_a_snapshot_primary_side_first() {
    let mut w = World::new();
    let (primary, secondary) = topology_settings();
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_uses_the_snapshot_folders_delay_and_mode_when_there_is_one() {
    let mut w = World::new().with_snapshot(snapshot());
    let (mut primary, mut secondary) = topology_settings();
    primary.backup_directory = SNAP_SHARE.into();
    primary.backup_share = SNAP_SHARE.into();
    secondary.backup_source_directory = SNAP_SHARE.into();
    secondary.backup_destination_directory = SNAP_COPY.into();
    secondary.restore_delay_minutes = 5;
    secondary.restore_mode = RestoreMode::Standby;
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_names_servers_and_jobs_as_the_instances_report_them() {
    let mut w = World::new();
    let (primary, secondary) = topology_settings();
    // Log shipping records @@SERVERNAME, not how the topology reaches the instance.
    assert_eq!(primary.secondary_server, "SQL-DAL");
    assert_eq!(secondary.primary_server, r"SQL-ATL\PCHAT");
    assert_eq!(secondary.copy_job_name, r"LSCopy_SQL-ATL\PCHAT_mgc");
    assert_eq!(secondary.restore_job_name, r"LSRestore_SQL-ATL\PCHAT_mgc");
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_keeps_the_snapshots_file_retention() {
    let mut snap = snapshot();
    snap.file_retention_minutes = 10080;
    let mut w = World::new().with_snapshot(snap);
    let (mut primary, mut secondary) = topology_settings();
    primary.backup_directory = SNAP_SHARE.into();
    primary.backup_share = SNAP_SHARE.into();
    primary.retention_minutes = 10080;
    secondary.backup_source_directory = SNAP_SHARE.into();
    secondary.backup_destination_directory = SNAP_COPY.into();
    secondary.restore_delay_minutes = 5;
    secondary.restore_mode = RestoreMode::Standby;
    secondary.retention_minutes = 10080;
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_keeps_the_snapshots_disconnect_users() {
    let mut snap = snapshot();
    snap.disconnect_users = false;
    let mut w = World::new().with_snapshot(snap);
    let (mut primary, mut secondary) = topology_settings();
    primary.backup_directory = SNAP_SHARE.into();
    primary.backup_share = SNAP_SHARE.into();
    secondary.backup_source_directory = SNAP_SHARE.into();
    secondary.backup_destination_directory = SNAP_COPY.into();
    secondary.restore_delay_minutes = 5;
    secondary.restore_mode = RestoreMode::Standby;
    secondary.disconnect_users = false;
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_keeps_the_snapshots_alert_thresholds() {
    let thresholds = RestoreThresholds {
        restore_threshold_minutes: 90,
        alert_enabled: false,
        history_retention_minutes: 1440,
    };
    let mut snap = snapshot();
    snap.thresholds = Some(thresholds.clone());
    let mut w = World::new().with_snapshot(snap);
    let (mut primary, mut secondary) = topology_settings();
    primary.backup_directory = SNAP_SHARE.into();
    primary.backup_share = SNAP_SHARE.into();
    secondary.backup_source_directory = SNAP_SHARE.into();
    secondary.backup_destination_directory = SNAP_COPY.into();
    secondary.restore_delay_minutes = 5;
    secondary.restore_mode = RestoreMode::Standby;
    secondary.thresholds = Some(thresholds);
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_keeps_the_default_retention_for_a_negative_one_in_the_snapshot() {
    let mut snap = snapshot();
    snap.file_retention_minutes = -1;
    let mut w = World::new().with_snapshot(snap);
    let (mut primary, mut secondary) = topology_settings();
    primary.backup_directory = SNAP_SHARE.into();
    primary.backup_share = SNAP_SHARE.into();
    secondary.backup_source_directory = SNAP_SHARE.into();
    secondary.backup_destination_directory = SNAP_COPY.into();
    secondary.restore_delay_minutes = 5;
    secondary.restore_mode = RestoreMode::Standby;
    assert_eq!(
        (primary.retention_minutes, secondary.retention_minutes),
        (4320, 4320)
    );
    expect_log_shipping_setup(&mut w, primary, secondary);
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_is_skipped_when_both_sides_are_set_up() {
    let mut w = World::new();
    w.primary
        .expect_is_log_shipping_primary()
        .times(1)
        .returning(|_| Ok(true));
    w.backup
        .expect_is_log_shipping_secondary()
        .times(1)
        .returning(|_| Ok(true));
    // Nothing to set up, so no server name is asked.
    w.primary.expect_server_name().never();
    w.backup.expect_server_name().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(setup_log_shipping(&ctx).await.expect("skipped"));
    assert!(reason.contains("already set up"), "{reason}");
}

#[tokio::test]
async fn setup_log_shipping_sets_up_only_the_missing_secondary() {
    let mut w = World::new();
    expect_server_names(&mut w, 1);
    w.primary
        .expect_is_log_shipping_primary()
        .times(2)
        .returning(|_| Ok(true));
    let mut seq = Sequence::new();
    w.backup
        .expect_is_log_shipping_secondary()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(false));
    w.backup
        .expect_setup_log_shipping_secondary()
        .with(eq(topology_settings().1))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_is_log_shipping_secondary()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));
    w.primary.expect_setup_log_shipping_primary().never();
    let (ctx, _) = w.build();
    done(setup_log_shipping(&ctx).await.expect("set up"));
}

#[tokio::test]
async fn setup_log_shipping_names_the_instance_whose_server_name_cannot_be_read() {
    let mut w = World::new();
    w.primary
        .expect_is_log_shipping_primary()
        .returning(|_| Ok(false));
    w.backup
        .expect_is_log_shipping_secondary()
        .returning(|_| Ok(false));
    w.primary
        .expect_server_name()
        .returning(|| Ok(PRIMARY_SERVERNAME.into()));
    w.backup
        .expect_server_name()
        .times(1)
        .returning(|| Err(unreachable(BACKUP_SQL)));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = setup_log_shipping(&ctx).await.expect_err("no name");
    assert!(err.is_transient());
    assert_names(
        &err,
        failback::SETUP_LOG_SHIPPING,
        &[BACKUP_SQL, "cannot reach"],
    );
}

#[tokio::test]
async fn setup_log_shipping_failure_names_the_step_instance_and_database() {
    let mut w = World::new();
    w.primary
        .expect_is_log_shipping_primary()
        .returning(|_| Ok(false));
    w.backup
        .expect_is_log_shipping_secondary()
        .returning(|_| Ok(false));
    expect_server_names(&mut w, 1);
    w.primary
        .expect_setup_log_shipping_primary()
        .times(1)
        .returning(|_| Err(sql_error(32001, "Log shipping is already configured")));
    w.backup.expect_setup_log_shipping_secondary().never();
    let (ctx, _) = w.build();
    let err = setup_log_shipping(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::SETUP_LOG_SHIPPING,
        &[PRIMARY_SQL, "database mgc", "32001"],
    );
}

#[tokio::test]
async fn setup_log_shipping_fails_when_not_configured_afterwards() {
    let mut w = World::new();
    w.primary
        .expect_is_log_shipping_primary()
        .times(2)
        .returning(|_| Ok(false));
    w.backup
        .expect_is_log_shipping_secondary()
        .times(2)
        .returning(|_| Ok(false));
    // Asked again by the check afterwards, which is still not done.
    expect_server_names(&mut w, 2);
    w.primary
        .expect_setup_log_shipping_primary()
        .times(1)
        .returning(|_| Ok(()));
    w.backup
        .expect_setup_log_shipping_secondary()
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = setup_log_shipping(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failback::SETUP_LOG_SHIPPING,
        &["not fully configured"],
    );
}

// ---------------------------------------------------------------- mirror_primary

#[tokio::test]
async fn mirror_primary_installs_mirroring_on_the_primary_instance() {
    let mut w = World::new();
    expect_state(&mut w.primary, "mgc", Some(online()));
    expect_state(
        &mut w.primary,
        "mgc",
        Some(mirrored(MirroringRole::Principal)),
    );
    let request = MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: "sql-atl.contoso.com".into(),
        sql_instance: Some("PCHAT".into()),
        file_share: SHARE.into(),
    };
    w.pool
        .expect_install_mirror()
        .with(eq(request))
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, rec) = w.build();
    let summary = done(mirror_primary(&ctx).await.expect("mirrored"));
    assert!(summary.contains(PRIMARY_SQL), "{summary}");
    assert!(
        rec.notes().iter().any(|n| n.contains(PRIMARY_MIRROR_SQL)),
        "{:?}",
        rec.notes()
    );
}

#[tokio::test]
async fn mirror_primary_is_skipped_when_already_a_principal() {
    let mut w = World::new();
    expect_state(
        &mut w.primary,
        "mgc",
        Some(mirrored(MirroringRole::Principal)),
    );
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(mirror_primary(&ctx).await.expect("skipped"));
}

#[tokio::test]
async fn mirror_primary_failure_names_the_step_and_pool() {
    let mut w = World::new();
    expect_state(&mut w.primary, "mgc", Some(online()));
    w.pool
        .expect_install_mirror()
        .returning(|_| Err(shell_error("Install-CsMirrorDatabase")));
    let (ctx, _) = w.build();
    let err = mirror_primary(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::MIRROR_PRIMARY,
        &[POOL, "Install-CsMirrorDatabase"],
    );
}

// ---------------------------------------------------------------- activate_primary_servers

#[tokio::test]
async fn activate_primary_servers_sets_the_primary_sites_servers() {
    let mut w = World::new();
    let mut seq = Sequence::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(vec![])));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list == ["pc1.contoso.com", "pc2.contoso.com"])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc1.contoso.com", "pc2.contoso.com"]))));
    let (ctx, _) = w.build();
    assert_eq!(
        done(activate_primary_servers(&ctx).await.expect("set")),
        "active servers set to [pc1.contoso.com, pc2.contoso.com]"
    );
}

#[tokio::test]
async fn activate_primary_servers_is_skipped_when_they_already_are_active() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .returning(|| Ok(Some(servers(&["PC2.contoso.com", "pc1.contoso.com"]))));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(activate_primary_servers(&ctx).await.expect("skipped"));
}

#[tokio::test]
async fn activate_primary_servers_refuses_while_the_primary_database_is_not_online() {
    let mut w = World::new();
    w.pool.expect_active_servers().returning(|| Ok(None));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = activate_primary_servers(&ctx)
        .await
        .expect_err("not online");
    assert_names(
        &err,
        failback::ACTIVATE_PRIMARY_SERVERS,
        &[PRIMARY_SQL, "restore_primary"],
    );
}

#[tokio::test]
async fn activate_primary_servers_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .returning(|| Err(shell_error("Get-CsPersistentChatActiveServer")));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = activate_primary_servers(&ctx).await.expect_err("fails");
    assert_names(&err, failback::ACTIVATE_PRIMARY_SERVERS, &[POOL]);
}

// ---------------------------------------------------------------- set_pool_normal

#[tokio::test]
async fn set_pool_normal_sets_the_state_and_reads_it_back() {
    let mut w = World::new();
    let mut seq = Sequence::new();
    w.pool
        .expect_pool_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_pool_state()
        .with(eq(PoolState::Normal))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_pool_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(PoolState::Normal));
    let (ctx, _) = w.build();
    assert_eq!(
        done(set_pool_normal(&ctx).await.expect("set")),
        "pool state set to Normal"
    );
}

#[tokio::test]
async fn set_pool_normal_is_skipped_when_already_normal() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .times(1)
        .returning(|| Ok(PoolState::Normal));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(set_pool_normal(&ctx).await.expect("skipped"));
}

#[tokio::test]
async fn set_pool_normal_refuses_while_the_primary_database_is_not_online() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = set_pool_normal(&ctx).await.expect_err("not online");
    assert_names(
        &err,
        failback::SET_POOL_NORMAL,
        &[PRIMARY_SQL, "not online"],
    );
}

#[tokio::test]
async fn set_pool_normal_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::FailedOver));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_pool_state()
        .times(1)
        .returning(|_| Err(shell_error("Set-CsPersistentChatState")));
    let (ctx, _) = w.build();
    let err = set_pool_normal(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failback::SET_POOL_NORMAL,
        &[POOL, "Set-CsPersistentChatState"],
    );
}

// ---------------------------------------------------------------- ship_logs_from_primary_mirror

/// `role` of a session whose mirror is caught up or not.
fn in_session(role: MirroringRole, synchronized: bool) -> crate::planes::DatabaseState {
    let mut state = mirrored(role);
    if let Some(m) = state.mirroring.as_mut() {
        m.synchronized = synchronized;
    }
    state
}

/// The partner answers `database_state` with `state` once, in `seq`.
fn expect_state_once(
    sql: &mut crate::planes::MockDatabasePlane,
    seq: &mut Sequence,
    state: crate::planes::DatabaseState,
) {
    sql.expect_database_state()
        .times(1)
        .in_sequence(seq)
        .returning(move |_| Ok(Some(state.clone())));
}

fn expect_mirror_ships(sql: &mut crate::planes::MockDatabasePlane, seq: &mut Sequence, yes: bool) {
    sql.expect_is_log_shipping_primary()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(seq)
        .returning(move |_| Ok(yes));
}

#[tokio::test]
async fn ship_logs_from_primary_mirror_skips_without_a_primary_mirror() {
    let mut w = World::new();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(ship_logs_from_primary_mirror(&ctx).await.expect("skips"));
    assert!(reason.contains("no primary mirror"), "{reason}");
}

#[tokio::test]
async fn ship_logs_from_primary_mirror_skips_when_the_mirror_ships_and_the_primary_serves() {
    let mut w = World::new();
    let mut mirror = crate::planes::MockDatabasePlane::new();
    let mut seq = Sequence::new();
    expect_mirror_ships(&mut mirror, &mut seq, true);
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    w.primary_mirror = Some(mirror);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    skipped(ship_logs_from_primary_mirror(&ctx).await.expect("skips"));
}

/// "Database Mirroring and Log Shipping (SQL Server)"
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>):
/// fail over to the mirror, set the primary side of log shipping up there with the same
/// share, fail back; each failover right after its partner was read as the principal of
/// a SYNCHRONIZED session.
#[tokio::test]
async fn ship_logs_from_primary_mirror_fails_over_sets_the_mirror_up_and_fails_back() {
    let mut w = World::new();
    let mut mirror = crate::planes::MockDatabasePlane::new();
    let mut seq = Sequence::new();
    let (setup, _) = topology_settings();
    expect_server_names(&mut w, 1);
    expect_mirror_ships(&mut mirror, &mut seq, false);
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    w.primary
        .expect_fail_over_mirroring()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    mirror
        .expect_setup_log_shipping_primary()
        .with(eq(setup))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    expect_state_once(
        &mut mirror,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    mirror
        .expect_fail_over_mirroring()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    expect_mirror_ships(&mut mirror, &mut seq, true);
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    w.primary_mirror = Some(mirror);
    let (ctx, _) = w.build();
    done(ship_logs_from_primary_mirror(&ctx).await.expect("done"));
}

#[tokio::test]
async fn ship_logs_from_primary_mirror_refuses_an_unmirrored_primary() {
    let mut w = World::new();
    let mut mirror = crate::planes::MockDatabasePlane::new();
    let mut seq = Sequence::new();
    expect_mirror_ships(&mut mirror, &mut seq, false);
    expect_state_once(&mut w.primary, &mut seq, online());
    w.primary_mirror = Some(mirror);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = ship_logs_from_primary_mirror(&ctx)
        .await
        .expect_err("refuses");
    assert_names(
        &err,
        failback::SHIP_LOGS_FROM_PRIMARY_MIRROR,
        &["not mirrored", "mirror_primary"],
    );
}

/// "ALTER DATABASE Database Mirroring (Transact-SQL)"
/// (<https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>):
/// a manual failover needs a SYNCHRONIZED session; pcdr re-reads it right before.
#[tokio::test]
async fn ship_logs_from_primary_mirror_refuses_to_fail_over_an_unsynchronized_session() {
    let mut w = World::new();
    let mut mirror = crate::planes::MockDatabasePlane::new();
    let mut seq = Sequence::new();
    expect_server_names(&mut w, 1);
    expect_mirror_ships(&mut mirror, &mut seq, false);
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, true),
    );
    expect_state_once(
        &mut w.primary,
        &mut seq,
        in_session(MirroringRole::Principal, false),
    );
    w.primary_mirror = Some(mirror);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = ship_logs_from_primary_mirror(&ctx)
        .await
        .expect_err("refuses");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(
        &err,
        failback::SHIP_LOGS_FROM_PRIMARY_MIRROR,
        &["SYNCHRONIZED"],
    );
}

// ---------------------------------------------------------------- the procedure

#[test]
fn failback_steps_are_declared_in_order() {
    assert_eq!(failback::STEPS.len(), 11);
    let ids: Vec<_> = failback::STEPS.iter().map(|s| s.id).collect();
    assert_eq!(ids, failback::IDS);
    assert!(ids.iter().all(|s| s.procedure() == failback::PROCEDURE));
}
