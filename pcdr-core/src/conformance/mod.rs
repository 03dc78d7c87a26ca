//! Conformance suites (feature `conformance`, and pcdr-core's own tests): for each
//! control plane, the behaviour the procedures rely on, written once as checks that take
//! the plane as a trait object, so every implementation — the real adapter against the
//! emulator, against real servers, and the test doubles — runs the same list.
//!
//! This module owns the suites and what they share (the check result, how a run is
//! reported); it must not reach into an implementation: a check sees only the plane's
//! trait and the helper the harness hands it for what the plane does not offer.
//!
//! | suite | check | what it proves |
//! |---|---|---|
//! | [`database`] | [`full_backup_and_verify`](database::full_backup_and_verify) | `BACKUP DATABASE`, `RESTORE VERIFYONLY`, `FILELISTONLY` and `HEADERONLY` of a full backup: its `FamilyGUID` and `BindingID` are the database's `family_guid` and `database_guid`, and it finished no earlier than `SYSDATETIME()` read before it; a missing file is error 3201 |
//! | | [`backup_header`](database::backup_header) | log backup headers: type, database, family GUID, recovery fork, `DatabaseBackupLSN`, and consecutive backups chained LSN to LSN |
//! | | [`log_restores_in_order`](database::log_restores_in_order) | a full restore `WITH NORECOVERY`, then log restores in order, each moving `redo_start_lsn` to the backup's `LastLSN` and recorded in msdb (last restore, restore from the file) with its family, `LastLSN` and fork |
//! | | [`chain_errors`](database::chain_errors) | a log backup too recent is 4305, one already applied is 4326, and neither changes the restore point |
//! | | [`sessions_and_kill`](database::sessions_and_kill) | another session on the database is listed, `KILL` ends it, killing it again is 6106 |
//! | | [`recovery`](database::recovery) | `RESTORE … WITH RECOVERY` brings the copy online (no restore point left); again is 3153; a log restore after it is 3117 |
//! | | [`mirroring_removal`](database::mirroring_removal) | `SET PARTNER OFF` ends mirroring where there is some, and is `Ok` on a database that is not mirrored (1416 swallowed) |
//! | | [`run_lock`](database::run_lock) | the run lock (`sp_getapplock`, session-owned, no wait): a second run is refused naming the first; given back, it is granted at once; dropped, soon after (its connection closes) |
//! | [`files`] | [`log_backup_listing`](files::log_backup_listing) | only `<db>_<yyyyMMddHHmmss>.trn` (any case) is listed, with its size; other databases, other names and copies in progress are not, and of those only one that looks like a log backup of the database is named as misnamed; no files is an empty list |
//! | | [`copy`](files::copy) | the landed file has the source's bytes, the count returned is its size, the source stays, nothing else lands |
//! | | [`copy_over_partial`](files::copy_over_partial) | a shorter file of the same name (a copy cut short) is replaced by the whole file |
//! | | [`failed_copy`](files::failed_copy) | a missing source is an error naming it; a copy that cannot land is an error; neither leaves a file behind |
//! | | [`free_space`](files::free_space) | free space is reported for both folders |
//! | | [`missing_folder`](files::missing_folder) | listing, free space and copying from or to a folder that does not exist are errors naming it |
//! | [`pool`] | [`pool_state`](pool::pool_state) | the state reads back as set: `FailedOver`, then `Normal`; the state found is put back |
//! | | [`active_servers`](pool::active_servers) | setting, replacing (not adding to) and clearing the list, each read back as set or answered "cannot report" |
//! | | [`mirror_installation`](pool::mirror_installation) | `Install-CsMirrorDatabase` on an unmirrored chat database leaves it a mirroring principal |
//!
//! # Where each suite runs
//!
//! | suite | emulator, real adapter | test double | real system, when its variable is set |
//! |---|---|---|---|
//! | database | `tests/conformance.rs` | — (the step tests mock it call by call) | `PCDR_TEST_MSSQL`: an ADO.NET connection string |
//! | files | `tests/conformance.rs` (the world's folders) | the runbook tests' fake world | `PCDR_TEST_SHARE`: a folder, e.g. `\\fs01\pcdr-test` |
//! | pool | `tests/conformance.rs` (`pcdr sim shell`) | the runbook tests' fake world | `PCDR_TEST_SKYPE_TOPOLOGY`: a topology file |
//!
//! Without its variable a real-system test passes after saying on stderr, past the test
//! harness's capture, that it was SKIPPED.
//!
//! **Files on a real share.** `PCDR_TEST_SHARE` names a folder the test account may
//! write to, as the topology would name it (a UNC path on Windows, or a mounted share).
//! The test makes a folder `pcdr_conformance_<pid>_<time>` inside it with the two folders
//! the checks write to, and removes it at the end.
//!
//! **The pool on a real Management Shell.** Only on a *disposable* pool: the suite fails
//! the pool over and back, rewrites its active servers and re-mirrors its chat database.
//! `PCDR_TEST_SKYPE_TOPOLOGY` names the topology file of that pool, run on a Windows host
//! where its `[shell]` starts the Skype for Business Server Management Shell; the primary
//! site must name a mirror instance. The test uses the primary site's chat servers as the
//! active servers (the backup site's first one too, when the primary has only one), and
//! leaves the pool in the state it found, with those servers active. The product has no
//! documented way to read the active servers back, so there the check proves only that
//! each list is accepted; on the emulator the test reads them from the world.
//!
//! ```text
//! PCDR_TEST_SKYPE_TOPOLOGY='C:\pcdr\lab-topology.toml' cargo test --test conformance pool -- --nocapture
//! PCDR_TEST_SHARE='\\fs01\pcdr-test' cargo test --test conformance file_plane -- --nocapture
//! ```

