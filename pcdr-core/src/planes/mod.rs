//! The three control planes pcdr drives, as async traits.
//!
//! - [`DatabasePlane`]: one SQL Server instance (state, restores, backups, log shipping).
//! - [`FilePlane`]: the log-shipping folders (backup share and copy destination).
//! - [`ChatPoolPlane`]: the Persistent Chat pool, through the Management Shell.
//!
//! The procedures only ever talk to these traits. Real adapters (tiberius, the file
//! system, PowerShell) and the test mocks implement them. Implementations report
//! [`PlaneError`] (module `error`, which knows nothing of steps); the steps add where and
//! why.

mod database;
mod error;
mod files;
mod offline;
mod pool;

pub use database::*;
pub use error::{ConnectFailure, PlaneError, PlaneErrorKind, PlaneResult, SqlServerError};
pub use files::*;
pub use offline::Offline;
pub use pool::*;
