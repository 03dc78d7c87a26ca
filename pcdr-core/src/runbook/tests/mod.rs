//! Runbook tests: whole procedures through a stateful fake world, failures injected at
//! every step and resumed, the journal lock, and a plan that changes nothing.

mod conformance;
mod fake_world;

use super::*;
use crate::error::PlaneError;
use crate::planes::{DbState, PoolState};
use crate::procedure::{Context, Facts, Procedure, RunOptions, StepId, StepOutcome};
use crate::procedure::{failback, failover};
use crate::topology::Topology;
use fake_world::{COPY, FakeWorld, Fault};
use std::sync::Arc;

const RUN_ID: &str = "20261127130000";

fn topology() -> Arc<Topology> {
    let text = include_str!("../../../../examples/topology.toml");
    Arc::new(Topology::from_toml_str(text, None).expect("example topology"))
}

fn runbook(world: &FakeWorld, journal: &Path, options: RunOptions) -> Runbook {
    let ctx = Context::new(topology(), world.planes(), options, RUN_ID);
    Runbook::new(ctx, journal)
}

/// The first mutating operation each step makes in the fake world (and a text of its
/// argument), where a fault is injected to stop the run inside that step; `None` for a
/// step that changes nothing in the fake world: it has no primary mirror, so
/// `ship_logs_from_primary_mirror` skips (the emulator's end-to-end tests run it).
fn first_mutation(step: StepId) -> Option<(&'static str, &'static str)> {
    let operation = match step {
        failback::SHIP_LOGS_FROM_PRIMARY_MIRROR => return None,
        failover::REMOVE_LOG_SHIPPING => "remove_secondary_log_shipping",
        failover::COPY_LOG_BACKUPS => "copy_file",
        failover::APPLY_UNAPPLIED_LOGS => "restore_log",
        failover::RECOVER_DATABASE => "kill_session",
        failover::SET_POOL_FAILED_OVER | failback::SET_POOL_NORMAL => "set_pool_state",
        failover::MIRROR_NEW_PRIMARY | failback::MIRROR_PRIMARY => "install_mirror",
        failover::ACTIVATE_BACKUP_SERVERS
        | failback::CLEAR_ACTIVE_SERVERS
        | failback::ACTIVATE_PRIMARY_SERVERS => "set_active_servers",
        failback::REMOVE_BACKUP_MIRRORING => "remove_mirroring",
        failback::BACKUP_FOR_FAILBACK | failback::REINITIALIZE_BACKUP => "backup_database",
        failback::RESTORE_PRIMARY => "kill_session",
        failback::SETUP_LOG_SHIPPING => "setup_log_shipping_primary",
        failover::CHECK_SITES | failback::CHECK_REBUILT_PRIMARY => "database_state",
        failover::SNAPSHOT_LOG_SHIPPING => "log_shipping_snapshot",
        other => panic!("no first mutation is known for {other}"),
    };
    let needle = match step {
        failback::REINITIALIZE_BACKUP => "reinit",
        failback::ACTIVATE_PRIMARY_SERVERS => "pc1",
        _ => "",
    };
    Some((operation, needle))
}

fn assert_failed_over(world: &FakeWorld) {
    let s = world.lock();
    let backup = s.backup.as_ref().expect("backup database");
    assert_eq!(backup.state, DbState::Online);
    assert_eq!(backup.point.0, 600, "every log backup (1..=5) applied");
    assert!(backup.mirrored, "the new primary is mirrored");
    assert!(!s.secondary_configured);
    assert_eq!(s.pool, Some(PoolState::FailedOver));
    assert_eq!(s.active, ["pc3.contoso.com", "pc4.contoso.com"]);
}

fn assert_failed_back(world: &FakeWorld) {
    let s = world.lock();
    let primary = s.primary.as_ref().expect("primary database");
    assert_eq!(primary.state, DbState::Online);
    assert_eq!(
        primary.family, "FAMILY-ORIGINAL",
        "the primary holds the backup site's data"
    );
    assert!(primary.mirrored);
    assert_eq!(s.backup.as_ref().map(|b| b.state), Some(DbState::Restoring));
    assert!(s.primary_configured && s.secondary_configured);
    assert_eq!(s.pool, Some(PoolState::Normal));
    assert_eq!(s.active, ["pc1.contoso.com", "pc2.contoso.com"]);
}

