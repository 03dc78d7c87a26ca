//! The run lock over TDS: a connection of its own, named after the run (its
//! `program_name`), whose session takes the exclusive application lock and owns it. The
//! lock is given back with `sp_releaseapplock` when the run ends, and by SQL Server when
//! the session ends otherwise (the process killed, the connection dropped).
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql>.

use super::decode::first;
use super::decode::{local_time, required_int, text};
use super::plane::unexpected;
use super::{Connection, SqlPlane, send};
use crate::commands::sql;
use crate::error::PlaneResult;
use crate::planes::{LockHandle, LockHolder, RunLock, RunLockAttempt, SessionId};
use async_trait::async_trait;

/// How many characters of a resource name `sys.dm_tran_locks` shows.
const SHOWN_RESOURCE_CHARS: usize = 32;

impl SqlPlane {
    /// Takes the run lock `resource` over a new connection named `run_name`; see
    /// [`DatabasePlane::take_run_lock`](crate::planes::DatabasePlane::take_run_lock).
    pub(super) async fn take_run_lock_on_own_connection(
        &self,
        resource: &str,
        run_name: &str,
    ) -> PlaneResult<RunLockAttempt> {
        let mut config = self.config()?.clone();
        config.application_name(run_name);
        let mut connection = self.connect_with(&config).await?;
        let command = sql::take_run_lock(resource);
        tracing::debug!(server = %self.name, statement = %command.text, "taking the run lock");
        let code = result_code(&send(&mut connection, &command).await?)?;
        match code {
            Some(0 | 1) => Ok(RunLockAttempt::Granted(RunLock::new(LockConnection {
                connection,
                resource: resource.to_owned(),
            }))),
            Some(-1) => Ok(RunLockAttempt::Held(self.run_lock_holder(resource).await?)),
            other => Err(unexpected(format!(
                "sp_getapplock returned {other:?} for the run lock {resource}"
            ))),
        }
    }

    /// The session holding the application lock `resource` in `master`, if any still
    /// does. `sys.dm_tran_locks` shows only the first 32 characters of a resource name,
    /// which is enough for pcdr's own (`pcdr:` and the pool's name).
    async fn run_lock_holder(&self, resource: &str) -> PlaneResult<Option<LockHolder>> {
        let shown: String = resource.chars().take(SHOWN_RESOURCE_CHARS).collect();
        let sets = self.read(&sql::application_locks()).await?;
        let mut holder = None;
        for row in sets.first().map(Vec::as_slice).unwrap_or_default() {
            if text(row, "resource_description")?.is_some_and(|d| d.contains(&shown)) {
                holder = Some(required_int(row, "request_session_id")?);
                break;
            }
        }
        let Some(id) = holder.and_then(|id| i32::try_from(id).ok()) else {
            return Ok(None);
        };
        let session = SessionId(id);
        let sets = self.read(&sql::session_details(session)).await?;
        let Some(row) = first(&sets) else {
            return Ok(None);
        };
        let since = match local_time(row, "login_time")? {
            Some(local) => Some(self.to_utc(local).await?),
            None => None,
        };
        Ok(Some(LockHolder {
            session,
            host: text(row, "host_name")?.unwrap_or_default(),
            login: text(row, "login_name")?.unwrap_or_default(),
            program: text(row, "program_name")?.unwrap_or_default(),
            since,
        }))
    }
}

/// The return code `sp_getapplock` or `sp_releaseapplock` gave, selected as `result`.
fn result_code(sets: &[Vec<tiberius::Row>]) -> PlaneResult<Option<i64>> {
    first(sets)
        .map(|row| required_int(row, "result"))
        .transpose()
}

/// A granted run lock: the connection whose session owns it.
struct LockConnection {
    connection: Connection,
    resource: String,
}

#[async_trait]
impl LockHandle for LockConnection {
    async fn release(mut self: Box<Self>) -> PlaneResult<()> {
        let command = sql::release_run_lock(&self.resource);
        let code = result_code(&send(&mut self.connection, &command).await?)?;
        if code != Some(0) {
            return Err(unexpected(format!(
                "sp_releaseapplock returned {code:?} for the run lock {}",
                self.resource
            )));
        }
        // The lock is released; a failure to close the connection cleanly leaves nothing
        // behind (the server ends the session when the socket goes).
        let _ = self.connection.close().await;
        Ok(())
    }
}
