//! `RESTORE` and `BACKUP`, following Microsoft's "RESTORE Statements (Transact-SQL)",
//! "RESTORE Statements - Arguments", "RESTORE HEADERONLY", "RESTORE FILELISTONLY",
//! "RESTORE VERIFYONLY" and "BACKUP (Transact-SQL)" pages, for disk devices only:
//!
//! ```text
//! RESTORE DATABASE db [FROM DISK = x [, DISK = x …]] [WITH option, …]
//! RESTORE LOG db FROM DISK = x [, …] [WITH option, …]
//! RESTORE HEADERONLY | FILELISTONLY | VERIFYONLY FROM DISK = x [, …] [WITH option, …]
//! BACKUP DATABASE | LOG db TO DISK = x [, …] [WITH option, …]
//! ```

use super::super::ast::{
    Backup, BackupOption, IntOperand, Operand, Restore, RestoreOption, RestoreTarget,
};
use super::super::lexer::Punct;
use super::{Parser, Result};

/// `RESTORE` options that take no value.
const RESTORE_FLAGS: &[(&str, RestoreOption)] = &[
    ("RECOVERY", RestoreOption::Recovery),
    ("NORECOVERY", RestoreOption::NoRecovery),
    ("REPLACE", RestoreOption::Replace),
    ("RESTART", RestoreOption::Restart),
    ("CHECKSUM", RestoreOption::Checksum),
    ("NO_CHECKSUM", RestoreOption::NoChecksum),
    ("CONTINUE_AFTER_ERROR", RestoreOption::ContinueAfterError),
    ("STOP_ON_ERROR", RestoreOption::StopOnError),
    ("KEEP_REPLICATION", RestoreOption::KeepReplication),
];

/// `BACKUP` options that take no value.
const BACKUP_FLAGS: &[(&str, BackupOption)] = &[
    ("INIT", BackupOption::Init),
    ("NOINIT", BackupOption::NoInit),
    ("FORMAT", BackupOption::Format),
    ("NOFORMAT", BackupOption::NoFormat),
    ("CHECKSUM", BackupOption::Checksum),
    ("NO_CHECKSUM", BackupOption::NoChecksum),
    ("COPY_ONLY", BackupOption::CopyOnly),
    ("COMPRESSION", BackupOption::Compression),
    ("NO_COMPRESSION", BackupOption::NoCompression),
    ("NORECOVERY", BackupOption::NoRecovery),
    ("NO_TRUNCATE", BackupOption::NoTruncate),
    ("SKIP", BackupOption::Skip),
    ("NOSKIP", BackupOption::NoSkip),
];

impl Parser<'_> {
    /// `RESTORE …`.
    pub(super) fn restore(&mut self) -> Result<Restore> {
        self.expect_keyword("RESTORE")?;
        let target = self.restore_target()?;
        let from = if matches!(target, RestoreTarget::Database(_)) && !self.peek_keyword("FROM") {
            Vec::new()
        } else {
            self.expect_keyword("FROM")?;
            self.disks()?
        };
        let options = self.with_options(Self::restore_option)?;
        Ok(Restore {
            target,
            from,
            options,
        })
    }

    fn restore_target(&mut self) -> Result<RestoreTarget> {
        let kinds = [
            "DATABASE",
            "LOG",
            "HEADERONLY",
            "FILELISTONLY",
            "VERIFYONLY",
        ];
        match self.eat_one_of(&kinds) {
            Some("DATABASE") => self.operand().map(RestoreTarget::Database),
            Some("LOG") => self.operand().map(RestoreTarget::Log),
            Some("HEADERONLY") => Ok(RestoreTarget::HeaderOnly),
            Some("FILELISTONLY") => Ok(RestoreTarget::FileListOnly),
            Some("VERIFYONLY") => Ok(RestoreTarget::VerifyOnly),
            _ => Err(self.error()),
        }
    }

    fn restore_option(&mut self) -> Result<RestoreOption> {
        if let Some(flag) = self.eat_flag(RESTORE_FLAGS) {
            return Ok(flag);
        }
        match self.eat_one_of(&["STANDBY", "STATS", "FILE", "MOVE", "STOPAT"]) {
            Some("STANDBY") => self.assigned_operand().map(RestoreOption::Standby),
            Some("STATS") => self.stats().map(RestoreOption::Stats),
            Some("FILE") => {
                self.expect_punct(Punct::Eq)?;
                self.int_operand().map(RestoreOption::File)
            }
            Some("MOVE") => {
                let logical = self.operand()?;
                self.expect_keyword("TO")?;
                let physical = self.operand()?;
                Ok(RestoreOption::Move { logical, physical })
            }
            Some("STOPAT") => self.assigned_operand().map(RestoreOption::StopAt),
            _ => Err(self.error()),
        }
    }

    /// `BACKUP …`.
    pub(super) fn backup(&mut self) -> Result<Backup> {
        self.expect_keyword("BACKUP")?;
        let log = match self.eat_one_of(&["DATABASE", "LOG"]) {
            Some(kind) => kind == "LOG",
            None => return Err(self.error()),
        };
        let database = self.operand()?;
        self.expect_keyword("TO")?;
        let to = self.disks()?;
        let options = self.with_options(Self::backup_option)?;
        Ok(Backup {
            log,
            database,
            to,
            options,
        })
    }

    fn backup_option(&mut self) -> Result<BackupOption> {
        if let Some(flag) = self.eat_flag(BACKUP_FLAGS) {
            return Ok(flag);
        }
        match self.eat_one_of(&["STATS", "NAME", "DESCRIPTION"]) {
            Some("STATS") => self.stats().map(BackupOption::Stats),
            Some("NAME") => self.assigned_operand().map(BackupOption::Name),
            Some("DESCRIPTION") => self.assigned_operand().map(BackupOption::Description),
            _ => Err(self.error()),
        }
    }

    /// `DISK = x [, DISK = x …]`.
    fn disks(&mut self) -> Result<Vec<Operand>> {
        self.comma_list(|p| {
            p.expect_keyword("DISK")?;
            p.assigned_operand()
        })
    }

    /// `= x` after an option name.
    fn assigned_operand(&mut self) -> Result<Operand> {
        self.expect_punct(Punct::Eq)?;
        self.operand()
    }

    /// The optional `= percent` after `STATS`.
    fn stats(&mut self) -> Result<Option<IntOperand>> {
        if self.eat_punct(Punct::Eq) {
            self.int_operand().map(Some)
        } else {
            Ok(None)
        }
    }

    /// `[WITH option, …]`.
    fn with_options<T>(&mut self, option: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        if self.eat_keyword("WITH") {
            self.comma_list(option)
        } else {
            Ok(Vec::new())
        }
    }

    /// Takes the current word if it names one of `flags`, returning its option.
    fn eat_flag<T: Clone>(&mut self, flags: &[(&str, T)]) -> Option<T> {
        let (_, option) = flags.iter().find(|(word, _)| self.peek_keyword(word))?;
        self.pos += 1;
        Some(option.clone())
    }
}
