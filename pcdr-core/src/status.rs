//! Both sites at a glance, as every front end shows them: which SQL Server instances
//! answer (mirrors included), the state of the chat and compliance databases on each,
//! log shipping into the backup site with the age of its last copy and restore, and the
//! pool state.
//!
//! This module observes and gathers; it never changes anything, and leaves presenting
//! the [`Status`] (text, JSON) to the front end.
//!
//! ```no_run
//! # async fn demo() -> pcdr_core::Result<()> {
//! use pcdr_core::status::Status;
//! use pcdr_core::topology::Topology;
//! let topology = Topology::load("topology.toml".as_ref())?;
//! let status = Status::observe(&topology).await?;
//! for instance in &status.instances {
//!     println!("{} {}: answering {}", instance.role, instance.instance, instance.answering);
//! }
//! # Ok(())
//! # }
//! ```

use crate::adapters::{self, sql::SqlPlane};
use crate::error::Result;
use crate::logship::backup_stamp;
use crate::planes::{DatabasePlane, DatabaseState, LogShippingSnapshot};
use crate::procedure::Planes;
use crate::schema::Document;
use crate::topology::{SiteRole, Topology};
use chrono::{NaiveDateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Both sites at a glance: what `pcdr status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Every SQL Server instance of the topology, primary site first.
    pub instances: Vec<InstanceStatus>,
    /// Log shipping into the backup instance; `None` when it cannot be read.
    pub log_shipping: Option<LogShippingStatus>,
    /// The pool state, when the Management Shell reported it.
    pub pool_state: Option<String>,
    /// Why the pool state is unknown.
    pub pool_error: Option<String>,
}

/// The JSON shape's version (see [`crate::schema`]).
impl Document for Status {
    const SCHEMA_VERSION: u32 = 1;
}

/// One instance as seen now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceStatus {
    /// The part it plays: `primary`, `primary mirror`, `backup`, `backup mirror`.
    pub role: String,
    /// The instance's name (`host\instance` or `host,port`).
    pub instance: String,
    /// Whether it answered.
    pub answering: bool,
    /// Why it did not.
    pub error: Option<String>,
    /// The chat database's state (`None`: absent, or not answering).
    pub chat: Option<DatabaseState>,
    /// The compliance database's state.
    pub compliance: Option<DatabaseState>,
}

/// Log shipping into the backup instance, as its msdb records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogShippingStatus {
    /// The secondary's log-shipping setup and progress; `None` when not configured.
    pub snapshot: Option<LogShippingSnapshot>,
    /// Minutes since the backup of the last copied file was taken.
    pub last_copied_age_minutes: Option<i64>,
    /// Minutes since the backup of the last restored file was taken.
    pub last_restored_age_minutes: Option<i64>,
}

/// An instance to observe: the part it plays, its name, and the plane that reaches it.
pub struct Probe {
    /// The part it plays ([`InstanceStatus::role`]).
    pub role: String,
    /// Its name.
    pub instance: String,
    /// The plane that reaches it.
    pub plane: Arc<dyn DatabasePlane>,
}

impl Status {
    /// Observes both sites through the real adapters: one connection to each SQL Server
    /// instance of the topology, mirrors included, and the Management Shell. Fails only
    /// when the SQL Server password cannot be read (a missing one is reported rather
    /// than sent as empty); what does not answer is part of the status.
    pub async fn observe(topology: &Topology) -> Result<Self> {
        let password = topology.sql.password.resolve()?;
        let planes = adapters::connect(topology)?;
        let mut probes = Vec::new();
        for role in [SiteRole::Primary, SiteRole::Backup] {
            let site = topology.site(role);
            let mirror = site.mirror.as_ref().map(|m| (format!("{role} mirror"), m));
            for (name, endpoint) in std::iter::once((role.to_string(), &site.sql)).chain(mirror) {
                probes.push(Probe {
                    role: name,
                    instance: endpoint.display_name(),
                    plane: Arc::new(SqlPlane::new(endpoint, &topology.sql, password.clone())),
                });
            }
        }
        Ok(Self::observe_through(topology, &probes, &planes).await)
    }

    /// Observes the given instances, then log shipping and the pool through `planes`
    /// (log shipping as the backup instance records it).
    pub async fn observe_through(topology: &Topology, probes: &[Probe], planes: &Planes) -> Self {
        let mut instances = Vec::with_capacity(probes.len());
        for probe in probes {
            instances.push(instance(topology, probe).await);
        }
        let pool = planes.pool.pool_state().await;
        Self {
            instances,
            log_shipping: log_shipping(topology, planes.backup.as_ref()).await,
            pool_state: pool.as_ref().ok().map(ToString::to_string),
            pool_error: pool.err().map(|e| e.to_string()),
        }
    }
}

async fn instance(topology: &Topology, probe: &Probe) -> InstanceStatus {
    let chat = probe.plane.database_state(&topology.databases.chat).await;
    let compliance = probe
        .plane
        .database_state(&topology.databases.compliance)
        .await;
    InstanceStatus {
        role: probe.role.clone(),
        instance: probe.instance.clone(),
        answering: chat.is_ok(),
        error: chat.as_ref().err().map(ToString::to_string),
        chat: chat.ok().flatten(),
        compliance: compliance.ok().flatten(),
    }
}

/// Log shipping as the backup instance records it.
async fn log_shipping(
    topology: &Topology,
    backup: &dyn DatabasePlane,
) -> Option<LogShippingStatus> {
    let db = &topology.databases.chat;
    let snapshot = backup.log_shipping_snapshot(db).await.ok()?;
    let age = |file: fn(&LogShippingSnapshot) -> Option<&str>| {
        age_minutes(snapshot.as_ref().and_then(file), db, Utc::now().naive_utc())
    };
    Some(LogShippingStatus {
        last_copied_age_minutes: age(|s| s.last_copied_file.as_deref()),
        last_restored_age_minutes: age(|s| s.last_restored_file.as_deref()),
        snapshot,
    })
}

/// Minutes from the time stamped in a log-shipping file name (`mgc_20261127124500.trn`,
/// UTC, as the log-shipping backup job names them) to `now`.
fn age_minutes(file: Option<&str>, database: &str, now: NaiveDateTime) -> Option<i64> {
    let name = file?.rsplit(['\\', '/']).next()?;
    let stamp =
        NaiveDateTime::parse_from_str(backup_stamp(name, database)?, "%Y%m%d%H%M%S").ok()?;
    Some((now - stamp).num_minutes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::Offline;

    fn topology() -> Topology {
        Topology::from_toml_str(include_str!("../../examples/topology.toml"), None).unwrap()
    }

    #[test]
    fn the_age_of_a_log_backup_comes_from_the_stamp_in_its_name() {
        let now = NaiveDateTime::parse_from_str("20261127130000", "%Y%m%d%H%M%S").unwrap();
        let age = |file| age_minutes(Some(file), "mgc", now);
        assert_eq!(age(r"D:\LogShipping\mgc\mgc_20261127124500.trn"), Some(15));
        assert_eq!(age("/share/mgc_20261127123000.trn"), Some(30));
        assert_eq!(age(r"D:\LogShipping\mgc\mgccomp_20261127124500.trn"), None);
        assert_eq!(age(r"D:\LogShipping\mgc\notes.txt"), None);
        assert_eq!(age_minutes(None, "mgc", now), None);
    }

    #[tokio::test]
    async fn a_world_that_does_not_answer_is_a_status_saying_so() {
        let topology = topology();
        let probes: Vec<Probe> = ["primary", "backup"]
            .into_iter()
            .map(|role| Probe {
                role: role.into(),
                instance: format!("sql-{role}"),
                plane: Arc::new(Offline::new(format!("sql-{role}"))),
            })
            .collect();
        let status = Status::observe_through(&topology, &probes, &Planes::offline(&topology)).await;
        let roles: Vec<&str> = status.instances.iter().map(|i| i.role.as_str()).collect();
        assert_eq!(roles, ["primary", "backup"]);
        for instance in &status.instances {
            assert!(!instance.answering);
            assert!(instance.chat.is_none() && instance.compliance.is_none());
            let error = instance.error.as_deref().unwrap_or_default();
            assert!(error.contains(&instance.instance), "{error}");
        }
        assert_eq!(status.log_shipping, None);
        assert_eq!(status.pool_state, None);
        assert!(
            status
                .pool_error
                .is_some_and(|e| e.contains("pool pchat.contoso.com"))
        );
    }
}