#[tokio::test]
async fn a_failover_runs_every_step_and_reports_the_data_loss_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failover_ready(5, 3, 2);
    let report = runbook(&world, &dir.path().join("j"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    assert_failed_over(&world);
    assert!(report.completed);
    assert_eq!(report.steps.len(), failover::PROCEDURE.steps().len());
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.outcome.is_some() && s.millis.is_some())
    );
    assert_eq!((report.files_copied, report.logs_restored), (2, 3));
    assert_eq!(
        report.rpo.last_applied_file.as_deref(),
        Some(format!("{COPY}\\{}", fake_world::log_name(5)).as_str())
    );
    assert!(report.rpo.accepted_gap.is_none());
    assert!(report.rto_seconds.is_some());
    assert!(
        world.repeated_calls().is_empty(),
        "{:?}",
        world.repeated_calls()
    );
}

/// Both orders of copying and restoring: pipelined (the default) and sequential.
fn both_orders() -> [RunOptions; 2] {
    let sequential = RunOptions {
        sequential_restore: true,
        ..RunOptions::default()
    };
    [RunOptions::default(), sequential]
}

/// The step a fault aimed at `step`'s first mutation stops in: pipelined, the first log
/// restore is made by the copy step, as the files land.
fn stops_in(step: StepId, options: &RunOptions) -> StepId {
    if step == failover::APPLY_UNAPPLIED_LOGS && !options.sequential_restore {
        failover::COPY_LOG_BACKUPS
    } else {
        step
    }
}

/// Fails `procedure` at the first mutation of each of its steps (the fault strikes
/// before any effect), resumes, and checks the end state and that nothing ran twice.
async fn fail_at_every_step_then_resume(
    procedure: Procedure,
    world_for: fn() -> FakeWorld,
    fault: PlaneError,
    end_state: fn(&FakeWorld),
    options: RunOptions,
) {
    for &step in procedure.steps() {
        let Some((operation, needle)) = first_mutation(step) else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let world = world_for();
        world.inject_when(operation, needle, Fault::Before(fault.clone()));
        let err = runbook(&world, &journal, options.clone())
            .execute(procedure)
            .await
            .unwrap_err();
        assert_eq!(
            err.step_id(),
            Some(stops_in(step, &options)),
            "{step}: {err}"
        );
        let report = runbook(&world, &journal, options.clone())
            .resume()
            .await
            .unwrap();
        assert!(report.completed, "{step}");
        end_state(&world);
        assert!(
            world.repeated_calls().is_empty(),
            "{step}: {:?}",
            world.repeated_calls()
        );
    }
}

#[tokio::test]
async fn a_failover_fails_at_every_step_and_resume_converges_with_nothing_done_twice() {
    let fault = PlaneError::ConnectionLost {
        message: "reset by peer".into(),
    };
    let world = || FakeWorld::failover_ready(5, 3, 2);
    for options in both_orders() {
        let fault = fault.clone();
        fail_at_every_step_then_resume(
            failover::PROCEDURE,
            world,
            fault,
            assert_failed_over,
            options,
        )
        .await;
    }
}

#[tokio::test]
async fn a_connection_lost_after_the_effect_is_not_repeated_blindly_on_resume() {
    for (options, &step) in both_orders().into_iter().flat_map(|o| {
        failover::PROCEDURE
            .steps()
            .iter()
            .map(move |s| (o.clone(), s))
    }) {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let world = FakeWorld::failover_ready(5, 3, 2);
        let fault = PlaneError::ConnectionLost {
            message: "reset after commit".into(),
        };
        let (operation, needle) = first_mutation(step).expect("every failover step mutates");
        world.inject_when(operation, needle, Fault::After(fault));
        let first = runbook(&world, &journal, options.clone())
            .execute(failover::PROCEDURE)
            .await;
        if let Err(err) = first {
            assert_eq!(err.step_id(), Some(stops_in(step, &options)), "{err}");
            runbook(&world, &journal, options.clone())
                .resume()
                .await
                .unwrap();
        }
        assert_failed_over(&world);
        assert!(
            world.repeated_calls().is_empty(),
            "{step}: {:?}",
            world.repeated_calls()
        );
    }
}

