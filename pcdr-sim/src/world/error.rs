//! What can go wrong with the world itself, as opposed to a SQL error an instance
//! reports: the world file, the world folder, the stored state, or a request that does
//! not fit the world.

use std::path::PathBuf;

/// What went wrong with the world itself (not a SQL error).
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The world file could not be read or written.
    #[error("world file: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file or folder of the world could not be read or written.
    #[error("world folder: {0}")]
    Io(#[from] std::io::Error),
    /// The state in the world file does not decode.
    #[error("world state: {0}")]
    Json(#[from] serde_json::Error),
    /// The folder holds no world yet.
    #[error("no world here: create one first (pcdr sim serve creates it)")]
    NoWorld,
    /// The folder already holds a world.
    #[error("a world already exists in {0}")]
    Exists(PathBuf),
    /// The world's certificates could not be made or read.
    #[error("world certificates: {0}")]
    Certificates(String),
    /// The request does not fit the world (e.g. traffic while the principal is down).
    #[error("{0}")]
    Refused(String),
}

/// Results of world operations.
pub type WorldResult<T> = Result<T, WorldError>;
