//! Both sites at a glance, as every front end shows them: which SQL Server instances
//! answer (mirrors included), the state of the chat and compliance databases on each,
//! log shipping into the backup site with the age of its last copy and restore and
//! whether it keeps up, and the pool state.
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
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Both sites at a glance: what `pcdr status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Every SQL Server instance of the topology, primary site first.
    pub instances: Vec<InstanceStatus>,
    /// Log shipping into the site whose database is the secondary: the backup site's
    /// normally, the primary's after a switchover to the backup site or while an online
    /// failback prepares it; `None` when it cannot be read.
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

/// Log shipping into one site's database, as its instance's msdb records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogShippingStatus {
    /// The site whose database restores the log backups.
    pub secondary: SiteRole,
    /// The secondary's log-shipping setup and progress; `None` when not configured.
    pub snapshot: Option<LogShippingSnapshot>,
    /// Minutes since the backup of the last copied file was taken.
    pub last_copied_age_minutes: Option<i64>,
    /// Minutes since the backup of the last restored file was taken.
    pub last_restored_age_minutes: Option<i64>,
    /// Whether the backup database keeps up with the primary.
    pub health: LogShippingHealth,
}

/// Whether log shipping keeps the backup database within its restore threshold.
///
/// SQL Server's log-shipping monitor raises an alert when a secondary has not been
/// restored for longer than its restore threshold (`@restore_threshold` of
/// `sp_add_log_shipping_secondary_database`, 45 minutes unless configured; Microsoft
/// Learn, <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql>).
/// pcdr measures what an operator needs before a failover, the data the backup database
/// lacks: the age of the newest log backup it holds, on the backup instance's clock,
/// against the threshold plus the configured restore delay (a delayed secondary lags
/// on purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LogShippingHealth {
    /// The newest restored log backup is within the allowed lag.
    Healthy {
        /// The allowed lag: restore threshold plus restore delay, minutes.
        allowed_lag_minutes: i64,
    },
    /// The newest restored log backup is older than the allowed lag.
    Behind {
        /// The allowed lag: restore threshold plus restore delay, minutes.
        allowed_lag_minutes: i64,
    },
    /// Not configured, nothing restored yet, or a file name without a time stamp.
    Unknown,
}

/// The restore threshold of a secondary whose monitor row does not give one: the
/// default of `sp_add_log_shipping_secondary_database`.
pub const DEFAULT_RESTORE_THRESHOLD_MINUTES: i64 = 45;

impl LogShippingHealth {
    /// The verdict for a secondary configured as `snapshot` whose newest restored log
    /// backup is `restored_age_minutes` old.
    pub fn of(snapshot: Option<&LogShippingSnapshot>, restored_age_minutes: Option<i64>) -> Self {
        let (Some(snapshot), Some(age)) = (snapshot, restored_age_minutes) else {
            return Self::Unknown;
        };
        let threshold = snapshot
            .thresholds
            .as_ref()
            .map_or(DEFAULT_RESTORE_THRESHOLD_MINUTES, |t| {
                i64::from(t.restore_threshold_minutes)
            });
        let allowed_lag_minutes = threshold + i64::from(snapshot.restore_delay_minutes);
        if age <= allowed_lag_minutes {
            Self::Healthy {
                allowed_lag_minutes,
            }
        } else {
            Self::Behind {
                allowed_lag_minutes,
            }
        }
    }
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
            log_shipping: log_shipping(planes, &topology.databases.chat).await,
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

/// Log shipping into the backup site's database when it is configured there, else into
/// the primary's when it is configured there, else what the backup instance said.
async fn log_shipping(planes: &Planes, db: &str) -> Option<LogShippingStatus> {
    let configured =
        |status: &Option<LogShippingStatus>| status.as_ref().is_some_and(|s| s.snapshot.is_some());
    let into_backup = log_shipping_into(planes.backup.as_ref(), SiteRole::Backup, db).await;
    if configured(&into_backup) {
        return into_backup;
    }
    let into_primary = log_shipping_into(planes.primary.as_ref(), SiteRole::Primary, db).await;
    match configured(&into_primary) {
        true => into_primary,
        false => into_backup,
    }
}

/// Log shipping into `db` on `site`'s instance (`secondary`), as it records it, on its
/// clock; `None` when the instance does not answer.
pub async fn log_shipping_into(
    secondary: &dyn DatabasePlane,
    site: SiteRole,
    db: &str,
) -> Option<LogShippingStatus> {
    let snapshot = secondary.log_shipping_snapshot(db).await.ok()?;
    let now = backup_clock(secondary).await.naive_utc();
    let age = |file: fn(&LogShippingSnapshot) -> Option<&str>| {
        age_minutes(snapshot.as_ref().and_then(file), db, now)
    };
    let last_restored_age_minutes = age(|s| s.last_restored_file.as_deref());
    Some(LogShippingStatus {
        secondary: site,
        last_copied_age_minutes: age(|s| s.last_copied_file.as_deref()),
        last_restored_age_minutes,
        health: LogShippingHealth::of(snapshot.as_ref(), last_restored_age_minutes),
        snapshot,
    })
}

/// The backup instance's clock in UTC, which dates its log shipping: ages measured on
/// it do not depend on this host's clock. This host's clock when the instance does not
/// say.
async fn backup_clock(backup: &dyn DatabasePlane) -> DateTime<Utc> {
    backup.server_time().await.unwrap_or_else(|_| Utc::now())
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

    fn snapshot(restore_delay_minutes: i32, threshold: Option<i32>) -> LogShippingSnapshot {
        LogShippingSnapshot {
            primary_server: "sql-atl.contoso.com\\PCHAT".into(),
            primary_database: "mgc".into(),
            backup_source_directory: r"\\fs01\pchat-logs".into(),
            backup_destination_directory: r"D:\LogShipping\mgc".into(),
            file_retention_minutes: 4320,
            last_copied_file: None,
            restore_delay_minutes,
            restore_mode: crate::topology::RestoreMode::NoRecovery,
            disconnect_users: true,
            last_restored_file: None,
            thresholds: threshold.map(|restore_threshold_minutes| {
                crate::planes::RestoreThresholds {
                    restore_threshold_minutes,
                    alert_enabled: true,
                    history_retention_minutes: 5760,
                }
            }),
        }
    }

    #[test]
    fn log_shipping_is_behind_past_its_restore_threshold_plus_its_delay() {
        let default = snapshot(0, None);
        let healthy = LogShippingHealth::Healthy {
            allowed_lag_minutes: 45,
        };
        assert_eq!(LogShippingHealth::of(Some(&default), Some(45)), healthy);
        assert_eq!(
            LogShippingHealth::of(Some(&default), Some(46)),
            LogShippingHealth::Behind {
                allowed_lag_minutes: 45
            }
        );
        let delayed = snapshot(60, Some(30));
        assert_eq!(
            LogShippingHealth::of(Some(&delayed), Some(80)),
            LogShippingHealth::Healthy {
                allowed_lag_minutes: 90
            }
        );
        assert_eq!(
            LogShippingHealth::of(Some(&default), None),
            LogShippingHealth::Unknown
        );
        assert_eq!(
            LogShippingHealth::of(None, Some(5)),
            LogShippingHealth::Unknown
        );
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
