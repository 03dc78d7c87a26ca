//! Chat traffic: messages committed on the pool's principal chat database (and its
//! mirror, which mirroring keeps in step), each advancing the log; optionally followed
//! by a log backup, as the backup job takes it.

use chrono::Duration;
use serde::Serialize;

use crate::world::dbops;
use crate::world::logship::{self, JobRun};
use crate::world::model::{CHAT_DB, MirrorRole, WorldState};
use crate::world::msdb::JobKind;
use crate::world::{World, WorldError, WorldResult};

/// What a burst of traffic did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// The ids of the messages committed.
    pub messages: Vec<u64>,
    /// The log-backup job runs, when one was asked for.
    pub backups: Vec<JobRun>,
}

impl World {
    /// Commits `messages` chat messages on the principal chat database; with
    /// `log_backup`, advances the clock a minute and runs the principal's backup job.
    pub fn traffic(&self, messages: u32, log_backup: bool) -> WorldResult<Traffic> {
        self.try_update(|state| {
            check_principal(state)?;
            let ids = commit(state, messages);
            let mut backups = Vec::new();
            if log_backup {
                state.clock += Duration::minutes(1);
                let disks = self.disks(state);
                let principal = state.chat_principal();
                backups = logship::run_jobs_of_kind(state, &disks, principal, |k| {
                    matches!(k, JobKind::Backup(_))
                });
            }
            Ok::<_, WorldError>(Traffic {
                messages: ids,
                backups,
            })
        })?
    }
}

fn check_principal(state: &WorldState) -> WorldResult<()> {
    let principal = state.chat_principal();
    if state.faults.down.contains(&principal) {
        return Err(WorldError::Refused(format!(
            "the principal chat instance {} is down",
            principal.name()
        )));
    }
    let writable = state
        .instance(principal)
        .and_then(|i| i.database(CHAT_DB))
        .is_some_and(|db| db.is_recovered());
    if !writable {
        return Err(WorldError::Refused(format!(
            "the chat database on {} is not online and writable",
            principal.name()
        )));
    }
    Ok(())
}

/// Commits `count` messages on the principal chat database and its mirror; returns
/// their ids (none when the database is not writable).
pub(crate) fn commit(state: &mut WorldState, count: u32) -> Vec<u64> {
    let principal = state.chat_principal();
    let mut ids = Vec::new();
    for _ in 0..count {
        let id = state.next_message_id;
        let Some(db) = state
            .instance_mut(principal)
            .and_then(|i| i.database_mut(CHAT_DB))
            .filter(|db| db.is_recovered())
        else {
            break;
        };
        let message = dbops::commit_message(db, id);
        let mirrored = db
            .mirroring
            .as_ref()
            .filter(|m| m.role == MirrorRole::Principal)
            .is_some();
        if mirrored {
            let lsn = db.lsn;
            if let Some(mirror) = state
                .instance_mut(principal.mirror_partner())
                .and_then(|i| i.database_mut(CHAT_DB))
            {
                mirror.messages.push(message);
                mirror.lsn = lsn;
            }
        }
        state.next_message_id += 1;
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use crate::world::model::InstanceId;
    use crate::world::{World, WorldOptions};

    #[test]
    fn traffic_lands_on_the_principal_and_its_mirror_and_a_log_backup_carries_it() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let before = world.messages(InstanceId::Primary, "mgc").unwrap();
        let traffic = world.traffic(3, true).unwrap();
        assert_eq!(traffic.messages.len(), 3);
        let after = world.messages(InstanceId::Primary, "mgc").unwrap();
        assert_eq!(after.len(), before.len() + 3);
        assert_eq!(
            world.messages(InstanceId::PrimaryMirror, "mgc").unwrap(),
            after
        );
        let file = traffic.backups[0].outcome.clone().unwrap();
        assert!(file.contains(".trn"), "{file}");
    }

    #[test]
    fn the_backlog_leaves_the_secondary_behind_by_the_unrestored_logs() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let primary = world.messages(InstanceId::Primary, "mgc").unwrap();
        let backup = world.messages(InstanceId::Backup, "mgc").unwrap();
        assert_eq!(primary, (1..=20).collect::<Vec<u64>>());
        assert_eq!(backup, (1..=10).collect::<Vec<u64>>());
        let share = std::fs::read_dir(world.share_dir()).unwrap().count();
        let copy = std::fs::read_dir(world.copy_dir()).unwrap().count();
        assert_eq!((share, copy), (5, 3));
    }
}
