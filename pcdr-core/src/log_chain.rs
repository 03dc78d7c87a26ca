//! The log chain: log sequence numbers, backup headers, and the rule that decides which
//! log backups still have to be restored.
//!
//! This module is pure: it reads no file and talks to no server. The procedures feed it
//! the restore point of the database (`sys.master_files.redo_start_lsn`) and the
//! `RESTORE HEADERONLY` answers of the candidate files, and act on its verdict.
//!
//! The rule, for a database in the RESTORING state at LSN `point`:
//! - `LastLSN <= point`: the backup is already applied (SQL Server would raise 4326);
//! - `FirstLSN <= point < LastLSN`: it is the next one; restoring it moves `point` to its
//!   `LastLSN`;
//! - `FirstLSN > point`: a log backup is missing (SQL Server would raise 4305). Nothing
//!   after a gap can be restored.
//!
//! A backup that continues the chain must also be of the database's backup family, on
//! the recovery fork the database is on, and based on a full backup no older than the
//! one the chain already passed ([`ChainIdentity`]); a file of the database that fails
//! those checks but ends before the restore point cannot add anything and is only
//! named ([`RestorePlan::ignored`]).
//!
//! File names are only a hint: candidates are ordered by their LSNs, not their names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A log sequence number, as SQL Server shows it in its `numeric(25,0)` columns.
///
/// Serialized as a decimal string, because JSON readers in other languages lose
/// precision on integers of 25 digits.
///
/// ```
/// use pcdr_core::log_chain::Lsn;
/// let lsn: Lsn = "35000000012345600001".parse().unwrap();
/// assert_eq!(lsn.to_string(), "35000000012345600001");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u128);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Lsn {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Lsn)
    }
}

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The kind of a backup set, from `RESTORE HEADERONLY`'s `BackupType` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupType {
    /// 1: a full database backup.
    Database,
    /// 2: a transaction log backup.
    Log,
    /// 5: a differential database backup.
    Differential,
    /// Any other code (file, partial, …).
    Other(u8),
}

impl BackupType {
    /// The type for SQL Server's numeric code.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Database,
            2 => Self::Log,
            5 => Self::Differential,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database => f.write_str("full database backup"),
            Self::Log => f.write_str("log backup"),
            Self::Differential => f.write_str("differential backup"),
            Self::Other(code) => write!(f, "backup of type {code}"),
        }
    }
}

/// What `RESTORE HEADERONLY` says about the (single) backup set in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The database the backup was taken of.
    pub database_name: String,
    /// Full, log, differential, …
    pub backup_type: BackupType,
    /// The first LSN in the backup.
    pub first_lsn: Lsn,
    /// The LSN of the next log record after the backup.
    pub last_lsn: Lsn,
    /// The database's family GUID (the same for every backup of one database).
    pub family_guid: String,
    /// `BindingID`: the `database_guid` of the database backed up
    /// (`sys.database_recovery_status`); a restore gives a database a new one, so a
    /// log-shipped copy and its source share a family but not this. Empty when unknown.
    #[serde(default)]
    pub binding_id: String,
    /// When the backup started, in UTC (`BackupStartDate` is the local time of the
    /// instance that took the backup; the plane converts it with the offset from UTC of
    /// the instance that read the header).
    pub backup_start: DateTime<Utc>,
    /// When the backup finished, in UTC (from `BackupFinishDate`, as
    /// [`backup_start`](Self::backup_start)): the latest moment whose data the backup
    /// holds.
    pub backup_finish: DateTime<Utc>,
    /// `DatabaseBackupLSN`: the start of the full backup the set's chain is based on (for
    /// a full backup, the one before it); zero when unknown.
    #[serde(default)]
    pub database_backup_lsn: Lsn,
    /// `FirstRecoveryForkID`: the recovery fork the set starts on.
    #[serde(default)]
    pub first_recovery_fork: Option<String>,
    /// `RecoveryForkID`: the recovery fork the set ends on (the same unless the database
    /// was recovered inside the set's range).
    #[serde(default)]
    pub recovery_fork: Option<String>,
    /// `BackupSize`: the bytes the backup set holds, as SQL Server reports them; zero when
    /// unknown (a journal written before pcdr read it).
    #[serde(default)]
    pub backup_size: u64,
}

