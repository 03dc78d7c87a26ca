//! How the world file splits a [`WorldState`] into rows: the big collections that grow
//! with the world (each database's chat messages, each instance's msdb restore and
//! backup history)
//! get a row each, and one root document holds everything else, so that a change
//! elsewhere (a statement count, a fault, the clock) does not rewrite them.
//!
//! Only non-empty collections have rows: an empty one is simply absent. This module owns
//! the split and the join; `store.rs` owns the rows and the transactions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backup_file::Message;
use crate::world::model::{InstanceId, WorldState};
use crate::world::msdb::{BackupRecord, RestoreHistory};

/// Names a collection kept in a row of its own (stored as JSON in the row's key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PartKey {
    /// The chat messages of the database with map key `database` on `instance`.
    Messages {
        instance: InstanceId,
        database: String,
    },
    /// The msdb restore history of `instance`.
    Restores { instance: InstanceId },
    /// The msdb history of the backups `instance` took.
    Backups { instance: InstanceId },
}

impl PartKey {
    /// The key as stored.
    pub(crate) fn text(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// A stored key.
    pub(crate) fn parse(text: &str) -> serde_json::Result<PartKey> {
        serde_json::from_str(text)
    }
}

/// A collection kept in a row of its own, borrowed from a state.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Part<'a> {
    /// Chat messages.
    Messages(&'a [Message]),
    /// Restore history.
    Restores(&'a [RestoreHistory]),
    /// Backup history.
    Backups(&'a [BackupRecord]),
}

/// A collection kept in a row of its own, moved out of a state.
#[derive(Debug)]
pub(crate) enum OwnedPart {
    /// Chat messages.
    Messages(Vec<Message>),
    /// Restore history.
    Restores(Vec<RestoreHistory>),
    /// Backup history.
    Backups(Vec<BackupRecord>),
}

impl OwnedPart {
    /// The stored text of the part `key`.
    pub(crate) fn parse(key: &PartKey, text: &str) -> serde_json::Result<OwnedPart> {
        Ok(match key {
            PartKey::Messages { .. } => OwnedPart::Messages(serde_json::from_str(text)?),
            PartKey::Restores { .. } => OwnedPart::Restores(serde_json::from_str(text)?),
            PartKey::Backups { .. } => OwnedPart::Backups(serde_json::from_str(text)?),
        })
    }
}

/// The non-empty collections of `state` that have rows of their own.
pub(crate) fn parts(state: &WorldState) -> BTreeMap<PartKey, Part<'_>> {
    let mut parts = BTreeMap::new();
    for (&instance, i) in &state.instances {
        for (database, db) in &i.databases {
            if !db.messages.is_empty() {
                let key = PartKey::Messages {
                    instance,
                    database: database.clone(),
                };
                parts.insert(key, Part::Messages(&db.messages));
            }
        }
        if !i.msdb.restores.is_empty() {
            parts.insert(
                PartKey::Restores { instance },
                Part::Restores(&i.msdb.restores),
            );
        }
        if !i.msdb.backups.is_empty() {
            parts.insert(
                PartKey::Backups { instance },
                Part::Backups(&i.msdb.backups),
            );
        }
    }
    parts
}

/// The root document of `state`: `state` without the collections of [`parts`] (moved
/// out while it is written, then put back).
pub(crate) fn root_text(state: &mut WorldState) -> serde_json::Result<String> {
    let taken = take(state);
    let text = serde_json::to_string(state);
    for (key, part) in taken {
        put(state, &key, part);
    }
    text
}

/// Puts `part` in its place in `state`; `false` when that place (the instance or the
/// database) does not exist.
pub(crate) fn put(state: &mut WorldState, key: &PartKey, part: OwnedPart) -> bool {
    match (key, part) {
        (PartKey::Messages { instance, database }, OwnedPart::Messages(messages)) => state
            .instance_mut(*instance)
            .and_then(|i| i.databases.get_mut(database))
            .map(|db| db.messages = messages)
            .is_some(),
        (PartKey::Restores { instance }, OwnedPart::Restores(restores)) => state
            .instance_mut(*instance)
            .map(|i| i.msdb.restores = restores)
            .is_some(),
        (PartKey::Backups { instance }, OwnedPart::Backups(backups)) => state
            .instance_mut(*instance)
            .map(|i| i.msdb.backups = backups)
            .is_some(),
        _ => false,
    }
}

/// Moves every collection of [`parts`] out of `state`, leaving them empty.
fn take(state: &mut WorldState) -> Vec<(PartKey, OwnedPart)> {
    let mut taken = Vec::new();
    for (&instance, i) in &mut state.instances {
        for (database, db) in &mut i.databases {
            let key = PartKey::Messages {
                instance,
                database: database.clone(),
            };
            taken.push((key, OwnedPart::Messages(std::mem::take(&mut db.messages))));
        }
        let restores = std::mem::take(&mut i.msdb.restores);
        taken.push((
            PartKey::Restores { instance },
            OwnedPart::Restores(restores),
        ));
        let backups = std::mem::take(&mut i.msdb.backups);
        taken.push((PartKey::Backups { instance }, OwnedPart::Backups(backups)));
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{World, WorldOptions};

    fn state() -> WorldState {
        let dir = tempfile::tempdir().unwrap();
        World::create(dir.path(), &WorldOptions::default())
            .unwrap()
            .read()
            .unwrap()
    }

    #[test]
    fn the_root_leaves_the_parts_out_and_the_state_unchanged() {
        let mut state = state();
        let before = state.clone();
        let root = root_text(&mut state).unwrap();
        assert_eq!(state, before);
        let mut joined: WorldState = serde_json::from_str(&root).unwrap();
        assert!(parts(&joined).is_empty());
        let keys: Vec<PartKey> = parts(&state).into_keys().collect();
        assert!(
            keys.iter().any(|k| matches!(k, PartKey::Backups { .. })),
            "the world's seed backup is missing from {keys:?}"
        );
        assert!(keys.len() >= 3, "messages, restore and backup history");
        for (key, part) in parts(&state) {
            let text = serde_json::to_string(&part).unwrap();
            assert!(put(
                &mut joined,
                &key,
                OwnedPart::parse(&key, &text).unwrap()
            ));
        }
        assert_eq!(joined, state);
    }

    #[test]
    fn a_part_without_its_place_is_not_put() {
        let mut state = state();
        let key = PartKey::Messages {
            instance: InstanceId::Backup,
            database: "nowhere".into(),
        };
        assert!(!put(&mut state, &key, OwnedPart::Messages(Vec::new())));
        let mismatched = PartKey::Restores {
            instance: InstanceId::Backup,
        };
        assert!(!put(
            &mut state,
            &mismatched,
            OwnedPart::Messages(Vec::new())
        ));
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let key = PartKey::Messages {
            instance: InstanceId::PrimaryMirror,
            database: "a/b\"c".into(),
        };
        assert_eq!(PartKey::parse(&key.text().unwrap()).unwrap(), key);
    }
}
