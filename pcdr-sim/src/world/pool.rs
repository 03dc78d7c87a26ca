//! The world as the emulated Management Shell sees it: [`PoolWorld`] for [`World`]
//! (pool state, active servers, `Install-CsMirrorDatabase`, cmdlet faults).

use crate::shell::world::{CmdletFault, PoolState, PoolWorld};
use crate::world::create::mirror_copy;
use crate::world::model::{
    CHAT_DB, COMPLIANCE_DB, InstanceId, MirrorRole, Mirroring, UserAccess, WorldState,
};
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
        _instance: Option<&str>,
    ) -> Result<(), String> {
        let database = database_of_type(database_type)?;
        let instance = InstanceId::from_host(sql_server_fqdn).ok_or_else(|| {
            format!("Cannot connect to SQL Server \"{sql_server_fqdn}\": the server was not found.")
        })?;
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
        let restoring = world.install_mirror("PersistentChat", "127.0.0.3", None);
        assert!(restoring.unwrap_err().contains("not online"));
        assert!(world.install_mirror("Chat", "127.0.0.3", None).is_err());
        assert!(
            world
                .install_mirror("PersistentChat", "sql.nowhere", None)
                .is_err()
        );
        world
            .install_mirror("PersistentChatCompliance", "127.0.0.3", None)
            .unwrap();
        let state = world.read().unwrap();
        let mirror = state.instance(InstanceId::BackupMirror).unwrap();
        let copy = mirror.database("mgccomp").unwrap();
        assert_eq!(copy.mirroring.as_ref().unwrap().role, MirrorRole::Mirror);
        world.disaster(Site::Backup, false).unwrap();
        let down = world.install_mirror("PersistentChatCompliance", "127.0.0.3", None);
        assert!(down.unwrap_err().contains("1418"));
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
