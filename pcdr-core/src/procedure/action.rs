//! Actions: the mutating calls a step makes, as values.
//!
//! A step's observation returns actions; the plan prints them with the exact command
//! each one sends ([`Action::command`]); running the step performs them
//! ([`Action::perform`]). One type for both means the plan cannot drift from what runs.

use super::{Context, Event, Partner, StepId};
use crate::commands::{shell, sql};
use crate::error::{Error, PlaneError, PlaneResult, Result};
use crate::log_chain::LogBackup;
use crate::logship::join_path;
use crate::planes::{
    DatabasePlane, FullRestore, MirrorRequest, PoolState, PrimaryLogShipping, SecondaryLogShipping,
};
use crate::topology::SiteRole;
use serde::Serialize;

/// One mutating call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `sp_stop_job` for a log-shipping job running on a secondary instance.
    StopJob {
        /// Where.
        site: SiteRole,
        /// The job's name.
        job: String,
    },
    /// `sp_delete_log_shipping_secondary_database` on a secondary instance.
    RemoveSecondaryLogShipping {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
    },
    /// Copy one log backup from the share to the copy folder.
    CopyFile {
        /// The share.
        from: String,
        /// The copy folder.
        to: String,
        /// The file name.
        name: String,
        /// Its size.
        bytes: u64,
    },
    /// `RESTORE LOG … WITH NORECOVERY`.
    RestoreLog {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
        /// The backup.
        backup: LogBackup,
    },
    /// `KILL` for every user session on a database, listed right before (sessions come
    /// and go, so a plan cannot name them).
    EndSessions {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
    },
    /// `RESTORE DATABASE … WITH RECOVERY`.
    Recover {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
    },
    /// `Set-CsPersistentChatState`.
    SetPoolState {
        /// The new state.
        state: PoolState,
    },
    /// `Install-CsMirrorDatabase`.
    InstallMirror {
        /// What to mirror.
        request: MirrorRequest,
    },
    /// `Set-CsPersistentChatActiveServer`.
    SetActiveServers {
        /// The servers (empty: clear).
        servers: Vec<String>,
    },
    /// `ALTER DATABASE … SET PARTNER OFF`.
    RemoveMirroring {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
    },
    /// `BACKUP DATABASE … WITH INIT, CHECKSUM`, and `COPY_ONLY` when `copy_only`.
    BackupDatabase {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
        /// The backup file.
        file: String,
        /// A copy outside the database's backup sequence (a safety copy before it is
        /// overwritten), not a regular full backup.
        copy_only: bool,
    },
    /// `BACKUP LOG … WITH NORECOVERY`: the tail-log backup that leaves the database
    /// RESTORING.
    BackupTailLog {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
        /// The backup file.
        file: String,
    },
    /// The primary side of log shipping removed (secondaries, then the database's setup
    /// and backup job), on a site's instance or, on the primary site, its mirror.
    RemovePrimaryLogShipping {
        /// The site.
        site: SiteRole,
        /// On the primary site: its instance or its mirror.
        #[serde(skip_serializing_if = "Partner::is_primary")]
        on: Partner,
        /// The database.
        database: String,
    },
    /// `RESTORE VERIFYONLY`.
    VerifyBackup {
        /// Where.
        site: SiteRole,
        /// The backup file.
        file: String,
    },
    /// `RESTORE DATABASE … FROM DISK`.
    RestoreDatabase {
        /// Where.
        site: SiteRole,
        /// The database.
        database: String,
        /// The backup file.
        file: String,
        /// How.
        options: FullRestore,
    },
    /// `ALTER DATABASE … SET PARTNER FAILOVER` on the principal, one of the primary
    /// site's partners.
    FailOverMirroring {
        /// The partner whose database is the principal now.
        principal: Partner,
        /// The database.
        database: String,
    },
    /// The primary side of log shipping, on a site's instance or, on the primary site,
    /// its mirror.
    SetupLogShippingPrimary {
        /// The site.
        site: SiteRole,
        /// On the primary site: its instance or its mirror (always [`Partner::Primary`],
        /// the site's own instance, elsewhere).
        #[serde(skip_serializing_if = "Partner::is_primary")]
        on: Partner,
        /// The settings.
        setup: PrimaryLogShipping,
    },
    /// The secondary side of log shipping.
    SetupLogShippingSecondary {
        /// Where.
        site: SiteRole,
        /// The settings.
        setup: SecondaryLogShipping,
    },
}

