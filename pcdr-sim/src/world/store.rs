//! The world file: `DIR/world.sqlite`, one SQLite database (WAL mode, busy timeout)
//! holding the [`WorldState`] as JSON: a root document in the one row of table `world`,
//! and each big collection in a row of table `world_part` (the split is `layout.rs`'s).
//! A file written before the split holds the whole state in the root row and is read as
//! it is; its collections move to their rows on its first change.
//!
//! Every change is a read-modify-write inside `BEGIN IMMEDIATE` that rewrites only the
//! rows whose content changed, and every read takes the root and the parts from one
//! snapshot, so the TDS server, the shell and the CLI (separate processes) each see and
//! make whole changes only.
//!
//! An open store keeps the state it last read or wrote and uses it again for as long as
//! SQLite's `PRAGMA data_version` shows that no other connection, in this process or
//! another, has committed since; then it reads the rows again. A read of an unchanged
//! world therefore costs a clone, not a parse.
//!
//! This module owns the file, the transactions and that cache; it knows nothing of what
//! the state means.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::de::Error as _;

use crate::world::WorldError;
use crate::world::layout::{self, OwnedPart, PartKey};
use crate::world::model::WorldState;

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open world file.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

/// The connection and what it last read or wrote.
#[derive(Debug)]
struct Inner {
    connection: Connection,
    cached: Option<Stored>,
}

/// The state as the rows held it when this connection last read or wrote them.
#[derive(Debug)]
struct Stored {
    /// `PRAGMA data_version` then; it changes when another connection commits.
    version: i64,
    state: WorldState,
    /// The root row's text.
    root: String,
    /// The keys of the `world_part` rows.
    keys: BTreeSet<PartKey>,
}

impl Store {
    /// Opens (creating when absent) the SQLite file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store, WorldError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS world (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS world_part (key TEXT PRIMARY KEY, state TEXT NOT NULL);",
        )?;
        Ok(Store {
            inner: Mutex::new(Inner {
                connection,
                cached: None,
            }),
        })
    }

    /// Whether the file holds a world.
    pub(crate) fn exists(&self) -> Result<bool, WorldError> {
        Ok(self.with_current(|_| ())?.is_some())
    }

    /// Writes `state`, replacing any world in the file.
    pub(crate) fn replace(&self, state: &WorldState) -> Result<(), WorldError> {
        let mut inner = self.lock();
        let Inner { connection, cached } = &mut *inner;
        *cached = None;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = data_version(&transaction)?;
        transaction.execute("DELETE FROM world_part", [])?;
        let mut state = state.clone();
        let (root, keys) = write(&transaction, &mut state, None)?;
        transaction.commit()?;
        *cached = Some(Stored {
            version,
            state,
            root,
            keys,
        });
        Ok(())
    }

    /// The current state.
    pub(crate) fn read(&self) -> Result<WorldState, WorldError> {
        self.with_current(|stored| stored.state.clone())?
            .ok_or(WorldError::NoWorld)
    }

    /// Runs `change` on the current state and stores the result, atomically; when
    /// `change` fails nothing is stored.
    pub(crate) fn update<T, E>(
        &self,
        change: impl FnOnce(&mut WorldState) -> Result<T, E>,
    ) -> Result<Result<T, E>, WorldError> {
        let mut inner = self.lock();
        let Inner { connection, cached } = &mut *inner;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = current(&transaction, cached)?.ok_or(WorldError::NoWorld)?;
        let mut state = before.state.clone();
        let outcome = change(&mut state);
        if outcome.is_ok() {
            let version = before.version;
            let (root, keys) = write(&transaction, &mut state, Some(before))?;
            *cached = None;
            transaction.commit()?;
            *cached = Some(Stored {
                version,
                state,
                root,
                keys,
            });
        }
        Ok(outcome)
    }

    /// Runs `look` on the current state, read in one snapshot; `None` when the file
    /// holds no world.
    fn with_current<T>(&self, look: impl FnOnce(&Stored) -> T) -> Result<Option<T>, WorldError> {
        let mut inner = self.lock();
        let Inner { connection, cached } = &mut *inner;
        let transaction = connection.transaction()?;
        let found = current(&transaction, cached)?.map(look);
        transaction.commit()?;
        Ok(found)
    }

    /// A panic elsewhere cannot leave the connection inside a half-done change (the
    /// transaction rolls back when dropped) nor the cache ahead of the file (it is
    /// replaced only after a commit), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stored state: `cached` while no other connection has committed since it was
