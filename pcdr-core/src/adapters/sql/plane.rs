//! [`DatabasePlane`] for [`SqlPlane`]: each call is one command of
//! [`commands::sql`](crate::commands::sql), and its rows decoded.

use super::SqlPlane;
use super::clock::to_utc;
use super::decode::{
    bit, bytes, first, guid, int, local_time, lsn, required_int, required_local_time,
    required_text, text,
};
use crate::commands::sql;
use crate::error::{PlaneError, PlaneResult};
use crate::log_chain::{BackupHeader, BackupType, Lsn};
use crate::planes::{
    DatabaseFile, DatabasePlane, DatabaseState, DbState, FileKind, FullRestore,
    LogShippingSnapshot, Mirroring, MirroringRole, PrimaryLogShipping, RestoreRecord,
    RestoreThresholds, RestoredBackup, RunLockAttempt, SecondaryLogShipping, SessionId, UserAccess,
};
use crate::topology::RestoreMode;
use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use tiberius::Row;

/// The first row of the first result set, if any.
pub(super) fn unexpected(what: impl Into<String>) -> PlaneError {
    PlaneError::Unexpected(what.into())
}

fn user_access(desc: &str) -> PlaneResult<UserAccess> {
    match desc.to_ascii_uppercase().as_str() {
        "MULTI_USER" => Ok(UserAccess::MultiUser),
        "SINGLE_USER" => Ok(UserAccess::SingleUser),
        "RESTRICTED_USER" => Ok(UserAccess::RestrictedUser),
        other => Err(unexpected(format!("unknown user access {other}"))),
    }
}

fn mirroring(row: &Row) -> PlaneResult<Mirroring> {
    let role = match required_text(row, "mirroring_role_desc")?
        .to_ascii_uppercase()
        .as_str()
    {
        "PRINCIPAL" => MirroringRole::Principal,
        "MIRROR" => MirroringRole::Mirror,
        other => return Err(unexpected(format!("unknown mirroring role {other}"))),
    };
    Ok(Mirroring {
        role,
        partner: text(row, "mirroring_partner_name")?.unwrap_or_default(),
        synchronized: text(row, "mirroring_state_desc")?
            .is_some_and(|s| s.eq_ignore_ascii_case("SYNCHRONIZED")),
    })
}

fn database_state(sets: &[Vec<Row>]) -> PlaneResult<Option<DatabaseState>> {
    let Some(row) = first(sets) else {
        return Ok(None);
    };
    let desc = required_text(row, "state_desc")?;
    let state = DbState::from_desc(&desc)
        .ok_or_else(|| unexpected(format!("unknown database state {desc}")))?;
    let row_of = |index: usize| sets.get(index).and_then(|rows| rows.first());
    Ok(Some(DatabaseState {
        state,
        in_standby: bit(row, "is_in_standby")?,
        user_access: user_access(&required_text(row, "user_access_desc")?)?,
        mirroring: row_of(1).map(mirroring).transpose()?,
        family_guid: row_of(2)
            .map(|r| guid(r, "family_guid"))
            .transpose()?
            .flatten(),
        database_guid: row_of(2)
            .map(|r| guid(r, "database_guid"))
            .transpose()?
            .flatten(),
    }))
}

/// The header of `file`, its dates converted to UTC with `offset`, the offset of the
/// instance that read it: `BackupStartDate` and `BackupFinishDate` are in the local time
/// of the instance that took the backup, which the header does not name an offset for.
fn backup_header(file: &str, sets: &[Vec<Row>], offset: FixedOffset) -> PlaneResult<BackupHeader> {
    let rows = sets.first().map(Vec::as_slice).unwrap_or_default();
    let [row] = rows else {
        return Err(unexpected(format!(
            "{file} holds {} backup sets; pcdr expects exactly one",
            rows.len()
        )));
    };
    let code = u8::try_from(required_int(row, "BackupType")?).unwrap_or(u8::MAX);
    let lsn_of =
        |name| lsn(row, name)?.ok_or_else(|| unexpected(format!("{name} is NULL in {file}")));
    Ok(BackupHeader {
        database_name: required_text(row, "DatabaseName")?,
        backup_type: BackupType::from_code(code),
        first_lsn: lsn_of("FirstLSN")?,
        last_lsn: lsn_of("LastLSN")?,
        family_guid: guid(row, "FamilyGUID")?.unwrap_or_default(),
        binding_id: guid(row, "BindingID")?.unwrap_or_default(),
        backup_start: to_utc(required_local_time(row, "BackupStartDate")?, offset),
        backup_finish: to_utc(required_local_time(row, "BackupFinishDate")?, offset),
        database_backup_lsn: lsn(row, "DatabaseBackupLSN")?.unwrap_or_default(),
        first_recovery_fork: guid(row, "FirstRecoveryForkID")?,
        recovery_fork: guid(row, "RecoveryForkID")?,
        // The size only feeds the report's byte counts: a value pcdr cannot read counts
        // 0 instead of failing the header read that the recovery itself depends on.
        backup_size: bytes(row, "BackupSize").ok().flatten().unwrap_or_default(),
    })
}

