//! The deployment a journal was written against: a journal is evidence of one run
//! against one deployment, never a permission to act on another. The first record of a
//! journal carries a [`Deployment`]; a resume compares it with the topology it is given
//! and refuses, naming what differs, when they are not the same pool, instances and
//! databases.

use crate::procedure::Context;
use crate::topology::{SiteRole, Topology};
use serde::{Deserialize, Serialize};

/// What identifies the deployment a run acts on, and who started the run where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The pool's FQDN.
    pub pool: String,
    /// Each SQL Server instance, as `role: host,port` (or `host\INSTANCE`).
    pub instances: Vec<String>,
    /// The chat and compliance database names.
    pub databases: Vec<String>,
    /// A hash (FNV-1a, 64 bits, hex) of the topology's pool, databases, log shipping and
    /// sites: any change there is another deployment as far as the journal knows.
    pub topology_hash: String,
    /// The host the run was started on.
    pub host: String,
    /// The operating-system user who started it.
    pub user: String,
    /// The backup database's family GUID when the run started, if it could be read
    /// (from msdb's newest restore into it, since SQL Server shows none while it is
    /// RESTORING): a backup database re-seeded from another database is
    /// another deployment, whatever the topology says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_family: Option<String>,
}

impl Deployment {
    /// The deployment `topology` describes, started here by the current user.
    pub fn of(topology: &Topology) -> Self {
        Self {
            pool: topology.pool.fqdn.clone(),
            instances: instances(topology),
            databases: vec![
                topology.databases.chat.clone(),
                topology.databases.compliance.clone(),
            ],
            topology_hash: topology_hash(topology),
            host: env_or(&["COMPUTERNAME", "HOSTNAME"]).unwrap_or_else(host_name_file),
            user: env_or(&["USERNAME", "USER"]).unwrap_or_else(|| "unknown".into()),
            backup_family: None,
        }
    }

    /// The deployment `ctx` acts on, with its backup database's identity as the backup
    /// instance shows it now.
    pub async fn observed(ctx: &Context) -> Self {
        Self {
            backup_family: backup_family(ctx).await,
            ..Self::of(&ctx.topology)
        }
    }

    /// Whether only the backup database's identity is left to compare with `now`: the
    /// names and the topology are the same, and the journal recorded an identity.
    pub fn needs_backup_identity(&self, now: &Deployment) -> bool {
        self.backup_family.is_some() && self.differences(now).is_empty()
    }

    /// What makes `now` another deployment than this one, in words; empty when it is the
    /// same. The host and the user may differ: another operator may resume a run.
    pub fn differences(&self, now: &Deployment) -> Vec<String> {
        let mut differences = self.name_differences(now);
        if differences.is_empty() && self.topology_hash != now.topology_hash {
            differences.push("the topology's log-shipping or site settings".into());
        }
        if let (Some(then), Some(now)) = (&self.backup_family, &now.backup_family)
            && !then.eq_ignore_ascii_case(now)
        {
            differences.push(format!(
                "backup database family {then} (now {now}: the backup database was re-seeded from another database)"
            ));
        }
        differences
    }

    /// What names another deployment in `now` than this one: its pool, instances or
    /// databases, in words; empty when they are the same. The topology's other settings
    /// and the backup database's family are left out.
    pub fn name_differences(&self, now: &Deployment) -> Vec<String> {
        let mut differences = Vec::new();
        let mut compare = |what: &str, then: &str, now: &str| {
            if then != now {
                differences.push(format!("{what} {then} (now {now})"));
            }
        };
        compare("pool", &self.pool, &now.pool);
        compare(
            "instances",
            &self.instances.join(", "),
            &now.instances.join(", "),
        );
        compare(
            "databases",
            &self.databases.join(", "),
            &now.databases.join(", "),
        );
        differences
    }
}

/// The backup chat database's family GUID: the family of the backup set msdb records
/// as restored into it last (`restorehistory`, `backupset`). It is the same through the
/// log restores of a failover and a failback's re-seeding from the same database, and
/// is there while the database is RESTORING (when `sys.database_recovery_status` shows
/// none). `None` when the instance does not tell.
pub async fn backup_family(ctx: &Context) -> Option<String> {
    let restored = ctx
        .sql(SiteRole::Backup)
        .last_restored_backup(ctx.chat_db())
        .await
        .ok()??;
    Some(restored.family_guid)
}

fn instances(topology: &Topology) -> Vec<String> {
    let mut instances = Vec::new();
    for role in [SiteRole::Primary, SiteRole::Backup] {
        let site = topology.site(role);
        instances.push(format!("{role}: {}", site.sql.display_name()));
        if let Some(mirror) = &site.mirror {
            instances.push(format!("{role} mirror: {}", mirror.display_name()));
        }
    }
    instances
}

/// FNV-1a over the JSON of the parts of the topology that name the deployment (not the
/// credentials or the shell, which may change between a run and its resume).
fn topology_hash(topology: &Topology) -> String {
    let parts = (
        &topology.pool,
        &topology.databases,
        &topology.log_shipping,
        &topology.sites,
    );
    let json = serde_json::to_string(&parts).unwrap_or_default();
    let hash = json.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn env_or(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .filter(|value| !value.is_empty())
}

fn host_name_file() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Topology {
        Topology::from_toml_str(include_str!("../../../examples/topology.toml"), None).unwrap()
    }

    #[test]
    fn the_same_topology_is_the_same_deployment_whoever_resumes() {
        let then = Deployment::of(&example());
        let now = Deployment {
            host: "another-host".into(),
            user: "another-admin".into(),
            ..Deployment::of(&example())
        };
        assert!(then.differences(&now).is_empty());
    }

    #[test]
    fn another_pool_instance_or_share_is_another_deployment() {
        let then = Deployment::of(&example());
        let mut topology = example();
        topology.pool.fqdn = "pchat2.contoso.com".into();
        topology.sites.backup.sql.host = "sql-dal2.contoso.com".into();
        let differences = then.differences(&Deployment::of(&topology));
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].contains("pool pchat.contoso.com (now pchat2.contoso.com)"));
        assert!(differences[1].contains("sql-dal2.contoso.com"));
        let mut topology = example();
        topology.log_shipping.backup_share = r"\\fs02\other".into();
        assert_eq!(
            then.differences(&Deployment::of(&topology)),
            ["the topology's log-shipping or site settings"]
        );
    }
}