#[tokio::test]
async fn a_failback_fails_at_every_step_and_resume_converges_with_nothing_done_twice() {
    let fault = PlaneError::Timeout {
        what: "statement".into(),
        secs: 30,
    };
    fail_at_every_step_then_resume(
        failback::PROCEDURE,
        FakeWorld::failback_ready,
        fault,
        assert_failed_back,
        RunOptions::default(),
    )
    .await;
}

/// A world failed over by a completed failover journaled in `DIR/over`, whose primary
/// site was then rebuilt.
async fn failed_over_and_rebuilt() -> (tempfile::TempDir, std::path::PathBuf, FakeWorld) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("over");
    let world = FakeWorld::failover_ready(4, 4, 4);
    runbook(&world, &journal, RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    {
        let mut s = world.lock();
        s.primary_reachable = true;
        s.primary = Some(fake_world::Db {
            state: DbState::Online,
            family: "FAMILY-REBUILT".into(),
            point: crate::log_chain::Lsn(0),
            mirrored: false,
            sessions: Vec::new(),
            restored_from: None,
        });
    }
    (dir, journal, world)
}

#[tokio::test]
async fn a_failover_then_a_failback_restores_normal_operation() {
    let (dir, _, world) = failed_over_and_rebuilt().await;
    runbook(&world, &dir.path().join("back"), RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap();
    assert_failed_back(&world);
}

/// The options of a failback that follows the failover journaled in `journal`.
fn following(journal: &Path) -> RunOptions {
    RunOptions {
        failover_journal: Some(journal.to_path_buf()),
        ..RunOptions::default()
    }
}

/// The facts the last record of `journal` holds.
fn last_facts(journal: &Path) -> Facts {
    read_records(journal)
        .unwrap()
        .into_iter()
        .rev()
        .find_map(|record| match record {
            Record::StepFinished { facts, .. } | Record::StepFailed { facts, .. } => Some(facts),
            _ => None,
        })
        .expect("a step ended")
}

#[tokio::test]
async fn a_failback_keeps_the_failover_journals_snapshot_in_its_own_journal_through_a_resume() {
    let (dir, over, world) = failed_over_and_rebuilt().await;
    let recorded = last_facts(&over).snapshot.expect("the failover's snapshot");
    let back = dir.path().join("back");
    world.inject(
        "setup_log_shipping_primary",
        Fault::Before(PlaneError::sql(50000, 16, "fault")),
    );
    let err = runbook(&world, &back, following(&over))
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    assert_eq!(err.step_id(), Some(failback::SETUP_LOG_SHIPPING), "{err}");
    let facts = last_facts(&back);
    assert_eq!(facts.snapshot.as_ref(), Some(&recorded));
    assert_eq!(facts.snapshot_journal.as_deref(), Some(over.as_path()));
    // The failback's own journal holds the snapshot: the failover journal is no longer
    // needed to resume.
    std::fs::remove_file(&over).unwrap();
    let report = runbook(&world, &back, RunOptions::default())
        .resume()
        .await
        .unwrap();
    assert!(report.completed);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(last_facts(&back).snapshot, Some(recorded));
    assert_failed_back(&world);
}

#[tokio::test]
async fn a_failback_without_a_failover_journal_warns_naming_the_values_it_uses() {
    let (dir, _, world) = failed_over_and_rebuilt().await;
    let report = runbook(&world, &dir.path().join("back"), RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap();
    let expected = "no failover journal was found (--failover-journal, the failover_journal option of the C and Python bindings): log shipping will be set up again with the topology's values and pcdr's defaults, not with the settings the failover recorded: restore delay 0 minutes, restore mode NORECOVERY, disconnect_users 1, file retention 4320 minutes, the alert thresholds sp_add_log_shipping_secondary_database sets by default";
    assert_eq!(report.warnings, [expected]);
}

/// Runs a failback that follows `failover_journal` in a new journal of `dir`, and
/// expects it refused before anything is called or journaled; returns the refusal.
async fn refused_failback(
    dir: &Path,
    world: &FakeWorld,
    topology: Topology,
    failover_journal: &Path,
) -> String {
    let calls = world.lock().calls.len();
    let back = dir.join("back");
    let ctx = Context::new(
        Arc::new(topology),
        world.planes(),
        following(failover_journal),
        RUN_ID,
    );
    let err = Runbook::new(ctx, &back)
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err}");
    assert_eq!(world.lock().calls.len(), calls, "nothing was called");
    assert!(!back.exists(), "no failback journal");
    let message = err.to_string();
    assert!(
        message.ends_with(
            "or move this one away to fail back with the topology's log-shipping settings"
        ),
        "{message}"
    );
    message
}

#[tokio::test]
async fn a_failover_journal_of_another_deployment_is_refused_naming_what_differs() {
    let (dir, over, world) = failed_over_and_rebuilt().await;
    let mut other = (*topology()).clone();
    other.pool.fqdn = "pchat2.contoso.com".into();
    let message = refused_failback(dir.path(), &world, other, &over).await;
    assert!(
        message.contains(
            "holds the failover of another deployment: pool pchat.contoso.com (now pchat2.contoso.com)"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_failover_journal_is_taken_only_when_it_holds_a_completed_failover() {
    let (dir, interrupted, world) = stopped_at_the_first_restore().await;
    let message = refused_failback(dir.path(), &world, (*topology()).clone(), &interrupted).await;
    assert!(
        message.contains("holds a failover that did not complete"),
        "{message}"
    );
    let missing = dir.path().join("none");
    let message = refused_failback(dir.path(), &world, (*topology()).clone(), &missing).await;
    assert!(message.contains("does not exist"), "{message}");
}

#[tokio::test]
async fn a_gap_stops_the_run_and_resuming_with_data_loss_accepted_recovers() {
    for options in both_orders() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        // Logs 1 and 2 applied, 3 copied, 4 missing everywhere, 5 on the share.
        let world = FakeWorld::failover_ready(5, 3, 2);
        world
            .lock()
            .files
            .retain(|path, _| !path.ends_with(&fake_world::log_name(4)));
        let err = runbook(&world, &journal, options.clone())
            .execute(failover::PROCEDURE)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DataLossRefused { .. }), "{err}");
        assert!(err.to_string().contains("LSN 400 to 500"), "{err}");
        // Pipelined, the log before the gap is already restored WITH NORECOVERY;
        // sequential, nothing is. Either way nothing is recovered before the decision.
        let restored_before = usize::from(!options.sequential_restore);
        assert_eq!(world.count("restore_log"), restored_before, "{options:?}");
        assert_eq!(
            world.lock().backup.as_ref().map(|b| b.state),
            Some(DbState::Restoring)
        );
        let accept = RunOptions {
            accept_data_loss: true,
            ..options
        };
        let report = runbook(&world, &journal, accept).resume().await.unwrap();
        assert!(report.completed);
        let gap = report.rpo.accepted_gap.expect("the gap is reported");
        assert_eq!((gap.missing_from.0, gap.missing_to.0), (400, 500));
        assert_eq!(world.lock().backup.as_ref().map(|b| b.point.0), Some(400));
        assert_eq!(world.count("restore_log"), 1, "log 3 restored once");
    }
}

#[tokio::test]
async fn a_reachable_primary_refuses_the_failover_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failover_ready(2, 2, 2);
    world.lock().primary_reachable = true;
    let err = runbook(&world, &dir.path().join("a"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap_err();
    assert_eq!(err.step_id(), Some(failover::CHECK_SITES));
    assert!(err.to_string().contains("still answers"), "{err}");
    let allow = RunOptions {
        allow_primary_reachable: true,
        ..RunOptions::default()
    };
    runbook(&world, &dir.path().join("b"), allow)
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_failover_after_a_completed_one_refuses_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failover_ready(2, 2, 2);
    runbook(&world, &dir.path().join("a"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    let calls = world.lock().calls.clone();
    let err = runbook(&world, &dir.path().join("b"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already failed over"), "{err}");
    assert_eq!(world.lock().calls, calls, "nothing changed");
}

#[tokio::test]
async fn a_failback_on_a_normal_pool_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failback_ready();
    world.lock().pool = Some(PoolState::Normal);
    let err = runbook(&world, &dir.path().join("j"), RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    assert_eq!(err.step_id(), Some(failback::CHECK_REBUILT_PRIMARY));
    assert!(err.to_string().contains("not failed over"), "{err}");
}

#[tokio::test]
async fn a_journal_written_before_the_format_was_recorded_resumes_to_the_end() {
    // A failover stopped at remove_log_shipping (a fault before any change), resumed and
    // stopped there again, journaled by pcdr in format 1 against this same fake world.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/journal-format-1.jsonl"
    );
    std::fs::copy(fixture, &journal).unwrap();
    let world = FakeWorld::failover_ready(5, 3, 2);
    // The fixture was written once, on 2026-12-07: it is stale by now.
    let stale = RunOptions {
        resume_stale: true,
        ..RunOptions::default()
    };
    let ctx = Context::new(topology(), world.planes(), stale, "new-id");
    let report = Runbook::new(ctx, &journal).resume().await.unwrap();
    assert!(report.completed);
    assert_eq!(report.run_id, RUN_ID, "the journal's run id is kept");
    assert_failed_over(&world);
    assert_eq!(world.count("remove_secondary_log_shipping"), 1);
    assert!(world.repeated_calls().is_empty());
}

#[tokio::test]
async fn a_second_run_on_a_locked_journal_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let _held = Journal::create(&journal).unwrap();
    let world = FakeWorld::failover_ready(2, 2, 2);
    let err = runbook(&world, &journal, RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JournalLocked { .. }), "{err}");
    assert!(world.lock().calls.is_empty());
}

#[tokio::test]
async fn resuming_a_finished_run_changes_nothing_and_returns_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(3, 3, 1);
    runbook(&world, &journal, RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    let calls = world.lock().calls.clone();
    let report = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap();
    assert!(report.completed);
    assert_eq!(world.lock().calls, calls);
}

#[tokio::test]
async fn resume_keeps_the_first_run_id_so_failback_finds_its_own_backup() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failback_ready();
    world.inject(
        "restore_database",
        Fault::Before(PlaneError::sql(3101, 16, "in use")),
    );
    world.inject(
        "kill_session",
        Fault::Before(PlaneError::ConnectionLost {
            message: "x".into(),
        }),
    );
    runbook(&world, &journal, RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    let ctx = Context::new(
        topology(),
        world.planes(),
        RunOptions::default(),
        "another-id",
    );
    Runbook::new(ctx, &journal).resume().await.unwrap();
    assert_eq!(
        world.count(
            "backup_database \\\\fs01.contoso.com\\pchat-logs\\mgc_pcdr_failback_20261127130000.bak"
        ),
        1
    );
    assert_failed_back(&world);
}

#[tokio::test]
async fn the_plan_makes_no_mutating_call_and_shows_the_commands() {
    let world = FakeWorld::failover_ready(5, 3, 2);
    let ctx = Context::new(topology(), world.planes(), RunOptions::default(), RUN_ID);
    let plan = plan(&ctx, failover::PROCEDURE).await;
    assert!(world.lock().calls.is_empty());
    assert!(plan.can_run());
    let copy = &plan.steps[3];
    assert_eq!(copy.step, failover::COPY_LOG_BACKUPS);
    assert_eq!(copy.status, PlannedStatus::WouldRun);
    assert_eq!(
        copy.files,
        [fake_world::log_name(4), fake_world::log_name(5)]
    );
    let apply = &plan.steps[4];
    assert!(apply.commands.iter().any(|c| {
        c.to_string()
            .contains("RESTORE LOG @db FROM DISK = @file WITH NORECOVERY")
    }));
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains("\"status\":\"would_run\""), "{json}");
}

#[tokio::test]
async fn the_plan_marks_a_blocked_step_and_cannot_run() {
    let world = FakeWorld::failover_ready(2, 2, 2);
    world.lock().primary_reachable = true;
    let ctx = Context::new(topology(), world.planes(), RunOptions::default(), RUN_ID);
    let plan = plan(&ctx, failover::PROCEDURE).await;
    assert!(!plan.can_run());
    assert!(matches!(
        plan.steps[0].status,
        PlannedStatus::Blocked { .. }
    ));
}

#[tokio::test]
async fn a_single_step_runs_journaled_and_refuses_a_journal_of_the_other_procedure() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(3, 3, 1);
    let outcome = runbook(&world, &journal, RunOptions::default())
        .run_single_step(failover::SNAPSHOT_LOG_SHIPPING)
        .await
        .unwrap();
    assert!(matches!(outcome, StepOutcome::Done { .. }));
    let err = runbook(&world, &journal, RunOptions::default())
        .run_single_step(failback::SET_POOL_NORMAL)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("holds a failover run"), "{err}");
    let report = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap();
    assert!(report.completed);
    assert_eq!(world.lock().pool, Some(PoolState::FailedOver));
    assert!(world.repeated_calls().is_empty());
}