pub mod database;
pub mod files;
pub mod pool;

use std::fmt;

/// A check that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed {
    /// The check.
    pub check: &'static str,
    /// What was found instead.
    pub message: String,
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.message)
    }
}

impl std::error::Error for CheckFailed {}

/// The result of one check.
pub type CheckResult<T = ()> = Result<T, CheckFailed>;

/// Prints every result of a suite's run against `target`, then panics naming each check
/// that did not hold; `checks` is the suite's list, which the run must follow in order.
///
/// # Panics
///
/// When a check failed, or the results do not name `checks` in order.
///
/// ```
/// use pcdr_core::conformance::{self, CheckFailed};
///
/// let results = [("pool_state", Ok(()))];
/// conformance::assert_all_hold("a fake", &["pool_state"], &results);
///
/// let failed = [("pool_state", Err(CheckFailed { check: "pool_state", message: "stuck".into() }))];
/// let outcome = std::panic::catch_unwind(|| {
///     conformance::assert_all_hold("a fake", &["pool_state"], &failed)
/// });
/// assert!(outcome.is_err());
/// ```
pub fn assert_all_hold(target: &str, checks: &[&str], results: &[(&'static str, CheckResult)]) {
    let names: Vec<&str> = results.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, checks, "{target}: the run does not follow the suite");
    let mut failed = Vec::new();
    for (name, result) in results {
        match result {
            Ok(()) => println!("[ok]     {target}: {name}"),
            Err(e) => {
                println!("[FAILED] {target}: {e}");
                failed.push(e.to_string());
            }
        }
    }
    assert!(failed.is_empty(), "{target}: {failed:#?}");
}

/// Turns a plane or helper error into a failed check, saying which call it was.
trait During<T> {
    fn during(self, check: &'static str, what: impl fmt::Display) -> CheckResult<T>;
}

impl<T, E: fmt::Display> During<T> for Result<T, E> {
    fn during(self, check: &'static str, what: impl fmt::Display) -> CheckResult<T> {
        self.map_err(|e| CheckFailed {
            check,
            message: format!("{what}: {e}"),
        })
    }
}

/// `Ok` when `holds`, else the check fails with `message`.
fn ensure(check: &'static str, holds: bool, message: impl FnOnce() -> String) -> CheckResult {
    if holds {
        Ok(())
    } else {
        Err(CheckFailed {
            check,
            message: message(),
        })
    }
}

/// A unique stamp for names, so reruns against one server or share never collide.
fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S%6f").to_string()
}
