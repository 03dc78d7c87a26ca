//! The world as the emulated Management Shell sees it: [`PoolWorld`] for [`World`]
//! (pool state, active servers, `Install-CsMirrorDatabase`, cmdlet faults).

use crate::shell::world::{CmdletFault, PoolState, PoolWorld};
use crate::world::create::mirror_copy;
use crate::world::model::{
    CHAT_DB, COMPLIANCE_DB, InstanceId, MirrorRole, Mirroring, UserAccess, WorldState,
};
use crate::world::topology::INSTANCE_NAME;
use crate::world::{World, WorldError};

fn message(error: WorldError) -> String {
    error.to_string()
}

impl PoolWorld for World {
    fn pool_fqdn(&self) -> String {
        self.read()
            .map(|s| s.pool.fqdn)
            .unwrap_or_else(|_| "pchat.contoso.com".to_owned())
    }

    fn pool_servers(&self) -> Result<Vec<String>, String> {
        let state = self.read().map_err(message)?;
        Ok([state.pool.primary_servers, state.pool.backup_servers].concat())
    }

    fn pool_state(&self) -> Result<PoolState, String> {
        let state = self.read().map_err(message)?;
        Ok(if state.pool.failed_over {
            PoolState::FailedOver
        } else {
            PoolState::Normal
        })
    }

    fn set_pool_state(&self, pool_state: PoolState) -> Result<(), String> {
        self.update(|state| state.pool.failed_over = pool_state == PoolState::FailedOver)
            .map_err(message)
    }

    fn active_servers(&self) -> Result<Vec<String>, String> {
        Ok(self.read().map_err(message)?.pool.active)
    }

    fn set_active_servers(&self, servers: Vec<String>) -> Result<(), String> {
        self.update(|state| state.pool.active = servers)
            .map_err(message)
    }

    fn install_mirror(
        &self,
        database_type: &str,
        sql_server_fqdn: &str,
        instance_name: Option<&str>,
    ) -> Result<(), String> {
        let database = database_of_type(database_type)?;
        let instance = sql_instance(sql_server_fqdn, instance_name)?;
        let dir = self.data_dir(instance.mirror_partner());
        self.try_update(|state| mirror(state, instance, database, &dir))
            .map_err(message)?
    }

    fn cmdlet_fault(&self, cmdlet: &str) -> Option<CmdletFault> {
        let state = self.read().ok()?;
        state
            .faults
            .cmdlets
            .get(&cmdlet.to_ascii_lowercase())
            .cloned()
            .map(CmdletFault::from)
    }
}

/// The instance `Install-CsMirrorDatabase` reaches: the server by its FQDN, then the
/// instance `-SqlInstanceName` names, or the default instance without one
/// (<https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>).
/// Every emulated server has only the named instance [`INSTANCE_NAME`], so a missing or
/// other instance name fails as a connection to an instance that does not exist does:
/// nothing listens for a default instance (error 40), and SQL Server Browser knows no
/// other name (error 26), as
/// <https://learn.microsoft.com/en-us/troubleshoot/sql/database-engine/connect/network-related-or-instance-specific-error-occurred-while-establishing-connection>
/// lists them.
fn sql_instance(sql_server_fqdn: &str, instance_name: Option<&str>) -> Result<InstanceId, String> {
    let instance = InstanceId::from_fqdn(sql_server_fqdn).ok_or_else(|| {
        format!("Cannot connect to SQL Server \"{sql_server_fqdn}\": the server was not found.")
    })?;
    let (target, provider_error) = match instance_name {
        Some(name) if name.eq_ignore_ascii_case(INSTANCE_NAME) => return Ok(instance),
        Some(name) => (
            format!("{sql_server_fqdn}\\{name}"),
            "SQL Network Interfaces, error: 26 - Error Locating Server/Instance Specified",
        ),
        None => (
            sql_server_fqdn.to_owned(),
            "Named Pipes Provider, error: 40 - Could not open a connection to SQL Server",
        ),
    };
    Err(format!(
        "Cannot connect to SQL Server \"{target}\": A network-related or instance-specific \
         error occurred while establishing a connection to SQL Server. The server was not \
         found or was not accessible. Verify that the instance name is correct and that SQL \
         Server is configured to allow remote connections. (provider: {provider_error})"
    ))
}

fn database_of_type(database_type: &str) -> Result<&'static str, String> {
    if database_type.eq_ignore_ascii_case("PersistentChat") {
        Ok(CHAT_DB)
    } else if database_type.eq_ignore_ascii_case("PersistentChatCompliance") {
        Ok(COMPLIANCE_DB)
    } else {
        Err(format!(
            "Cannot bind parameter 'DatabaseType'. \"{database_type}\" is not a Persistent Chat database type."
        ))
    }
}

/// Mirrors `database` of `instance` to its site's mirror instance.
fn mirror(
    state: &mut WorldState,
    instance: InstanceId,
    database: &str,
    partner_dir: &std::path::Path,
) -> Result<(), String> {
    let partner = instance.mirror_partner();
    let mut principal = mirrorable(state, instance, database)?;
    if let Some(existing) = &principal.mirroring {
        return match existing.partner == partner.endpoint() {
            true => Ok(()),
            false => Err(format!(
                "Database \"{database}\" is already mirrored to {}.",
                existing.partner
            )),
        };
    }
    principal.mirroring = Some(Mirroring {
        guid: crate::guid::Guid::generate(),
        role: MirrorRole::Principal,
        partner: partner.endpoint(),
    });
    let copy = mirror_copy(&principal, instance, partner_dir);
    if let Some(inst) = state.instance_mut(partner) {
        let id = inst
            .database(database)
            .map(|d| d.id)
            .unwrap_or(inst.next_database_id);
        inst.next_database_id = inst.next_database_id.max(id + 1);
        inst.databases
            .retain(|_, d| !d.name.eq_ignore_ascii_case(database));
        inst.databases.insert(
            database.to_owned(),
            crate::world::model::Database { id, ..copy },
        );
    }
    if let Some(db) = state
        .instance_mut(instance)
        .and_then(|i| i.database_mut(database))
    {
        db.mirroring = principal.mirroring;
    }
    Ok(())
}