#[tokio::test]
async fn cancelling_stops_before_the_next_action_and_resume_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(3, 3, 1);
    let book = runbook(&world, &journal, RunOptions::default());
    book.context()
        .cancel_flag()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = book.execute(failover::PROCEDURE).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert!(world.lock().calls.is_empty());
    runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap();
    assert_eq!(world.lock().pool, Some(PoolState::FailedOver));
}

#[tokio::test]
async fn a_large_copy_folder_costs_few_header_reads() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failover_ready(10_000, 10_000, 9_995);
    let report = runbook(&world, &dir.path().join("j"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    assert_eq!(report.logs_restored, 5);
    let reads = world
        .lock()
        .reads
        .get("backup_header")
        .copied()
        .unwrap_or(0);
    assert!(
        reads <= 30,
        "{reads} RESTORE HEADERONLY calls for 5 unapplied files among 10,000"
    );
    assert_eq!(
        report.rpo.last_applied_file.as_deref(),
        Some(format!("{COPY}\\{}", fake_world::log_name(10_000)).as_str())
    );
}

#[tokio::test]
async fn running_every_step_one_at_a_time_completes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(3, 3, 1);
    for &step in failover::PROCEDURE.steps() {
        runbook(&world, &journal, RunOptions::default())
            .run_single_step(step)
            .await
            .unwrap();
    }
    let report = Report::from_records(failover::PROCEDURE, &read_records(&journal).unwrap());
    assert!(report.completed);
    assert!(report.steps.iter().all(|s| s.outcome.is_some()));
}