/// The integer `column` of the first row, if there is one.
fn first_id(sets: &[Vec<Row>], column: &str) -> PlaneResult<Option<i64>> {
    first(sets).map(|row| required_int(row, column)).transpose()
}

/// A `msdb.dbo.backupset` row as the identity of the set restored.
fn restored_backup(row: &Row) -> PlaneResult<Option<RestoredBackup>> {
    let Some(family_guid) = guid(row, "family_guid")? else {
        return Ok(None);
    };
    let lsn_of = |name| lsn(row, name).map(Option::unwrap_or_default);
    Ok(Some(RestoredBackup {
        family_guid,
        first_lsn: lsn_of("first_lsn")?,
        last_lsn: lsn_of("last_lsn")?,
        database_backup_lsn: lsn_of("database_backup_lsn")?,
        recovery_fork: guid(row, "last_recovery_fork_guid")?,
    }))
}

/// The session ids in the result set `index`, column `column`, in order.
fn session_ids(sets: &[Vec<Row>], index: usize, column: &str) -> PlaneResult<Vec<SessionId>> {
    sets.get(index)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let id = required_int(row, column)?;
            i32::try_from(id)
                .map(SessionId)
                .map_err(|_| unexpected(format!("session id {id}")))
        })
        .collect()
}

fn file_kind(code: &str) -> FileKind {
    match code.to_ascii_uppercase().as_str() {
        "L" | "LOG" => FileKind::Log,
        _ => FileKind::Data,
    }
}

fn files(
    sets: &[Vec<Row>],
    logical: &str,
    physical: &str,
    kind: &str,
) -> PlaneResult<Vec<DatabaseFile>> {
    sets.first()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            Ok(DatabaseFile {
                logical_name: required_text(row, logical)?,
                physical_name: required_text(row, physical)?,
                kind: file_kind(&required_text(row, kind)?),
            })
        })
        .collect()
}

impl SqlPlane {
    /// The identity of backup set `set_id` (`msdb.dbo.backupset`).
    async fn backup_set(&self, set_id: i64) -> PlaneResult<Option<RestoredBackup>> {
        let sets = self.read(&sql::backup_set_identity(set_id)).await?;
        first(&sets).map_or(Ok(None), restored_backup)
    }

