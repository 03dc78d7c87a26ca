//! `pcdr status`: both sites at a glance — which instances answer, the state of the
//! chat and compliance databases, mirroring, log-shipping lag, and the pool state.

use super::load_topology;
use crate::{exit, render};
use chrono::{NaiveDateTime, Utc};
use pcdr_core::adapters::{self, sql::SqlPlane};
use pcdr_core::logship::backup_stamp;
use pcdr_core::planes::{DatabasePlane, DatabaseState, LogShippingSnapshot};
use pcdr_core::schema::Document;
use pcdr_core::topology::{Secret, SiteRole, SqlEndpoint, Topology};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// One instance as seen now.
#[derive(Debug, Serialize)]
struct InstanceStatus {
    role: String,
    instance: String,
    answering: bool,
    error: Option<String>,
    chat: Option<DatabaseState>,
    compliance: Option<DatabaseState>,
}

/// Log shipping into the backup instance, as its msdb records it.
#[derive(Debug, Serialize)]
struct LogShippingStatus {
    snapshot: Option<LogShippingSnapshot>,
    last_copied_age_minutes: Option<i64>,
    last_restored_age_minutes: Option<i64>,
}

/// Both sites at a glance: what `pcdr status --json` prints.
#[derive(Debug, Serialize)]
struct Status {
    instances: Vec<InstanceStatus>,
    log_shipping: Option<LogShippingStatus>,
    pool_state: Option<String>,
    pool_error: Option<String>,
}

impl Document for Status {
    const SCHEMA_VERSION: u32 = 1;
}

fn endpoints(topology: &Topology) -> Vec<(String, &SqlEndpoint)> {
    let mut list = Vec::new();
    for role in [SiteRole::Primary, SiteRole::Backup] {
        let site = topology.site(role);
        list.push((format!("{role}"), &site.sql));
        if let Some(mirror) = &site.mirror {
            list.push((format!("{role} mirror"), mirror));
        }
    }
    list
}

async fn instance(
    topology: &Topology,
    password: Option<&Secret>,
    role: String,
    endpoint: &SqlEndpoint,
) -> InstanceStatus {
    let plane = SqlPlane::new(endpoint, &topology.sql, password.cloned());
    let chat = plane.database_state(&topology.databases.chat).await;
    let compliance = plane.database_state(&topology.databases.compliance).await;
    InstanceStatus {
        role,
        instance: endpoint.display_name(),
        answering: chat.is_ok(),
        error: chat.as_ref().err().map(ToString::to_string),
        chat: chat.ok().flatten(),
        compliance: compliance.ok().flatten(),
    }
}

/// Minutes since the time stamped in a log-shipping file name.
fn age_minutes(file: Option<&str>, database: &str) -> Option<i64> {
    let name = file?.rsplit(['\\', '/']).next()?;
    let stamp =
        NaiveDateTime::parse_from_str(backup_stamp(name, database)?, "%Y%m%d%H%M%S").ok()?;
    Some((Utc::now().naive_utc() - stamp).num_minutes())
}

/// Log shipping as the backup instance records it (through the connection the planes
/// already opened to it).
async fn log_shipping(
    topology: &Topology,
    backup: &dyn DatabasePlane,
) -> Option<LogShippingStatus> {
    let snapshot = backup
        .log_shipping_snapshot(&topology.databases.chat)
        .await
        .ok()?;
    let db = &topology.databases.chat;
    Some(LogShippingStatus {
        last_copied_age_minutes: age_minutes(
            snapshot
                .as_ref()
                .and_then(|s| s.last_copied_file.as_deref()),
            db,
        ),
        last_restored_age_minutes: age_minutes(
            snapshot
                .as_ref()
                .and_then(|s| s.last_restored_file.as_deref()),
            db,
        ),
        snapshot,
    })
}

/// Prints the status of both sites.
pub async fn run(topology: &Path, json: bool) -> ExitCode {
    let topology = match load_topology(topology) {
        Ok(t) => t,
        Err(code) => return code,
    };
    // The password is read once, and a missing one is reported, not sent as empty.
    let password = match topology.sql.password.resolve() {
        Ok(password) => password,
        Err(e) => return exit::report(&e.into()),
    };
    let planes = match adapters::connect(&topology) {
        Ok(planes) => planes,
        Err(e) => return exit::report(&e),
    };
    let mut instances = Vec::new();
    for (role, endpoint) in endpoints(&topology) {
        instances.push(instance(&topology, password.as_ref(), role, endpoint).await);
    }
    let pool = planes.pool.pool_state().await;
    let status = Status {
        instances,
        log_shipping: log_shipping(&topology, planes.backup.as_ref()).await,
        pool_state: pool.as_ref().ok().map(ToString::to_string),
        pool_error: pool.err().map(|e| e.to_string()),
    };
    if json {
        render::json(&status);
    } else {
        print(&status);
    }
    ExitCode::SUCCESS
}

