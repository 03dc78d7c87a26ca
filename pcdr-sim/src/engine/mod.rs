//! The SQL Server engine of one emulated instance: [`InstanceEngine`] implements
//! [`tds::Engine`](crate::tds::Engine) over the [world](crate::world).
//!
//! Every request is parsed with [`tsql::parse_batch`](crate::tsql::parse_batch) and run
//! statement by statement (`batch.rs`); `sp_executesql` RPCs bind their `@params`
//! declarations and values as variables (`rpc.rs`). Errors are SQL Server's numbers,
//! never a silent success. Sessions (their current database and transaction count) are
//! kept here, in memory; everything else is in the world file.
//!
//! Logins: one SQL login, `pcdr`, with the password in `DIR/sql-password`; a wrong one
//! gives 18456 (class 14). An instance marked down refuses the login with a class 20
//! error (the serving loop also closes its listener, so new connections are refused).

mod alter;
mod audit;
mod backup;
mod batch;
mod catalog;
mod eval;
mod failure;
mod msdb;
mod restore;
mod rpc;
mod scope;
mod select;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::{BoxFuture, FutureExt};

use crate::engine::audit::Audit;
use crate::engine::catalog::SessionRow;
use crate::tds::{
    Engine, LoginAccepted, LoginRequest, Request, Response, ServerMessage, SessionInfo,
};
use crate::world::dbops::Usage;
use crate::world::model::{Instance, InstanceId};
use crate::world::{World, WorldResult};

/// The SQL login pcdr and the tests use.
pub const LOGIN: &str = "pcdr";

/// What the engine remembers about a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionState {
    database: String,
    login: String,
    trancount: u32,
}

/// The engine of one instance.
#[derive(Debug)]
pub struct InstanceEngine {
    world: Arc<World>,
    instance: InstanceId,
    password: String,
    audit: Audit,
    sessions: Mutex<BTreeMap<u16, SessionState>>,
}

impl InstanceEngine {
    /// The engine of `instance` in `world` (reads the login password once).
    pub fn new(world: Arc<World>, instance: InstanceId) -> WorldResult<InstanceEngine> {
        let password = world.password()?;
        let audit = Audit::new(world.statements_log(), instance);
        Ok(InstanceEngine {
            world,
            instance,
            password,
            audit,
            sessions: Mutex::new(BTreeMap::new()),
        })
    }

    /// Which instance this engine serves.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// A panic in one request cannot leave the table half-updated (every change is a
    /// single insert, update or removal), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u16, SessionState>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn session(&self, spid: u16) -> SessionState {
        self.lock().get(&spid).cloned().unwrap_or(SessionState {
            database: "master".into(),
            login: LOGIN.into(),
            trancount: 0,
        })
    }

    fn with_session(&self, spid: u16, change: impl FnOnce(&mut SessionState)) {
        if let Some(state) = self.lock().get_mut(&spid) {
            change(state);
        }
    }

    /// Every session of the instance, as `sys.dm_exec_sessions` lists them: two system
    /// sessions, the live TDS sessions, and the reader sessions of the world.
    fn session_rows(&self, session: &SessionInfo, instance: &Instance) -> Vec<SessionRow> {
        let live = session.registry().spids();
        let mut rows: Vec<SessionRow> = (1..=2)
            .map(|spid| SessionRow {
                spid,
                database: "master".into(),
                login: "sa".into(),
                user: false,
            })
            .collect();
        let sessions = self.lock();
        rows.extend(live.iter().filter_map(|spid| {
            sessions.get(spid).map(|s| SessionRow {
                spid: *spid,
                database: s.database.clone(),
                login: s.login.clone(),
                user: true,
            })
        }));
        rows.extend(instance.readers.iter().map(|r| SessionRow {
            spid: r.spid,
            database: r.database.clone(),
            login: r.login.clone(),
            user: true,
        }));
        rows
    }

    /// Who uses `database`, seen from session `spid`.
    fn usage(&self, session: &SessionInfo, instance: &Instance, database: &str) -> Usage {
        let spid = session.spid();
        let rows = self.session_rows(session, instance);
        let uses = |row: &&SessionRow| row.user && row.database.eq_ignore_ascii_case(database);
        Usage {
            own: rows.iter().filter(uses).any(|r| r.spid == spid),
            others: rows.iter().filter(uses).any(|r| r.spid != spid),
        }
    }

    fn check_login(&self, login: &LoginRequest) -> Result<String, ServerMessage> {
        let state = self.world.read().map_err(|e| {
            ServerMessage::new(
                18456,
                14,
                format!("Login failed: the world is unavailable ({e})."),
            )
        })?;
        if state.faults.down.contains(&self.instance) {
            return Err(ServerMessage::new(
                17142,
                20,
                format!(
                    "SQL Server service {} has been paused or is down. No new connections will be allowed.",
                    self.instance.server_name()
                ),
            ));
        }
        if !login.user.eq_ignore_ascii_case(LOGIN) || login.password != self.password {
            return Err(ServerMessage::new(
                18456,
                14,
                format!("Login failed for user '{}'.", login.user),
            ));
        }
        let wanted = if login.database.is_empty() {
            "master"
        } else {
            &login.database
        };
        let database = state
            .instance(self.instance)
            .and_then(|i| i.database(wanted))
            .filter(|db| db.state == crate::world::model::DbState::Online)
            .map(|db| db.name.clone());
        database.ok_or_else(|| {
            ServerMessage::new(
                4060,
                11,
                format!(
                    "Cannot open database \"{wanted}\" requested by the login. The login failed."
                ),
            )
        })
    }
}

impl Engine for InstanceEngine {
    fn login(
        &self,
        session: &SessionInfo,
        login: &LoginRequest,
    ) -> Result<LoginAccepted, ServerMessage> {
        let database = self.check_login(login)?;
        self.lock().insert(
            session.spid(),
            SessionState {
                database: database.clone(),
                login: login.user.clone(),
                trancount: 0,
            },
        );
        Ok(LoginAccepted { database })
    }

    fn execute<'a>(
        &'a self,
        session: &'a SessionInfo,
        request: Request,
    ) -> BoxFuture<'a, Response> {
        async move {
            match request {
                Request::Batch(text) => {
                    self.audit.batch(session.spid(), &text);
                    let results = batch::Exec::new(self, session).run_batch(&text).await;
                    Response::new(results)
                }
                Request::Rpc(call) => rpc::run(self, session, call).await,
            }
        }
        .boxed()
    }

    fn disconnected(&self, spid: u16) {
        self.lock().remove(&spid);
    }
}
