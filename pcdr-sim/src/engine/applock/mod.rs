//! Application locks: `sp_getapplock`, `sp_releaseapplock`, `APPLOCK_MODE` and the
//! `APPLICATION` rows of `sys.dm_tran_locks`, held in memory by the instance's engine as
//! SQL Server's lock manager holds them (a restart of the server forgets them all).
//!
//! Followed pages:
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/functions/applock-mode-transact-sql> and
//! <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-tran-locks-transact-sql>.
//!
//! - A lock resource is the current database, the database principal (`public` by
//!   default) and the resource name, compared binary (case-sensitive), cut to 255
//!   characters.
//! - Return codes: 0 granted at once, 1 granted after waiting, -1 timed out, -999 a
//!   parameter error. The emulator has no deadlocks and cancels no request, so -2 and -3
//!   never happen.
//! - `@LockOwner = 'Session'` locks live until `sp_releaseapplock` or the end of the
//!   session (a dropped TCP connection, `KILL`). Locks owned by a transaction are not
//!   emulated: such a request returns -999, as one outside a transaction does on SQL
//!   Server.
//! - A session asking again for a lock it holds is granted it again (the lock manager
//!   counts the requests); each grant needs its own release.
//! - The lock modes are compatible as SQL Server's lock compatibility matrix says (IS
//!   with IS, S, U, IX; S with IS, S, U; U with IS, S; IX with IS, IX; X with none).

use std::sync::{Mutex, MutexGuard, PoisonError};

mod procedures;

pub(crate) use procedures::{call, is_known};

/// How much of the resource name `sys.dm_tran_locks` shows in plain text.
const SHOWN_CHARS: usize = 32;

/// An application lock mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// `Shared` (S).
    Shared,
    /// `Update` (U).
    Update,
    /// `IntentShared` (IS).
    IntentShared,
    /// `IntentExclusive` (IX).
    IntentExclusive,
    /// `Exclusive` (X).
    Exclusive,
}

impl LockMode {
    /// Weakest first.
    const ALL: [LockMode; 5] = [
        Self::IntentShared,
        Self::Shared,
        Self::Update,
        Self::IntentExclusive,
        Self::Exclusive,
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text))
    }

    /// The name `@LockMode` takes and `APPLOCK_MODE` returns.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Shared => "Shared",
            Self::Update => "Update",
            Self::IntentShared => "IntentShared",
            Self::IntentExclusive => "IntentExclusive",
            Self::Exclusive => "Exclusive",
        }
    }

    /// `sys.dm_tran_locks.request_mode`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Shared => "S",
            Self::Update => "U",
            Self::IntentShared => "IS",
            Self::IntentExclusive => "IX",
            Self::Exclusive => "X",
        }
    }

    fn compatible(self, other: LockMode) -> bool {
        use LockMode::{IntentExclusive, IntentShared, Shared, Update};
        matches!(
            (self, other),
            (
                IntentShared,
                IntentShared | Shared | Update | IntentExclusive
            ) | (Shared, IntentShared | Shared | Update)
                | (Update, IntentShared | Shared)
                | (IntentExclusive, IntentShared | IntentExclusive)
        )
    }
}

/// What a lock is on: a database, a database principal and a resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource {
    /// The database the requesting session was in.
    pub database: String,
    /// The database principal scoping the lock (`public` by default).
    pub principal: String,
    /// The resource name, at most 255 characters.
    pub name: String,
}

impl Resource {
    fn same(&self, other: &Resource) -> bool {
        self.database.eq_ignore_ascii_case(&other.database)
            && self.principal.eq_ignore_ascii_case(&other.principal)
            && self.name == other.name
    }

    /// `sys.dm_tran_locks.resource_description` of an application lock:
    /// `<DbPrincipalId>:<up to 32 characters>:(<hash_value>)`.
    pub(crate) fn description(&self) -> String {
        let shown: String = self.name.chars().take(SHOWN_CHARS).collect();
        format!(
            "{}:{shown}:({:08x})",
            principal_id(&self.principal).unwrap_or(0),
            fnv1a(&self.name)
        )
    }
}

/// The principal ids of the principals the emulator knows (`dbo` is 1, `public` 0).
fn principal_id(principal: &str) -> Option<i32> {
    match principal.to_ascii_lowercase().as_str() {
        "public" => Some(0),
        "dbo" => Some(1),
        _ => None,
    }
}

/// A stand-in for the lock manager's hash of the full name (SQL Server's is not
/// documented): 32-bit FNV-1a over the UTF-16 code units.
fn fnv1a(name: &str) -> u32 {
    name.encode_utf16().fold(0x811c_9dc5, |hash, unit| {
        (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193)
    })
}

/// One granted application lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppLock {
    /// The owning session.
    pub spid: u16,
    /// The resource.
    pub resource: Resource,
    /// The mode.
    pub mode: LockMode,
}

/// The application locks of one instance.
#[derive(Debug, Default)]
pub(crate) struct AppLocks(Mutex<Vec<AppLock>>);

impl AppLocks {
    /// A panic cannot leave the list half-changed (every change is one push or removal).
    fn lock(&self) -> MutexGuard<'_, Vec<AppLock>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Grants `request` when no other session holds an incompatible lock on its resource.
    fn try_grant(&self, request: &AppLock) -> bool {
        let mut locks = self.lock();
        let blocked = locks.iter().any(|held| {
            held.spid != request.spid
                && held.resource.same(&request.resource)
                && !held.mode.compatible(request.mode)
        });
        if !blocked {
            locks.push(request.clone());
        }
        !blocked
    }

    /// Releases one grant of `resource` to `spid`; whether there was one.
    fn release(&self, spid: u16, resource: &Resource) -> bool {
        let mut locks = self.lock();
        let position = locks
            .iter()
            .rposition(|held| held.spid == spid && held.resource.same(resource));
        position.map(|i| locks.remove(i)).is_some()
    }

    /// Releases every lock of a session that ended.
    pub(crate) fn release_session(&self, spid: u16) {
        self.lock().retain(|held| held.spid != spid);
    }

    /// Every granted lock.
    pub(crate) fn all(&self) -> Vec<AppLock> {
        self.lock().clone()
    }

    /// The mode `spid` holds on `resource` (the strongest, when it holds several), for
    /// `APPLOCK_MODE`.
    pub(crate) fn mode_of(&self, spid: u16, resource: &Resource) -> Option<LockMode> {
        let locks = self.lock();
        let held: Vec<LockMode> = locks
            .iter()
            .filter(|l| l.spid == spid && l.resource.same(resource))
            .map(|l| l.mode)
            .collect();
        LockMode::ALL
            .into_iter()
            .rev()
            .find(|mode| held.contains(mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compatibility_matrix_is_symmetric_and_exclusive_blocks_everything() {
        for a in LockMode::ALL {
            for b in LockMode::ALL {
                assert_eq!(a.compatible(b), b.compatible(a), "{a:?} {b:?}");
            }
            assert!(!a.compatible(LockMode::Exclusive), "{a:?}");
        }
        assert!(LockMode::Shared.compatible(LockMode::Shared));
        assert!(!LockMode::Update.compatible(LockMode::Update));
    }

    #[test]
    fn the_description_shows_the_principal_32_characters_and_a_hash() {
        let resource = Resource {
            database: "master".into(),
            principal: "public".into(),
            name: "pcdr:pchat-pool.backup.contoso.com".into(),
        };
        let description = resource.description();
        assert!(
            description.starts_with("0:pcdr:pchat-pool.backup.contoso.c:("),
            "{description}"
        );
        assert!(description.ends_with(')'), "{description}");
    }
}