/// The principal database, when both partners are up and it can be mirrored (online,
/// not standby, not single-user).
fn mirrorable(
    state: &WorldState,
    instance: InstanceId,
    database: &str,
) -> Result<crate::world::model::Database, String> {
    for id in [instance, instance.mirror_partner()] {
        if state.faults.down.contains(&id) {
            return Err(format!(
                "The server network address \"{}\" can not be reached or does not exist. (1418)",
                id.endpoint()
            ));
        }
    }
    let principal = state
        .instance(instance)
        .and_then(|i| i.database(database))
        .cloned()
        .ok_or_else(|| {
            format!(
                "Database \"{database}\" does not exist on {}.",
                instance.host()
            )
        })?;
    if !principal.is_recovered() {
        return Err(format!(
            "Database \"{database}\" is not online; it cannot be mirrored."
        ));
    }
    if principal.user_access == UserAccess::SingleUser {
        return Err(format!(
            "Database \"{database}\" database is in single user mode which is incompatible with participating in database mirroring or in availability group. (1488)"
        ));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldOptions;
    use crate::world::faults::StoredCmdletFault;
    use crate::world::model::Site;

    /// The backup site's SQL Server and its instance name, as the cmdlet is given them.
    const DAL: &str = "sql-dal.contoso.test";
    const PCHAT: Option<&str> = Some("PCHAT");

    fn world() -> (tempfile::TempDir, World) {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        (dir, world)
    }

    #[test]
    fn the_pool_state_and_active_servers_round_trip() {
        let (_dir, world) = world();
        assert_eq!(world.pool_state(), Ok(PoolState::Normal));
        assert_eq!(world.pool_servers().unwrap().len(), 4);
        world.set_pool_state(PoolState::FailedOver).unwrap();
        world
            .set_active_servers(vec!["pc3.contoso.com".into()])
            .unwrap();
        assert_eq!(world.pool_state(), Ok(PoolState::FailedOver));
        assert_eq!(world.active_servers().unwrap(), vec!["pc3.contoso.com"]);
    }

    #[test]
    fn install_mirror_needs_a_recovered_multi_user_database_and_a_reachable_mirror() {
        let (_dir, world) = world();
        let restoring = world.install_mirror("PersistentChat", DAL, PCHAT);
        assert!(restoring.unwrap_err().contains("not online"));
        assert!(world.install_mirror("Chat", DAL, PCHAT).is_err());
        assert!(
            world
                .install_mirror("PersistentChat", "sql.nowhere", PCHAT)
                .is_err()
        );
        world
            .install_mirror("PersistentChatCompliance", DAL, PCHAT)
            .unwrap();
        let state = world.read().unwrap();
        let mirror = state.instance(InstanceId::BackupMirror).unwrap();
        let copy = mirror.database("mgccomp").unwrap();
        assert_eq!(copy.mirroring.as_ref().unwrap().role, MirrorRole::Mirror);
        world.disaster(Site::Backup, false).unwrap();
        let down = world.install_mirror("PersistentChatCompliance", DAL, PCHAT);
        assert!(down.unwrap_err().contains("1418"));
    }

    /// Install-CsMirrorDatabase finds the SQL Server by its FQDN and, without
    /// `-SqlInstanceName`, aims at the default instance
    /// (<https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>),
    /// which no emulated server has.
    #[test]
    fn install_mirror_reaches_only_the_named_instance_by_its_servers_fqdn() {
        let (_dir, world) = world();
        let by_address = world.install_mirror("PersistentChatCompliance", "127.0.0.3", PCHAT);
        assert!(by_address.unwrap_err().contains("the server was not found"));
        let default_instance = world.install_mirror("PersistentChatCompliance", DAL, None);
        assert!(
            default_instance
                .unwrap_err()
                .contains("error: 40 - Could not open a connection to SQL Server")
        );
        let other_instance = world.install_mirror("PersistentChatCompliance", DAL, Some("RTC"));
        assert!(
            other_instance
                .unwrap_err()
                .contains("\"sql-dal.contoso.test\\RTC\": A network-related")
        );
        world
            .install_mirror(
                "PersistentChatCompliance",
                "SQL-DAL.contoso.test",
                Some("pchat"),
            )
            .unwrap();
    }

    #[test]
    fn cmdlet_faults_are_found_by_name_in_any_case() {
        let (_dir, world) = world();
        world
            .set_cmdlet_fault("Set-CsPersistentChatState", Some(StoredCmdletFault::Hang))
            .unwrap();
        assert_eq!(
            world.cmdlet_fault("set-cspersistentchatstate"),
            Some(CmdletFault::Hang)
        );
        world
            .set_cmdlet_fault("Set-CsPersistentChatState", None)
            .unwrap();
        assert_eq!(world.cmdlet_fault("Set-CsPersistentChatState"), None);
    }
}