/// The command an action sends, for the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// Where it goes (instance, pool, folders).
    pub target: String,
    /// What it is.
    pub kind: CommandKind,
    /// When set, the command is not sent exactly once but as this says ("once for each
    /// user session on mgc", "only if mgc is mirrored"): possibly never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// The text of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandKind {
    /// T-SQL with parameters.
    Sql {
        /// The statement.
        command: sql::SqlCommand,
    },
    /// A Management Shell command line.
    Shell {
        /// The command line.
        line: String,
    },
    /// A file copy.
    Copy {
        /// Source path.
        from: String,
        /// Destination path.
        to: String,
        /// Bytes.
        bytes: u64,
    },
}

impl Command {
    /// A T-SQL command sent to a site's instance.
    pub fn sql(ctx: &Context, site: SiteRole, command: sql::SqlCommand) -> Self {
        Self {
            target: ctx.sql_name(site),
            kind: CommandKind::Sql { command },
            when: None,
        }
    }

    /// A T-SQL command sent to one of the primary site's mirroring partners.
    pub fn sql_to(ctx: &Context, partner: Partner, command: sql::SqlCommand) -> Self {
        Self {
            target: ctx.partner_name(partner),
            kind: CommandKind::Sql { command },
            when: None,
        }
    }

    /// A T-SQL command sent to a site's instance or, on the primary site, its mirror.
    pub fn sql_to_instance(
        ctx: &Context,
        site: SiteRole,
        on: Partner,
        command: sql::SqlCommand,
    ) -> Self {
        match on {
            Partner::Mirror => Self::sql_to(ctx, on, command),
            Partner::Primary => Self::sql(ctx, site, command),
        }
    }

    /// A cmdlet run in the Management Shell.
    pub fn shell(ctx: &Context, command: shell::ShellCommand) -> Self {
        Self {
            target: format!("pool {}", ctx.topology.pool.fqdn),
            kind: CommandKind::Shell {
                line: command.to_string(),
            },
            when: None,
        }
    }
}

impl Command {
    /// Replaces every occurrence of `value` by `placeholder`, in the text, the
    /// parameters, the command line or the paths.
    pub fn mask(&mut self, value: &str, placeholder: &str) {
        let mask = |text: &mut String| *text = text.replace(value, placeholder);
        match &mut self.kind {
            CommandKind::Sql { command } => {
                mask(&mut command.text);
                for param in &mut command.params {
                    if let sql::SqlValue::Text(text) = &mut param.value {
                        mask(text);
                    }
                }
            }
            CommandKind::Shell { line } => mask(line),
            CommandKind::Copy { from, to, .. } => {
                mask(from);
                mask(to);
            }
        }
    }

    /// The same command, sent as `when` says rather than exactly once.
    pub fn sent(mut self, when: impl Into<String>) -> Self {
        self.when = Some(when.into());
        self
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            CommandKind::Sql { command } => write!(f, "[{}] {command}", self.target)?,
            CommandKind::Shell { line } => write!(f, "[{}] {line}", self.target)?,
            CommandKind::Copy { from, to, bytes } => {
                write!(f, "copy {from} -> {to} ({bytes} bytes)")?
            }
        }
        match &self.when {
            Some(when) => write!(f, "\n    ({when})"),
            None => Ok(()),
        }
    }
}

impl Action {
    /// The bytes the action moves (a file copy), for progress.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::CopyFile { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    /// Whether doing the action again leaves the world as doing it once did: it sets a
    /// value (the pool state, the active servers) rather than changing one, or ends what
    /// may have come back (sessions). A resumed run may repeat such an action when it
    /// cannot tell it was done.
    pub fn is_repeatable(&self) -> bool {
        matches!(
            self,
            Self::SetPoolState { .. }
                | Self::SetActiveServers { .. }
                | Self::EndSessions { .. }
                | Self::StopJob { .. }
        )
    }

    /// The name and size of the file the action copies, if it is a copy.
    pub fn copied_file(&self) -> Option<(&str, u64)> {
        match self {
            Self::CopyFile { name, bytes, .. } => Some((name, *bytes)),
            _ => None,
        }
    }