/// What a log backup must agree with to continue a database's log chain: the database's
/// backup family, the recovery fork it is on, and the full backup its chain is based on.
/// What is unknown is not checked.
///
/// SQL Server refuses a backup on another recovery path with 4330 ("Recovery Paths",
/// learn.microsoft.com/sql/relational-databases/backup-restore/recovery-paths-sql-server);
/// a log-shipping secondary shows neither its family nor its fork while it is RESTORING
/// (`sys.database_recovery_status`: "NULL = … the database will not start"), so pcdr takes
/// them from the backup set restored into it last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainIdentity {
    /// The family GUID every backup of the database carries.
    pub family: Option<String>,
    /// The recovery fork the database is on: the next backup must start on it.
    pub fork: Option<String>,
    /// The `DatabaseBackupLSN` the chain has reached: along one recovery path it never
    /// decreases, so a backup based on an older full backup belongs to another path.
    pub base: Lsn,
}

impl ChainIdentity {
    /// The identity once `header` is restored: on the fork the set ends on, based on
    /// its full backup when that is newer.
    pub fn after(&self, header: &BackupHeader) -> Self {
        Self {
            family: self.family.clone(),
            fork: header.recovery_fork.clone().or_else(|| self.fork.clone()),
            base: self.base.max(header.database_backup_lsn),
        }
    }

    /// Refuses a backup that does not continue this chain: another fork, or an older base.
    fn continued_by(&self, file: &str, header: &BackupHeader) -> Result<(), ChainError> {
        if let (Some(expected), Some(found)) = (&self.fork, &header.first_recovery_fork)
            && !expected.eq_ignore_ascii_case(found)
        {
            return Err(ChainError::WrongFork {
                file: file.to_string(),
                found: found.clone(),
                expected: expected.clone(),
            });
        }
        if header.database_backup_lsn < self.base {
            return Err(ChainError::OlderBase {
                file: file.to_string(),
                found: header.database_backup_lsn,
                base: self.base,
            });
        }
        Ok(())
    }
}

/// One log backup file with its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogBackup {
    /// Full path of the file, as the SQL Server instance sees it.
    pub file: String,
    /// Its header.
    pub header: BackupHeader,
}

/// A candidate file given to [`plan_log_restores`]: its header, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Full path of the file.
    pub file: String,
    /// The header, or the reason it is unreadable (e.g. SQL Server error 3241).
    pub header: Result<BackupHeader, String>,
}

/// A hole in the log chain: the log records from `missing_from` up to `missing_to` are in
/// no available backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChainGap {
    /// The restore point the chain stops at (the first missing LSN).
    pub missing_from: Lsn,
    /// The first LSN of the next available backup.
    pub missing_to: Lsn,
    /// The last backup that can be applied before the gap, if any was applied or found.
    pub last_good: Option<LogBackup>,
    /// The first file after the gap.
    pub next_file: String,
}

impl fmt::Display for LogChainGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log records from LSN {} to {} are in no available log backup (next file: {})",
            self.missing_from, self.missing_to, self.next_file
        )?;
        match &self.last_good {
            Some(good) => write!(
                f,
                "; last good backup {} finished at {}",
                good.file,
                good.header.backup_finish.to_rfc3339()
            ),
            None => f.write_str("; no log backup can be applied before the gap"),
        }
    }
}

/// The verdict of the LSN rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestorePlan {
    /// The backups to restore, in order.
    pub to_restore: Vec<LogBackup>,
    /// How many backups are skipped because the database already holds their log
    /// records.
    pub already_applied: usize,
    /// The newest of those (by last LSN): the evidence of what the database holds when
    /// nothing is left to restore.
    pub newest_already_applied: Option<LogBackup>,
    /// The gap that stops the chain, if any.
    pub gap: Option<LogChainGap>,
    /// Files of the database that could not take part in the chain (another family, not
    /// a log backup) but end at or before the restore point: the database already holds
    /// every log record they could add, so they are named, not fatal.
    pub ignored: Vec<ChainError>,
}

