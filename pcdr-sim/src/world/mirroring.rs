//! Role switching in a database-mirroring session: `ALTER DATABASE … SET PARTNER
//! FAILOVER` as the engine runs it, and the same switch for tests and drills
//! ([`World::fail_over_mirroring`]). It owns the roles and states of the two partners'
//! copies; it does not start or end sessions ([`pool`](super::pool) and the engine's
//! `alter` do).

use crate::world::dbops::SqlError;
use crate::world::model::{CHAT_DB, Database, DbState, InstanceId, MirrorRole, WorldState};
use crate::world::{World, WorldError, WorldResult};

impl World {
    /// Fails the chat database's mirroring session over from `principal` to its
    /// partner, as `ALTER DATABASE [mgc] SET PARTNER FAILOVER` run on `principal` does.
    pub fn fail_over_mirroring(&self, principal: InstanceId) -> WorldResult<()> {
        self.try_update(|state| fail_over(state, principal, CHAT_DB))?
            .map_err(|e| WorldError::Refused(e.message))
    }
}

fn with_db(
    state: &mut WorldState,
    instance: InstanceId,
    name: &str,
    change: impl FnOnce(&mut Database),
) -> Result<(), SqlError> {
    let db = state
        .instance_mut(instance)
        .and_then(|i| i.database_mut(name))
        .ok_or_else(|| SqlError::no_database(name))?;
    change(db);
    Ok(())
}

/// `SET PARTNER FAILOVER`: "Manually fails over the principal server to the mirror
/// server. You can execute SET PARTNER FAILOVER only on the principal server", and only
/// while the session is SYNCHRONIZED ("ALTER DATABASE Database Mirroring
/// (Transact-SQL)",
/// <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>).
/// The roles switch: the mirror database comes online as the principal with the
/// principal's log (mirroring kept them in step), and the former principal becomes the
/// RESTORING mirror. The errors are those of "Database engine events and errors (1000 to
/// 1999)"
/// (<https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors-1000-to-1999>):
/// 1416 not mirrored, 1470 not the principal, 1422 a mirror not caught up (its partner
/// is disconnected).
pub(crate) fn fail_over(
    state: &mut WorldState,
    instance: InstanceId,
    name: &str,
) -> Result<(), SqlError> {
    let principal = state
        .instance(instance)
        .and_then(|i| i.database(name))
        .cloned()
        .ok_or_else(|| SqlError::no_database(name))?;
    let session = principal.mirroring.clone().ok_or_else(|| {
        SqlError::new(
            1416,
            format!("Database \"{name}\" is not configured for database mirroring."),
        )
    })?;
    if session.role != MirrorRole::Principal {
        return Err(SqlError::new(
            1470,
            format!(
                "The alter database for this partner config values may only be initiated on the current principal server for database \"{name}\"."
            ),
        ));
    }
    let partner = InstanceId::from_endpoint(&session.partner)
        .filter(|p| !state.faults.down.contains(p))
        .ok_or_else(|| {
            SqlError::new(
                1422,
                format!("The mirror server instance is not caught up to the recent changes to database \"{name}\". Unable to fail over."),
            )
        })?;
    with_db(state, partner, name, |mirror| {
        become_principal(mirror, &principal)
    })?;
    with_db(state, instance, name, |db| {
        db.state = DbState::Restoring;
        if let Some(m) = db.mirroring.as_mut() {
            m.role = MirrorRole::Mirror;
        }
    })
}

/// The mirror database after a failover: online, the principal's log and data, the
/// session's principal.
fn become_principal(mirror: &mut Database, principal: &Database) {
    mirror.state = DbState::Online;
    mirror.lsn = principal.lsn;
    mirror.log_backup_lsn = principal.log_backup_lsn;
    mirror.database_backup_lsn = principal.database_backup_lsn;
    mirror.messages.clone_from(&principal.messages);
    if let Some(m) = mirror.mirroring.as_mut() {
        m.role = MirrorRole::Principal;
    }
}

#[cfg(test)]
mod tests {
    use crate::world::logship::log_files;
    use crate::world::model::InstanceId;
    use crate::world::{World, WorldOptions};

    /// "Database Mirroring and Log Shipping (SQL Server)"
    /// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>):
    /// with the mirror set up as a log-shipping primary on the same share, log shipping
    /// goes on after a mirroring failover; the new principal's backup job backs up and
    /// the secondary restores what it wrote.
    #[test]
    fn after_a_mirroring_failover_the_mirror_instance_ships_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.tick(15).unwrap();
        world.fail_over_mirroring(InstanceId::Primary).unwrap();
        let before = log_files(&world.share_dir(), "mgc").unwrap();
        let sent = world.traffic(3, false).unwrap().messages;
        let runs = world.tick(15).unwrap();
        let backups = runs
            .iter()
            .filter(|r| r.job.starts_with("LSBackup") && r.outcome.is_ok());
        let took = backups.filter(|r| !r.outcome.as_ref().unwrap().contains("no log backup"));
        let from: Vec<_> = took.map(|r| r.instance).collect();
        assert_eq!(from, vec![InstanceId::PrimaryMirror], "{runs:#?}");
        let after = log_files(&world.share_dir(), "mgc").unwrap();
        assert_eq!(after.len(), before.len() + 1);
        let restored = world.messages(InstanceId::Backup, "mgc").unwrap();
        assert!(sent.iter().all(|m| restored.contains(m)), "{runs:#?}");
    }

    #[test]
    fn a_mirroring_failover_needs_a_connected_principal() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        assert!(
            world
                .fail_over_mirroring(InstanceId::PrimaryMirror)
                .is_err()
        );
        world
            .set_instance_down(InstanceId::PrimaryMirror, true)
            .unwrap();
        assert!(world.fail_over_mirroring(InstanceId::Primary).is_err());
    }
}
