//! Step tests of both procedures against mocked planes: for every step the happy path
//! (exact plane calls), the already-done path (skipped, nothing changed) and failures
//! (the error names the step, the target, the database and the file).

mod failback_steps;
mod failover_steps;
mod fixtures;
mod header_search;
mod pipeline;
mod switchover_steps;

use super::{Procedure, StepId};
use crate::procedure::{failback, failover, switchover};

#[test]
fn step_ids_round_trip_and_belong_to_their_procedure() {
    for procedure in [failover::PROCEDURE, failback::PROCEDURE] {
        for step in procedure.steps() {
            assert_eq!(step.procedure(), procedure);
            assert_eq!(procedure.step(step.as_str()), Some(*step));
        }
    }
    assert_eq!(failback::PROCEDURE.step("apply_unapplied_logs"), None);
    assert_eq!(
        failover::APPLY_UNAPPLIED_LOGS.to_string(),
        "failover step apply_unapplied_logs"
    );
    assert_eq!("failback".parse::<Procedure>(), Ok(failback::PROCEDURE));
    assert!("sideways".parse::<Procedure>().is_err());
}

/// An action that copies one log backup, for the journal-flush tests.
fn copy_action() -> super::Action {
    super::Action::CopyFile {
        from: fixtures::SHARE.into(),
        to: fixtures::COPY.into(),
        name: fixtures::trn("20261127120000"),
        bytes: 10,
    }
}

#[tokio::test]
async fn an_action_waits_for_the_journal_flush_pending_before_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let flushed = Arc::new(AtomicBool::new(false));
    let mut w = fixtures::World::new();
    let seen = flushed.clone();
    w.files
        .expect_copy_file()
        .times(1)
        .returning(move |_, _, _| {
            assert!(
                seen.load(Ordering::SeqCst),
                "copied before the journal was flushed"
            );
            Ok(10)
        });
    let (ctx, _) = w.build();
    let done = flushed.clone();
    ctx.act_after(Box::pin(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        done.store(true, Ordering::SeqCst);
        Ok(())
    }))
    .await;
    copy_action()
        .perform(&ctx, failover::COPY_LOG_BACKUPS)
        .await
        .expect("copied after the flush");
}

#[tokio::test]
async fn a_failed_flush_is_not_forgotten_when_a_later_one_is_pending() {
    let mut w = fixtures::World::new();
    w.files.expect_copy_file().never();
    let (ctx, _) = w.build();
    let failure = crate::error::Error::Journal {
        path: "/var/pcdr/failover.journal".into(),
        message: "Input/output error".into(),
    };
    ctx.act_after(Box::pin(async move { Err(failure) })).await;
    ctx.act_after(Box::pin(async { Ok(()) })).await;
    let error = copy_action()
        .perform(&ctx, failover::COPY_LOG_BACKUPS)
        .await
        .expect_err("the earlier flush failed");
    assert!(error.to_string().contains("Input/output error"), "{error}");
}

#[tokio::test]
async fn a_failed_journal_flush_stops_every_later_action() {
    let mut w = fixtures::World::new();
    w.files.expect_copy_file().never();
    let (ctx, _) = w.build();
    let failure = crate::error::Error::Journal {
        path: "/var/pcdr/failover.journal".into(),
        message: "No space left on device".into(),
    };
    ctx.act_after(Box::pin(async move { Err(failure) })).await;
    for _ in 0..2 {
        let error = copy_action()
            .perform(&ctx, failover::COPY_LOG_BACKUPS)
            .await
            .expect_err("no change without a durable journal");
        assert!(
            error.to_string().contains("No space left on device"),
            "{error}"
        );
    }
}

/// Journals and events name a step by its id alone, so ids are unique across every
/// procedure, and each reads back as the step it names.
#[test]
fn step_ids_are_unique_across_procedures_and_read_back() {
    let mut seen = std::collections::HashSet::new();
    for procedure in Procedure::all() {
        for &step in procedure.steps() {
            assert!(seen.insert(step.as_str()), "{step} is declared twice");
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(serde_json::from_str::<StepId>(&json).unwrap(), step);
        }
    }
    assert!(serde_json::from_str::<StepId>("\"sideways\"").is_err());
}

/// Every procedure that takes the pool away ends its outage with exactly one activating
/// step, after the fencing step if it has one; a failover has none, its pool serving no
/// one from the start. A procedure with no activating step fences nothing either (the
/// online failback's prepare phase: the pool serves throughout).
#[test]
fn each_procedure_marks_its_activation_after_its_fence() {
    for procedure in Procedure::all() {
        if procedure.activating_step().is_none() {
            assert_eq!(procedure.fencing_step(), None, "{procedure}");
            continue;
        }
        let marked = |outage| {
            procedure
                .steps()
                .iter()
                .filter(|s| s.declaration().outage == Some(outage))
                .count()
        };
        assert_eq!(marked(super::Outage::Activates), 1, "{procedure}");
        assert!(marked(super::Outage::Fences) <= 1, "{procedure}");
        let position = |step| procedure.steps().iter().position(|&s| Some(s) == step);
        let activation = position(procedure.activating_step());
        assert!(
            position(procedure.fencing_step()) < activation,
            "{procedure}"
        );
    }
    assert_eq!(failover::PROCEDURE.fencing_step(), None);
    assert_eq!(
        failback::PROCEDURE.fencing_step(),
        Some(failback::CLEAR_ACTIVE_SERVERS)
    );
    assert_eq!(
        failback::PROCEDURE.activating_step(),
        Some(failback::ACTIVATE_PRIMARY_SERVERS)
    );
    assert_eq!(failback::online::PROCEDURE.activating_step(), None);
    assert_eq!(
        switchover::PROCEDURE.fencing_step(),
        Some(switchover::FENCE_POOL)
    );
}