    /// The file the action copies, restores, writes or reads, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::CopyFile { name, .. } => Some(name),
            Self::RestoreLog { backup, .. } => Some(&backup.file),
            Self::BackupDatabase { file, .. }
            | Self::BackupTailLog { file, .. }
            | Self::VerifyBackup { file, .. }
            | Self::RestoreDatabase { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The exact command this action sends.
    pub fn command(&self, ctx: &Context) -> Command {
        let shell_cmd = |command| Command::shell(ctx, command);
        let pool = &ctx.topology.pool;
        match self {
            Self::RemovePrimaryLogShipping { site, on, database } => {
                remove_primary_command(ctx, *site, *on, database)
            }
            Self::CopyFile {
                from,
                to,
                name,
                bytes,
            } => Command {
                target: "files".into(),
                kind: CommandKind::Copy {
                    from: join_path(from, name),
                    to: join_path(to, name),
                    bytes: *bytes,
                },
                when: None,
            },
            Self::EndSessions { site, database } => {
                Command::sql(ctx, *site, sql::kill_placeholder())
                    .sent(format!("once for each user session on {database}"))
            }
            Self::SetPoolState { state } => {
                shell_cmd(shell::set_pool_state(&pool.state_identity, *state))
            }
            Self::InstallMirror { request } => shell_cmd(shell::install_mirror(request)),
            Self::SetActiveServers { servers } => shell_cmd(shell::set_active_servers(
                &pool.active_servers_identity,
                servers,
            )),
            Self::RemoveMirroring { site, database } => match sql::remove_mirroring(database) {
                Ok(command) => Command::sql(ctx, *site, command),
                Err(e) => unquotable(ctx.sql_name(*site), database, e),
            },
            Self::FailOverMirroring {
                principal,
                database,
            } => match sql::fail_over_mirroring(database) {
                Ok(command) => Command::sql_to(ctx, *principal, command),
                Err(e) => unquotable(ctx.partner_name(*principal), database, e),
            },
            Self::SetupLogShippingPrimary { site, on, setup } => {
                let command = sql::setup_log_shipping_primary(setup);
                Command::sql_to_instance(ctx, *site, *on, command)
            }
            _ => {
                let (site, statement) = self
                    .statement()
                    .expect("every other action is one statement to a site's instance");
                Command::sql(ctx, site, statement)
            }
        }
    }

    /// The one statement the action sends to a site's instance, for the actions that
    /// are one such statement.
    fn statement(&self) -> Option<(SiteRole, sql::SqlCommand)> {
        Some(match self {
            Self::StopJob { site, job } => (*site, sql::stop_job(job)),
            Self::RemoveSecondaryLogShipping { site, database } => {
                (*site, sql::remove_secondary_log_shipping(database))
            }
            Self::BackupTailLog {
                site,
                database,
                file,
            } => (*site, sql::backup_tail_log(database, file)),
            Self::RestoreLog {
                site,
                database,
                backup,
            } => (*site, sql::restore_log(database, &backup.file)),
            Self::Recover { site, database } => (*site, sql::recover(database)),
            Self::BackupDatabase {
                site,
                database,
                file,
                copy_only,
            } => (*site, sql::backup_database(database, file, *copy_only)),
            Self::VerifyBackup { site, file } => (*site, sql::verify_backup(file)),
            Self::RestoreDatabase {
                site,
                database,
                file,
                options,
            } => (*site, sql::restore_database(database, file, options)),
            Self::SetupLogShippingSecondary { site, setup } => {
                (*site, sql::setup_log_shipping_secondary(setup))
            }
            _ => return None,
        })
    }

    /// Performs the action, naming `step`, the target, the database and the file in any
    /// error. Nothing is changed once the run is cancelled or while the journal's last
    /// records are not on disk. Warnings the chat pool printed become notes of `step`.
    pub async fn perform(&self, ctx: &Context, step: StepId) -> Result<()> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled { step: Some(step) });
        }
        ctx.journal_flushed().await?;
        let moved = self.call(ctx, step).await;
        for warning in ctx.planes.pool.take_warnings() {
            ctx.warn(step, warning);
        }
        let moved = moved.map_err(|e| self.failure(ctx, step, e))?;
        self.record(ctx, moved);
        Ok(())
    }

    /// The plane call the action makes; returns the bytes it moved: a copy's, a log
    /// restore's or a full backup's or restore's size.
    async fn call(&self, ctx: &Context, step: StepId) -> PlaneResult<u64> {
        let pool = ctx.planes.pool.as_ref();
        let done = match self {
            Self::CopyFile { from, to, name, .. } => {
                return ctx.planes.files.copy_file(from, name, to).await;
            }
            Self::StopJob { site, job } => ctx.sql(*site).stop_job(job).await,
            Self::RemoveSecondaryLogShipping { site, database } => {
                ctx.sql(*site).remove_secondary_log_shipping(database).await
            }
            Self::RemovePrimaryLogShipping { site, on, database } => {
                instance(ctx, *site, *on)?
                    .remove_primary_log_shipping(database)
                    .await
            }
            Self::RestoreLog {
                site,
                database,
                backup,
            } => {
                ctx.sql(*site).restore_log(database, &backup.file).await?;
                return Ok(backup.header.backup_size);
            }
            Self::BackupTailLog {
                site,
                database,
                file,
            } => {
                let sql = ctx.sql(*site);
                sql.backup_tail_log(database, file).await?;
                return Ok(backup_size(sql, file).await);
            }
            Self::EndSessions { site, database } => end_sessions(ctx, step, *site, database).await,
            Self::Recover { site, database } => ctx.sql(*site).recover(database).await,
            Self::SetPoolState { state } => pool.set_pool_state(*state).await,
            Self::InstallMirror { request } => pool.install_mirror(request).await,
            Self::SetActiveServers { servers } => pool.set_active_servers(servers).await,
            Self::RemoveMirroring { site, database } => {
                ctx.sql(*site).remove_mirroring(database).await
            }
            Self::BackupDatabase {
                site,
                database,
                file,
                copy_only,
            } => {
                let sql = ctx.sql(*site);
                sql.backup_database(database, file, *copy_only).await?;
                return Ok(backup_size(sql, file).await);
            }
            Self::VerifyBackup { site, file } => ctx.sql(*site).verify_backup(file).await,
            Self::RestoreDatabase {
                site,
                database,
                file,
                options,
            } => {
                let sql = ctx.sql(*site);
                sql.restore_database(database, file, options).await?;
                return Ok(backup_size(sql, file).await);
            }
            Self::FailOverMirroring {
                principal,
                database,
            } => {
                partner(ctx, *principal)?
                    .fail_over_mirroring(database)
                    .await
            }
            Self::SetupLogShippingPrimary { site, on, setup } => {
                instance(ctx, *site, *on)?
                    .setup_log_shipping_primary(setup)
                    .await
            }
            Self::SetupLogShippingSecondary { site, setup } => {
                ctx.sql(*site).setup_log_shipping_secondary(setup).await
            }
        };
        done.map(|()| 0)
    }

    /// What the run learns from the action once it succeeded: facts and an event.
    fn record(&self, ctx: &Context, moved: u64) {
        ctx.update_facts(|f| f.bytes_moved += moved);
        match self {
            Self::CopyFile { name, .. } => {
                ctx.update_facts(|f| {
                    f.files_copied += 1;
                    f.bytes_copied += moved;
                });
                ctx.emit(Event::FileCopied {
                    file: name.clone(),
                    bytes: moved,
                });
            }
            Self::RestoreLog { site, backup, .. } => {
                // The restore point and the data-loss evidence are the restoring site's
                // (a switchover also restores on the old primary, to bridge its chain).
                let restoring = *site == ctx.restoring_site();
                ctx.update_facts(|f| {
                    f.logs_restored += 1;
                    if restoring {
                        f.restore_point = Some(backup.header.last_lsn);
                        f.last_applied = Some(backup.clone());
                    }
                });
                ctx.emit(Event::LogRestored {
                    file: backup.file.clone(),
                    first_lsn: backup.header.first_lsn,
                    last_lsn: backup.header.last_lsn,
                });
            }
            _ => {}
        }
    }

    /// The instance the action goes to; `None` for the pool and the file system.
    fn site(&self) -> Option<SiteRole> {
        match self {
            Self::SetupLogShippingPrimary {
                site,
                on: Partner::Primary,
                ..
            }
            | Self::StopJob { site, .. }
            | Self::RemoveSecondaryLogShipping { site, .. }
            | Self::RemovePrimaryLogShipping {
                site,
                on: Partner::Primary,
                ..
            }
            | Self::RestoreLog { site, .. }
            | Self::BackupTailLog { site, .. }
            | Self::SetupLogShippingSecondary { site, .. }
            | Self::EndSessions { site, .. }
            | Self::Recover { site, .. }
            | Self::RemoveMirroring { site, .. }
            | Self::BackupDatabase { site, .. }
            | Self::VerifyBackup { site, .. }
            | Self::RestoreDatabase { site, .. } => Some(*site),
            Self::CopyFile { .. }
            | Self::FailOverMirroring { .. }
            | Self::SetupLogShippingPrimary { .. }
            | Self::RemovePrimaryLogShipping { .. }
            | Self::SetPoolState { .. }
            | Self::InstallMirror { .. }
            | Self::SetActiveServers { .. } => None,
        }
    }

    /// The database the action changes, if it names one.
    fn database(&self) -> Option<&str> {
        match self {
            Self::RemoveSecondaryLogShipping { database, .. }
            | Self::RemovePrimaryLogShipping { database, .. }
            | Self::BackupTailLog { database, .. }
            | Self::RestoreLog { database, .. }
            | Self::EndSessions { database, .. }
            | Self::Recover { database, .. }
            | Self::RemoveMirroring { database, .. }
            | Self::BackupDatabase { database, .. }
            | Self::RestoreDatabase { database, .. }
            | Self::FailOverMirroring { database, .. } => Some(database),
            Self::SetupLogShippingPrimary { setup, .. } => Some(&setup.database),
            Self::SetupLogShippingSecondary { setup, .. } => Some(&setup.secondary_database),
            _ => None,
        }
    }

    /// The step error for a failed plane call: the step, the instance, pool or copy
    /// folder, the database and the file.
    fn failure(&self, ctx: &Context, step: StepId, error: PlaneError) -> Error {
        if let Self::CopyFile { from, to, name, .. } = self {
            return Error::step(step, to, None, Some(&join_path(from, name)), error);
        }
        let target = match (self.site(), self) {
            (Some(site), _) => ctx.sql_name(site),
            (None, Self::FailOverMirroring { principal: on, .. })
            | (None, Self::SetupLogShippingPrimary { on, .. })
            | (None, Self::RemovePrimaryLogShipping { on, .. }) => ctx.partner_name(*on),
            (None, _) => format!("pool {}", ctx.topology.pool.fqdn),
        };
        Error::step(step, target, self.database(), self.file(), error)
    }
}

