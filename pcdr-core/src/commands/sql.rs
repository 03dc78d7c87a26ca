//! The exact T-SQL pcdr sends, one function per statement.
//!
//! The database adapter executes these commands verbatim and the runbook's plan prints
//! them, so what an operator reviews is what runs. Names and paths travel as
//! `sp_executesql` parameters; only `ALTER DATABASE` (a literal name, through
//! [`quote_sql_name`]) and `KILL` (an integer) put a value
//! into the text.

use crate::planes::{FullRestore, PrimaryLogShipping, SecondaryLogShipping, SessionId};
use crate::quote::{QuoteError, quote_sql_name};
use crate::topology::RestoreMode;
use serde::Serialize;
use std::fmt;

/// A parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    /// `nvarchar`.
    Text(String),
    /// `int`.
    Int(i64),
}

/// The declared type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SqlType {
    /// `sysname` (`nvarchar(128)`): database and server names.
    Name,
    /// `nvarchar(4000)`: paths and other text.
    Text,
    /// `int`.
    Int,
}

impl SqlType {
    /// The declaration as `sp_executesql` expects it.
    pub fn declaration(self) -> &'static str {
        match self {
            Self::Name => "sysname",
            Self::Text => "nvarchar(4000)",
            Self::Int => "int",
        }
    }
}

/// One named parameter (`@name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlParam {
    /// The name, with its `@`.
    pub name: String,
    /// The declared type.
    pub ty: SqlType,
    /// The value.
    pub value: SqlValue,
}

/// A statement (or a short batch) with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlCommand {
    /// The T-SQL text.
    pub text: String,
    /// Its parameters, in declaration order.
    pub params: Vec<SqlParam>,
}

impl SqlCommand {
    fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            params: Vec::new(),
        }
    }

    fn name(self, name: &str, value: &str) -> Self {
        self.param(name, SqlType::Name, SqlValue::Text(value.to_string()))
    }

    fn text_param(self, name: &str, value: &str) -> Self {
        self.param(name, SqlType::Text, SqlValue::Text(value.to_string()))
    }

    fn int(self, name: &str, value: impl Into<i64>) -> Self {
        self.param(name, SqlType::Int, SqlValue::Int(value.into()))
    }

    fn param(mut self, name: &str, ty: SqlType, value: SqlValue) -> Self {
        self.params.push(SqlParam {
            name: name.to_string(),
            ty,
            value,
        });
        self
    }

    /// The `@params` declaration string of `sp_executesql`, e.g. `@db sysname, @file nvarchar(4000)`.
    pub fn declarations(&self) -> String {
        let parts: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{} {}", p.name, p.ty.declaration()))
            .collect();
        parts.join(", ")
    }
}

impl fmt::Display for SqlCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        for p in &self.params {
            match &p.value {
                SqlValue::Text(v) => write!(f, "\n    {} = N'{}'", p.name, v.replace('\'', "''"))?,
                SqlValue::Int(v) => write!(f, "\n    {} = {v}", p.name)?,
            }
        }
        Ok(())
    }
}

/// State, standby, user access; mirroring; family GUID (three result sets).
pub fn database_state(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT state_desc, is_in_standby, user_access_desc FROM sys.databases WHERE name = @db;\n\
         SELECT mirroring_role_desc, mirroring_partner_name, mirroring_state_desc FROM sys.database_mirroring WHERE database_id = DB_ID(@db) AND mirroring_guid IS NOT NULL;\n\
         SELECT family_guid, database_guid FROM sys.database_recovery_status WHERE database_id = DB_ID(@db);",
    )
    .name("@db", db)
}

/// The restore point of a restoring database.
pub fn redo_start_lsn(db: &str) -> SqlCommand {
    SqlCommand::new("SELECT redo_start_lsn FROM sys.master_files WHERE database_id = DB_ID(@db) AND file_id = 1;")
        .name("@db", db)
}

/// The secondary database row of a log-shipping setup.
pub fn log_shipping_secondary_database(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT secondary_id, restore_delay, restore_mode, disconnect_users, last_restored_file \
         FROM msdb.dbo.log_shipping_secondary_databases WHERE secondary_database = @db;",
    )
    .name("@db", db)
}