/// A failover journaled until its first log restore failed (the steps before it done).
async fn stopped_at_the_first_restore() -> (tempfile::TempDir, std::path::PathBuf, FakeWorld) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(5, 3, 2);
    world.inject(
        "restore_log",
        Fault::Before(PlaneError::sql(50000, 16, "fault")),
    );
    runbook(&world, &journal, RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap_err();
    (dir, journal, world)
}

#[tokio::test]
async fn a_journal_of_another_deployment_is_refused_before_anything_changes() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    let mut other = (*topology()).clone();
    other.pool.fqdn = "pchat2.contoso.com".into();
    let calls = world.lock().calls.len();
    let ctx = Context::new(Arc::new(other), world.planes(), RunOptions::default(), "x");
    let err = Runbook::new(ctx, &journal).resume().await.unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("another deployment")
            && message.contains("pool pchat.contoso.com (now pchat2.contoso.com)"),
        "{message}"
    );
    assert_eq!(world.lock().calls.len(), calls, "nothing changed");
}

/// A backup database re-seeded (another family) between a run and its resume is
/// another deployment: the resume refuses, naming both families, before acting. The
/// backup database is RESTORING, so its family comes from msdb's restore history.
#[tokio::test]
async fn a_journal_whose_backup_database_was_reseeded_is_refused_naming_the_family() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    if let Some(backup) = world.lock().backup.as_mut() {
        backup.family = "FAMILY-RESEEDED".into();
    }
    let calls = world.lock().calls.len();
    let ctx = Context::new(topology(), world.planes(), RunOptions::default(), "x");
    let err = Runbook::new(ctx, &journal).resume().await.unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("backup database family FAMILY-ORIGINAL (now FAMILY-RESEEDED"),
        "{message}"
    );
    assert_eq!(world.lock().calls.len(), calls, "nothing changed");
}

