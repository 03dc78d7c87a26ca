//! The live sessions of one server: SPID allocation (from 51, unique among live
//! sessions) and killing a session from anywhere, as `KILL n` does.
//!
//! Owns the session table only. The session task holds a [`Registration`];
//! dropping it (the session ended) removes the entry, and removing the entry
//! (a kill) makes the session task drop its in-flight work and close its socket.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// The first SPID handed out; lower ones are system sessions in SQL Server.
pub(crate) const FIRST_USER_SPID: u16 = 51;

/// The live sessions of one server.
#[derive(Debug)]
pub struct SessionRegistry {
    state: Mutex<RegistryState>,
}

#[derive(Debug)]
struct RegistryState {
    next_spid: u16,
    next_serial: u64,
    sessions: BTreeMap<u16, LiveSession>,
}

#[derive(Debug)]
struct LiveSession {
    serial: u64,
    /// Dropping this wakes the session task, which then ends.
    _kill: oneshot::Sender<()>,
}

impl SessionRegistry {
    /// An empty registry.
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(RegistryState {
                next_spid: FIRST_USER_SPID,
                next_serial: 0,
                sessions: BTreeMap::new(),
            }),
        }
    }

    /// SPIDs of the live sessions, ascending.
    pub fn spids(&self) -> Vec<u16> {
        self.lock().sessions.keys().copied().collect()
    }

    /// Ends session `spid`: its in-flight request is dropped and its socket
    /// closed. Returns `false` when no such session is live.
    pub fn kill(&self, spid: u16) -> bool {
        self.lock().sessions.remove(&spid).is_some()
    }

    /// Ends every live session.
    pub(crate) fn kill_all(&self) {
        self.lock().sessions.clear();
    }

    /// Registers a new session under the next free SPID; `None` when all are taken.
    pub(crate) fn register(self: &Arc<Self>) -> Option<(Registration, oneshot::Receiver<()>)> {
        let mut state = self.lock();
        let spid = state.free_spid()?;
        let serial = state.next_serial;
        state.next_serial += 1;
        let (kill, killed) = oneshot::channel();
        state.sessions.insert(
            spid,
            LiveSession {
                serial,
                _kill: kill,
            },
        );
        let registration = Registration {
            registry: Arc::clone(self),
            spid,
            serial,
        };
        Some((registration, killed))
    }

    fn unregister(&self, spid: u16, serial: u64) {
        let mut state = self.lock();
        if state
            .sessions
            .get(&spid)
            .is_some_and(|live| live.serial == serial)
        {
            state.sessions.remove(&spid);
        }
    }

    /// A panic elsewhere cannot leave the table half-updated, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, RegistryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RegistryState {
    /// The next SPID at or after `next_spid` that no live session holds, wrapping to 51.
    fn free_spid(&mut self) -> Option<u16> {
        let candidates = usize::from(u16::MAX - FIRST_USER_SPID) + 1;
        for _ in 0..candidates {
            let spid = self.next_spid;
            self.next_spid = spid.checked_add(1).unwrap_or(FIRST_USER_SPID);
            if !self.sessions.contains_key(&spid) {
                return Some(spid);
            }
        }
        None
    }
}

/// A session's entry in the registry, removed when this is dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<SessionRegistry>,
    spid: u16,
    serial: u64,
}

impl Registration {
    /// The session's SPID.
    pub(crate) fn spid(&self) -> u16 {
        self.spid
    }

    /// What the engine gets to know about this session.
    pub(crate) fn info(&self) -> SessionInfo {
        SessionInfo {
            spid: self.spid,
            registry: Arc::clone(&self.registry),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.unregister(self.spid, self.serial);
    }
}

/// The session a request belongs to.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    spid: u16,
    registry: Arc<SessionRegistry>,
}

impl SessionInfo {
    /// The session's SPID (`@@SPID`).
    pub fn spid(&self) -> u16 {
        self.spid
    }

    /// The live sessions of the same server, e.g. to implement `KILL`.
    pub fn registry(&self) -> &Arc<SessionRegistry> {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spids_start_at_51_and_increase() {
        let registry = Arc::new(SessionRegistry::new());
        let (first, _k1) = registry.register().unwrap();
        let (second, _k2) = registry.register().unwrap();
        assert_eq!((first.spid(), second.spid()), (51, 52));
        assert_eq!(registry.spids(), vec![51, 52]);
    }

    #[test]
    fn dropping_the_registration_removes_the_session() {
        let registry = Arc::new(SessionRegistry::new());
        let (registration, _killed) = registry.register().unwrap();
        drop(registration);
        assert!(registry.spids().is_empty());
    }

    #[test]
    fn kill_wakes_the_session_and_reports_unknown_spids() {
        let registry = Arc::new(SessionRegistry::new());
        let (_registration, mut killed) = registry.register().unwrap();
        assert!(registry.kill(51));
        assert!(
            killed
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Closed)
        );
        assert!(!registry.kill(51));
        assert!(!registry.kill(99));
    }

    #[test]
    fn a_killed_session_ending_late_does_not_remove_its_successor() {
        let registry = Arc::new(SessionRegistry::new());
        let (old, _old_killed) = registry.register().unwrap();
        registry.kill(51);
        registry.state.lock().unwrap().next_spid = 51;
        let (new, _new_killed) = registry.register().unwrap();
        assert_eq!(new.spid(), 51);
        drop(old);
        assert_eq!(registry.spids(), vec![51]);
    }

    #[test]
    fn spids_wrap_to_51_skipping_live_ones() {
        let registry = Arc::new(SessionRegistry::new());
        let (_first, _k1) = registry.register().unwrap();
        registry.state.lock().unwrap().next_spid = u16::MAX;
        let (last, _k2) = registry.register().unwrap();
        let (wrapped, _k3) = registry.register().unwrap();
        assert_eq!((last.spid(), wrapped.spid()), (u16::MAX, 52));
    }
}
