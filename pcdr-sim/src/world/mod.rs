//! The emulated two-site world: four SQL Server instances with their databases, msdb
//! log shipping that runs on a world clock, the Persistent Chat pool, chat traffic with
//! its ground truth, disasters, rebuilds, faults, and the check of a procedure's end
//! state.
//!
//! Everything lives in one folder `DIR`:
//!
//! | path | what |
//! |---|---|
//! | `world.sqlite` | the state, shared by every process (`store.rs`; its rows: `layout.rs`) |
//! | `share/` | the backup share the primary's backup job writes to |
//! | `copy/` | the copy destination on the backup site, which the backup instance names `D:\LogShipping\mgc` (`server_paths.rs`) |
//! | `copy-primary/` | the copy destination on the primary site, which the primary instance names `D:\LogShipping\mgc` too, for log shipping from the backup site |
//! | `mirror-share/` | the backup site's share that seeds its mirror (`Install-CsMirrorDatabase -FileShare`), which survives a disaster at the primary site |
//! | `data/<instance>/` | database files: the chat database's data file holds [`WorldOptions::db_size_bytes`] real bytes, which full backups carry and restores write (`datafile.rs`); the others are placeholders |
//! | `sql-password` | the password of the SQL login `pcdr` (mode 0600) |
//! | `windows-password` | the password of the Windows account [`WINDOWS_ACCOUNT`] (mode 0600) |
//! | `tls/` | the world's certificate authority `ca.pem` and each instance's certificate and key (`certs.rs`) |
//! | `topology.toml` | written by [`serve`](crate::serve::serve) once the ports are known |
//! | `statements.log` | every statement the instances received (JSON lines) |
//!
//! This module owns the state and its rules; the wire and T-SQL are the engine's.

pub mod certs;
mod create;
pub(crate) mod datafile;
pub(crate) mod dbops;
mod disaster;
mod error;
pub mod faults;
mod instance;
mod layout;
pub mod logship;
pub(crate) mod mirroring;
pub mod model;
pub mod msdb;
mod pool;
pub mod server_paths;
mod store;
mod topology;
mod traffic;
mod verify;
pub mod version;

use std::path::{Path, PathBuf};

pub use create::{DEFAULT_DB_SIZE, WorldOptions};
pub use error::{WorldError, WorldResult};
pub use traffic::Traffic;
pub use verify::{DeclaredLoss, Difference, Expect};

use crate::world::dbops::Disks;
use crate::world::faults::{StatementFault, StoredCmdletFault};
use crate::world::model::{CHAT_DB, InstanceId, WorldState};
use crate::world::server_paths::CopyFolders;
use crate::world::store::Store;

/// The domain account every instance accepts with Windows authentication (NTLMv2),
/// besides the SQL login `pcdr`.
pub const WINDOWS_ACCOUNT: &str = r"CONTOSO\pcdr-svc";

/// An open world folder (`DIR`): the handle every process uses to read and change the
/// world's state, and the paths of the files and folders in it.
#[derive(Debug)]
pub struct World {
    dir: PathBuf,
    store: Store,
}

impl World {
    /// Opens the world in `dir` (made absolute, so the paths it hands out are);
    /// [`WorldError::NoWorld`] when there is none.
    pub fn open(dir: &Path) -> WorldResult<World> {
        if !Self::exists(dir) {
            return Err(WorldError::NoWorld);
        }
        let dir = std::fs::canonicalize(dir)?;
        let world = World {
            store: Store::open(&dir.join("world.sqlite"))?,
            dir,
        };
        if !world.store.exists()? {
            return Err(WorldError::NoWorld);
        }
        Ok(world)
    }

    /// Whether `dir` holds a world file.
    pub fn exists(dir: &Path) -> bool {
        dir.join("world.sqlite").is_file()
    }

    /// The world folder, absolute.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backup share (`DIR/share`) the primary's backup job writes to.
    pub fn share_dir(&self) -> PathBuf {
        self.dir.join("share")
    }

    /// The copy destination on the backup site (`DIR/copy`).
    pub fn copy_dir(&self) -> PathBuf {
        self.dir.join("copy")
    }