#[tokio::test]
async fn a_resumed_run_whose_last_step_would_act_again_stops_before_it() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    // Log shipping is configured again behind the journal's back: the last step it
    // records as done (remove_log_shipping) would act again.
    world.lock().secondary_configured = true;
    let err = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap_err();
    assert_eq!(err.step_id(), Some(failover::REMOVE_LOG_SHIPPING), "{err}");
    assert_eq!(
        err.precondition_kind(),
        Some(crate::error::PreconditionKind::WorldChanged),
        "{err}"
    );
}

#[tokio::test]
async fn a_single_step_refuses_to_run_ahead_of_the_steps_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failover_ready(5, 3, 2);
    let err = runbook(&world, &journal, RunOptions::default())
        .run_single_step(failover::RECOVER_DATABASE)
        .await
        .unwrap_err();
    assert_eq!(
        err.precondition_kind(),
        Some(crate::error::PreconditionKind::EarlierStep),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("check_sites, snapshot_log_shipping"),
        "{err}"
    );
    assert!(
        world.lock().calls.keys().all(|c| !c.starts_with("recover")),
        "nothing was recovered"
    );
    // A check runs any time; the steps in order then reach recovery.
    for &step in &failover::PROCEDURE.steps()[..5] {
        runbook(&world, &journal, RunOptions::default())
            .run_single_step(step)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    runbook(&world, &journal, RunOptions::default())
        .run_single_step(failover::RECOVER_DATABASE)
        .await
        .expect("recovery once every earlier step is done");
}

