//! Step tests of both procedures against mocked planes: for every step the happy path
//! (exact plane calls), the already-done path (skipped, nothing changed) and failures
//! (the error names the step, the target, the database and the file).

mod failback_steps;
mod failover_steps;
mod fixtures;

use super::{Procedure, StepId};

#[test]
fn step_ids_round_trip_and_belong_to_their_procedure() {
    for procedure in [Procedure::Failover, Procedure::Failback] {
        for step in procedure.steps() {
            assert_eq!(step.procedure(), procedure);
            assert_eq!(StepId::parse(procedure, step.as_str()), Some(*step));
        }
    }
    assert_eq!(
        StepId::parse(Procedure::Failback, "apply_unapplied_logs"),
        None
    );
    assert_eq!(
        StepId::ApplyUnappliedLogs.to_string(),
        "failover step apply_unapplied_logs"
    );
    assert_eq!("failback".parse::<Procedure>(), Ok(Procedure::Failback));
    assert!("sideways".parse::<Procedure>().is_err());
}