/// The secondary row (share, copy folder, last copied file) of a log-shipping setup.
pub fn log_shipping_secondary(secondary_id: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT primary_server, primary_database, backup_source_directory, backup_destination_directory, \
         file_retention_period, last_copied_file FROM msdb.dbo.log_shipping_secondary WHERE secondary_id = @secondary_id;",
    )
    .text_param("@secondary_id", secondary_id)
}

/// The alert thresholds of a log-shipping secondary database
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-monitor-secondary-transact-sql>).
pub fn log_shipping_thresholds(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT restore_threshold, threshold_alert_enabled, history_retention_period \
         FROM msdb.dbo.log_shipping_monitor_secondary WHERE secondary_database = @db;",
    )
    .name("@db", db)
}

/// Failover step 1.
pub fn remove_secondary_log_shipping(db: &str) -> SqlCommand {
    SqlCommand::new(
        "EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @db;",
    )
    .name("@db", db)
}

/// The copy and restore jobs of a log-shipping secondary (`log_shipping_secondary`).
pub fn log_shipping_jobs(secondary_id: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT copy_job_id, restore_job_id FROM msdb.dbo.log_shipping_secondary WHERE secondary_id = @secondary_id;",
    )
    .text_param("@secondary_id", secondary_id)
}

/// The current SQL Server Agent session: the newest row of `msdb.dbo.syssessions`, one
/// per start of the Agent; `sysjobactivity` rows of older sessions describe jobs of an
/// Agent that has since restarted
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql>).
pub fn agent_session() -> SqlCommand {
    SqlCommand::new("SELECT TOP (1) session_id FROM msdb.dbo.syssessions ORDER BY session_id DESC;")
}

/// The jobs running in Agent session `session`: their `sysjobactivity` row has a
/// `start_execution_date` and no `stop_execution_date`
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql>).
pub fn running_jobs(session: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT job_id FROM msdb.dbo.sysjobactivity WHERE session_id = @session \
         AND start_execution_date IS NOT NULL AND stop_execution_date IS NULL;",
    )
    .int("@session", session)
}

/// The name of a SQL Server Agent job (`msdb.dbo.sysjobs`).
pub fn job_name(job_id: &str) -> SqlCommand {
    SqlCommand::new("SELECT name FROM msdb.dbo.sysjobs WHERE job_id = @job_id;")
        .text_param("@job_id", job_id)
}

/// `sp_stop_job`: asks SQL Server Agent to stop a job, by name. A signal: a job running
/// a RESTORE stops once the statement can stop
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql>).
pub fn stop_job(job: &str) -> SqlCommand {
    SqlCommand::new("EXEC msdb.dbo.sp_stop_job @job_name = @job;").name("@job", job)
}

/// Whether a database is a log-shipping primary, and its backup job.
pub fn log_shipping_primary(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT primary_id, backup_job_id FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = @db;",
    )
    .name("@db", db)
}

/// The secondaries a log-shipping primary database ships to
/// (`msdb.dbo.log_shipping_primary_secondaries`).
pub fn log_shipping_primary_secondaries(primary_id: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT secondary_server, secondary_database FROM msdb.dbo.log_shipping_primary_secondaries WHERE primary_id = @primary_id;",
    )
    .text_param("@primary_id", primary_id)
}

/// Removes the primary side of log shipping for a database: each of its secondaries
/// (`sp_delete_log_shipping_primary_secondary`), then the primary database's setup and
/// its backup job (`sp_delete_log_shipping_primary_database`), each return code checked.
/// What a former primary does in a role change before it becomes the secondary
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-secondary-transact-sql>,
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-database-transact-sql>).
pub fn remove_primary_log_shipping(db: &str, secondaries: &[(String, String)]) -> SqlCommand {
    let mut text = String::from("DECLARE @rc int;\n");
    for i in 0..secondaries.len() {
        text += &checked(
            "master.dbo.sp_delete_log_shipping_primary_secondary",
            &format!(
                "@primary_database = @db, @secondary_server = @server{i}, @secondary_database = @database{i}"
            ),
        );
    }
    text += &checked(
        "master.dbo.sp_delete_log_shipping_primary_database",
        "@database = @db",
    );
    secondaries.iter().enumerate().fold(
        SqlCommand::new(text).name("@db", db),
        |command, (i, (server, database))| {
            command
                .name(&format!("@server{i}"), server)
                .name(&format!("@database{i}"), database)
        },
    )
}