    /// The copy destination on the primary site (`DIR/copy-primary`), which the primary
    /// instance names `D:\LogShipping\mgc` too (`server_paths.rs`): where it copies the
    /// backup instance's log backups when log shipping runs from the backup site.
    pub fn primary_copy_dir(&self) -> PathBuf {
        self.dir.join("copy-primary")
    }

    /// The backup site's share that seeds its mirror (`DIR/mirror-share`): a share in
    /// that site, so a mirror can be installed there after the primary site is lost.
    pub fn mirror_share_dir(&self) -> PathBuf {
        self.dir.join("mirror-share")
    }

    /// Where `instance` keeps its database files.
    pub(crate) fn data_dir(&self, instance: InstanceId) -> PathBuf {
        self.dir.join("data").join(instance.name())
    }

    /// The file naming the SQL login's password.
    pub fn password_file(&self) -> PathBuf {
        self.dir.join("sql-password")
    }

    /// The audit log of statements.
    pub fn statements_log(&self) -> PathBuf {
        self.dir.join("statements.log")
    }

    /// The topology file `serve` writes.
    pub(crate) fn topology_file(&self) -> PathBuf {
        self.dir.join("topology.toml")
    }

    /// The file naming the password of the Windows account [`WINDOWS_ACCOUNT`].
    pub fn windows_password_file(&self) -> PathBuf {
        self.dir.join("windows-password")
    }

    /// The password of the SQL login `pcdr`.
    pub fn password(&self) -> WorldResult<String> {
        read_password(&self.password_file())
    }

    /// The password of the Windows account [`WINDOWS_ACCOUNT`].
    pub fn windows_password(&self) -> WorldResult<String> {
        read_password(&self.windows_password_file())
    }

    /// The current state, read from the world file.
    pub fn read(&self) -> WorldResult<WorldState> {
        self.store.read()
    }

    /// Applies a change that may fail; nothing is stored when it fails.
    pub(crate) fn try_update<T, E>(
        &self,
        change: impl FnOnce(&mut WorldState) -> Result<T, E>,
    ) -> WorldResult<Result<T, E>> {
        self.store.update(change)
    }

