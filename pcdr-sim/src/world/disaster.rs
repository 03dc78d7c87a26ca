//! Disasters and rebuilds: a site's instances going down (with the backup share, when
//! it is lost too), the ground truth of what log shipping promised at that moment, what
//! Topology Builder leaves when the primary site is rebuilt, and what an instance
//! learns of its mirroring partners when it comes back.

use std::path::Path;

use crate::backup_file::BackupSet;
use crate::world::logship::log_files;
use crate::world::model::{CHAT_DB, COMPLIANCE_DB, GroundTruth, InstanceId, Site, WorldState};
use crate::world::{World, WorldError, WorldResult};

impl World {
    /// Marks `instance` down (it refuses connections) or up; an instance that comes
    /// back up reconnects to its mirroring partners.
    pub fn set_instance_down(&self, instance: InstanceId, down: bool) -> WorldResult<()> {
        self.update(|state| {
            if down {
                state.faults.down.insert(instance);
            } else {
                state.faults.down.remove(&instance);
                reconnect(state, instance);
            }
        })
    }

    /// The instances of `site` go down and refuse connections; with `share_lost` the
    /// backup share is gone too (its folder is renamed to `share.lost`, replacing an earlier
    /// lost one). A disaster on
    /// the primary site records the ground truth that `verify` checks: every message in
    /// a log backup that survived (on the share, unless lost, or in the backup site's
    /// copy folder). The primary instance's own copy folder (`DIR/copy-primary`) is on
    /// the lost site and counts for nothing, as the backup site's would if that site
    /// were lost; its files stay where they are, as the backup site's do.
    pub fn disaster(&self, site: Site, share_lost: bool) -> WorldResult<()> {
        if share_lost && self.share_dir().is_dir() {
            let lost = self.dir().join("share.lost");
            if lost.exists() {
                std::fs::remove_dir_all(&lost)?;
            }
            std::fs::rename(self.share_dir(), lost)?;
        }
        let mut folders = vec![self.copy_dir()];
        if !share_lost {
            folders.push(self.share_dir());
        }
        let guaranteed = newest_surviving_message(&folders);
        self.update(|state| {
            for instance in site.instances() {
                state.faults.down.insert(instance);
            }
            if share_lost {
                state.faults.share_unreachable = true;
            }
            if site == Site::Primary && state.ground_truth.is_none() {
                state.ground_truth = Some(ground_truth(state, guaranteed));
            }
        })
    }

    /// What Topology Builder does for a rebuilt `site` (the primary): its instances are
    /// back, with empty `mgc` and `mgccomp` (new family GUIDs) mirrored inside the site,
    /// no log shipping and no readers; a lost share is replaced by an empty one.
    pub fn rebuild(&self, site: Site) -> WorldResult<()> {
        if site != Site::Primary {
            return Err(WorldError::Refused(
                "only the primary site is rebuilt; the backup site keeps running".into(),
            ));
        }
        std::fs::create_dir_all(self.share_dir())?;
        self.try_update(|state| {
            for instance in site.instances() {
                state.faults.down.remove(&instance);
                if let Some(inst) = state.instance_mut(instance) {
                    inst.msdb.clear_log_shipping();
                    inst.readers.clear();
                }
            }
            state.faults.share_unreachable = false;
            let [main, _] = site.instances();
            for name in [CHAT_DB, COMPLIANCE_DB] {
                self.create_mirrored(state, main, name)?;
            }
            Ok::<(), WorldError>(())
        })?
    }
}

/// `instance` reconnects to its mirroring partners: a session its partner ended while
/// it was down (`ALTER DATABASE … SET PARTNER OFF` run on the partner alone) ends here
/// too, as "Remove Database Mirroring (SQL Server)" describes
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/remove-database-mirroring-sql-server>);
/// its database stays as it is (a mirror stays RESTORING).
fn reconnect(state: &mut WorldState, instance: InstanceId) {
    let ended: Vec<String> = state
        .instance(instance)
        .map(|inst| {
            inst.databases
                .values()
                .filter(|db| {
                    db.mirroring.as_ref().is_some_and(|m| {
                        let partner_db = InstanceId::from_endpoint(&m.partner)
                            .and_then(|p| state.instance(p))
                            .and_then(|p| p.database(&db.name));
                        partner_db
                            .and_then(|p| p.mirroring.as_ref())
                            .map(|p| p.guid)
                            != Some(m.guid)
                    })
                })
                .map(|db| db.name.clone())
                .collect()
        })
        .unwrap_or_default();
    for name in ended {
        if let Some(db) = state
            .instance_mut(instance)
            .and_then(|i| i.database_mut(&name))
        {
            db.mirroring = None;
        }
    }
}

fn ground_truth(state: &WorldState, guaranteed: u64) -> GroundTruth {
    GroundTruth {
        guaranteed_through: guaranteed,
        committed_through: state.next_message_id.saturating_sub(1),
    }
}

/// The highest message id in any readable log backup in `folders`.
fn newest_surviving_message(folders: &[std::path::PathBuf]) -> u64 {
    folders
        .iter()
        .flat_map(|dir| {
            log_files(dir, CHAT_DB)
                .unwrap_or_default()
                .into_iter()
                .map(move |name| dir.join(name))
        })
        .filter_map(|path| BackupSet::read(Path::new(&path)).ok())
        .flat_map(|set| set.messages.into_iter().map(|m| m.id))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crate::world::model::{InstanceId, Site};
    use crate::world::{World, WorldOptions};

    #[test]
    fn a_primary_disaster_downs_the_site_and_records_what_the_share_holds() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.traffic(2, false).unwrap();
        world.disaster(Site::Primary, false).unwrap();
        let state = world.read().unwrap();
        assert!(state.faults.down.contains(&InstanceId::Primary));
        assert!(state.faults.down.contains(&InstanceId::PrimaryMirror));
        let truth = state.ground_truth.unwrap();
        assert_eq!(
            (truth.guaranteed_through, truth.committed_through),
            (20, 22)
        );
    }

    #[test]
    fn a_lost_share_guarantees_only_what_was_copied() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.disaster(Site::Primary, true).unwrap();
        let truth = world.read().unwrap().ground_truth.unwrap();
        assert_eq!(truth.guaranteed_through, 15);
        assert!(!world.share_dir().exists());
    }

    #[test]
    fn rebuild_leaves_empty_mirrored_databases_with_new_families() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let old = world.read().unwrap();
        world.disaster(Site::Primary, true).unwrap();
        world.rebuild(Site::Primary).unwrap();
        let state = world.read().unwrap();
        let db = |s: &crate::world::model::WorldState, i| {
            s.instance(i).unwrap().database("mgc").unwrap().clone()
        };
        let rebuilt = db(&state, InstanceId::Primary);
        assert!(rebuilt.messages.is_empty() && rebuilt.mirroring.is_some());
        assert_ne!(
            rebuilt.family_guid,
            db(&old, InstanceId::Primary).family_guid
        );
        assert!(
            state
                .instance(InstanceId::Primary)
                .unwrap()
                .msdb
                .primary_databases
                .is_empty()
        );
        assert!(state.faults.down.is_empty());
        assert!(world.share_dir().is_dir());
    }
}
