//! What the emulated Management Shell needs from the emulated world: the pool's state,
//! its servers, and database mirroring. The world implements this trait; the shell's
//! cmdlets only go through it.

/// The pool state as `Get-CsPersistentChatState` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// The pool uses its primary databases.
    Normal,
    /// The pool uses its backup databases.
    FailedOver,
}

/// A fault injected into a cmdlet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdletFault {
    /// The cmdlet fails with this message (a terminating error).
    Fail(String),
    /// The cmdlet never returns (the caller's timeout must kill the process).
    Hang,
    /// The cmdlet writes this warning, then runs as usual: what `Write-Warning` does
    /// inside a cmdlet that goes on to succeed.
    Warn(String),
}

/// The emulated world as the shell sees it. Errors are plain messages, reported by the
/// shell as PowerShell errors of the cmdlet that caused them.
pub trait PoolWorld {
    /// The pool's FQDN, which the cmdlets' `-Identity` values name.
    fn pool_fqdn(&self) -> String;
    /// Every chat server of the pool (both sites).
    fn pool_servers(&self) -> Result<Vec<String>, String>;
    /// The pool state.
    fn pool_state(&self) -> Result<PoolState, String>;
    /// Sets the pool state.
    fn set_pool_state(&self, state: PoolState) -> Result<(), String>;
    /// The active servers.
    fn active_servers(&self) -> Result<Vec<String>, String>;
    /// Replaces the active servers (already checked by the shell: pool members, at most 4).
    fn set_active_servers(&self, servers: Vec<String>) -> Result<(), String>;
    /// Sets up mirroring of a Persistent Chat database (`PersistentChat` or
    /// `PersistentChatCompliance`) whose principal is on the instance at `sql_server_fqdn`
    /// (and `instance`, when named), to that instance's mirror in the topology, seeding
    /// the mirror through `file_share`.
    fn install_mirror(
        &self,
        database_type: &str,
        sql_server_fqdn: &str,
        instance: Option<&str>,
        file_share: &str,
    ) -> Result<(), String>;
    /// A fault injected into `cmdlet`, if any (consumed or not, as the world decides).
    fn cmdlet_fault(&self, cmdlet: &str) -> Option<CmdletFault>;
}
