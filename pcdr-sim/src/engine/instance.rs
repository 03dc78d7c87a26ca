//! The engine of one instance: the world it serves, the passwords of the SQL login and
//! the Windows account, the audit log, the table of live sessions (their current
//! database, transaction count, client names and login time) and their application
//! locks, kept in memory. The login check is here; running requests is the engine
//! module's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::engine::applock::AppLocks;
use crate::engine::audit::Audit;
use crate::engine::catalog::SessionRow;
use crate::tds::{LoginRequest, ServerMessage, SessionInfo};
use crate::world::dbops::Usage;
use crate::world::model::{Instance, InstanceId};
use crate::world::{WINDOWS_ACCOUNT, World, WorldResult};

/// The SQL login pcdr and the tests use.
const LOGIN: &str = "pcdr";

/// What the engine remembers about a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SessionState {
    /// The current database (`USE`).
    pub(super) database: String,
    /// The login that opened the session.
    pub(super) login: String,
    /// `@@TRANCOUNT`.
    pub(super) trancount: u32,
    /// The client's host name (LOGIN7), `sys.dm_exec_sessions.host_name`.
    pub(super) host_name: String,
    /// The client's application name (LOGIN7), `sys.dm_exec_sessions.program_name`.
    pub(super) program_name: String,
    /// When the session logged in.
    pub(super) login_time: chrono::DateTime<chrono::Utc>,
}

/// The engine of one instance.
#[derive(Debug)]
pub struct InstanceEngine {
    /// The world the instance lives in.
    pub(super) world: Arc<World>,
    /// Which instance this is.
    pub(super) instance: InstanceId,
    /// The password of the SQL login `pcdr`, read once.
    password: String,
    /// The password of the Windows account [`WINDOWS_ACCOUNT`], read once.
    windows_password: String,
    /// Where every request is recorded (`statements.log`).
    pub(super) audit: Audit,
    /// The live TDS sessions by spid.
    sessions: Mutex<BTreeMap<u16, SessionState>>,
    /// The application locks the sessions hold.
    pub(super) applocks: AppLocks,
    /// When the engine started: the login time of the system and reader sessions.
    started: chrono::DateTime<chrono::Utc>,
}

impl InstanceEngine {
    /// The engine of `instance` in `world` (reads the login passwords once).
    pub fn new(world: Arc<World>, instance: InstanceId) -> WorldResult<InstanceEngine> {
        let password = world.password()?;
        let windows_password = world.windows_password()?;
        let audit = Audit::new(world.statements_log(), instance);
        Ok(InstanceEngine {
            world,
            instance,
            password,
            windows_password,
            audit,
            sessions: Mutex::new(BTreeMap::new()),
            applocks: AppLocks::default(),
            started: chrono::Utc::now(),
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

    /// The state of session `spid` (a fresh one in `master` when it is unknown).
    pub(super) fn session(&self, spid: u16) -> SessionState {
        self.lock().get(&spid).cloned().unwrap_or(SessionState {
            database: "master".into(),
            login: LOGIN.into(),
            trancount: 0,
            host_name: String::new(),
            program_name: String::new(),
            login_time: self.started,
        })
    }

    /// Records a session that logged in to `database` with `login`.
    pub(super) fn open_session(&self, spid: u16, database: &str, login: &LoginRequest) {
        let state = SessionState {
            database: database.to_owned(),
            login: login.user.clone(),
            trancount: 0,
            host_name: login.host_name.clone(),
            program_name: login.app_name.clone(),
            login_time: chrono::Utc::now(),
        };
        self.lock().insert(spid, state);
    }

    /// Forgets a session that disconnected, and releases its application locks (the
    /// session owned them).
    pub(super) fn close_session(&self, spid: u16) {
        self.lock().remove(&spid);
        self.applocks.release_session(spid);
    }

    /// Changes the state of session `spid`, when it is live.
    pub(super) fn with_session(&self, spid: u16, change: impl FnOnce(&mut SessionState)) {
        if let Some(state) = self.lock().get_mut(&spid) {
            change(state);
        }
    }

    /// Every session of the instance, as `sys.dm_exec_sessions` lists them: two system
    /// sessions, the live TDS sessions, the reader sessions of the world, and the
    /// sessions its running jobs hold.
    pub(super) fn session_rows(
        &self,
        session: &SessionInfo,
        instance: &Instance,
    ) -> Vec<SessionRow> {
        let live = session.registry().spids();
        let mut rows: Vec<SessionRow> = (1..=2)
            .map(|spid| SessionRow {
                spid,
                database: "master".into(),
                login: "sa".into(),
                user: false,
                host_name: String::new(),
                program_name: String::new(),
                login_time: self.started,
            })
            .collect();
        let sessions = self.lock();
        rows.extend(live.iter().filter_map(|spid| {
            sessions.get(spid).map(|s| SessionRow {
                spid: *spid,
                database: s.database.clone(),
                login: s.login.clone(),
                user: true,
                host_name: s.host_name.clone(),
                program_name: s.program_name.clone(),
                login_time: s.login_time,
            })
        }));
        rows.extend(instance.readers.iter().map(|r| SessionRow {
            spid: r.spid,
            database: r.database.clone(),
            login: r.login.clone(),
            user: true,
            host_name: String::new(),
            program_name: String::new(),
            login_time: self.started,
        }));
        let agent = self.instance.agent_account();
        let jobs = instance
            .msdb
            .activity
            .iter()
            .filter_map(|a| a.holds.as_ref());
        rows.extend(jobs.map(|held| SessionRow {
            spid: held.spid,
            database: held.database.clone(),
            login: agent.clone(),
            user: true,
            host_name: self.instance.server_name().to_owned(),
            program_name: String::new(),
            login_time: self.started,
        }));
        rows
    }

    /// Who uses `database`, seen from session `spid`.
    pub(super) fn usage(
        &self,
        session: &SessionInfo,
        instance: &Instance,
        database: &str,
    ) -> Usage {
        let spid = session.spid();
        let rows = self.session_rows(session, instance);
        let uses = |row: &&SessionRow| row.user && row.database.eq_ignore_ascii_case(database);
        Usage {
            own: rows.iter().filter(uses).any(|r| r.spid == spid),
            others: rows.iter().filter(uses).any(|r| r.spid != spid),
        }
    }

    /// Whether `login` names a known principal and proves its password: the SQL login
    /// by the password itself, the Windows account by its NTLMv2 response.
    fn credentials_match(&self, login: &LoginRequest) -> bool {
        match &login.windows {
            Some(proof) => {
                proof.account().eq_ignore_ascii_case(WINDOWS_ACCOUNT)
                    && proof.proves(&self.windows_password)
            }
            None => login.user.eq_ignore_ascii_case(LOGIN) && login.password == self.password,
        }
    }

    /// Checks a LOGIN7 request: 17142 (class 20) when the instance is down, 18456 for
    /// another login or a wrong password (a Windows login's NTLMv2 response not made
    /// with the account's password), 4060 when the requested database cannot be opened;
    /// the database the session starts in otherwise.
    pub(super) fn check_login(&self, login: &LoginRequest) -> Result<String, ServerMessage> {
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
        if !self.credentials_match(login) {
            // https://learn.microsoft.com/sql/relational-databases/errors-events/mssqlserver-18456-database-engine-error
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
