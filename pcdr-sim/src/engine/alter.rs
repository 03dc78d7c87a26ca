//! `ALTER DATABASE name SET …`: removing (`PARTNER OFF`, 1416 when not mirrored),
//! joining (`PARTNER = 'TCP://…'`) and failing over (`PARTNER FAILOVER`) database
//! mirroring, user access (`SINGLE_USER`,
//! `RESTRICTED_USER`, `MULTI_USER`, with `ROLLBACK IMMEDIATE` ending other sessions),
//! `ONLINE`/`OFFLINE` and the recovery model. Not inside a transaction (226).

use crate::engine::exec::{Exec, done};
use crate::engine::failure::Failure;
use crate::tds::StatementResult;
use crate::tsql::ast::{
    AlterDatabase, AlterDatabaseAction, RecoveryModel, Termination, UserAccess,
};
use crate::world::dbops::SqlError;
use crate::world::mirroring;
use crate::world::model::{self, DbState, InstanceId, MirrorRole, Mirroring, WorldState};

/// Runs an `ALTER DATABASE` statement.
pub(crate) fn run(
    exec: &mut Exec<'_>,
    alter: &AlterDatabase,
) -> Result<Vec<StatementResult>, Failure> {
    if exec.in_transaction() {
        return Err(Failure::error(
            226,
            "ALTER DATABASE statement not allowed within multi-statement transaction.",
        ));
    }
    let name = alter.database.clone();
    {
        let state = exec.state()?;
        if exec.instance(&state)?.database(&name).is_none() {
            return Err(Failure::error(
                5011,
                format!("User does not have permission to alter database '{name}', the database does not exist, or the database is not in a state that allows access checks."),
            )
            .alter_failed());
        }
    }
    if let AlterDatabaseAction::UserAccess {
        access,
        termination,
    } = &alter.action
    {
        return user_access(exec, &name, *access, *termination);
    }
    let instance = exec.engine.instance;
    let outcome = exec.engine.world.try_update(|state| match &alter.action {
        AlterDatabaseAction::PartnerOff => partner_off(state, instance, &name),
        AlterDatabaseAction::PartnerFailover => mirroring::fail_over(state, instance, &name),
        AlterDatabaseAction::Partner(endpoint) => partner(state, instance, &name, endpoint),
        AlterDatabaseAction::State { online, .. } => set_state(state, instance, &name, *online),
        AlterDatabaseAction::Recovery(model) => with_db(state, instance, &name, |db| {
            db.recovery_model = match model {
                RecoveryModel::Full => "FULL",
                RecoveryModel::BulkLogged => "BULK_LOGGED",
                RecoveryModel::Simple => "SIMPLE",
            }
            .to_owned();
            Ok(())
        }),
        AlterDatabaseAction::UserAccess { .. } => Ok(()),
    })?;
    outcome.map_err(|e| {
        let failure = Failure::from(e);
        if failure.messages.first().is_some_and(|m| m.number == 1416) {
            failure
        } else {
            failure.alter_failed()
        }
    })?;
    Ok(done())
}

fn with_db(
    state: &mut WorldState,
    instance: InstanceId,
    name: &str,
    change: impl FnOnce(&mut model::Database) -> Result<(), SqlError>,
) -> Result<(), SqlError> {
    let db = state
        .instance_mut(instance)
        .and_then(|i| i.database_mut(name))
        .ok_or_else(|| SqlError::no_database(name))?;
    change(db)
}

fn not_while_restoring(db: &model::Database) -> Result<(), SqlError> {
    if db.state == DbState::Restoring {
        return Err(SqlError::new(
            5052,
            "ALTER DATABASE is not permitted while a database is in the RESTORING state.",
        ));
    }
    Ok(())
}

/// `SET PARTNER OFF`: the session ends on this partner and, when the other partner is
/// connected, on that one too; the mirror stays RESTORING. A partner that is down keeps
/// its metadata of the session until it reconnects
/// ([`World::set_instance_down`](crate::world::World::set_instance_down)), as "Remove
/// Database Mirroring (SQL Server)" describes
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/remove-database-mirroring-sql-server>).
fn partner_off(state: &mut WorldState, instance: InstanceId, name: &str) -> Result<(), SqlError> {
    let mut partner = None;
    with_db(state, instance, name, |db| {
        let mirroring = db.mirroring.take().ok_or_else(|| {
            SqlError::new(
                1416,
                format!(
                    "Database \"{}\" is not configured for database mirroring.",
                    db.name
                ),
            )
        })?;
        partner = InstanceId::from_endpoint(&mirroring.partner);
        Ok(())
    })?;
    let connected = partner.filter(|p| !state.faults.down.contains(p));
    if let Some(db) = connected
        .and_then(|p| state.instance_mut(p))
        .and_then(|i| i.database_mut(name))
    {
        db.mirroring = None;
    }
    Ok(())
}