/// The removal of a log-shipping primary as a plan shows it: the secondaries are read
/// from msdb when it runs.
fn remove_primary_command(ctx: &Context, site: SiteRole, on: Partner, database: &str) -> Command {
    let secondaries = [("<secondary server>".to_string(), database.to_string())];
    let command = sql::remove_primary_log_shipping(database, &secondaries);
    Command::sql_to_instance(ctx, site, on, command)
        .sent("with one sp_delete_log_shipping_primary_secondary for each secondary msdb lists")
}

/// The command a plan shows for a database name that cannot be quoted (never sent).
fn unquotable(target: String, database: &str, e: crate::quote::QuoteError) -> Command {
    Command {
        target,
        kind: CommandKind::Shell {
            line: format!("(cannot quote {database}: {e})"),
        },
        when: None,
    }
}

/// One of the primary site's partners, or an error when the topology has no mirror.
fn partner(ctx: &Context, partner: Partner) -> PlaneResult<&dyn DatabasePlane> {
    ctx.partner_sql(partner).ok_or_else(|| {
        PlaneError::Unexpected("the topology names no mirror instance for the primary site".into())
    })
}

/// A site's instance or, on the primary site, its mirror.
fn instance(ctx: &Context, site: SiteRole, on: Partner) -> PlaneResult<&dyn DatabasePlane> {
    match on {
        Partner::Mirror => partner(ctx, on),
        Partner::Primary => Ok(ctx.sql(site)),
    }
}

/// The `BackupSize` of the full backup in `file`, read after a backup or restore of it
/// succeeded. A header that cannot be read counts no bytes: the action itself is done,
/// and the size only measures it.
async fn backup_size(sql: &dyn DatabasePlane, file: &str) -> u64 {
    sql.backup_header(file)
        .await
        .map_or(0, |header| header.backup_size)
}

/// Ends every user session on `database`, except pcdr's own, and says how many it ended.
async fn end_sessions(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    database: &str,
) -> PlaneResult<()> {
    let plane = ctx.sql(site);
    let sessions = plane.sessions(database).await?;
    for &session in &sessions {
        match plane.kill_session(session).await {
            // 6106: the session ended on its own meanwhile.
            Err(e) if e.sql_number() == Some(6106) => {}
            other => other?,
        }
    }
    ctx.emit(Event::SessionsEnded {
        step,
        target: ctx.sql_name(site),
        database: database.to_string(),
        sessions: sessions.len(),
    });
    Ok(())
}
