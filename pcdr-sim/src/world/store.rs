//! The world file: `DIR/world.sqlite`, one SQLite database (WAL mode, busy timeout)
//! holding the whole [`WorldState`] as one JSON document in one row.
//!
//! Every change is a read-modify-write inside `BEGIN IMMEDIATE`, so the TDS server, the
//! shell and the CLI (separate processes) each see and make whole changes only. This
//! module owns the file and the transaction; it knows nothing of what the state means.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::world::WorldError;
use crate::world::model::WorldState;

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open world file.
#[derive(Debug)]
pub(crate) struct Store {
    connection: Mutex<Connection>,
}

impl Store {
    /// Opens (creating when absent) the SQLite file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store, WorldError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute(
            "CREATE TABLE IF NOT EXISTS world (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)",
            [],
        )?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    /// Whether the file holds a world.
    pub(crate) fn exists(&self) -> Result<bool, WorldError> {
        Ok(self.load(&self.lock())?.is_some())
    }

    /// Writes `state`, replacing any world in the file.
    pub(crate) fn replace(&self, state: &WorldState) -> Result<(), WorldError> {
        let text = serde_json::to_string(state)?;
        self.lock().execute(
            "INSERT OR REPLACE INTO world (id, state) VALUES (1, ?1)",
            [text],
        )?;
        Ok(())
    }

    /// The current state.
    pub(crate) fn read(&self) -> Result<WorldState, WorldError> {
        self.load(&self.lock())?.ok_or(WorldError::NoWorld)
    }

    /// Runs `change` on the current state and stores the result, atomically; when
    /// `change` fails nothing is stored.
    pub(crate) fn update<T, E>(
        &self,
        change: impl FnOnce(&mut WorldState) -> Result<T, E>,
    ) -> Result<Result<T, E>, WorldError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut state = self.load(&transaction)?.ok_or(WorldError::NoWorld)?;
        let outcome = change(&mut state);
        if outcome.is_ok() {
            let text = serde_json::to_string(&state)?;
            transaction.execute("UPDATE world SET state = ?1 WHERE id = 1", [text])?;
            transaction.commit()?;
        }
        Ok(outcome)
    }

    fn load(&self, connection: &Connection) -> Result<Option<WorldState>, WorldError> {
        let text: Option<String> = connection
            .query_row("SELECT state FROM world WHERE id = 1", [], |row| row.get(0))
            .optional()?;
        match text {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    /// A panic elsewhere cannot leave the connection inside a half-done change (the
    /// transaction rolls back when dropped), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
