//! Injected faults: what tests and the `sim` CLI can break in the world, and the
//! statement kinds faults are aimed at.
//!
//! Stored in the world file, so a fault set by one process (a test, the CLI) is seen by
//! the TDS server and the shell in others. This module holds the data and matching only;
//! the engine, the log-shipping jobs and the shell act on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::shell::world::CmdletFault;
use crate::world::instance::InstanceId;

/// What kind of statement a fault is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatementKind {
    /// `SELECT`.
    Select,
    /// `RESTORE LOG`.
    RestoreLog,
    /// `RESTORE DATABASE` (from a device, or `WITH RECOVERY` only).
    RestoreDatabase,
    /// `RESTORE HEADERONLY`.
    RestoreHeaderOnly,
    /// `RESTORE FILELISTONLY`.
    RestoreFileListOnly,
    /// `RESTORE VERIFYONLY`.
    RestoreVerifyOnly,
    /// `BACKUP DATABASE`.
    BackupDatabase,
    /// `BACKUP LOG`.
    BackupLog,
    /// `ALTER DATABASE`.
    AlterDatabase,
    /// `KILL`.
    Kill,
    /// `EXEC`.
    Execute,
    /// Anything else (`DECLARE`, `SET`, `USE`, transactions, `WAITFOR`, `PRINT`).
    Other,
}

impl StatementKind {
    /// Every kind, in order.
    pub const ALL: [StatementKind; 12] = [
        StatementKind::Select,
        StatementKind::RestoreLog,
        StatementKind::RestoreDatabase,
        StatementKind::RestoreHeaderOnly,
        StatementKind::RestoreFileListOnly,
        StatementKind::RestoreVerifyOnly,
        StatementKind::BackupDatabase,
        StatementKind::BackupLog,
        StatementKind::AlterDatabase,
        StatementKind::Kill,
        StatementKind::Execute,
        StatementKind::Other,
    ];

    /// The kebab-case name used on the command line (`restore-log`).
    pub fn name(self) -> &'static str {
        match self {
            StatementKind::Select => "select",
            StatementKind::RestoreLog => "restore-log",
            StatementKind::RestoreDatabase => "restore-database",
            StatementKind::RestoreHeaderOnly => "restore-headeronly",
            StatementKind::RestoreFileListOnly => "restore-filelistonly",
            StatementKind::RestoreVerifyOnly => "restore-verifyonly",
            StatementKind::BackupDatabase => "backup-database",
            StatementKind::BackupLog => "backup-log",
            StatementKind::AlterDatabase => "alter-database",
            StatementKind::Kill => "kill",
            StatementKind::Execute => "exec",
            StatementKind::Other => "other",
        }
    }
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StatementKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        StatementKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let names: Vec<&str> = StatementKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown statement kind {text:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Which statements a statement fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementMatch {
    /// Only on this instance; `None` for all.
    pub instance: Option<InstanceId>,
    /// Only statements of this kind; `None` for all.
    pub kind: Option<StatementKind>,
    /// Only the n-th statement the instance receives (1-based, counted since the world
    /// was created); `None` for every matching statement.
    pub nth: Option<u64>,
}

impl StatementMatch {
    /// Whether statement number `count` of `kind` on `instance` matches.
    pub fn matches(&self, instance: InstanceId, kind: StatementKind, count: u64) -> bool {
        self.instance.is_none_or(|i| i == instance)
            && self.kind.is_none_or(|k| k == kind)
            && self.nth.is_none_or(|n| n == count)
    }
}

/// A fault on statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatementFault {
    /// The connection is dropped while the statement runs (no reply).
    Drop(StatementMatch),
    /// The statement fails with this error number (class 16), followed by 3013 for
    /// BACKUP and RESTORE.
    Fail {
        /// Which statements.
        on: StatementMatch,
        /// The error number.
        error: u32,
    },
    /// The statement waits this long before it runs.
    Delay {
        /// Which statements.
        on: StatementMatch,
        /// Milliseconds.
        ms: u64,
    },
}

/// Every fault currently injected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Instances that refuse connections.
    pub down: BTreeSet<InstanceId>,
    /// Faults on statements.
    pub statements: Vec<StatementFault>,
    /// Cmdlet name (lower case) → fault.
    pub cmdlets: BTreeMap<String, StoredCmdletFault>,
    /// The backup share cannot be reached (BACKUP to it and the copy job fail).
    pub share_unreachable: bool,
    /// The copy folder is full (writes into it fail).
    pub copy_folder_full: bool,
}

/// A [`CmdletFault`] in the world file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoredCmdletFault {
    /// The cmdlet fails with this message.
    Fail(String),
    /// The cmdlet never returns.
    Hang,
    /// The cmdlet writes this warning and succeeds.
    Warn(String),
}

impl From<StoredCmdletFault> for CmdletFault {
    fn from(fault: StoredCmdletFault) -> Self {
        match fault {
            StoredCmdletFault::Fail(message) => CmdletFault::Fail(message),
            StoredCmdletFault::Hang => CmdletFault::Hang,
            StoredCmdletFault::Warn(message) => CmdletFault::Warn(message),
        }
    }
}

/// What the statement faults say about one statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StatementVerdict {
    /// Drop the connection.
    pub drop: bool,
    /// Fail with this error.
    pub fail: Option<u32>,
    /// Wait this long first.
    pub delay_ms: u64,
}

impl Faults {
    /// The faults that apply to statement number `count` of `kind` on `instance`.
    pub(crate) fn verdict(
        &self,
        instance: InstanceId,
        kind: StatementKind,
        count: u64,
    ) -> StatementVerdict {
        let mut verdict = StatementVerdict::default();
        for fault in &self.statements {
            match fault {
                StatementFault::Drop(on) if on.matches(instance, kind, count) => {
                    verdict.drop = true
                }
                StatementFault::Fail { on, error } if on.matches(instance, kind, count) => {
                    verdict.fail = verdict.fail.or(Some(*error))
                }
                StatementFault::Delay { on, ms } if on.matches(instance, kind, count) => {
                    verdict.delay_ms += ms
                }
                _ => {}
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_matches_by_instance_kind_and_count() {
        let on = StatementMatch {
            instance: Some(InstanceId::Backup),
            kind: Some(StatementKind::RestoreLog),
            nth: Some(3),
        };
        assert!(on.matches(InstanceId::Backup, StatementKind::RestoreLog, 3));
        assert!(!on.matches(InstanceId::Primary, StatementKind::RestoreLog, 3));
        assert!(!on.matches(InstanceId::Backup, StatementKind::Select, 3));
        assert!(!on.matches(InstanceId::Backup, StatementKind::RestoreLog, 4));
    }

    #[test]
    fn verdicts_combine_every_matching_fault() {
        let any = StatementMatch {
            instance: None,
            kind: Some(StatementKind::Kill),
            nth: None,
        };
        let faults = Faults {
            statements: vec![
                StatementFault::Fail {
                    on: any.clone(),
                    error: 6106,
                },
                StatementFault::Delay { on: any, ms: 5 },
            ],
            ..Faults::default()
        };
        let verdict = faults.verdict(InstanceId::Primary, StatementKind::Kill, 1);
        assert_eq!(verdict.fail, Some(6106));
        assert_eq!(verdict.delay_ms, 5);
        assert!(!verdict.drop);
    }

    #[test]
    fn kinds_parse_from_their_cli_names() {
        for kind in StatementKind::ALL {
            assert_eq!(kind.name().parse(), Ok(kind));
        }
        assert!("restore".parse::<StatementKind>().is_err());
    }
}
