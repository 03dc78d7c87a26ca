//! `pcdr status`: both sites at a glance, as [`pcdr_core::status`] gathers them —
//! which instances answer, the state of the chat and compliance databases, mirroring,
//! log-shipping lag, and the pool state. This file only prints them.

use super::load_topology;
use crate::{exit, render};
use pcdr_core::planes::DatabaseState;
use pcdr_core::status::{LogShippingHealth, Status};
use std::path::Path;
use std::process::ExitCode;

/// Prints the status of both sites.
pub async fn run(topology: &Path, json: bool) -> ExitCode {
    let topology = match load_topology(topology) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let status = match Status::observe(&topology).await {
        Ok(status) => status,
        Err(e) => return exit::report(&e),
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
                "log shipping into the {} site: {} -> {}",
                l.secondary, s.backup_source_directory, s.backup_destination_directory
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
            println!("    health:        {}", health(l.health));
        }
        None => {
            println!("log shipping: configured into neither site (or the instances do not answer)")
        }
    }
    match (&status.pool_state, &status.pool_error) {
        (Some(state), _) => println!("pool state: {state}"),
        (None, Some(error)) => println!("pool state: unknown ({error})"),
        (None, None) => println!("pool state: unknown"),
    }
}

/// The log-shipping verdict in words.
fn health(health: LogShippingHealth) -> String {
    match health {
        LogShippingHealth::Healthy {
            allowed_lag_minutes,
        } => format!("healthy (within {allowed_lag_minutes} min)"),
        LogShippingHealth::Behind {
            allowed_lag_minutes,
        } => format!(
            "BEHIND: the newest restored log backup is older than {allowed_lag_minutes} min \
             (restore threshold plus restore delay); check the copy and restore jobs"
        ),
        LogShippingHealth::Unknown => "unknown (nothing restored yet)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::planes::{DbState, LogShippingSnapshot, Mirroring, MirroringRole, UserAccess};
    use pcdr_core::status::{InstanceStatus, LogShippingStatus};
    use pcdr_core::topology::{RestoreMode, SiteRole};

    fn database(state: DbState, mirroring: Option<Mirroring>) -> DatabaseState {
        DatabaseState {
            state,
            in_standby: false,
            user_access: UserAccess::MultiUser,
            mirroring,
            family_guid: Some("6F9619FF-8B86-D011-B42D-00C04FC964FF".into()),
            database_guid: None,
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
            synchronized: true,
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
            thresholds: None,
        };
        Status {
            instances: vec![primary, backup],
            log_shipping: Some(LogShippingStatus {
                secondary: SiteRole::Backup,
                snapshot: Some(snapshot),
                last_copied_age_minutes: Some(15),
                last_restored_age_minutes: Some(30),
                health: LogShippingHealth::Healthy {
                    allowed_lag_minutes: 45,
                },
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