/// `SET PARTNER = 'TCP://host:port'`: on a RESTORING copy it prepares the mirror; on
/// the online database it starts the session with a prepared mirror of the same family.
fn partner(
    state: &mut WorldState,
    instance: InstanceId,
    name: &str,
    endpoint: &str,
) -> Result<(), SqlError> {
    let unreachable = || {
        SqlError::new(
            1418,
            format!(
                "The server network address \"{endpoint}\" can not be reached or does not exist. Check the network address name and that the ports for the local and remote endpoints are operational."
            ),
        )
    };
    let other = InstanceId::from_endpoint(endpoint)
        .filter(|p| *p != instance && !state.faults.down.contains(p))
        .ok_or_else(unreachable)?;
    let local = state
        .instance(instance)
        .and_then(|i| i.database(name))
        .cloned()
        .ok_or_else(|| SqlError::no_database(name))?;
    if local.state == DbState::Restoring {
        return with_db(state, instance, name, |db| {
            db.mirroring = Some(Mirroring {
                guid: crate::guid::Guid::generate(),
                role: MirrorRole::Mirror,
                partner: endpoint.to_owned(),
            });
            Ok(())
        });
    }
    if local.user_access == model::UserAccess::SingleUser {
        return Err(SqlError::new(
            1488,
            format!(
                "Database \"{name}\" database is in single user mode which is incompatible with participating in database mirroring or in availability group. Set database to multi-user mode, and retry the operation."
            ),
        ));
    }
    let remote = state
        .instance(other)
        .and_then(|i| i.database(name))
        .filter(|d| d.state == DbState::Restoring && d.family_guid == local.family_guid)
        .and_then(|d| d.mirroring.clone())
        .filter(|m| m.role == MirrorRole::Mirror && InstanceId::from_endpoint(&m.partner) == Some(instance))
        .ok_or_else(|| {
            SqlError::new(
                1412,
                format!("The remote copy of database \"{name}\" has not been rolled forward to a point in time that is encompassed in the local copy of the database log."),
            )
        })?;
    with_db(state, instance, name, |db| {
        db.mirroring = Some(Mirroring {
            guid: remote.guid,
            role: MirrorRole::Principal,
            partner: endpoint.to_owned(),
        });
        Ok(())
    })
}

fn set_state(
    state: &mut WorldState,
    instance: InstanceId,
    name: &str,
    online: bool,
) -> Result<(), SqlError> {
    with_db(state, instance, name, |db| {
        not_while_restoring(db)?;
        db.state = if online {
            DbState::Online
        } else {
            DbState::Offline
        };
        Ok(())
    })
}

fn user_access(
    exec: &mut Exec<'_>,
    name: &str,
    access: UserAccess,
    termination: Option<Termination>,
) -> Result<Vec<StatementResult>, Failure> {
    let state = exec.state()?;
    let instance = exec.instance(&state)?;
    let usage = exec.engine.usage(exec.session, instance, name);
    let db = instance
        .database(name)
        .ok_or_else(|| SqlError::no_database(name))?;
    not_while_restoring(db).map_err(|e| Failure::from(e).alter_failed())?;
    let restricting = access != UserAccess::Multi;
    if restricting && usage.others {
        if termination != Some(Termination::RollbackImmediate) {
            return Err(Failure::error(
                5070,
                format!("Database state cannot be changed while other users are using the database '{name}'"),
            )
            .alter_failed());
        }
        end_other_sessions(exec, name)?;
    }
    let instance_id = exec.engine.instance;
    let outcome = exec.engine.world.try_update(|state| {
        with_db(state, instance_id, name, |db| {
            db.user_access = match access {
                UserAccess::Single => model::UserAccess::SingleUser,
                UserAccess::Restricted => model::UserAccess::RestrictedUser,
                UserAccess::Multi => model::UserAccess::MultiUser,
            };
            Ok(())
        })
    })?;
    outcome.map_err(|e| Failure::from(e).alter_failed())?;
    Ok(done())
}

/// `WITH ROLLBACK IMMEDIATE`: every other session using `name` ends.
fn end_other_sessions(exec: &mut Exec<'_>, name: &str) -> Result<(), Failure> {
    let state = exec.state()?;
    let own = exec.session.spid();
    let sessions = exec
        .engine
        .session_rows(exec.session, exec.instance(&state)?);
    for row in sessions
        .iter()
        .filter(|r| r.user && r.spid != own && r.database.eq_ignore_ascii_case(name))
    {
        exec.session.registry().kill(row.spid);
    }
    let instance = exec.engine.instance;
    exec.engine.world.update(|state| {
        if let Some(i) = state.instance_mut(instance) {
            i.readers.retain(|r| !r.database.eq_ignore_ascii_case(name));
        }
    })?;
    Ok(())
}
