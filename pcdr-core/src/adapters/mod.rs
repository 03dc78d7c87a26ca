//! The real adapters: SQL Server through tiberius ([`sql`]), the log-shipping folders
//! through the file system ([`files`]), and the chat pool through the Skype for Business
//! Management Shell ([`shell`]).
//!
//! Each implements one control-plane trait of [`planes`](crate::planes) and nothing
//! else: no step logic lives here. [`connect`] builds the planes of a topology.

pub mod files;
pub mod shell;
pub mod sql;

use crate::error::Result;
use crate::procedure::Planes;
use crate::topology::{SiteRole, Topology};
use std::sync::Arc;

/// The real planes of a topology. Nothing connects yet: each SQL Server instance is
/// connected on its first call, so an instance that is down only fails the calls made
/// to it.
pub fn connect(topology: &Topology) -> Result<Planes> {
    let password = topology.sql.password.resolve()?;
    let sql = |endpoint| {
        Arc::new(sql::SqlPlane::new(
            endpoint,
            &topology.sql,
            password.clone(),
        ))
    };
    Ok(Planes {
        primary: sql(&topology.site(SiteRole::Primary).sql),
        primary_mirror: topology
            .site(SiteRole::Primary)
            .mirror
            .as_ref()
            .map(|m| sql(m) as _),
        backup: sql(&topology.site(SiteRole::Backup).sql),
        files: Arc::new(files::FileSystem),
        pool: Arc::new(shell::ManagementShell::new(topology)),
    })
}
