//! pcdr-core: disaster recovery for Skype for Business Server 2015 Persistent Chat.
//!
//! - [`guide`]: the procedure as Microsoft documents it, the pcdr step for each part of
//!   it, and the reasoning behind every check; read it first.
//! - [`topology`]: the deployment (one pool over two sites), loaded from TOML and validated.
//! - [`planes`]: the three control planes as async traits (database, log-shipping files,
//!   chat pool).
//! - [`procedure`]: failover and failback as composable steps that observe, act and verify.
//! - [`runbook`]: plan, journal, resume and report around the procedures.
//! - [`log_chain`]: the LSN rule that decides which log backups to restore.
//! - [`adapters`]: the real planes (tiberius, the file system, the Management Shell).
//! - [`commands`]: the exact T-SQL and cmdlet lines sent, each with the Microsoft page it
//!   follows; [`quote`]: the one place where untrusted text becomes code.
//! - `conformance` (feature `conformance`): one suite of checks per plane, run against
//!   the real adapters on the emulator, the test doubles, and real servers.
//! - [`embed`]: one object per deployment, the API the command line, C and Python wrap;
//!   [`status`]: both sites at a glance.
//! - [`error`]: errors that say what failed, where, and what to do next.
//! - [`schema`]: the version every JSON document pcdr writes carries.

#![warn(missing_docs)]
// Every function fits a screen (the threshold is in the workspace's clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod adapters;
pub mod commands;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod embed;
pub mod error;
pub mod guide;
pub mod log_chain;
pub mod logship;
pub mod planes;
pub mod private_file;
pub mod procedure;
pub mod quote;
pub mod runbook;
pub mod schema;
#[cfg(test)]
#[path = "../tests/support/snapshot.rs"]
mod snapshot;
pub mod status;
pub mod system_folder;
pub mod topology;
#[cfg(windows)]
pub mod windows_acl;

pub use error::{
    ConnectFailure, Error, ErrorKind, PlaneError, PlaneErrorKind, PlaneResult, PreconditionKind,
    Result, SqlServerError,
};