impl RestorePlan {
    /// The restore point after every planned restore.
    pub fn final_point(&self, start: Lsn) -> Lsn {
        self.to_restore.last().map_or(start, |b| b.header.last_lsn)
    }

    /// The chain's identity after every planned restore, from `start`'s.
    pub fn final_identity(&self, start: &ChainIdentity) -> ChainIdentity {
        self.to_restore
            .iter()
            .fold(start.clone(), |identity, b| identity.after(&b.header))
    }

    /// The newest backup the database holds once the plan is carried out: the last one
    /// to restore, else the newest already applied. This is the data-loss evidence.
    pub fn newest_applied(&self) -> Option<&LogBackup> {
        self.to_restore
            .last()
            .or(self.newest_already_applied.as_ref())
    }
}

/// A candidate that cannot take part in the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The file holds a backup of another database.
    #[error("{file} holds a backup of database '{found}', not '{expected}'")]
    WrongDatabase {
        /// The file.
        file: String,
        /// The database named in its header.
        found: String,
        /// The database being restored.
        expected: String,
    },
    /// The file is not a log backup.
    #[error("{file} holds a {found}, not a log backup")]
    NotALogBackup {
        /// The file.
        file: String,
        /// What it holds.
        found: BackupType,
    },
    /// The file belongs to another recovery path of the database (SQL Server error 4330).
    #[error("{file} belongs to database family {found}, not {expected}")]
    WrongFamily {
        /// The file.
        file: String,
        /// The family GUID in its header.
        found: String,
        /// The family GUID of the database.
        expected: String,
    },
    /// The file starts on another recovery fork than the database is on: it belongs to
    /// another recovery path (SQL Server error 4330).
    #[error(
        "{file} is on recovery fork {found}, not {expected}: it belongs to another recovery path"
    )]
    WrongFork {
        /// The file.
        file: String,
        /// `FirstRecoveryForkID` in its header.
        found: String,
        /// The fork the database is on.
        expected: String,
    },
    /// The file is based on an older full backup than the chain already passed: it was
    /// taken on another recovery path of the database.
    #[error(
        "{file} is based on the full backup at LSN {found}, older than the one at LSN {base} the database's chain already passed: it belongs to another recovery path"
    )]
    OlderBase {
        /// The file.
        file: String,
        /// `DatabaseBackupLSN` in its header.
        found: Lsn,
        /// The base the chain has reached.
        base: Lsn,
    },
    /// The header could not be read (damaged or truncated file).
    #[error("{file} cannot be read: {reason}")]
    Damaged {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
}

impl ChainError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            Self::WrongDatabase { file, .. }
            | Self::NotALogBackup { file, .. }
            | Self::WrongFamily { file, .. }
            | Self::WrongFork { file, .. }
            | Self::OlderBase { file, .. }
            | Self::Damaged { file, .. } => file,
        }
    }
}

