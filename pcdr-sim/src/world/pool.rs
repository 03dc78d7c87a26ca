//! The world as the emulated Management Shell sees it: [`PoolWorld`] for [`World`]
//! (pool state, active servers, `Install-CsMirrorDatabase` seeding a mirror through the
//! file share, cmdlet faults).

use std::path::{Path, PathBuf};

use crate::backup_file::BackupSet;
use crate::guid::Guid;
use crate::shell::world::{CmdletFault, PoolState, PoolWorld};
use crate::world::create::moves_to;
use crate::world::dbops::{self, Disks, Finish, FullRestore, SqlError, Usage};
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
        file_share: &str,
    ) -> Result<(), String> {
        let database = database_of_type(database_type)?;
        let instance = sql_instance(sql_server_fqdn, instance_name)?;
        let seed = Seed {
            instance,
            database,
            share: Path::new(file_share),
            partner_dir: &self.data_dir(instance.mirror_partner()),
        };
        self.take_seeding_time(&seed)?;
        self.try_update(|state| {
            let disks = self.disks(state);
            mirror(state, &disks, &seed)
        })
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

/// What `Install-CsMirrorDatabase` seeds: one database of `instance`, through the
/// file share, onto the mirror instance's data folder (the folder its files are in;
/// `partner_dir`, the world's, when it has none).
struct Seed<'a> {
    instance: InstanceId,
    database: &'static str,
    share: &'a Path,
    partner_dir: &'a Path,
}

impl Seed<'_> {
    /// The seeding backup files on the share: `<db>.bak` and `<db>.trn`. The cmdlet's
    /// file names are not documented; these do not follow log shipping's
    /// `<db>_<timestamp>.trn`, so the log-shipping copy job does not pick the log
    /// backup up, as it does not pick up any other log backup taken outside it.
    fn file(&self, extension: &str) -> String {
        let name = format!("{}.{extension}", self.database);
        self.share.join(name).display().to_string()
    }
}

impl World {
    /// Sleeps for as long as backing the database up and restoring it on the mirror
    /// takes at the world's throughput: seeding a mirror "can take a long time" for
    /// a large database, as it copies the whole database.
    fn take_seeding_time(&self, seed: &Seed<'_>) -> Result<(), String> {
        let state = self.read().map_err(message)?;
        let bytes = state
            .instance(seed.instance)
            .and_then(|i| i.database(seed.database))
            .map_or(0, dbops::backup_bytes);
        if let Some(time) = state.settings.transfer_time(2 * bytes) {
            std::thread::sleep(time);
        }
        Ok(())
    }
}

/// Seeds and starts mirroring of a database as `Install-CsMirrorDatabase` does
/// (<https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase>,
/// "Configure high availability and disaster recovery for Persistent Chat Server",
/// <https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>):
/// a full and a log backup of the principal into the file share, both restored
/// `WITH NORECOVERY` on the mirror instance (replacing the copy there, as
/// `-DropExistingDatabasesOnMirror` does), then mirroring started between them, as
/// "Prepare a Mirror Database for Mirroring" describes
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/prepare-a-mirror-database-for-mirroring-sql-server>).
/// The log backup is a log backup like any other: it ends the principal's log chain
/// where the next log backup starts, so a log-shipping secondary that never restores
/// it meets a gap (4305).
fn mirror(state: &mut WorldState, disks: &Disks, seed: &Seed<'_>) -> Result<(), String> {
    let (instance, database) = (seed.instance, seed.database);
    let partner = instance.mirror_partner();
    let principal = mirrorable(state, instance, database)?;
    if let Some(existing) = &principal.mirroring {
        return match existing.partner == partner.endpoint() {
            true => Ok(()),
            false => Err(format!(
                "Database \"{database}\" is already mirrored to {}.",
                existing.partner
            )),
        };
    }
    let (full, log) = seed_backups(state, disks, seed).map_err(sql_message)?;
    restore_on_mirror(state, disks, seed, (&full, &log)).map_err(sql_message)?;
    let guid = Guid::generate();
    let sides = [
        (instance, MirrorRole::Principal, partner),
        (partner, MirrorRole::Mirror, instance),
    ];
    for (side, role, other) in sides {
        if let Some(db) = state
            .instance_mut(side)
            .and_then(|i| i.database_mut(database))
        {
            db.mirroring = Some(Mirroring {
                guid,
                role,
                partner: other.endpoint(),
            });
        }
    }
    Ok(())
}

/// The full and the log backup of the principal, written to the share.
fn seed_backups(
    state: &mut WorldState,
    disks: &Disks,
    seed: &Seed<'_>,
) -> Result<(BackupSet, BackupSet), SqlError> {
    let now = state.clock;
    let db = state
        .instance_mut(seed.instance)
        .and_then(|i| i.database_mut(seed.database))
        .ok_or_else(|| SqlError::no_database(seed.database))?;
    let full = dbops::take_full_backup(db, seed.instance, now, false);
    let log = dbops::take_log_backup(db, seed.instance, now, false);
    for (set, extension) in [(&full, "bak"), (&log, "trn")] {
        let path = seed.file(extension);
        disks.write(seed.instance, &path, set)?;
        if let Some(instance) = state.instance_mut(seed.instance) {
            instance.msdb.record_backup(&path, &set.header);
        }
    }
    Ok((full, log))
}