/// Whether a SQL Server Agent job is enabled (`msdb.dbo.sysjobs`).
pub fn job_enabled(job_id: &str) -> SqlCommand {
    SqlCommand::new("SELECT enabled FROM msdb.dbo.sysjobs WHERE job_id = @job_id;")
        .text_param("@job_id", job_id)
}

/// `RESTORE HEADERONLY`.
pub fn backup_header(file: &str) -> SqlCommand {
    SqlCommand::new("RESTORE HEADERONLY FROM DISK = @file;").text_param("@file", file)
}

/// `RESTORE LOG … WITH NORECOVERY`.
pub fn restore_log(db: &str, file: &str) -> SqlCommand {
    SqlCommand::new("RESTORE LOG @db FROM DISK = @file WITH NORECOVERY;")
        .name("@db", db)
        .text_param("@file", file)
}

/// `RESTORE DATABASE … WITH RECOVERY`.
pub fn recover(db: &str) -> SqlCommand {
    SqlCommand::new("RESTORE DATABASE @db WITH RECOVERY;").name("@db", db)
}

/// User sessions using a database, other than the caller's, as two result sets: the
/// sessions whose current database it is, then the user sessions; a session in both is
/// one to end before `RESTORE`, which needs the database to itself (3101).
///
/// Which database a session uses comes from `sys.sysprocesses.dbid`, "the database
/// currently being used by the process", one row per execution context (`ecid = 0`
/// is the session's own)
/// (<https://learn.microsoft.com/sql/relational-databases/system-compatibility-views/sys-sysprocesses-transact-sql>).
/// That compatibility view is on every version Skype for Business Server 2015 supports
/// as its back end; `sys.dm_exec_sessions.database_id` is not, as it came with SQL
/// Server 2012 and 2008 R2 is supported
/// (<https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>).
/// `sys.dm_exec_requests.database_id` would miss an idle session that has the database
/// open, which blocks a `RESTORE` all the same. Which sessions are user sessions comes
/// from `sys.dm_exec_sessions.is_user_process` (there since SQL Server 2005): a system
/// session cannot be ended (`KILL` answers 6107).
pub fn sessions(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT spid FROM sys.sysprocesses WHERE dbid = DB_ID(@db) AND ecid = 0 AND spid <> @@SPID;\n\
         SELECT session_id FROM sys.dm_exec_sessions WHERE is_user_process = 1;",
    )
    .name("@db", db)
}

/// Takes the run lock `resource`: an exclusive application lock owned by the session
/// (held until the session ends, a dropped connection included) in the connection's
/// database, refused at once rather than waited for (`@LockTimeout = 0`). Returns
/// `sp_getapplock`'s code as `result`: 0 granted, -1 held by another session.
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql>
pub fn take_run_lock(resource: &str) -> SqlCommand {
    SqlCommand::new(
        "DECLARE @result int; \
         EXEC @result = sys.sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', \
         @LockOwner = 'Session', @LockTimeout = 0, @DbPrincipal = 'public'; \
         SELECT @result AS result;",
    )
    .text_param("@resource", resource)
}

/// Gives back the run lock `resource` this session holds (taken by [`take_run_lock`]).
/// Returns `sp_releaseapplock`'s code as `result`: 0 released, -999 not held (with
/// error 1223).
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql>
pub fn release_run_lock(resource: &str) -> SqlCommand {
    SqlCommand::new(
        "DECLARE @result int; \
         EXEC @result = sys.sp_releaseapplock @Resource = @resource, @LockOwner = 'Session', \
         @DbPrincipal = 'public'; \
         SELECT @result AS result;",
    )
    .text_param("@resource", resource)
}

/// The application locks granted in the current database, with their sessions:
/// `resource_description` shows the first 32 characters of the resource name.
/// <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-tran-locks-transact-sql>
pub fn application_locks() -> SqlCommand {
    SqlCommand::new(
        "SELECT request_session_id, resource_description FROM sys.dm_tran_locks \
         WHERE resource_type = N'APPLICATION' AND resource_database_id = DB_ID() \
         AND request_status = N'GRANT';",
    )
}