/// Applies the LSN rule to `candidates` for a database restored up to `point`.
///
/// Every backup restored must continue the chain of `identity` (family, recovery fork,
/// base); a file of the database that cannot (another family, not a log backup) is
/// refused unless it ends at or before `point`, when it is only named in
/// [`RestorePlan::ignored`]. An unreadable file or one of another database is always
/// refused: nothing shows it is irrelevant. Candidates may come in any order.
///
/// ```
/// use pcdr_core::log_chain::{plan_log_restores, BackupHeader, BackupType, Candidate, ChainIdentity, Lsn};
/// let header = |first, last| BackupHeader {
///     database_name: "mgc".into(),
///     backup_type: BackupType::Log,
///     first_lsn: Lsn(first),
///     last_lsn: Lsn(last),
///     family_guid: "F".into(),
///     binding_id: String::new(),
///     backup_start: chrono::DateTime::UNIX_EPOCH,
///     backup_finish: chrono::DateTime::UNIX_EPOCH,
///     database_backup_lsn: Lsn(50),
///     first_recovery_fork: Some("R".into()),
///     recovery_fork: Some("R".into()),
///     backup_size: 0,
/// };
/// let candidates = vec![
///     Candidate { file: "a.trn".into(), header: Ok(header(100, 200)) },
///     Candidate { file: "b.trn".into(), header: Ok(header(200, 300)) },
/// ];
/// let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(200), &candidates).unwrap();
/// assert_eq!(plan.already_applied, 1);
/// assert_eq!(plan.newest_already_applied.unwrap().file, "a.trn");
/// assert_eq!(plan.to_restore[0].file, "b.trn");
/// assert!(plan.gap.is_none());
/// ```
pub fn plan_log_restores(
    database: &str,
    identity: &ChainIdentity,
    point: Lsn,
    candidates: &[Candidate],
) -> Result<RestorePlan, ChainError> {
    let mut plan = RestorePlan::default();
    // Checked and sorted by reference; only the backups the plan keeps are cloned.
    let mut backups = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let (file, header) = readable(database, candidate)?;
        match of_the_family(identity, file, header) {
            Ok(()) => backups.push((file, header)),
            Err(foreign) if header.last_lsn <= point => plan.ignored.push(foreign),
            Err(foreign) => return Err(foreign),
        }
    }
    // The file name settles ties (copies of one range), so every reading of the same
    // folder plans the same restores.
    backups.sort_unstable_by_key(|(file, header)| (header.first_lsn, header.last_lsn, *file));

    let mut point = point;
    let mut identity = identity.clone();
    let owned = |file: &str, header: &BackupHeader| LogBackup {
        file: file.to_string(),
        header: header.clone(),
    };
    let mut newest_applied: Option<(&str, &BackupHeader)> = None;
    let mut beyond_gap = None;
    for (file, header) in backups {
        if header.last_lsn <= point {
            plan.already_applied += 1;
            if newest_applied.is_none_or(|(_, newest)| header.last_lsn >= newest.last_lsn) {
                newest_applied = Some((file, header));
            }
        } else if header.first_lsn <= point {
            identity.continued_by(file, header)?;
            identity = identity.after(header);
            point = header.last_lsn;
            plan.to_restore.push(owned(file, header));
        } else {
            beyond_gap = Some((file, header));
            break;
        }
    }
    plan.newest_already_applied = newest_applied.map(|(file, header)| owned(file, header));
    plan.gap = beyond_gap.map(|(file, header)| LogChainGap {
        missing_from: point,
        missing_to: header.first_lsn,
        last_good: plan.newest_applied().cloned(),
        next_file: file.to_string(),
    });
    Ok(plan)
}

/// The header of `candidate`, which must be readable and of `database`.
fn readable<'c>(
    database: &str,
    candidate: &'c Candidate,
) -> Result<(&'c str, &'c BackupHeader), ChainError> {
    let file = candidate.file.as_str();
    let header = candidate
        .header
        .as_ref()
        .map_err(|reason| ChainError::Damaged {
            file: file.to_string(),
            reason: reason.clone(),
        })?;
    if !header.database_name.eq_ignore_ascii_case(database) {
        return Err(ChainError::WrongDatabase {
            file: file.to_string(),
            found: header.database_name.clone(),
            expected: database.to_string(),
        });
    }
    Ok((file, header))
}