/// taken, else read again (and cached). Run inside a transaction.
fn current<'c>(
    connection: &Connection,
    cached: &'c mut Option<Stored>,
) -> Result<Option<&'c Stored>, WorldError> {
    let version = data_version(connection)?;
    if cached.as_ref().is_none_or(|c| c.version != version) {
        *cached = load(connection, version)?;
    }
    Ok(cached.as_ref())
}

fn data_version(connection: &Connection) -> Result<i64, WorldError> {
    Ok(connection.query_row("PRAGMA data_version", [], |row| row.get(0))?)
}

/// Reads the root and every part; `None` when the file holds no world.
fn load(connection: &Connection, version: i64) -> Result<Option<Stored>, WorldError> {
    let root: Option<String> = connection
        .query_row("SELECT state FROM world WHERE id = 1", [], |row| row.get(0))
        .optional()?;
    let Some(root) = root else {
        return Ok(None);
    };
    let mut state: WorldState = serde_json::from_str(&root)?;
    let mut keys = BTreeSet::new();
    let mut statement = connection.prepare("SELECT key, state FROM world_part")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let key_text: String = row.get(0)?;
        let key = PartKey::parse(&key_text)?;
        let part = OwnedPart::parse(&key, &row.get::<_, String>(1)?)?;
        if !layout::put(&mut state, &key, part) {
            let message = format!("the part {key_text} belongs nowhere in the state");
            return Err(serde_json::Error::custom(message).into());
        }
        keys.insert(key);
    }
    Ok(Some(Stored {
        version,
        state,
        root,
        keys,
    }))
}