/// Who a session is: its host, login, program and login time.
pub fn session_details(session: SessionId) -> SqlCommand {
    SqlCommand::new(
        "SELECT host_name, program_name, login_name, login_time FROM sys.dm_exec_sessions \
         WHERE session_id = @session;",
    )
    .int("@session", session.0)
}

/// `KILL n`: the session id is an integer, so it needs no quoting.
pub fn kill(session: SessionId) -> SqlCommand {
    SqlCommand::new(format!("KILL {};", session.0))
}

/// `KILL <session>`, as a plan shows it: which sessions are ended is only known when
/// the step runs. Never sent.
pub fn kill_placeholder() -> SqlCommand {
    SqlCommand::new("KILL <session>;")
}

/// `ALTER DATABASE … SET PARTNER OFF`.
pub fn remove_mirroring(db: &str) -> Result<SqlCommand, QuoteError> {
    Ok(SqlCommand::new(format!(
        "ALTER DATABASE {} SET PARTNER OFF;",
        quote_sql_name(db)?
    )))
}

/// `ALTER DATABASE … SET PARTNER FAILOVER`, run on the principal: the mirror becomes
/// the principal.
pub fn fail_over_mirroring(db: &str) -> Result<SqlCommand, QuoteError> {
    Ok(SqlCommand::new(format!(
        "ALTER DATABASE {} SET PARTNER FAILOVER;",
        quote_sql_name(db)?
    )))
}

/// `BACKUP DATABASE … WITH INIT, CHECKSUM`.
///
/// With `copy_only`, `WITH COPY_ONLY` as well: the backup stays outside the database's
/// sequence of regular backups (it is no differential base)
/// (<https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server>).
///
/// ```
/// use pcdr_core::commands::sql::backup_database;
/// let copy = backup_database("mgc", r"\\fs\share\mgc.bak", true);
/// assert_eq!(copy.text, "BACKUP DATABASE @db TO DISK = @file WITH COPY_ONLY, INIT, CHECKSUM;");
/// ```
pub fn backup_database(db: &str, file: &str, copy_only: bool) -> SqlCommand {
    let text = match copy_only {
        true => "BACKUP DATABASE @db TO DISK = @file WITH COPY_ONLY, INIT, CHECKSUM;",
        false => "BACKUP DATABASE @db TO DISK = @file WITH INIT, CHECKSUM;",
    };
    SqlCommand::new(text)
        .name("@db", db)
        .text_param("@file", file)
}

/// `BACKUP LOG … WITH NORECOVERY, INIT, CHECKSUM`: the tail-log backup of a planned
/// role change. It backs up the log not yet backed up and leaves the database RESTORING,
/// so the old primary cannot take writes any more and can restore the new primary's log
/// backups later, without a re-seed
/// (<https://learn.microsoft.com/sql/relational-databases/backup-restore/tail-log-backups-sql-server>,
/// <https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>).
///
/// ```
/// use pcdr_core::commands::sql::backup_tail_log;
/// let tail = backup_tail_log("mgc", r"\\fs\share\mgc_20261207180000.trn");
/// assert_eq!(tail.text, "BACKUP LOG @db TO DISK = @file WITH NORECOVERY, INIT, CHECKSUM;");
/// ```
pub fn backup_tail_log(db: &str, file: &str) -> SqlCommand {
    SqlCommand::new("BACKUP LOG @db TO DISK = @file WITH NORECOVERY, INIT, CHECKSUM;")
        .name("@db", db)
        .text_param("@file", file)
}

/// `RESTORE VERIFYONLY … WITH CHECKSUM`.
pub fn verify_backup(file: &str) -> SqlCommand {
    SqlCommand::new("RESTORE VERIFYONLY FROM DISK = @file WITH CHECKSUM;").text_param("@file", file)
}

/// `RESTORE FILELISTONLY`.
pub fn backup_file_list(file: &str) -> SqlCommand {
    SqlCommand::new("RESTORE FILELISTONLY FROM DISK = @file;").text_param("@file", file)
}

/// The files of a database.
pub fn database_files(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT name, physical_name, type_desc FROM sys.master_files WHERE database_id = DB_ID(@db) ORDER BY file_id;",
    )
    .name("@db", db)
}

