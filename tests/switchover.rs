//! End to end, through pcdr's public API and the real adapters, on an emulated world
//! served over TDS: a planned switchover to the backup site and a switchover back, an
//! online failback (prepare while the pool serves, then a switchover as the cutover),
//! and the return to the old primary after a switchover that stopped before its
//! recovery. The world's ground truth (the messages each database holds) proves that
//! nothing committed before the fence is lost; the statements the instances received
//! prove that no full backup was taken.

mod common;

use common::asserts::{assert_done, assert_serving_principal, assert_verified, traffic_with_jobs};
use common::{Served, backlog, fail};
use pcdr_core::procedure::failback::online;
use pcdr_core::procedure::{Procedure, RunOptions, StepOutcome, failover, switchover};
use pcdr_core::runbook::Report;
use pcdr_core::topology::SiteRole;
use pcdr_sim::world::faults::{StatementKind, StoredCmdletFault};
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::{Expect, WorldOptions};

/// Messages committed after the last log backup: only the tail-log backup holds them.
const UNSHIPPED: u32 = 3;

/// The chat database's size in the online failback's world: large enough that a full
/// backup inside the cutover's outage would show in its bytes.
const DB_SIZE: u64 = 4 << 20;

/// Steps a switchover may find done when it reaches them: the catch-up of a secondary
/// that log shipping already brought up to date, the restores the copy steps made as
/// the files landed, and the unmirroring of a database no mirror partners.
const MAY_SKIP: [&str; 4] = [
    "copy_backlog",
    "restore_backlog",
    "restore_tail",
    "unmirror_serving_database",
];

/// Every step of the switchover ran: done, or skipped where its work may already be
/// done.
fn assert_switched(report: &Report) {
    assert!(report.completed, "{report:#?}");
    for &step in switchover::PROCEDURE.steps() {
        if MAY_SKIP.contains(&step.as_str()) {
            continue;
        }
        assert_done(report, step);
    }
    let outage = report
        .outage
        .as_ref()
        .expect("the switchover fenced the pool");
    assert_eq!(outage.fenced_by, Some(switchover::FENCE_POOL));
    assert!(outage.ended.is_some(), "{outage:?}");
}

/// No instance received a `BACKUP DATABASE`: the switchover moved the log only.
fn assert_no_full_backup(served: &Served) {
    for instance in InstanceId::ALL {
        let full = served.count(instance, "BACKUP DATABASE", |_| true);
        assert_eq!(full, 0, "{} took a full backup", instance.name());
    }
}

/// The pool serves from `site`: its state, its active servers.
fn assert_pool_serves_from(served: &Served, site: SiteRole) {
    let state = served.world.read().expect("the world reads");
    assert_eq!(state.pool.failed_over, site == SiteRole::Backup);
    let servers = match site {
        SiteRole::Primary => &state.pool.primary_servers,
        SiteRole::Backup => &state.pool.backup_servers,
    };
    assert_eq!(&state.pool.active, servers);
}

/// Log shipping from `from` to `to` runs: traffic on `from` with the jobs running for
/// half an hour reaches `to`, and no job fails. One more backup interval passes at the
/// end: the emulator runs the primary instance's jobs first in a minute, so when the
/// primary instance is the secondary its copy job may run just before the backup job
/// of the same minute.
fn assert_ships_from(served: &Served, from: InstanceId, to: InstanceId) {
    let mut runs = traffic_with_jobs(served, 30);
    runs.extend(served.world.tick(15).expect("the clock runs"));
    let failed: Vec<_> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(served.mgc(to).accepts_logs(), "{:?}", served.mgc(to).state);
    assert_eq!(
        served.messages(to),
        served.messages(from),
        "log shipping from {} to {}",
        from.name(),
        to.name()
    );
}

