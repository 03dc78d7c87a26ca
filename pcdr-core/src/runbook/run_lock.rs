//! The run lock: two operators, on two hosts, must not run procedures on the same pool
//! at once. A run (new, resumed, or one step) takes an exclusive application lock named
//! [`resource`] in `master` of the instances it changes — the backup instance, and for
//! failback the primary too — as the first thing its first step does, over a connection
//! of its own, named after the run ([`run_name`]), and gives it back when the run ends
//! ([`RunLocks`]). A second run is refused at once, naming the holder from the
//! instance's own views; nothing of pcdr's is stored on the server.
//!
//! A failover does not lock the primary: its primary site is gone. The lock lives in
//! `master`, present on every instance and never restored over (failback restores `mgc`
//! over the primary's; a lock in `mgc` would be lost with the database). A run that
//! dies (even by SIGKILL) loses its connection, and its session with the lock.

use crate::error::{Error, PreconditionKind, Result};
use crate::planes::{LockHolder, RunLock, RunLockAttempt};
use crate::procedure::{Context, Procedure, StepId, failover};
use crate::topology::SiteRole;

/// The lock's resource name for the pool of `ctx`: `pcdr:<pool fqdn>`.
///
/// ```
/// # use pcdr_core::runbook::run_lock_resource;
/// assert_eq!(run_lock_resource("pchat.contoso.com"), "pcdr:pchat.contoso.com");
/// ```
pub fn resource(pool_fqdn: &str) -> String {
    format!("pcdr:{pool_fqdn}")
}

/// The name the lock's connection gives itself (its `program_name`), naming the run.
///
/// ```
/// # use pcdr_core::procedure::failover;
/// # use pcdr_core::runbook::run_lock_name;
/// assert_eq!(
///     run_lock_name(failover::PROCEDURE, "20261127093000"),
///     "pcdr failover run 20261127093000"
/// );
/// ```
pub fn run_name(procedure: Procedure, run_id: &str) -> String {
    format!("pcdr {procedure} run {run_id}")
}

/// The sites whose instances `procedure` locks, in the order it locks them: both,
/// except in a failover, whose primary site is lost.
fn sites(procedure: Procedure) -> &'static [SiteRole] {
    if procedure == failover::PROCEDURE {
        &[SiteRole::Backup]
    } else {
        &[SiteRole::Backup, SiteRole::Primary]
    }
}

/// The run locks of one run: none until the first step the run runs takes them, as the
/// first thing it does; given back when the run ends.
pub(super) struct RunLocks {
    procedure: Procedure,
    /// The locks held, one per site of [`sites`], in that order.
    held: Vec<RunLock>,
}

impl RunLocks {
    /// The locks of a run of `procedure`, none held yet.
    pub(super) fn new(procedure: Procedure) -> Self {
        Self {
            procedure,
            held: Vec::new(),
        }
    }

    /// Takes the locks the run does not hold yet, for `step` (named in a refusal).
    pub(super) async fn take(&mut self, ctx: &Context, step: StepId) -> Result<()> {
        let resource = resource(&ctx.topology.pool.fqdn);
        let name = run_name(self.procedure, &ctx.run_id);
        for &site in &sites(self.procedure)[self.held.len()..] {
            let plane = match site {
                SiteRole::Primary => &ctx.planes.primary,
                SiteRole::Backup => &ctx.planes.backup,
            };
            let target = ctx.topology.site(site).sql.display_name();
            match plane.take_run_lock(&resource, &name).await {
                Ok(RunLockAttempt::Granted(lock)) => self.held.push(lock),
                Ok(RunLockAttempt::Held(holder)) => {
                    return Err(refusal(step, &target, &resource, holder.as_ref()));
                }
                Err(error) => return Err(Error::step(step, target, Some("master"), None, error)),
            }
        }
        Ok(())
    }

    /// Gives the locks back at once, so that a run following this one (a resume right
    /// after a failure) finds them free. A lock that cannot be given back is released
    /// when its connection closes, so a failure here is only logged.
    pub(super) async fn release(self) {
        for lock in self.held {
            if let Err(error) = lock.release().await {
                tracing::warn!(%error, "the run lock could not be released at once; it is released when its connection closes");
            }
        }
    }
}

fn refusal(step: StepId, target: &str, resource: &str, holder: Option<&LockHolder>) -> Error {
    let (message, next) = match holder {
        Some(holder) => (
            format!("another pcdr run holds the run lock {resource} on {target}: {holder}"),
            "wait for that run to finish, or go to that host and continue it from its own journal; a run that died releases the lock as soon as its connection drops, so try again in a moment".to_string(),
        ),
        None => (
            format!("another pcdr run held the run lock {resource} on {target} a moment ago"),
            "try again: the other run has just ended".to_string(),
        ),
    };
    Error::Precondition {
        step,
        kind: PreconditionKind::RunInProgress,
        message,
        next,
    }
}