/// `RESTORE DATABASE … FROM DISK … WITH [REPLACE,] RECOVERY|NORECOVERY, MOVE …`.
pub fn restore_database(db: &str, file: &str, options: &FullRestore) -> SqlCommand {
    let mut with = Vec::new();
    if options.replace {
        with.push("REPLACE".to_string());
    }
    with.push(
        if options.recovery {
            "RECOVERY"
        } else {
            "NORECOVERY"
        }
        .to_string(),
    );
    let mut command = SqlCommand::new("")
        .name("@db", db)
        .text_param("@file", file);
    for (i, mv) in options.moves.iter().enumerate() {
        let (logical, physical) = (format!("@logical{}", i + 1), format!("@physical{}", i + 1));
        with.push(format!("MOVE {logical} TO {physical}"));
        command = command
            .name(&logical, &mv.logical_name)
            .text_param(&physical, &mv.physical_name);
    }
    command.text = format!(
        "RESTORE DATABASE @db FROM DISK = @file WITH {};",
        with.join(", ")
    );
    command
}

/// `EXEC @rc = procedure arguments;` and the check Microsoft's log-shipping script makes
/// after each procedure (`IF (@@ERROR = 0 AND @rc = 0)`): when the call failed or
/// returned non-zero, error 50000 naming the procedure and its return code, and the
/// batch ends there (`RETURN`), so nothing after a failed procedure runs
/// (<https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>,
/// <https://learn.microsoft.com/sql/t-sql/language-elements/raiserror-transact-sql>).
fn checked(procedure: &str, arguments: &str) -> String {
    format!(
        "EXEC @rc = {procedure} {arguments};\n\
         IF @@ERROR <> 0 OR @rc <> 0 BEGIN RAISERROR(N'%s failed with return code %d; the batch stopped there.', \
         16, 1, N'{procedure}', @rc); RETURN; END;\n"
    )
}

/// `sp_add_schedule` (daily, every `interval` minutes) and `sp_attach_schedule` of a
/// job, both checked
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-schedule-transact-sql>,
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-attach-schedule-transact-sql>).
fn schedule(name: &str, job_id: &str, schedule_id: &str) -> String {
    checked(
        "msdb.dbo.sp_add_schedule",
        &format!(
            "@schedule_name = {name}, @enabled = 1, @freq_type = 4, @freq_interval = 1, \
             @freq_subday_type = 4, @freq_subday_interval = @interval, @schedule_id = {schedule_id} OUTPUT"
        ),
    ) + &checked(
        "msdb.dbo.sp_attach_schedule",
        &format!("@job_id = {job_id}, @schedule_id = {schedule_id}"),
    )
}

/// Enables a job (`sp_update_job`), checked
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-update-job-transact-sql>).
fn enable(job_id: &str) -> String {
    checked(
        "msdb.dbo.sp_update_job",
        &format!("@job_id = {job_id}, @enabled = 1"),
    )
}

/// The instance's log-shipping alert job (`sp_add_log_shipping_alert_job`, which
/// creates it only when there is none), checked
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql>).
fn alert_job() -> String {
    checked(
        "master.dbo.sp_add_log_shipping_alert_job",
        "@alert_job_id = @alert_job_id OUTPUT",
    )
}

/// The primary side of log shipping, as Microsoft's script sets it up: the primary
/// database and its backup job, its schedule, the alert job, the secondary, and the
/// backup job enabled last. Every procedure's return code is checked and the batch stops
/// at the first failure; `@overwrite = 1` replaces what a run stopped part-way left, so
/// running the batch again completes the setup
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-primary-database-transact-sql>,
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-primary-secondary-transact-sql>).
pub fn setup_log_shipping_primary(setup: &PrimaryLogShipping) -> SqlCommand {
    let text = [
        "DECLARE @rc int, @backup_job_id uniqueidentifier, @primary_id uniqueidentifier, \
         @schedule_id int, @alert_job_id uniqueidentifier;\n"
            .to_string(),
        checked(
            "master.dbo.sp_add_log_shipping_primary_database",
            "@database = @db, @backup_directory = @backup_directory, @backup_share = @backup_share, \
             @backup_job_name = @backup_job, @backup_retention_period = @retention, \
             @backup_job_id = @backup_job_id OUTPUT, @primary_id = @primary_id OUTPUT, @overwrite = 1",
        ),
        schedule("@backup_job", "@backup_job_id", "@schedule_id"),
        alert_job(),
        checked(
            "master.dbo.sp_add_log_shipping_primary_secondary",
            "@primary_database = @db, @secondary_server = @secondary_server, \
             @secondary_database = @secondary_db, @overwrite = 1",
        ),
        enable("@backup_job_id"),
    ]
    .concat();
    SqlCommand::new(text)
        .name("@db", &setup.database)
        .text_param("@backup_directory", &setup.backup_directory)
        .text_param("@backup_share", &setup.backup_share)
        .name("@backup_job", &setup.backup_job_name)
        .int("@retention", setup.retention_minutes)
        .int("@interval", setup.backup_interval_minutes)
        .name("@secondary_server", &setup.secondary_server)
        .name("@secondary_db", &setup.secondary_database)
}