/// Moves the journal of a completed or abandoned run aside, so the next run of the
/// procedure starts a journal of its own.
fn set_journal_aside(served: &Served, procedure: Procedure, as_: &str) {
    let journal = served.journal(procedure);
    std::fs::rename(&journal, journal.with_extension(as_)).expect("the journal moves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_and_a_switch_back_lose_no_message_and_take_no_full_backup() {
    let served = Served::new(&backlog()).await;
    served.world.traffic(UNSHIPPED, false).expect("traffic");
    let committed = served.messages(InstanceId::Primary);

    let report = served.completes(switchover::PROCEDURE).await;
    assert_switched(&report);
    assert_eq!(served.messages(InstanceId::Backup), committed);
    assert_serving_principal(&served, InstanceId::Backup);
    assert_pool_serves_from(&served, SiteRole::Backup);
    assert_ships_from(&served, InstanceId::Backup, InstanceId::Primary);

    set_journal_aside(&served, switchover::PROCEDURE, "first");
    served.world.traffic(UNSHIPPED, false).expect("traffic");
    let committed = served.messages(InstanceId::Backup);
    let back = served.completes(switchover::PROCEDURE).await;
    assert_switched(&back);
    assert_eq!(served.messages(InstanceId::Primary), committed);
    assert_serving_principal(&served, InstanceId::Primary);
    assert_pool_serves_from(&served, SiteRole::Primary);
    assert_ships_from(&served, InstanceId::Primary, InstanceId::Backup);
    assert_no_full_backup(&served);
    assert_verified(&served, Expect::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_stopped_before_its_recovery_returns_to_the_old_primary() {
    let served = Served::new(&backlog()).await;
    served.world.traffic(UNSHIPPED, false).expect("traffic");
    let committed = served.messages(InstanceId::Primary);
    served
        .world
        .add_statement_fault(fail(
            InstanceId::Backup,
            Some(StatementKind::RestoreDatabase),
        ))
        .expect("the fault is set");
    let stopped = served
        .run(switchover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the recovery fails");
    assert_eq!(
        stopped.step_id(),
        Some(switchover::RECOVER_NEW_PRIMARY),
        "{stopped}"
    );
    assert!(
        served.mgc(InstanceId::Primary).accepts_logs(),
        "the tail was taken"
    );
    served.world.clear_faults().expect("the faults clear");

    set_journal_aside(&served, switchover::PROCEDURE, "stopped");
    let back = RunOptions {
        switch_to: Some(SiteRole::Primary),
        ..RunOptions::default()
    };
    let report = served
        .run(switchover::PROCEDURE, back)
        .await
        .expect("the return completes");
    assert!(report.completed, "{report:#?}");
    assert_eq!(served.messages(InstanceId::Primary), committed);
    assert_serving_principal(&served, InstanceId::Primary);
    assert_pool_serves_from(&served, SiteRole::Primary);
    assert_ships_from(&served, InstanceId::Primary, InstanceId::Backup);
    assert_verified(&served, Expect::Normal);
}

/// A switchover that stopped after its recovery (the pool state could not be set) went
/// past the point of return: the new primary is online, and a return is refused; the
/// resumed switchover finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_is_refused_once_the_new_primary_is_online() {
    let served = Served::new(&backlog()).await;
    let cmdlet = "Set-CsPersistentChatState";
    let fault = StoredCmdletFault::Fail(format!("{cmdlet} failed (injected)"));
    served.world.set_cmdlet_fault(cmdlet, Some(fault)).unwrap();
    let stopped = served
        .run(switchover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("the pool state cannot be set");
    assert_eq!(
        stopped.step_id(),
        Some(switchover::SET_SWITCHED_POOL_STATE),
        "{stopped}"
    );
    served.world.clear_faults().expect("the faults clear");

    set_journal_aside(&served, switchover::PROCEDURE, "stopped");
    let back = RunOptions {
        switch_to: Some(SiteRole::Primary),
        ..RunOptions::default()
    };
    let refused = served
        .run(switchover::PROCEDURE, back)
        .await
        .expect_err("the backup database is online");
    assert_eq!(
        refused.step_id(),
        Some(switchover::CHECK_SWITCHOVER),
        "{refused}"
    );
    assert!(refused.to_string().contains("is online"), "{refused}");
    assert!(served.mgc(InstanceId::Primary).accepts_logs());

    set_journal_aside(&served, switchover::PROCEDURE, "refused");
    std::fs::rename(
        served
            .journal(switchover::PROCEDURE)
            .with_extension("stopped"),
        served.journal(switchover::PROCEDURE),
    )
    .expect("the stopped run's journal returns");
    let finished = served
        .resume(switchover::PROCEDURE, RunOptions::default())
        .await
        .expect("the switchover resumes");
    assert!(finished.completed, "{finished:#?}");
    assert_pool_serves_from(&served, SiteRole::Backup);
    assert_verified(&served, Expect::SwitchedOver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_failback_prepares_while_the_pool_serves_and_cuts_over_with_the_tail_only() {
    let served = Served::new(&WorldOptions {
        db_size_bytes: DB_SIZE,
        ..backlog()
    })
    .await;
    served.world.traffic(UNSHIPPED, false).expect("traffic");
    served.disaster().await;
    served.completes(failover::PROCEDURE).await;
    served
        .world
        .traffic(10, false)
        .expect("traffic while failed over");
    served.rebuild().await;

    let prepared = served.completes(online::PROCEDURE).await;
    for &step in online::PROCEDURE.steps() {
        assert_done(&prepared, step);
    }
    assert!(prepared.outage.is_none(), "{:?}", prepared.outage);
    assert_pool_serves_from(&served, SiteRole::Backup);
    assert_ships_from(&served, InstanceId::Backup, InstanceId::Primary);

    served.world.traffic(UNSHIPPED, false).expect("traffic");
    let committed = served.messages(InstanceId::Backup);
    let cutover = served.completes(switchover::PROCEDURE).await;
    assert_switched(&cutover);
    assert_eq!(served.messages(InstanceId::Primary), committed);
    assert_serving_principal(&served, InstanceId::Primary);
    assert_pool_serves_from(&served, SiteRole::Primary);
    let outage = cutover.outage.expect("the cutover fenced the pool");
    assert!(
        outage.bytes_moved * 100 < DB_SIZE,
        "the cutover moved {} bytes in its outage, 1 % of the {DB_SIZE}-byte database or more",
        outage.bytes_moved
    );
    assert_ships_from(&served, InstanceId::Primary, InstanceId::Backup);
    assert_verified(&served, Expect::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_failback_run_again_finds_the_primary_prepared() {
    let served = Served::new(&backlog()).await;
    served.disaster().await;
    served.completes(failover::PROCEDURE).await;
    served.rebuild().await;
    served.completes(online::PROCEDURE).await;
    set_journal_aside(&served, online::PROCEDURE, "first");

    let again = served.completes(online::PROCEDURE).await;
    for &step in &online::PROCEDURE.steps()[1..] {
        let outcome = again.steps.iter().find(|s| s.step == step);
        assert!(
            matches!(
                outcome.and_then(|s| s.outcome.as_ref()),
                Some(StepOutcome::Skipped { .. })
            ),
            "{step}: {outcome:?}"
        );
    }
    assert_eq!(
        served.count(InstanceId::Backup, "BACKUP DATABASE", |_| true),
        1
    );
}
