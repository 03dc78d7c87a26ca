//! `sp_stop_job`, the SQL Server Agent procedure that stops a running job
//! (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql>),
//! over the jobs and their activity in the instance's msdb.
//!
//! The page documents the return code, 0 (success) or 1 (failure), and that the stop is
//! a signal: "Some long-running Transact-SQL statements such as BACKUP, RESTORE [...]
//! can take a long time to finish. When these are running, it may take a while before
//! the job is canceled". So a running job stops after the delay its activity carries,
//! not within the call. A job that is not running is refused with SQL Server Agent's
//! error 22022 ("Request to stop job ... refused because the job is not currently
//! running"), the message SQL Server sends; the page names no error number.

use std::time::Duration;

use crate::engine::exec::{Arg, Exec};
use crate::engine::failure::Failure;
use crate::engine::msdb::{self, Params, find_job, msdb};
use crate::guid::Guid;
use crate::tds::{ServerMessage, StatementResult};
use crate::world::model::{InstanceId, WorldState};

static STOP_JOB: msdb::Procedure = msdb::Procedure {
    name: "sp_stop_job",
    params: &[
        ("@job_name", false),
        ("@job_id", false),
        ("@originating_server", false),
        ("@server_name", false),
    ],
};

/// What asking a job to stop found.
enum Stop {
    /// The job was not running.
    NotRunning(String),
    /// The job stopped at once.
    Stopped,
    /// The job stops once this many milliseconds have passed.
    Later(Guid, u64),
}

/// Whether `name` (lower case, without schema) is `sp_stop_job`.
pub(crate) fn is_known(name: &str) -> bool {
    name == STOP_JOB.name
}

/// Runs `sp_stop_job`: the return code and what the call sends besides it.
pub(crate) fn call(exec: &Exec<'_>, args: &[Arg]) -> Result<(i32, Vec<StatementResult>), Failure> {
    let params = msdb::bind(&STOP_JOB, args)?;
    let instance = exec.engine.instance;
    let stop = exec
        .engine
        .world
        .try_update(|state| signal(state, instance, &params))??;
    match stop {
        Stop::Stopped => Ok((0, Vec::new())),
        Stop::Later(job_id, ms) => {
            let world = exec.engine.world.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                // The world file may be gone once the test that made it has ended.
                let _ = world.update_job_stopped(instance, job_id);
            });
            Ok((0, Vec::new()))
        }
        Stop::NotRunning(name) => {
            let login = exec.session_state().login;
            let message = ServerMessage::new(
                22022,
                16,
                format!(
                    "SQLServerAgent Error: Request to stop job {name} (from User {login}) refused because the job is not currently running."
                ),
            );
            Ok((1, vec![StatementResult::Failed(vec![message])]))
        }
    }
}

/// Signals the job the parameters name to stop: 14262 for an unknown job, 14294 for
/// none named.
fn signal(state: &mut WorldState, instance: InstanceId, params: &Params) -> Result<Stop, Failure> {
    let now = state.clock;
    let m = msdb(state, instance)?;
    let job_id = find_job(m, params)?;
    if !m.is_running(job_id) {
        let name = m
            .job_mut(job_id)
            .map(|j| j.name.clone())
            .unwrap_or_default();
        return Ok(Stop::NotRunning(name));
    }
    let delay = m.activity_mut(job_id, now).stop_ms;
    if delay == 0 {
        m.finish_run(job_id, now);
        return Ok(Stop::Stopped);
    }
    Ok(Stop::Later(job_id, delay))
}