/// The secondary side of log shipping, as Microsoft's script sets it up: the primary
/// and the copy and restore jobs, their schedules, the alert job, the secondary
/// database, and the jobs enabled last. Checked and restartable like
/// [`setup_log_shipping_primary`]: both procedures take `@overwrite = 1`
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-primary-transact-sql>,
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql>).
pub fn setup_log_shipping_secondary(setup: &SecondaryLogShipping) -> SqlCommand {
    let restore_mode = match setup.restore_mode {
        RestoreMode::NoRecovery => 0,
        RestoreMode::Standby => 1,
    };
    let thresholds = match setup.thresholds {
        Some(_) => {
            ", @restore_threshold = @restore_threshold, \
                    @threshold_alert_enabled = @alert_enabled, @history_retention_period = @history"
        }
        None => "",
    };
    let text = [
        "DECLARE @rc int, @copy_job_id uniqueidentifier, @restore_job_id uniqueidentifier, \
         @secondary_id uniqueidentifier, @copy_schedule_id int, @restore_schedule_id int, \
         @alert_job_id uniqueidentifier;\n"
            .to_string(),
        checked(
            "master.dbo.sp_add_log_shipping_secondary_primary",
            "@primary_server = @primary_server, @primary_database = @primary_db, \
             @backup_source_directory = @source, @backup_destination_directory = @destination, \
             @copy_job_name = @copy_job, @restore_job_name = @restore_job, @file_retention_period = @retention, \
             @copy_job_id = @copy_job_id OUTPUT, @restore_job_id = @restore_job_id OUTPUT, \
             @secondary_id = @secondary_id OUTPUT, @overwrite = 1",
        ),
        schedule("@copy_job", "@copy_job_id", "@copy_schedule_id"),
        schedule("@restore_job", "@restore_job_id", "@restore_schedule_id"),
        alert_job(),
        checked(
            "master.dbo.sp_add_log_shipping_secondary_database",
            &format!(
                "@secondary_database = @secondary_db, @primary_server = @primary_server, \
                 @primary_database = @primary_db, @restore_delay = @restore_delay, \
                 @restore_mode = @restore_mode, @disconnect_users = @disconnect_users{thresholds}, \
                 @overwrite = 1"
            ),
        ),
        enable("@copy_job_id"),
        enable("@restore_job_id"),
    ]
    .concat();
    let command = SqlCommand::new(text)
        .name("@primary_server", &setup.primary_server)
        .name("@primary_db", &setup.primary_database)
        .name("@secondary_db", &setup.secondary_database)
        .text_param("@source", &setup.backup_source_directory)
        .text_param("@destination", &setup.backup_destination_directory)
        .name("@copy_job", &setup.copy_job_name)
        .name("@restore_job", &setup.restore_job_name)
        .int("@retention", setup.retention_minutes)
        .int("@interval", setup.interval_minutes)
        .int("@restore_delay", setup.restore_delay_minutes)
        .int("@restore_mode", restore_mode)
        .int("@disconnect_users", i64::from(setup.disconnect_users));
    match &setup.thresholds {
        Some(t) => command
            .int("@restore_threshold", t.restore_threshold_minutes)
            .int("@alert_enabled", i64::from(t.alert_enabled))
            .int("@history", t.history_retention_minutes),
        None => command,
    }
}