/// Refuses a backup that is not a log backup of the chain's family.
fn of_the_family(
    identity: &ChainIdentity,
    file: &str,
    header: &BackupHeader,
) -> Result<(), ChainError> {
    if header.backup_type != BackupType::Log {
        return Err(ChainError::NotALogBackup {
            file: file.to_string(),
            found: header.backup_type,
        });
    }
    if let Some(expected) = identity
        .family
        .as_deref()
        .filter(|f| !f.eq_ignore_ascii_case(&header.family_guid))
    {
        return Err(ChainError::WrongFamily {
            file: file.to_string(),
            found: header.family_guid.clone(),
            expected: expected.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn header(first: u128, last: u128) -> BackupHeader {
        BackupHeader {
            database_name: "mgc".into(),
            backup_type: BackupType::Log,
            first_lsn: Lsn(first),
            last_lsn: Lsn(last),
            family_guid: "FAM".into(),
            binding_id: String::new(),
            backup_start: Utc.timestamp_opt(1_000 + first as i64, 0).unwrap(),
            backup_finish: Utc.timestamp_opt(1_000 + last as i64, 0).unwrap(),
            database_backup_lsn: Lsn(50),
            first_recovery_fork: Some("FORK".into()),
            recovery_fork: Some("FORK".into()),
            backup_size: 0,
        }
    }

    /// A chain known only by its family.
    fn family(family: &str) -> ChainIdentity {
        ChainIdentity {
            family: Some(family.into()),
            ..ChainIdentity::default()
        }
    }

    /// The chain of `header`'s database, on fork `FORK`, based on the full backup at 50.
    fn chain() -> ChainIdentity {
        ChainIdentity {
            family: Some("FAM".into()),
            fork: Some("FORK".into()),
            base: Lsn(50),
        }
    }

    /// `log(file, first, last)` with its header changed by `change`.
    fn changed(
        file: &str,
        first: u128,
        last: u128,
        change: impl Fn(&mut BackupHeader),
    ) -> Candidate {
        let mut candidate = log(file, first, last);
        if let Ok(header) = candidate.header.as_mut() {
            change(header);
        }
        candidate
    }

    fn log(file: &str, first: u128, last: u128) -> Candidate {
        Candidate {
            file: file.into(),
            header: Ok(header(first, last)),
        }
    }

    fn files(plan: &RestorePlan) -> Vec<&str> {
        plan.to_restore.iter().map(|b| b.file.as_str()).collect()
    }

    /// How many backups the plan skips as applied, and the newest of them.
    fn applied(plan: &RestorePlan) -> (usize, Option<&str>) {
        (
            plan.already_applied,
            plan.newest_already_applied
                .as_ref()
                .map(|b| b.file.as_str()),
        )
    }

    #[test]
    fn empty_folder_plans_nothing() {
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(500), &[]).unwrap();
        assert_eq!(plan, RestorePlan::default());
        assert_eq!(plan.final_point(Lsn(500)), Lsn(500));
    }

    #[test]
    fn everything_already_applied() {
        let c = [log("a", 100, 200), log("b", 200, 300)];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(300), &c).unwrap();
        assert!(plan.to_restore.is_empty());
        assert_eq!(applied(&plan), (2, Some("b")));
        assert!(plan.gap.is_none());
    }

    #[test]
    fn the_next_file_is_the_one_spanning_the_point() {
        let c = [log("a", 100, 200), log("b", 200, 300), log("c", 300, 400)];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(250), &c).unwrap();
        assert_eq!(applied(&plan), (1, Some("a")));
        assert_eq!(files(&plan), ["b", "c"]);
        assert_eq!(plan.final_point(Lsn(250)), Lsn(400));
    }

    #[test]
    fn a_point_equal_to_first_lsn_restores_that_file() {
        let c = [log("b", 200, 300)];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(200), &c).unwrap();
        assert_eq!(files(&plan), ["b"]);
    }

    #[test]
    fn a_gap_in_the_middle_names_the_missing_range_and_last_good_backup() {
        let c = [log("a", 100, 200), log("b", 200, 300), log("d", 400, 500)];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(150), &c).unwrap();
        assert_eq!(files(&plan), ["a", "b"]);
        let gap = plan.gap.expect("gap");
        assert_eq!((gap.missing_from, gap.missing_to), (Lsn(300), Lsn(400)));
        assert_eq!(gap.last_good.as_ref().map(|b| b.file.as_str()), Some("b"));
        assert_eq!(gap.next_file, "d");
        let text = gap.to_string();
        assert!(text.contains("LSN 300 to 400"), "{text}");
        assert!(text.contains("last good backup b"), "{text}");
    }

    #[test]
    fn a_gap_before_the_first_file_has_no_last_good_backup() {
        let c = [log("d", 400, 500)];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(300), &c).unwrap();
        assert!(plan.to_restore.is_empty());
        let gap = plan.gap.expect("gap");
        assert!(gap.last_good.is_none());
        assert!(gap.to_string().contains("no log backup can be applied"));
    }

    #[test]
    fn file_names_out_of_order_are_ordered_by_lsn() {
        let c = [
            log("z_first", 100, 200),
            log("a_third", 300, 400),
            log("m_second", 200, 300),
        ];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(100), &c).unwrap();
        assert_eq!(files(&plan), ["z_first", "m_second", "a_third"]);
    }

    #[test]
    fn a_duplicate_copy_of_an_applied_range_is_skipped() {
        let c = [
            log("b", 200, 300),
            log("b_copy", 200, 300),
            log("c", 300, 400),
        ];
        let plan = plan_log_restores("mgc", &ChainIdentity::default(), Lsn(200), &c).unwrap();
        assert_eq!(files(&plan), ["b", "c"]);
        assert_eq!(applied(&plan), (1, Some("b_copy")));
    }

    #[test]
    fn a_header_of_another_database_is_refused() {
        let mut other = log("x", 100, 200);
        if let Ok(h) = other.header.as_mut() {
            h.database_name = "mgccomp".into();
        }
        let err =
            plan_log_restores("mgc", &ChainIdentity::default(), Lsn(100), &[other]).unwrap_err();
        assert!(matches!(err, ChainError::WrongDatabase { ref found, .. } if found == "mgccomp"));
        assert!(
            err.to_string()
                .starts_with("x holds a backup of database 'mgccomp'")
        );
    }

    #[test]
    fn a_full_backup_among_the_logs_is_refused() {
        let mut full = log("full.bak", 100, 200);
        if let Ok(h) = full.header.as_mut() {
            h.backup_type = BackupType::from_code(1);
        }
        let err =
            plan_log_restores("mgc", &ChainIdentity::default(), Lsn(100), &[full]).unwrap_err();
        assert_eq!(
            err,
            ChainError::NotALogBackup {
                file: "full.bak".into(),
                found: BackupType::Database
            }
        );
    }

    #[test]
    fn a_damaged_file_is_named() {
        let damaged = Candidate {
            file: "broken.trn".into(),
            header: Err("SQL Server error 3241: media family incorrectly formed".into()),
        };
        let err = plan_log_restores(
            "mgc",
            &ChainIdentity::default(),
            Lsn(100),
            &[log("a", 100, 200), damaged],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("broken.trn cannot be read: SQL Server error 3241")
        );
    }

    #[test]
    fn a_backup_of_another_family_is_refused() {
        let err = plan_log_restores("mgc", &family("OTHER"), Lsn(100), &[log("a", 100, 200)])
            .unwrap_err();
        assert!(matches!(err, ChainError::WrongFamily { .. }));
        let ok = plan_log_restores("mgc", &family("fam"), Lsn(100), &[log("a", 100, 200)]).unwrap();
        assert_eq!(files(&ok), ["a"]);
    }

    #[test]
    fn a_backup_on_another_recovery_fork_is_refused_where_the_chain_needs_it() {
        let forked = changed("b", 200, 300, |h| {
            h.first_recovery_fork = Some("OTHER".into());
            h.recovery_fork = Some("OTHER".into());
        });
        let c = [log("a", 100, 200), forked];
        let err = plan_log_restores("mgc", &chain(), Lsn(100), &c).unwrap_err();
        assert_eq!(
            err,
            ChainError::WrongFork {
                file: "b".into(),
                found: "OTHER".into(),
                expected: "FORK".into()
            }
        );
        assert!(err.to_string().contains("another recovery path"), "{err}");
        // Already held, it does not matter.
        let plan = plan_log_restores("mgc", &chain(), Lsn(300), &c).unwrap();
        assert_eq!(applied(&plan), (2, Some("b")));
    }

    /// A log backup of 200..300 inside which the database was recovered onto fork `NEW`.
    fn forking() -> Candidate {
        changed("b", 200, 300, |h| h.recovery_fork = Some("NEW".into()))
    }

    #[test]
    fn a_backup_that_ends_on_a_new_fork_moves_the_chain_onto_it() {
        let on_new = changed("c", 300, 400, |h| {
            h.first_recovery_fork = Some("NEW".into());
            h.recovery_fork = Some("NEW".into());
        });
        let c = [log("a", 100, 200), forking(), on_new.clone()];
        let plan = plan_log_restores("mgc", &chain(), Lsn(100), &c).unwrap();
        assert_eq!(files(&plan), ["a", "b", "c"]);
        assert_eq!(plan.final_identity(&chain()).fork.as_deref(), Some("NEW"));
        // A backup still on the old fork after that belongs to another path.
        let c = [log("a", 100, 200), forking(), on_new, log("d", 400, 500)];
        let err = plan_log_restores("mgc", &chain(), Lsn(100), &c).unwrap_err();
        assert!(
            matches!(err, ChainError::WrongFork { ref file, .. } if file == "d"),
            "{err}"
        );
    }

    #[test]
    fn a_backup_based_on_an_older_full_backup_than_the_chain_passed_is_refused() {
        let newer_full = changed("b", 200, 300, |h| h.database_backup_lsn = Lsn(250));
        let older_again = changed("c", 300, 400, |h| h.database_backup_lsn = Lsn(50));
        let err = plan_log_restores(
            "mgc",
            &chain(),
            Lsn(200),
            &[newer_full.clone(), older_again],
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChainError::OlderBase {
                file: "c".into(),
                found: Lsn(50),
                base: Lsn(250)
            }
        );
        let based = ChainIdentity {
            base: Lsn(60),
            ..chain()
        };
        let err = plan_log_restores("mgc", &based, Lsn(200), &[log("b", 200, 300)]).unwrap_err();
        assert!(matches!(err, ChainError::OlderBase { .. }), "{err}");
        let plan = plan_log_restores("mgc", &chain(), Lsn(200), &[newer_full]).unwrap();
        assert_eq!(plan.final_identity(&chain()).base, Lsn(250));
    }

    #[test]
    fn a_foreign_file_the_database_already_holds_is_named_not_fatal() {
        let foreign = changed("old", 100, 200, |h| h.family_guid = "OTHER".into());
        let full = changed("full.trn", 50, 150, |h| {
            h.backup_type = BackupType::Database
        });
        let c = [foreign.clone(), full, log("b", 200, 300)];
        let plan = plan_log_restores("mgc", &chain(), Lsn(200), &c).unwrap();
        assert_eq!(files(&plan), ["b"]);
        assert_eq!(applied(&plan), (0, None));
        let ignored: Vec<&str> = plan.ignored.iter().map(ChainError::file).collect();
        assert_eq!(ignored, ["old", "full.trn"]);
        // One the database does not hold yet could matter: refused.
        let err = plan_log_restores("mgc", &chain(), Lsn(150), &[foreign]).unwrap_err();
        assert!(matches!(err, ChainError::WrongFamily { .. }), "{err}");
    }

    #[test]
    fn an_unreadable_file_or_one_of_another_database_is_refused_wherever_it_sits() {
        let damaged = Candidate {
            file: "broken.trn".into(),
            header: Err("3203".into()),
        };
        let other = changed("x", 100, 200, |h| h.database_name = "mgccomp".into());
        for bad in [damaged, other] {
            let c = [bad.clone(), log("b", 200, 300)];
            let err = plan_log_restores("mgc", &chain(), Lsn(250), &c).unwrap_err();
            assert_eq!(err.file(), bad.file);
        }
    }

    #[test]
    fn lsn_serializes_as_a_decimal_string() {
        let lsn = Lsn(35_000_000_012_345_600_001);
        let json = serde_json::to_string(&lsn).unwrap();
        assert_eq!(json, "\"35000000012345600001\"");
        assert_eq!(serde_json::from_str::<Lsn>(&json).unwrap(), lsn);
        assert!(serde_json::from_str::<Lsn>("\"12x\"").is_err());
    }
}
