//! Assertions the end-to-end suites share: how a step ended, the world's own check of
//! the end state, a database serving as its site's mirroring principal, and traffic
//! with the log-shipping jobs running.

use super::Served;
use pcdr_core::procedure::{StepId, StepOutcome};
use pcdr_core::runbook::Report;
use pcdr_sim::world::Expect;
use pcdr_sim::world::logship::JobRun;
use pcdr_sim::world::model::{DbState, InstanceId, MirrorRole, UserAccess};

/// How `step` ended in `report`, if it ran.
pub fn outcome(report: &Report, step: StepId) -> Option<&StepOutcome> {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .and_then(|s| s.outcome.as_ref())
}

/// `step` acted and verified in `report`.
pub fn assert_done(report: &Report, step: StepId) {
    assert!(
        matches!(outcome(report, step), Some(StepOutcome::Done { .. })),
        "{step} is not done: {:?}",
        outcome(report, step)
    );
}

/// `step` found its work done in `report`.
pub fn assert_skipped(report: &Report, step: StepId) {
    assert!(
        matches!(outcome(report, step), Some(StepOutcome::Skipped { .. })),
        "{step} is not skipped: {:?}",
        outcome(report, step)
    );
}

/// The world's own check of the end state finds nothing.
pub fn assert_verified(served: &Served, expect: Expect) {
    let differences = served.world.verify(expect).expect("the world verifies");
    assert!(differences.is_empty(), "{expect:?}: {differences:#?}");
}

/// `mgc` on `instance` serves: ONLINE, not standby, MULTI_USER, principal mirrored to
/// its site's mirror.
pub fn assert_serving_principal(served: &Served, instance: InstanceId) {
    let db = served.mgc(instance);
    assert_eq!(db.state, DbState::Online, "{}", instance.name());
    assert!(!db.standby, "{} mgc is in standby", instance.name());
    assert_eq!(db.user_access, UserAccess::MultiUser);
    let mirroring = db.mirroring.expect("mgc is mirrored");
    assert_eq!(mirroring.role, MirrorRole::Principal);
    let partner = instance.mirror_partner();
    assert_eq!(mirroring.partner, partner.endpoint());
    let mirror = served.mgc(partner).mirroring.expect("the mirror copy");
    assert_eq!(mirror.role, MirrorRole::Mirror);
    assert_eq!(mirror.partner, instance.endpoint());
}

/// Chat traffic every five minutes for `minutes` minutes on the world clock, the
/// log-shipping jobs running on their schedules, then one more backup interval so the
/// last messages are backed up, copied and restored. Returns every job run.
pub fn traffic_with_jobs(served: &Served, minutes: u32) -> Vec<JobRun> {
    let mut runs = Vec::new();
    for _ in 0..minutes / 5 {
        served
            .world
            .traffic(2, false)
            .expect("traffic on the principal");
        runs.extend(served.world.tick(5).expect("the clock runs"));
    }
    runs.extend(served.world.tick(15).expect("the clock runs"));
    runs
}