    /// Applies a change.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut WorldState) -> T) -> WorldResult<T> {
        self.store
            .update(|state| Ok::<T, WorldError>(change(state)))?
    }

    /// The emulated disks with the faults of `state`.
    pub(crate) fn disks(&self, state: &WorldState) -> Disks {
        Disks {
            share: self.share_dir(),
            copies: CopyFolders {
                backup: self.copy_dir(),
                primary: self.primary_copy_dir(),
            },
            share_unreachable: state.faults.share_unreachable,
            copy_folder_full: state.faults.copy_folder_full,
        }
    }

    /// Advances the world clock by `minutes`, one minute at a time, running every
    /// log-shipping job that falls due on an instance that is up.
    pub fn tick(&self, minutes: u32) -> WorldResult<Vec<logship::JobRun>> {
        self.update(|state| {
            let disks = self.disks(state);
            logship::tick(state, &disks, minutes)
        })
    }

    /// Starts the first log-shipping job of `instance` whose kind `matches` and keeps it
    /// running, holding a session on the chat database (so that a RESTORE of it by
    /// anyone else fails with 3101), until `sp_stop_job` stops it, which then takes
    /// `stop_ms` milliseconds. Returns the job's name; `None` when no job matches.
    pub fn start_running_job(
        &self,
        instance: InstanceId,
        matches: fn(&msdb::JobKind) -> bool,
        stop_ms: u64,
    ) -> WorldResult<Option<String>> {
        self.update(|state| logship::start_running_job(state, instance, matches, stop_ms))
    }

    /// Ends the run of job `job_id` on `instance` (the Agent processed a stop request).
    pub(crate) fn update_job_stopped(
        &self,
        instance: InstanceId,
        job_id: crate::guid::Guid,
    ) -> WorldResult<()> {
        self.update(|state| {
            let now = state.clock;
            if let Some(inst) = state.instance_mut(instance) {
                inst.msdb.finish_run(job_id, now);
            }
        })
    }

    /// Adds a fault on statements.
    pub fn add_statement_fault(&self, fault: StatementFault) -> WorldResult<()> {
        self.update(|state| state.faults.statements.push(fault))
    }

    /// Sets (or with `None` clears) the fault of `cmdlet`.
    pub fn set_cmdlet_fault(
        &self,
        cmdlet: &str,
        fault: Option<StoredCmdletFault>,
    ) -> WorldResult<()> {
        let key = cmdlet.to_ascii_lowercase();
        self.update(|state| match fault {
            Some(fault) => {
                state.faults.cmdlets.insert(key, fault);
            }
            None => {
                state.faults.cmdlets.remove(&key);
            }
        })
    }

    /// Makes the backup share unreachable, or reachable again.
    ///
    /// The SQL engine and the jobs honour the flag; for programs that read the folder
    /// itself (pcdr's file plane), the folder `share/` is also renamed to
    /// `share.unreachable/` while unreachable, and back.
    pub fn set_share_unreachable(&self, unreachable: bool) -> WorldResult<()> {
        self.update(|state| state.faults.share_unreachable = unreachable)?;
        self.move_share(unreachable)
    }

    /// Makes the copy folder full, or not.
    ///
    /// The SQL engine and the jobs honour the flag (error 112). A real full disk cannot
    /// be made without a size-limited mount, so for programs that write the folder
    /// themselves (pcdr's file plane) each log backup on the share that the copy folder
    /// lacks gets a placeholder directory of its name there: writing that file then fails
    /// for real, even as root. Clearing the fault removes the placeholders.
    pub fn set_copy_folder_full(&self, full: bool) -> WorldResult<()> {
        self.update(|state| state.faults.copy_folder_full = full)?;
        self.block_copy_folder(full)
    }

    /// Removes every fault except instances that are down (a disaster is not a fault).
    pub fn clear_faults(&self) -> WorldResult<()> {
        self.update(|state| {
            let down = std::mem::take(&mut state.faults.down);
            state.faults = faults::Faults {
                down,
                ..faults::Faults::default()
            };
        })?;
        self.move_share(false)?;
        self.block_copy_folder(false)
    }

    /// Renames `share/` away while the share is unreachable, and back.
    fn move_share(&self, unreachable: bool) -> WorldResult<()> {
        let away = self.dir.join("share.unreachable");
        let (from, to) = if unreachable {
            (self.share_dir(), away)
        } else {
            (away, self.share_dir())
        };
        if from.is_dir() && !to.exists() {
            std::fs::rename(from, to)?;
        }
        Ok(())
    }

    /// Adds (or removes) the placeholder directories of a full copy folder.
    fn block_copy_folder(&self, full: bool) -> WorldResult<()> {
        const MARK: &str = ".copy-folder-full";
        let copy = self.copy_dir();
        if full {
            let share = self.share_dir();
            for name in logship::log_files(&share, CHAT_DB).unwrap_or_default() {
                let target = copy.join(&name);
                if !target.exists() {
                    std::fs::create_dir_all(&target)?;
                    std::fs::write(target.join(MARK), b"")?;
                }
            }
        } else if let Ok(entries) = std::fs::read_dir(&copy) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.join(MARK).is_file() {
                    std::fs::remove_dir_all(path)?;
                }
            }
        }
        Ok(())
    }

    /// The ids of the chat messages `database` on `instance` holds, in LSN order
    /// (empty when it does not exist).
    pub fn messages(&self, instance: InstanceId, database: &str) -> WorldResult<Vec<u64>> {
        let state = self.read()?;
        Ok(state
            .instance(instance)
            .and_then(|i| i.database(database))
            .map(|db| db.messages.iter().map(|m| m.id).collect())
            .unwrap_or_default())
    }
}

/// A password file's text without its line end.
fn read_password(path: &Path) -> WorldResult<String> {
    Ok(std::fs::read_to_string(path)?.trim_end().to_owned())
}