/// Moves the start of the run `journal` holds `hours` into the past.
fn age_journal(journal: &Path, hours: i64) {
    let text = std::fs::read_to_string(journal).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut started: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let at = chrono::Utc::now() - chrono::Duration::hours(hours);
    started["at"] = serde_json::json!(at);
    lines[0] = started.to_string();
    std::fs::write(journal, lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn a_journal_older_than_a_day_resumes_only_when_the_operator_says_so() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    age_journal(&journal, 25);
    let err = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err}");
    assert!(err.to_string().contains("--resume-stale"), "{err}");
    let stale = RunOptions {
        resume_stale: true,
        ..RunOptions::default()
    };
    let report = runbook(&world, &journal, stale).resume().await.unwrap();
    assert!(report.completed);
    assert_failed_over(&world);
}

/// A failback journal of a pcdr that set log shipping up before mirroring the primary
/// (the step order before issue 13) is refused on resume, naming the step out of order
/// and the order this pcdr runs, before anything is contacted.
#[tokio::test]
async fn a_failback_journal_in_the_old_step_order_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failback_ready();
    let (operation, needle) =
        first_mutation(failback::ACTIVATE_PRIMARY_SERVERS).expect("activation mutates");
    world.inject_when(
        operation,
        needle,
        Fault::Before(PlaneError::sql(50000, 16, "x")),
    );
    runbook(&world, &journal, RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    move_step_record_last(&journal, failback::MIRROR_PRIMARY);
    let calls = world.lock().calls.len();

    let err = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Journal { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("step reinitialize_backup was done where this pcdr runs mirror_primary"),
        "{text}"
    );
    assert!(
        text.contains("start a new run with a new journal"),
        "{text}"
    );
    assert_eq!(world.lock().calls.len(), calls, "nothing was called");
}

/// Rewrites `journal` as if `step` had been done after every other step it records.
fn move_step_record_last(journal: &Path, step: StepId) {
    let text = std::fs::read_to_string(journal).unwrap();
    let names_step = |line: &&str| {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        record["step"] == step.as_str()
    };
    let (moved, mut kept): (Vec<&str>, Vec<&str>) = text.lines().partition(names_step);
    let failed = kept
        .iter()
        .rposition(|line| line.contains("\"step_started\""))
        .unwrap();
    kept.splice(failed..failed, moved);
    std::fs::write(journal, kept.join("\n") + "\n").unwrap();
}

/// Takes the pool's run lock on `site` as another run would, held until dropped.
async fn lock_held_by_another_run(
    world: &FakeWorld,
    site: crate::topology::SiteRole,
) -> crate::planes::RunLock {
    let planes = world.planes();
    let plane = match site {
        crate::topology::SiteRole::Primary => planes.primary,
        crate::topology::SiteRole::Backup => planes.backup,
    };
    let resource = run_lock_resource(&topology().pool.fqdn);
    match plane
        .take_run_lock(&resource, "pcdr failover run 20260101000000")
        .await
        .unwrap()
    {
        crate::planes::RunLockAttempt::Granted(lock) => lock,
        other => panic!("{other:?}"),
    }
}