fn describe(state: Option<&DatabaseState>) -> String {
    match state {
        None => "absent".into(),
        Some(s) => {
            let mut text = format!("{:?}", s.state);
            if s.in_standby {
                text.push_str(" (standby)");
            }
            if let Some(m) = &s.mirroring {
                text.push_str(&format!(", mirroring {:?} with {}", m.role, m.partner));
            }
            text
        }
    }
}

fn print(status: &Status) {
    for i in &status.instances {
        println!(
            "{:<15} {:<32} {}",
            i.role,
            i.instance,
            if i.answering {
                "answering"
            } else {
                "NOT answering"
            }
        );
        match &i.error {
            Some(error) => println!("    {error}"),
            None => {
                println!("    chat:       {}", describe(i.chat.as_ref()));
                println!("    compliance: {}", describe(i.compliance.as_ref()));
            }
        }
    }
    match status
        .log_shipping
        .as_ref()
        .and_then(|l| l.snapshot.as_ref().map(|s| (l, s)))
    {
        Some((l, s)) => {
            let age = |m: Option<i64>| {
                m.map(|m| format!("{m} min ago"))
                    .unwrap_or_else(|| "unknown".into())
            };
            println!(
                "log shipping: {} -> {}",
                s.backup_source_directory, s.backup_destination_directory
            );
            println!(
                "    last copied:   {} ({})",
                s.last_copied_file.as_deref().unwrap_or("none"),
                age(l.last_copied_age_minutes)
            );
            println!(
                "    last restored: {} ({})",
                s.last_restored_file.as_deref().unwrap_or("none"),
                age(l.last_restored_age_minutes)
            );
        }
        None => {
            println!("log shipping: not configured on the backup instance (or it does not answer)")
        }
    }
    match (&status.pool_state, &status.pool_error) {
        (Some(state), _) => println!("pool state: {state}"),
        (None, Some(error)) => println!("pool state: unknown ({error})"),
        (None, None) => println!("pool state: unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::planes::{DbState, Mirroring, MirroringRole, UserAccess};
    use pcdr_core::topology::RestoreMode;

    fn database(state: DbState, mirroring: Option<Mirroring>) -> DatabaseState {
        DatabaseState {
            state,
            in_standby: false,
            user_access: UserAccess::MultiUser,
            mirroring,
            family_guid: Some("6F9619FF-8B86-D011-B42D-00C04FC964FF".into()),
        }
    }

    /// The primary site down, the backup site answering with log shipping behind.
    fn status() -> Status {
        let primary = InstanceStatus {
            role: "primary".into(),
            instance: "sql-atl.contoso.com\\PCHAT".into(),
            answering: false,
            error: Some("sql-atl.contoso.com\\PCHAT is unreachable: no route to host".into()),
            chat: None,
            compliance: None,
        };
        let mirror = Mirroring {
            role: MirroringRole::Principal,
            partner: "TCP://sql-dal-mirror.contoso.com:5022".into(),
        };
        let backup = InstanceStatus {
            role: "backup".into(),
            instance: "sql-dal.contoso.com,1433".into(),
            answering: true,
            error: None,
            chat: Some(database(DbState::Restoring, None)),
            compliance: Some(database(DbState::Online, Some(mirror))),
        };
        let snapshot = LogShippingSnapshot {
            primary_server: "sql-atl.contoso.com\\PCHAT".into(),
            primary_database: "mgc".into(),
            backup_source_directory: "\\\\fs01.contoso.com\\pchat-logs".into(),
            backup_destination_directory: "D:\\LogShipping\\mgc".into(),
            file_retention_minutes: 4320,
            last_copied_file: Some("D:\\LogShipping\\mgc\\mgc_20261127124500.trn".into()),
            restore_delay_minutes: 0,
            restore_mode: RestoreMode::NoRecovery,
            disconnect_users: false,
            last_restored_file: Some("D:\\LogShipping\\mgc\\mgc_20261127123000.trn".into()),
        };
        Status {
            instances: vec![primary, backup],
            log_shipping: Some(LogShippingStatus {
                snapshot: Some(snapshot),
                last_copied_age_minutes: Some(15),
                last_restored_age_minutes: Some(30),
            }),
            pool_state: Some("Normal".into()),
            pool_error: None,
        }
    }

    #[test]
    fn the_status_json_matches_its_snapshot() {
        render::assert_json_snapshot("status", &status());
    }
}
