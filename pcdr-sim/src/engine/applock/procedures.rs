//! `sp_getapplock` and `sp_releaseapplock` as stored procedures: their parameters, the
//! resource a call names in the session's database, and their return codes, over the
//! instance's lock table (the parent module).

use std::time::{Duration, Instant};

use super::{AppLock, LockMode, Resource, principal_id};
use crate::engine::exec::{Arg, Exec};
use crate::engine::failure::Failure;
use crate::engine::msdb::{self, Params};
use crate::tds::{ServerMessage, StatementResult};

/// How often a waiting request looks again.
const WAIT_STEP: Duration = Duration::from_millis(10);

/// `@Resource` is `nvarchar(255)`: a longer name is cut.
const RESOURCE_CHARS: usize = 255;

static GET: msdb::Procedure = msdb::Procedure {
    name: "sp_getapplock",
    params: &[
        ("@resource", true),
        ("@lockmode", true),
        ("@lockowner", false),
        ("@locktimeout", false),
        ("@dbprincipal", false),
    ],
};

static RELEASE: msdb::Procedure = msdb::Procedure {
    name: "sp_releaseapplock",
    params: &[
        ("@resource", true),
        ("@lockowner", false),
        ("@dbprincipal", false),
    ],
};

/// The documented return code for a parameter or call error.
const CALL_ERROR: i32 = -999;

/// Whether `name` (lower case, without schema) is `sp_getapplock` or `sp_releaseapplock`.
pub(crate) fn is_known(name: &str) -> bool {
    name == GET.name || name == RELEASE.name
}

/// Runs `sp_getapplock` or `sp_releaseapplock` (`name`, lower case, known): the return
/// code and what the call sends besides it.
pub(crate) async fn call(
    exec: &Exec<'_>,
    name: &str,
    args: &[Arg],
) -> Result<(i32, Vec<StatementResult>), Failure> {
    if name == GET.name {
        let params = msdb::bind(&GET, args)?;
        Ok((get(exec, &params).await?, Vec::new()))
    } else {
        release(exec, &msdb::bind(&RELEASE, args)?)
    }
}

/// The resource a call names, in the session's current database; `None` for an unknown
/// principal or an owner other than `Session`.
fn resource_of(exec: &Exec<'_>, params: &Params) -> Result<Option<Resource>, Failure> {
    let owner = params
        .get("@lockowner")
        .map_or(Ok("Transaction".into()), |_| params.text("@lockowner"))?;
    let principal = params
        .get("@dbprincipal")
        .map_or(Ok("public".into()), |_| params.text("@dbprincipal"))?;
    if !owner.eq_ignore_ascii_case("Session") || principal_id(&principal).is_none() {
        return Ok(None);
    }
    Ok(Some(Resource {
        database: exec.session_state().database,
        principal,
        name: params
            .text("@resource")?
            .chars()
            .take(RESOURCE_CHARS)
            .collect(),
    }))
}

async fn get(exec: &Exec<'_>, params: &Params) -> Result<i32, Failure> {
    let Some(resource) = resource_of(exec, params)? else {
        return Ok(CALL_ERROR);
    };
    let Some(mode) = LockMode::parse(&params.text("@lockmode")?) else {
        return Ok(CALL_ERROR);
    };
    // The default is @@LOCK_TIMEOUT, -1 (wait for ever) unless SET LOCK_TIMEOUT changed it.
    let timeout = params.int("@locktimeout", -1)?;
    let request = AppLock {
        spid: exec.session.spid(),
        resource,
        mode,
    };
    let locks = &exec.engine.applocks;
    if locks.try_grant(&request) {
        return Ok(0);
    }
    let deadline = u64::try_from(timeout)
        .ok()
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(-1);
        }
        tokio::time::sleep(WAIT_STEP).await;
        if locks.try_grant(&request) {
            return Ok(1);
        }
    }
}

fn release(exec: &Exec<'_>, params: &Params) -> Result<(i32, Vec<StatementResult>), Failure> {
    let Some(resource) = resource_of(exec, params)? else {
        return Ok((CALL_ERROR, Vec::new()));
    };
    if exec.engine.applocks.release(exec.session.spid(), &resource) {
        return Ok((0, Vec::new()));
    }
    let message = ServerMessage::new(
        1223,
        16,
        format!(
            "Cannot release the application lock (Database Principal: '{}', Resource: '{}') because it is not currently held.",
            resource.principal, resource.name
        ),
    );
    Ok((CALL_ERROR, vec![StatementResult::Failed(vec![message])]))
}