/// The instance's name as SQL Server knows it (`@@SERVERNAME`).
pub fn server_name() -> SqlCommand {
    SqlCommand::new("SELECT @@SERVERNAME AS server_name;")
}

/// The instance's clock, in its local time, as it dates its backups.
pub fn server_time() -> SqlCommand {
    SqlCommand::new("SELECT SYSDATETIME() AS server_time;")
}

/// The instance's clock in its local time and in UTC, read in one statement: their
/// difference is the instance's offset from UTC, with which pcdr converts the dates
/// the instance gives (backups, msdb's history, login times), all local
/// (<https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql>,
/// <https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql>).
pub fn utc_offset() -> SqlCommand {
    SqlCommand::new("SELECT SYSDATETIME() AS local_time, SYSUTCDATETIME() AS utc_time;")
}

/// The newest full-database restore of a database (log restores do not count); then
/// [`backup_set_media`] and [`media_device`] name the file it came from.
pub fn last_restore(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (1) backup_set_id, restore_date FROM msdb.dbo.restorehistory \
         WHERE destination_database_name = @db AND restore_type = N'D' ORDER BY restore_history_id DESC;",
    )
    .name("@db", db)
}

/// The newest restore of a database, full or log; then [`backup_set_identity`] names
/// the backup set it came from.
pub fn newest_restore(db: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (1) backup_set_id FROM msdb.dbo.restorehistory \
         WHERE destination_database_name = @db ORDER BY restore_history_id DESC;",
    )
    .name("@db", db)
}

/// The media sets and last LSNs of the newest log backups (at most 50) an instance
/// took of a database itself (`server_name`: restored sets carry the server that took
/// them), the newest first; then [`media_device`] names each file still needed. How a role change finds the log
/// backups taken outside log shipping (the one `Install-CsMirrorDatabase` seeds the
/// mirror with), which the new secondary needs too
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>).
pub fn log_backups_taken(db: &str, server: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (50) media_set_id, last_lsn FROM msdb.dbo.backupset \
         WHERE database_name = @db AND type = N'L' AND server_name = @server ORDER BY backup_set_id DESC;",
    )
    .name("@db", db)
    .name("@server", server)
}

/// The family, LSNs and recovery fork of a backup set (`msdb.dbo.backupset`).
pub fn backup_set_identity(backup_set_id: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT family_guid, first_lsn, last_lsn, database_backup_lsn, last_recovery_fork_guid \
         FROM msdb.dbo.backupset WHERE backup_set_id = @backup_set_id;",
    )
    .int("@backup_set_id", backup_set_id)
}

/// The newest media set whose device is `file`; then [`media_backup_set`] and
/// [`restore_of_set`] tell whether a database was restored from it.
pub fn device_media_set(file: &str) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (1) media_set_id FROM msdb.dbo.backupmediafamily \
         WHERE physical_device_name = @file ORDER BY media_set_id DESC;",
    )
    .text_param("@file", file)
}

/// The newest backup set of a media set.
pub fn media_backup_set(media_set_id: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (1) backup_set_id FROM msdb.dbo.backupset \
         WHERE media_set_id = @media_set_id ORDER BY backup_set_id DESC;",
    )
    .int("@media_set_id", media_set_id)
}

/// A restore of a backup set into a database, if msdb records one.
pub fn restore_of_set(db: &str, backup_set_id: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT TOP (1) restore_history_id FROM msdb.dbo.restorehistory \
         WHERE backup_set_id = @backup_set_id AND destination_database_name = @db;",
    )
    .int("@backup_set_id", backup_set_id)
    .name("@db", db)
}

/// The media set of a backup set.
pub fn backup_set_media(backup_set_id: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT media_set_id FROM msdb.dbo.backupset WHERE backup_set_id = @backup_set_id;",
    )
    .int("@backup_set_id", backup_set_id)
}

/// The device (file) of a media set.
pub fn media_device(media_set_id: i64) -> SqlCommand {
    SqlCommand::new(
        "SELECT physical_device_name FROM msdb.dbo.backupmediafamily WHERE media_set_id = @media_set_id;",
    )
    .int("@media_set_id", media_set_id)
}

