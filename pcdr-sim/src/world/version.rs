//! The SQL Server version the emulated instances present, a world setting: what
//! `@@VERSION` and `SERVERPROPERTY` answer, and which version-dependent columns the
//! catalog shows. Owns nothing else; the catalog and expressions ask it.
//!
//! Skype for Business Server 2015 supports SQL Server 2008 R2 (SP2 and later) up to
//! SQL Server 2016 as its back end ("Server requirements for Skype for Business Server
//! 2015", Database software and clustering support:
//! <https://learn.microsoft.com/skypeforbusiness/plan-your-deployment/requirements-for-your-environment/server-requirements>).
//! Build numbers follow "Determine the version, edition, and update level of SQL Server
//! and its components"
//! (<https://learn.microsoft.com/troubleshoot/sql/releases/find-my-sql-version>).

use serde::{Deserialize, Serialize};

/// A SQL Server version an emulated instance can present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlVersion {
    /// SQL Server 2016 SP3 (13.0.6300.2), the default.
    #[default]
    Sql2016,
    /// SQL Server 2008 R2 SP3 (10.50.6000.34), the oldest back end Skype for Business
    /// Server 2015 supports.
    Sql2008R2,
}

impl SqlVersion {
    /// `SERVERPROPERTY('ProductVersion')`: `major.minor.build.revision`
    /// (<https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql>).
    pub fn product_version(self) -> &'static str {
        match self {
            Self::Sql2016 => "13.0.6300.2",
            Self::Sql2008R2 => "10.50.6000.34",
        }
    }

    /// `SERVERPROPERTY('ProductLevel')`: the service pack.
    pub fn product_level(self) -> &'static str {
        "SP3"
    }

    /// `@@VERSION`, as the version's first line reads.
    pub fn version_text(self) -> &'static str {
        match self {
            Self::Sql2016 => {
                "Microsoft SQL Server 2016 (SP3) (KB5003279) - 13.0.6300.2 (X64) (pcdr-sim emulator)"
            }
            Self::Sql2008R2 => {
                "Microsoft SQL Server 2008 R2 (SP3) - 10.50.6000.34 (X64) (pcdr-sim emulator)"
            }
        }
    }

    /// Whether `sys.dm_exec_sessions` has `database_id` (and `authenticating_database_id`,
    /// `open_transaction_count`): "Applies to: SQL Server 2012 (11.x) and later"
    /// (<https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>).
    /// Before that, a query naming it fails with 207.
    pub fn sessions_show_database_id(self) -> bool {
        self != Self::Sql2008R2
    }

    /// Whether the version predates SQL Server 2012: 2008 R2, the only one emulated
    /// that lacks what 2012, 2014 and 2016 added, such as `RESTORE HEADERONLY`'s
    /// `containment` column (2012) and encryption columns (2014).
    pub fn before_2012(self) -> bool {
        self == Self::Sql2008R2
    }

    /// Major, minor and build number, as `RESTORE HEADERONLY`'s `SoftwareVersionMajor`,
    /// `SoftwareVersionMinor` and `SoftwareVersionBuild` give them.
    pub fn software_version(self) -> [i32; 3] {
        match self {
            Self::Sql2016 => [13, 0, 6300],
            Self::Sql2008R2 => [10, 50, 6000],
        }
    }

    /// The internal version of the databases it writes (`RESTORE HEADERONLY`'s
    /// `DatabaseVersion`): 852 for 2016, 661 for 2008 R2.
    pub fn database_version(self) -> i32 {
        match self {
            Self::Sql2016 => 852,
            Self::Sql2008R2 => 661,
        }
    }

    /// The compatibility level of its new databases (`CompatibilityLevel`,
    /// <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-compatibility-level>):
    /// 130 for 2016, 100 for 2008 R2.
    pub fn compatibility_level(self) -> i32 {
        match self {
            Self::Sql2016 => 130,
            Self::Sql2008R2 => 100,
        }
    }

    /// The version a `pcdr sim` option names: `2016` or `2008r2`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "2016" => Some(Self::Sql2016),
            "2008r2" | "2008-r2" => Some(Self::Sql2008R2),
            _ => None,
        }
    }
}
