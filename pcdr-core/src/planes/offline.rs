//! Offline planes: every call answers "unreachable". They let the runbook plan a
//! procedure with no server at hand, showing what it would send and which state it
//! could not observe. [`Planes::offline`] gives a deployment's planes all offline.

use super::{
    ChatPoolPlane, DatabaseFile, DatabasePlane, DatabaseState, FileEntry, FilePlane, FullRestore,
    LogShippingSnapshot, MirrorRequest, PoolState, PrimaryLogShipping, RestoreRecord,
    RestoredBackup, RunLockAttempt, SecondaryLogShipping, SessionId,
};
use crate::error::{PlaneError, PlaneResult};
use crate::log_chain::{BackupHeader, Lsn};
use crate::procedure::Planes;
use crate::topology::{SiteRole, Topology};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A plane that is not connected to anything.
#[derive(Debug, Clone)]
pub struct Offline {
    target: String,
}

impl Offline {
    /// An offline plane standing for `target` (named in its errors).
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
        }
    }

    fn fail<T>(&self) -> PlaneResult<T> {
        Err(PlaneError::Unreachable {
            target: self.target.clone(),
            message: "not connected (offline plan)".into(),
        })
    }
}

impl Planes {
    /// The planes of `topology`, all offline: each names in its errors what it stands
    /// for (an instance, the log-shipping folders, the pool), so a plan shows which
    /// state it could not observe. The primary site's mirror is left out: it is only
    /// probed, and an offline probe tells nothing.
    ///
    /// ```
    /// use pcdr_core::procedure::Planes;
    /// use pcdr_core::topology::Topology;
    /// # fn demo(topology: &Topology) {
    /// let planes = Planes::offline(topology);
    /// # }
    /// ```
    pub fn offline(topology: &Topology) -> Self {
        let sql = |role: SiteRole| Arc::new(Offline::new(topology.site(role).sql.display_name()));
        Self {
            primary: sql(SiteRole::Primary),
            primary_mirror: None,
            backup: sql(SiteRole::Backup),
            files: Arc::new(Offline::new("log-shipping folders")),
            pool: Arc::new(Offline::new(format!("pool {}", topology.pool.fqdn))),
        }
    }
}

#[async_trait]
impl DatabasePlane for Offline {
    async fn database_state(&self, _: &str) -> PlaneResult<Option<DatabaseState>> {
        self.fail()
    }
    async fn redo_start_lsn(&self, _: &str) -> PlaneResult<Option<Lsn>> {
        self.fail()
    }
    async fn log_shipping_snapshot(&self, _: &str) -> PlaneResult<Option<LogShippingSnapshot>> {
        self.fail()
    }
    async fn remove_secondary_log_shipping(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn running_log_shipping_jobs(&self, _: &str) -> PlaneResult<Vec<String>> {
        self.fail()
    }
    async fn stop_job(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn is_log_shipping_primary(&self, _: &str) -> PlaneResult<bool> {
        self.fail()
    }
    async fn is_log_shipping_secondary(&self, _: &str) -> PlaneResult<bool> {
        self.fail()
    }
    async fn backup_header(&self, _: &str) -> PlaneResult<BackupHeader> {
        self.fail()
    }
    async fn restore_log(&self, _: &str, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn recover(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn sessions(&self, _: &str) -> PlaneResult<Vec<SessionId>> {
        self.fail()
    }
    async fn kill_session(&self, _: SessionId) -> PlaneResult<()> {
        self.fail()
    }
    async fn remove_mirroring(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn fail_over_mirroring(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn backup_database(&self, _: &str, _: &str, _: bool) -> PlaneResult<()> {
        self.fail()
    }
    async fn backup_tail_log(&self, _: &str, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn remove_primary_log_shipping(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn log_backups_taken_after(&self, _: &str, _: Lsn) -> PlaneResult<Vec<String>> {
        self.fail()
    }
    async fn verify_backup(&self, _: &str) -> PlaneResult<()> {
        self.fail()
    }
    async fn backup_file_list(&self, _: &str) -> PlaneResult<Vec<DatabaseFile>> {
        self.fail()
    }
    async fn database_files(&self, _: &str) -> PlaneResult<Vec<DatabaseFile>> {
        self.fail()
    }
    async fn restore_database(&self, _: &str, _: &str, _: &FullRestore) -> PlaneResult<()> {
        self.fail()
    }
    async fn setup_log_shipping_primary(&self, _: &PrimaryLogShipping) -> PlaneResult<()> {
        self.fail()
    }
    async fn setup_log_shipping_secondary(&self, _: &SecondaryLogShipping) -> PlaneResult<()> {
        self.fail()
    }
    async fn server_name(&self) -> PlaneResult<String> {
        self.fail()
    }
    async fn server_time(&self) -> PlaneResult<DateTime<Utc>> {
        self.fail()
    }
    async fn last_restore(&self, _: &str) -> PlaneResult<Option<RestoreRecord>> {
        self.fail()
    }
    async fn agent_service_account(&self) -> PlaneResult<Option<String>> {
        self.fail()
    }
    async fn last_restored_backup(&self, _: &str) -> PlaneResult<Option<RestoredBackup>> {
        self.fail()
    }
    async fn restored_from_file(&self, _: &str, _: &str) -> PlaneResult<Option<RestoredBackup>> {
        self.fail()
    }
    async fn take_run_lock(&self, _: &str, _: &str) -> PlaneResult<RunLockAttempt> {
        self.fail()
    }
}

#[async_trait]
impl FilePlane for Offline {
    async fn list_log_backups(&self, _: &str, _: &str) -> PlaneResult<Vec<FileEntry>> {
        self.fail()
    }
    async fn misnamed_log_backups(&self, _: &str, _: &str) -> PlaneResult<Vec<String>> {
        self.fail()
    }
    async fn copy_file(&self, _: &str, _: &str, _: &str) -> PlaneResult<u64> {
        self.fail()
    }
    async fn free_space(&self, _: &str) -> PlaneResult<u64> {
        self.fail()
    }
}

#[async_trait]
impl ChatPoolPlane for Offline {
    async fn pool_state(&self) -> PlaneResult<PoolState> {
        self.fail()
    }
    async fn set_pool_state(&self, _: PoolState) -> PlaneResult<()> {
        self.fail()
    }
    async fn active_servers(&self) -> PlaneResult<Option<Vec<String>>> {
        self.fail()
    }
    async fn set_active_servers(&self, _: &[String]) -> PlaneResult<()> {
        self.fail()
    }
    async fn install_mirror(&self, _: &MirrorRequest) -> PlaneResult<()> {
        self.fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn offline_planes_answer_unreachable_naming_what_they_stand_for() {
        let text = include_str!("../../../examples/topology.toml");
        let topology = Topology::from_toml_str(text, None).unwrap();
        let planes = Planes::offline(&topology);
        let backup_name = topology.site(SiteRole::Backup).sql.display_name();
        let backup = planes.backup.server_name().await.unwrap_err();
        assert!(
            matches!(&backup, PlaneError::Unreachable { target, .. } if *target == backup_name),
            "{backup}"
        );
        let pool = planes.pool.pool_state().await.unwrap_err();
        assert!(
            matches!(&pool, PlaneError::Unreachable { target, .. } if target == "pool pchat.contoso.com"),
            "{pool}"
        );
        assert!(planes.primary_mirror.is_none());
    }
}
