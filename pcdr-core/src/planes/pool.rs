//! The chat-pool plane: the Persistent Chat pool as the Management Shell shows it.

use crate::error::PlaneResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which databases the pool uses (`Set-CsPersistentChatState -PoolState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolState {
    /// The pool uses its primary databases.
    Normal,
    /// The pool uses the backup databases.
    FailedOver,
}

impl fmt::Display for PoolState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Normal => "Normal",
            Self::FailedOver => "FailedOver",
        })
    }
}

/// A Persistent Chat database kind, as `Install-CsMirrorDatabase -DatabaseType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatDatabase {
    /// The chat database (`mgc`).
    PersistentChat,
    /// The compliance database (`mgccomp`).
    PersistentChatCompliance,
}

impl fmt::Display for ChatDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PersistentChat => "PersistentChat",
            Self::PersistentChatCompliance => "PersistentChatCompliance",
        })
    }
}

/// What `Install-CsMirrorDatabase` needs to mirror one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRequest {
    /// Which database.
    pub database: ChatDatabase,
    /// The instance holding the principal database (`-SqlServerFqdn`).
    pub sql_server_fqdn: String,
    /// Its named instance (`-SqlInstanceName`), if any.
    pub sql_instance: Option<String>,
    /// A share both instances can reach, used to seed the mirror (`-FileShare`).
    pub file_share: String,
}

/// The Persistent Chat pool.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ChatPoolPlane: Send + Sync {
    /// The pool state (`Get-CsPersistentChatState`).
    async fn pool_state(&self) -> PlaneResult<PoolState>;

    /// Sets the pool state (`Set-CsPersistentChatState`).
    async fn set_pool_state(&self, state: PoolState) -> PlaneResult<()>;

    /// The active servers, when the environment can tell. The product has no documented
    /// way to read them back, so `None` means "unknown", not "none".
    async fn active_servers(&self) -> PlaneResult<Option<Vec<String>>>;

    /// Replaces the active servers (`Set-CsPersistentChatActiveServer`); an empty list
    /// clears them (`-ActiveServers $null`).
    async fn set_active_servers(&self, servers: &[String]) -> PlaneResult<()>;

    /// Mirrors a database (`Install-CsMirrorDatabase`).
    async fn install_mirror(&self, request: &MirrorRequest) -> PlaneResult<()>;

    /// The warnings calls that succeeded printed since the last time this was asked
    /// (a cmdlet's `Write-Warning`), oldest first, each returned once. An environment
    /// that never warns keeps the default: none.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}