fn assert_refused_naming_the_other_run(err: &Error) {
    assert_eq!(
        err.precondition_kind(),
        Some(crate::error::PreconditionKind::RunInProgress),
        "{err}"
    );
    assert!(
        err.to_string().contains("pcdr failover run 20260101000000"),
        "{err}"
    );
}

#[tokio::test]
async fn a_run_is_refused_while_another_holds_the_run_lock_and_runs_once_it_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failover_ready(5, 3, 2);
    let other = lock_held_by_another_run(&world, crate::topology::SiteRole::Backup).await;
    let err = runbook(&world, &dir.path().join("one"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap_err();
    assert_refused_naming_the_other_run(&err);
    assert!(
        world.lock().calls.is_empty(),
        "the refused run changed nothing"
    );
    drop(other);
    runbook(&world, &dir.path().join("two"), RunOptions::default())
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    assert_failed_over(&world);
    assert!(
        world.lock().run_locks.is_empty(),
        "the run released its lock"
    );
    assert_eq!(
        world.lock().run_locks_released,
        1,
        "given back, not dropped"
    );
}

#[tokio::test]
async fn a_run_gives_its_run_lock_back_however_it_ends() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    assert_eq!(
        world.lock().run_locks_released,
        1,
        "the failed run gave it back"
    );
    runbook(&world, &journal, RunOptions::default())
        .run_single_step(failover::CHECK_SITES)
        .await
        .unwrap();
    assert_eq!(world.lock().run_locks_released, 2, "so did the single step");
    runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap();
    assert_failed_over(&world);
    assert_eq!(world.lock().run_locks_released, 3, "so did the resumed run");
    assert!(world.lock().run_locks.is_empty());
}

#[tokio::test]
async fn a_resume_and_a_single_step_take_the_run_lock_too() {
    let (_dir, journal, world) = stopped_at_the_first_restore().await;
    let calls = world.lock().calls.len();
    let _other = lock_held_by_another_run(&world, crate::topology::SiteRole::Backup).await;
    let err = runbook(&world, &journal, RunOptions::default())
        .resume()
        .await
        .unwrap_err();
    assert_refused_naming_the_other_run(&err);
    let err = runbook(&world, &journal, RunOptions::default())
        .run_single_step(failover::COPY_LOG_BACKUPS)
        .await
        .unwrap_err();
    assert_refused_naming_the_other_run(&err);
    assert_eq!(world.lock().calls.len(), calls, "nothing changed");
}

#[tokio::test]
async fn failback_takes_the_run_lock_on_the_primary_as_well() {
    let dir = tempfile::tempdir().unwrap();
    let world = FakeWorld::failback_ready();
    let calls = world.lock().calls.len();
    let _other = lock_held_by_another_run(&world, crate::topology::SiteRole::Primary).await;
    let err = runbook(&world, &dir.path().join("j"), RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    assert_refused_naming_the_other_run(&err);
    assert!(
        err.to_string().contains("sql-atl"),
        "names the primary: {err}"
    );
    assert_eq!(world.lock().calls.len(), calls, "nothing changed");
}

#[tokio::test]
async fn an_instance_to_lock_out_of_reach_fails_the_first_check_in_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let world = FakeWorld::failback_ready();
    world.lock().primary_reachable = false;
    let calls = world.lock().calls.len();
    let err = runbook(&world, &journal, RunOptions::default())
        .execute(failback::PROCEDURE)
        .await
        .unwrap_err();
    assert_eq!(
        err.step_id(),
        Some(failback::CHECK_REBUILT_PRIMARY),
        "{err}"
    );
    assert_eq!(err.database(), Some("mgc"), "the check's error: {err}");
    assert_eq!(world.lock().calls.len(), calls, "nothing changed");
    assert!(
        world.lock().run_locks.is_empty(),
        "the backup's lock given back"
    );
    assert_eq!(world.lock().run_locks_released, 1);
    let report = Report::from_records(failback::PROCEDURE, &read_records(&journal).unwrap());
    let first = &report.steps[0];
    assert!(
        first.started.is_some() && first.error.is_some(),
        "{first:?}"
    );
}