/// Both backups restored `WITH NORECOVERY` over the mirror instance's copy, its data
/// file written from the full backup's data pages.
fn restore_on_mirror(
    state: &mut WorldState,
    disks: &Disks,
    seed: &Seed<'_>,
    (full, log): (&BackupSet, &BackupSet),
) -> Result<(), SqlError> {
    let target = state
        .instance_mut(seed.instance.mirror_partner())
        .ok_or_else(|| SqlError::no_database(seed.database))?;
    if let Some(existing) = target.database_mut(seed.database) {
        existing.mirroring = None;
    }
    let folder =
        dbops::data_folder(target).map_or_else(|| seed.partner_dir.to_path_buf(), PathBuf::from);
    let restore = FullRestore {
        replace: true,
        finish: Finish::NoRecovery,
        moves: moves_to(&full.files, &folder),
    };
    let usage = Usage::default();
    dbops::restore_full(
        target,
        seed.database,
        full,
        &seed.file("bak"),
        &restore,
        usage,
    )?;
    dbops::restore_data_file(target, seed.database, disks, &seed.file("bak"))?;
    let copy = target
        .database_mut(seed.database)
        .ok_or_else(|| SqlError::no_database(seed.database))?;
    dbops::restore_log(copy, log, &seed.file("trn"), Finish::NoRecovery, usage)
}

fn sql_message(error: SqlError) -> String {
    format!("Msg {}: {}", error.number, error.message)
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
        let share = world.share_dir().display().to_string();
        let restoring = world.install_mirror("PersistentChat", DAL, PCHAT, &share);
        assert!(restoring.unwrap_err().contains("not online"));
        assert!(world.install_mirror("Chat", DAL, PCHAT, &share).is_err());
        assert!(
            world
                .install_mirror("PersistentChat", "sql.nowhere", PCHAT, &share)
                .is_err()
        );
        world
            .install_mirror("PersistentChatCompliance", DAL, PCHAT, &share)
            .unwrap();
        let state = world.read().unwrap();
        let mirror = state.instance(InstanceId::BackupMirror).unwrap();
        let copy = mirror.database("mgccomp").unwrap();
        assert_eq!(copy.mirroring.as_ref().unwrap().role, MirrorRole::Mirror);
        world.disaster(Site::Backup, false).unwrap();
        let down = world.install_mirror("PersistentChatCompliance", DAL, PCHAT, &share);
        assert!(down.unwrap_err().contains("1418"));
    }

    /// Install-CsMirrorDatabase finds the SQL Server by its FQDN and, without
    /// `-SqlInstanceName`, aims at the default instance
    /// (<https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>),
    /// which no emulated server has.
    #[test]
    fn install_mirror_reaches_only_the_named_instance_by_its_servers_fqdn() {
        let (_dir, world) = world();
        let share = world.share_dir().display().to_string();
        let by_address =
            world.install_mirror("PersistentChatCompliance", "127.0.0.3", PCHAT, &share);
        assert!(by_address.unwrap_err().contains("the server was not found"));
        let default_instance = world.install_mirror("PersistentChatCompliance", DAL, None, &share);
        assert!(
            default_instance
                .unwrap_err()
                .contains("error: 40 - Could not open a connection to SQL Server")
        );
        let other_instance =
            world.install_mirror("PersistentChatCompliance", DAL, Some("RTC"), &share);
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
                &share,
            )
            .unwrap();
    }

    /// Install-CsMirrorDatabase seeds the mirror from a full and a log backup on the
    /// file share
    /// (<https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase>):
    /// the log backup takes its place in the principal's log chain, so the log-shipping
    /// secondary, which never gets it, meets a gap at the next log-shipping backup.
    #[test]
    fn install_mirror_seeds_through_the_share_and_its_log_backup_breaks_log_shipping() {
        let (_dir, world) = world();
        let share = world.share_dir().display().to_string();
        world.tick(15).unwrap();
        world
            .update(|s| {
                s.instance_mut(InstanceId::Primary)
                    .unwrap()
                    .database_mut(CHAT_DB)
                    .unwrap()
                    .mirroring = None
            })
            .unwrap();
        world.traffic(3, false).unwrap();

        let primary = InstanceId::Primary.fqdn();
        world
            .install_mirror("PersistentChat", primary, PCHAT, &share)
            .unwrap();

        for file in ["mgc.bak", "mgc.trn"] {
            assert!(
                world.share_dir().join(file).is_file(),
                "{file} on the share"
            );
        }
        let state = world.read().unwrap();
        let principal = state
            .instance(InstanceId::Primary)
            .unwrap()
            .database(CHAT_DB)
            .unwrap();
        let mirror = state
            .instance(InstanceId::PrimaryMirror)
            .unwrap()
            .database(CHAT_DB)
            .unwrap();
        assert_eq!(mirror.state, crate::world::model::DbState::Restoring);
        assert_eq!(
            mirror.lsn, principal.log_backup_lsn,
            "the mirror is rolled forward through the log backup"
        );
        assert_eq!(mirror.messages, principal.messages);
        assert_eq!(
            principal.mirroring.as_ref().unwrap().guid,
            mirror.mirroring.as_ref().unwrap().guid
        );
        drop(state);
        world.traffic(2, true).unwrap();
        let runs = world.tick(15).unwrap();
        let failed: Vec<_> = runs
            .iter()
            .filter_map(|r| r.outcome.as_ref().err())
            .collect();
        assert!(failed.iter().any(|e| e.contains("too recent")), "{runs:#?}");
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