/// The SQL Server Agent service account.
pub fn agent_service_account() -> SqlCommand {
    SqlCommand::new(
        "SELECT service_account FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%';",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::{FileMove, RestoreThresholds};

    #[test]
    fn names_travel_as_parameters() {
        let cmd = restore_log("mg'c", r"D:\ls\x.trn");
        assert_eq!(
            cmd.text,
            "RESTORE LOG @db FROM DISK = @file WITH NORECOVERY;"
        );
        assert_eq!(cmd.declarations(), "@db sysname, @file nvarchar(4000)");
        assert_eq!(cmd.params[0].value, SqlValue::Text("mg'c".into()));
    }

    /// Each procedure as Microsoft's script calls it, its return code checked:
    /// <https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>.
    #[test]
    fn log_shipping_setup_checks_every_procedure_and_overwrites() {
        let secondary = SecondaryLogShipping {
            primary_server: "P".into(),
            primary_database: "mgc".into(),
            secondary_database: "mgc".into(),
            backup_source_directory: "s".into(),
            backup_destination_directory: "d".into(),
            copy_job_name: "c".into(),
            restore_job_name: "r".into(),
            interval_minutes: 15,
            retention_minutes: 4320,
            restore_delay_minutes: 0,
            restore_mode: RestoreMode::NoRecovery,
            disconnect_users: false,
            thresholds: Some(RestoreThresholds {
                restore_threshold_minutes: 90,
                alert_enabled: false,
                history_retention_minutes: 1440,
            }),
        };
        let cmd = setup_log_shipping_secondary(&secondary);
        let execs = cmd.text.matches("EXEC @rc = ").count();
        let checks = cmd
            .text
            .matches("IF @@ERROR <> 0 OR @rc <> 0 BEGIN RAISERROR(")
            .count();
        assert_eq!((execs, checks), (9, 9), "{}", cmd.text);
        for procedure in [
            "sp_add_log_shipping_secondary_primary",
            "sp_add_log_shipping_secondary_database",
        ] {
            let call = cmd.text.split(procedure).nth(1).unwrap_or_default();
            let arguments = call.split(';').next().unwrap_or_default();
            assert!(
                arguments.contains("@overwrite = 1"),
                "{procedure}: {arguments}"
            );
        }
        assert!(cmd.text.contains("sp_add_log_shipping_alert_job"));
        assert!(cmd.text.contains("@restore_threshold = @restore_threshold"));
        assert!(cmd.params.contains(&SqlParam {
            name: "@restore_threshold".into(),
            ty: SqlType::Int,
            value: SqlValue::Int(90),
        }));
        assert!(cmd.params.contains(&SqlParam {
            name: "@disconnect_users".into(),
            ty: SqlType::Int,
            value: SqlValue::Int(0),
        }));
    }

    #[test]
    fn fail_over_mirroring_quotes_the_name() {
        let cmd = fail_over_mirroring("mg]c").unwrap();
        assert_eq!(cmd.text, "ALTER DATABASE [mg]]c] SET PARTNER FAILOVER;");
        assert!(fail_over_mirroring("").is_err());
    }

    #[test]
    fn alter_database_quotes_the_name() {
        let cmd = remove_mirroring("mg]c").unwrap();
        assert_eq!(cmd.text, "ALTER DATABASE [mg]]c] SET PARTNER OFF;");
        assert!(remove_mirroring("").is_err());
    }

    #[test]
    fn full_restore_lists_every_move() {
        let options = FullRestore {
            replace: true,
            recovery: false,
            moves: vec![
                FileMove {
                    logical_name: "mgc".into(),
                    physical_name: r"E:\mgc.mdf".into(),
                },
                FileMove {
                    logical_name: "mgc_log".into(),
                    physical_name: r"F:\mgc.ldf".into(),
                },
            ],
        };
        let cmd = restore_database("mgc", r"\\fs\x.bak", &options);
        assert_eq!(
            cmd.text,
            "RESTORE DATABASE @db FROM DISK = @file WITH REPLACE, NORECOVERY, MOVE @logical1 TO @physical1, MOVE @logical2 TO @physical2;"
        );
        assert_eq!(cmd.params.len(), 6);
        let shown = cmd.to_string();
        assert!(shown.contains("@physical2 = N'F:\\mgc.ldf'"), "{shown}");
    }
}