/// Writes `state` over what the rows hold (`before`, or nothing), rewriting only the
/// rows that differ; returns the root text and the part keys the rows then hold.
fn write(
    connection: &Connection,
    state: &mut WorldState,
    before: Option<&Stored>,
) -> Result<(String, BTreeSet<PartKey>), WorldError> {
    let nothing = BTreeSet::new();
    let old_keys = before.map_or(&nothing, |b| &b.keys);
    let old_parts = before.map(|b| layout::parts(&b.state)).unwrap_or_default();
    let new_parts = layout::parts(state);
    for (key, part) in &new_parts {
        if !old_keys.contains(key) || old_parts.get(key) != Some(part) {
            connection.execute(
                "INSERT OR REPLACE INTO world_part (key, state) VALUES (?1, ?2)",
                [key.text()?, serde_json::to_string(part)?],
            )?;
        }
    }
    for key in old_keys.iter().filter(|k| !new_parts.contains_key(*k)) {
        connection.execute("DELETE FROM world_part WHERE key = ?1", [key.text()?])?;
    }
    let keys = new_parts.into_keys().collect();
    let root = layout::root_text(state)?;
    if before.is_none_or(|b| b.root != root) {
        connection.execute(
            "INSERT OR REPLACE INTO world (id, state) VALUES (1, ?1)",
            [&root],
        )?;
    }
    Ok((root, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup_file::Message;
    use crate::world::model::InstanceId;
    use crate::world::{World, WorldOptions};

    /// A world's file, and two stores opened on it (as two processes would).
    fn two_stores() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        World::create(dir.path(), &WorldOptions::default()).unwrap();
        let path = dir.path().join("world.sqlite");
        (
            dir,
            Store::open(&path).unwrap(),
            Store::open(&path).unwrap(),
        )
    }

    fn messages(state: &WorldState, instance: InstanceId) -> Vec<u64> {
        let db = state.instance(instance).and_then(|i| i.database("mgc"));
        db.map(|d| d.messages.iter().map(|m| m.id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_change_through_one_store_is_seen_by_the_other() {
        let (_dir, a, b) = two_stores();
        let before = a.read().unwrap();
        assert_eq!(b.read().unwrap(), before, "both caches are warm");
        b.update(|s| {
            s.next_message_id += 7;
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            a.read().unwrap().next_message_id,
            before.next_message_id + 7
        );
        a.update(|s| {
            s.instance_mut(InstanceId::Primary)
                .unwrap()
                .database_mut("mgc")
                .unwrap()
                .messages
                .push(Message { id: 999, lsn: 1 });
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        let seen = b.read().unwrap();
        assert_eq!(seen.next_message_id, before.next_message_id + 7);
        assert_eq!(messages(&seen, InstanceId::Primary).last(), Some(&999));
        assert_eq!(seen, a.read().unwrap());
    }

    #[test]
    fn changes_interleaved_through_two_stores_are_all_kept() {
        let (_dir, a, b) = two_stores();
        let start = a.read().unwrap().next_message_id;
        let bump = |store: &Store| {
            for _ in 0..100 {
                store
                    .update(|s| {
                        s.next_message_id += 1;
                        Ok::<(), ()>(())
                    })
                    .unwrap()
                    .unwrap();
                store.read().unwrap();
            }
        };
        std::thread::scope(|scope| {
            scope.spawn(|| bump(&a));
            scope.spawn(|| bump(&b));
        });
        assert_eq!(a.read().unwrap().next_message_id, start + 200);
        assert_eq!(b.read().unwrap().next_message_id, start + 200);
    }

    #[test]
    fn a_failed_change_stores_nothing() {
        let (_dir, a, b) = two_stores();
        let before = a.read().unwrap();
        let failed = a.update(|s| {
            s.next_message_id += 1;
            Err::<(), _>("no")
        });
        assert_eq!(failed.unwrap(), Err("no"));
        assert_eq!(a.read().unwrap(), before);
        assert_eq!(b.read().unwrap(), before);
    }

    #[test]
    fn a_dropped_database_takes_its_row_along() {
        let (dir, a, b) = two_stores();
        assert!(!messages(&b.read().unwrap(), InstanceId::Primary).is_empty());
        a.update(|s| {
            let primary = s.instance_mut(InstanceId::Primary).unwrap();
            Ok::<_, ()>(primary.databases.remove("mgc"))
        })
        .unwrap()
        .unwrap();
        assert!(
            b.read().unwrap().instances[&InstanceId::Primary]
                .database("mgc")
                .is_none()
        );
        let fresh = Store::open(&dir.path().join("world.sqlite")).unwrap();
        assert_eq!(fresh.read().unwrap(), a.read().unwrap());
    }

    #[test]
    fn a_file_holding_the_whole_state_in_its_root_is_read_and_then_split() {
        let (dir, a, _) = two_stores();
        let whole = a.read().unwrap();
        let path = dir.path().join("world.sqlite");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch("DELETE FROM world_part; DELETE FROM world;")
            .unwrap();
        connection
            .execute(
                "INSERT INTO world (id, state) VALUES (1, ?1)",
                [serde_json::to_string(&whole).unwrap()],
            )
            .unwrap();
        let old = Store::open(&path).unwrap();
        assert_eq!(old.read().unwrap(), whole);
        old.update(|_| Ok::<(), ()>(())).unwrap().unwrap();
        let parts: i64 = connection
            .query_row("SELECT count(*) FROM world_part", [], |r| r.get(0))
            .unwrap();
        assert!(
            parts >= 2,
            "messages and restore history moved to their rows"
        );
        assert_eq!(Store::open(&path).unwrap().read().unwrap(), whole);
        assert_eq!(a.read().unwrap(), whole);
    }
}