    /// The ids of the jobs running in the current SQL Server Agent session; none when
    /// the Agent has run no job yet.
    async fn running_jobs(&self) -> PlaneResult<Vec<String>> {
        let Some(session) = first_id(&self.read(&sql::agent_session()).await?, "session_id")?
        else {
            return Ok(Vec::new());
        };
        let sets = self.read(&sql::running_jobs(session)).await?;
        let rows = sets.first().map(Vec::as_slice).unwrap_or_default();
        Ok(rows
            .iter()
            .map(|row| guid(row, "job_id"))
            .collect::<PlaneResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The alert thresholds of secondary database `database`, if msdb has them.
    async fn thresholds(&self, database: &str) -> PlaneResult<Option<RestoreThresholds>> {
        let sets = self.read(&sql::log_shipping_thresholds(database)).await?;
        let Some(row) = first(&sets) else {
            return Ok(None);
        };
        let minutes = |name: &str| -> PlaneResult<Option<i32>> {
            Ok(int(row, name)?.and_then(|v| i32::try_from(v).ok()))
        };
        let (Some(restore), Some(history)) = (
            minutes("restore_threshold")?,
            minutes("history_retention_period")?,
        ) else {
            return Ok(None);
        };
        Ok(Some(RestoreThresholds {
            restore_threshold_minutes: restore,
            alert_enabled: bit(row, "threshold_alert_enabled")?,
            history_retention_minutes: history,
        }))
    }

    /// Whether every one of `jobs` is named and enabled (`msdb.dbo.sysjobs`).
    async fn jobs_enabled<const N: usize>(&self, jobs: [Option<String>; N]) -> PlaneResult<bool> {
        for job in jobs {
            let Some(id) = job else {
                return Ok(false);
            };
            let sets = self.read(&sql::job_enabled(&id)).await?;
            if !first(&sets)
                .map(|row| bit(row, "enabled"))
                .transpose()?
                .unwrap_or(false)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn secondary_row(
        &self,
        database: &str,
    ) -> PlaneResult<Option<(String, LogShippingSnapshot)>> {
        let sets = self
            .read(&sql::log_shipping_secondary_database(database))
            .await?;
        let Some(row) = first(&sets) else {
            return Ok(None);
        };
        let id = guid(row, "secondary_id")?.ok_or_else(|| unexpected("secondary_id is NULL"))?;
        let snapshot = LogShippingSnapshot {
            primary_server: String::new(),
            primary_database: String::new(),
            backup_source_directory: String::new(),
            backup_destination_directory: String::new(),
            file_retention_minutes: 0,
            last_copied_file: None,
            restore_delay_minutes: int(row, "restore_delay")?
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(0),
            // `restore_mode` is a bit: 1 = STANDBY, 0 = NORECOVERY.
            restore_mode: if bit(row, "restore_mode")? {
                RestoreMode::Standby
            } else {
                RestoreMode::NoRecovery
            },
            disconnect_users: bit(row, "disconnect_users")?,
            last_restored_file: text(row, "last_restored_file")?,
            thresholds: None,
        };
        Ok(Some((id, snapshot)))
    }
}

#[async_trait]
impl DatabasePlane for SqlPlane {
    async fn database_state(&self, database: &str) -> PlaneResult<Option<DatabaseState>> {
        database_state(&self.read(&sql::database_state(database)).await?)
    }

    async fn redo_start_lsn(&self, database: &str) -> PlaneResult<Option<Lsn>> {
        let sets = self.read(&sql::redo_start_lsn(database)).await?;
        first(&sets)
            .map(|row| lsn(row, "redo_start_lsn"))
            .transpose()
            .map(Option::flatten)
    }

    async fn log_shipping_snapshot(
        &self,
        database: &str,
    ) -> PlaneResult<Option<LogShippingSnapshot>> {
        let Some((id, mut snapshot)) = self.secondary_row(database).await? else {
            return Ok(None);
        };
        let sets = self.read(&sql::log_shipping_secondary(&id)).await?;
        let Some(row) = first(&sets) else {
            return Ok(None);
        };
        snapshot.primary_server = required_text(row, "primary_server")?;
        snapshot.primary_database = required_text(row, "primary_database")?;
        snapshot.backup_source_directory = required_text(row, "backup_source_directory")?;
        snapshot.backup_destination_directory = required_text(row, "backup_destination_directory")?;
        snapshot.file_retention_minutes = int(row, "file_retention_period")?
            .and_then(|v| i32::try_from(v).ok())
            .unwrap_or(0);
        snapshot.last_copied_file = text(row, "last_copied_file")?;
        snapshot.thresholds = self.thresholds(database).await?;
        Ok(Some(snapshot))
    }

    async fn remove_secondary_log_shipping(&self, database: &str) -> PlaneResult<()> {
        self.write(&sql::remove_secondary_log_shipping(database))
            .await
    }

    async fn running_log_shipping_jobs(&self, database: &str) -> PlaneResult<Vec<String>> {
        let Some((secondary_id, _)) = self.secondary_row(database).await? else {
            return Ok(Vec::new());
        };
        let jobs = self.read(&sql::log_shipping_jobs(&secondary_id)).await?;
        let Some(row) = first(&jobs) else {
            return Ok(Vec::new());
        };
        let ids = [guid(row, "copy_job_id")?, guid(row, "restore_job_id")?];
        let running = self.running_jobs().await?;
        let mut names = Vec::new();
        for id in ids.into_iter().flatten() {
            if running.iter().any(|r| r.eq_ignore_ascii_case(&id)) {
                let sets = self.read(&sql::job_name(&id)).await?;
                names.extend(first(&sets).map(|r| required_text(r, "name")).transpose()?);
            }
        }
        Ok(names)
    }

    async fn stop_job(&self, name: &str) -> PlaneResult<()> {
        match self.write(&sql::stop_job(name)).await {
            // 22022: the job is not running (any more), which is what was wanted.
            Err(e) if e.sql_number() == Some(22022) => Ok(()),
            other => other,
        }
    }

    async fn is_log_shipping_primary(&self, database: &str) -> PlaneResult<bool> {
        let sets = self.read(&sql::log_shipping_primary(database)).await?;
        let job = first(&sets)
            .map(|row| guid(row, "backup_job_id"))
            .transpose()?;
        self.jobs_enabled([job.flatten()]).await
    }

    async fn remove_primary_log_shipping(&self, database: &str) -> PlaneResult<()> {
        let sets = self.read(&sql::log_shipping_primary(database)).await?;
        let Some(primary_id) = first(&sets)
            .map(|row| guid(row, "primary_id"))
            .transpose()?
        else {
            return Ok(());
        };
        let primary_id = primary_id.ok_or_else(|| {
            PlaneError::Unexpected(format!(
                "{database}'s log-shipping primary row has no primary_id"
            ))
        })?;
        let sets = self
            .read(&sql::log_shipping_primary_secondaries(&primary_id))
            .await?;
        let secondaries = sets
            .iter()
            .flatten()
            .map(|row| {
                Ok((
                    required_text(row, "secondary_server")?,
                    required_text(row, "secondary_database")?,
                ))
            })
            .collect::<PlaneResult<Vec<_>>>()?;
        self.write(&sql::remove_primary_log_shipping(database, &secondaries))
            .await
    }

    async fn is_log_shipping_secondary(&self, database: &str) -> PlaneResult<bool> {
        let Some((secondary_id, _)) = self.secondary_row(database).await? else {
            return Ok(false);
        };
        let sets = self.read(&sql::log_shipping_jobs(&secondary_id)).await?;
        let Some(row) = first(&sets) else {
            return Ok(false);
        };
        let jobs = [guid(row, "copy_job_id")?, guid(row, "restore_job_id")?];
        self.jobs_enabled(jobs).await
    }

    async fn backup_header(&self, file: &str) -> PlaneResult<BackupHeader> {
        let sets = self.read(&sql::backup_header(file)).await?;
        backup_header(file, &sets, self.utc_offset().await?)
    }

    async fn restore_log(&self, database: &str, file: &str) -> PlaneResult<()> {
        self.write(&sql::restore_log(database, file)).await
    }

    async fn recover(&self, database: &str) -> PlaneResult<()> {
        self.write(&sql::recover(database)).await
    }

    async fn sessions(&self, database: &str) -> PlaneResult<Vec<SessionId>> {
        let sets = self.read(&sql::sessions(database)).await?;
        let using = session_ids(&sets, 0, "spid")?;
        let users = session_ids(&sets, 1, "session_id")?;
        Ok(using.into_iter().filter(|s| users.contains(s)).collect())
    }

    async fn kill_session(&self, session: SessionId) -> PlaneResult<()> {
        self.write(&sql::kill(session)).await
    }

    async fn fail_over_mirroring(&self, database: &str) -> PlaneResult<()> {
        let command = sql::fail_over_mirroring(database).map_err(|e| unexpected(e.to_string()))?;
        self.write(&command).await
    }

    async fn remove_mirroring(&self, database: &str) -> PlaneResult<()> {
        let command = sql::remove_mirroring(database).map_err(|e| unexpected(e.to_string()))?;
        match self.write(&command).await {
            // 1416: not mirrored, which is what was wanted.
            Err(e) if e.sql_number() == Some(1416) => Ok(()),
            other => other,
        }
    }

    async fn backup_database(
        &self,
        database: &str,
        file: &str,
        copy_only: bool,
    ) -> PlaneResult<()> {
        self.write(&sql::backup_database(database, file, copy_only))
            .await
    }

    async fn backup_tail_log(&self, database: &str, file: &str) -> PlaneResult<()> {
        self.write(&sql::backup_tail_log(database, file)).await
    }

    async fn verify_backup(&self, file: &str) -> PlaneResult<()> {
        self.read(&sql::verify_backup(file)).await.map(|_| ())
    }

    async fn backup_file_list(&self, file: &str) -> PlaneResult<Vec<DatabaseFile>> {
        files(
            &self.read(&sql::backup_file_list(file)).await?,
            "LogicalName",
            "PhysicalName",
            "Type",
        )
    }

    async fn database_files(&self, database: &str) -> PlaneResult<Vec<DatabaseFile>> {
        files(
            &self.read(&sql::database_files(database)).await?,
            "name",
            "physical_name",
            "type_desc",
        )
    }

    async fn restore_database(
        &self,
        database: &str,
        file: &str,
        options: &FullRestore,
    ) -> PlaneResult<()> {
        self.write(&sql::restore_database(database, file, options))
            .await
    }

    async fn setup_log_shipping_primary(&self, setup: &PrimaryLogShipping) -> PlaneResult<()> {
        self.write(&sql::setup_log_shipping_primary(setup)).await
    }

    async fn setup_log_shipping_secondary(&self, setup: &SecondaryLogShipping) -> PlaneResult<()> {
        self.write(&sql::setup_log_shipping_secondary(setup)).await
    }

    async fn server_name(&self) -> PlaneResult<String> {
        let sets = self.read(&sql::server_name()).await?;
        first(&sets)
            .map(|row| required_text(row, "server_name"))
            .unwrap_or_else(|| Err(unexpected("@@SERVERNAME returned no row")))
    }

    async fn server_time(&self) -> PlaneResult<DateTime<Utc>> {
        let sets = self.read(&sql::server_time()).await?;
        let local = first(&sets)
            .map(|row| required_local_time(row, "server_time"))
            .unwrap_or_else(|| Err(unexpected("SYSDATETIME() returned no row")))?;
        self.to_utc(local).await
    }

    async fn last_restore(&self, database: &str) -> PlaneResult<Option<RestoreRecord>> {
        let sets = self.read(&sql::last_restore(database)).await?;
        let Some(row) = first(&sets) else {
            return Ok(None);
        };
        let restored_at = match local_time(row, "restore_date")? {
            Some(local) => self.to_utc(local).await?,
            None => DateTime::default(),
        };
        let set_id = required_int(row, "backup_set_id")?;
        let media = self.read(&sql::backup_set_media(set_id)).await?;
        let Some(media_id) = first(&media)
            .map(|r| required_int(r, "media_set_id"))
            .transpose()?
        else {
            return Ok(None);
        };
        let devices = self.read(&sql::media_device(media_id)).await?;
        let file = first(&devices)
            .map(|r| required_text(r, "physical_device_name"))
            .transpose()?;
        Ok(file.map(|file| RestoreRecord { file, restored_at }))
    }

    async fn last_restored_backup(&self, database: &str) -> PlaneResult<Option<RestoredBackup>> {
        let sets = self.read(&sql::newest_restore(database)).await?;
        match first_id(&sets, "backup_set_id")? {
            Some(set_id) => self.backup_set(set_id).await,
            None => Ok(None),
        }
    }

    async fn restored_from_file(
        &self,
        database: &str,
        file: &str,
    ) -> PlaneResult<Option<RestoredBackup>> {
        let media = self.read(&sql::device_media_set(file)).await?;
        let Some(media_set_id) = first_id(&media, "media_set_id")? else {
            return Ok(None);
        };
        let sets = self.read(&sql::media_backup_set(media_set_id)).await?;
        let Some(set_id) = first_id(&sets, "backup_set_id")? else {
            return Ok(None);
        };
        let restores = self.read(&sql::restore_of_set(database, set_id)).await?;
        match first_id(&restores, "restore_history_id")? {
            Some(_) => self.backup_set(set_id).await,
            None => Ok(None),
        }
    }

    async fn log_backups_taken_after(
        &self,
        database: &str,
        after: Lsn,
    ) -> PlaneResult<Vec<String>> {
        let server = self.server_name().await?;
        let sets = self
            .read(&sql::log_backups_taken(database, &server))
            .await?;
        let mut files = Vec::new();
        for row in sets.iter().flatten() {
            if lsn(row, "last_lsn")?.is_none_or(|last| last <= after) {
                continue;
            }
            let Some(media_set_id) = int(row, "media_set_id")? else {
                continue;
            };
            let devices = self.read(&sql::media_device(media_set_id)).await?;
            files.extend(
                first(&devices)
                    .map(|r| required_text(r, "physical_device_name"))
                    .transpose()?,
            );
        }
        Ok(files)
    }

    async fn take_run_lock(&self, resource: &str, run_name: &str) -> PlaneResult<RunLockAttempt> {
        self.take_run_lock_on_own_connection(resource, run_name)
            .await
    }

    async fn agent_service_account(&self) -> PlaneResult<Option<String>> {
        let sets = self.read(&sql::agent_service_account()).await?;
        first(&sets)
            .map(|row| text(row, "service_account"))
            .transpose()
            .map(Option::flatten)
    }
}
