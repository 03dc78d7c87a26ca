//! What every step works with: the topology, the planes, the operator's options, the
//! facts learned so far, where progress events go, and which of the primary site's two
//! mirroring partners an action goes to.

use super::StepId;
use crate::error::{Error, Result};
use crate::log_chain::{BackupHeader, LogBackup, LogChainGap, Lsn};
use crate::planes::{ChatPoolPlane, DatabasePlane, FilePlane, LogShippingSnapshot};
use crate::schema::Document;
use crate::topology::{SiteRole, Topology};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One of the primary site's two mirroring partners: the instance the topology names
/// for the site, or its mirror instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Partner {
    /// The primary site's instance.
    Primary,
    /// The primary site's mirror instance.
    Mirror,
}

impl Partner {
    /// The primary site's instance: what an action targets unless it says otherwise.
    pub fn is_primary(&self) -> bool {
        *self == Self::Primary
    }
}

/// The control planes of one deployment.
#[derive(Clone)]
pub struct Planes {
    /// The primary site's SQL Server instance.
    pub primary: Arc<dyn DatabasePlane>,
    /// The primary site's mirror instance, when the topology has one: probed by
    /// failover, made a log-shipping primary by failback.
    pub primary_mirror: Option<Arc<dyn DatabasePlane>>,
    /// The backup site's SQL Server instance.
    pub backup: Arc<dyn DatabasePlane>,
    /// The log-shipping folders.
    pub files: Arc<dyn FilePlane>,
    /// The Persistent Chat pool.
    pub pool: Arc<dyn ChatPoolPlane>,
}

/// Decisions only an operator can make.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Recover past a gap in the log chain (losing the missing transactions).
    pub accept_data_loss: bool,
    /// Fail over even though the primary site still answers.
    pub allow_primary_reachable: bool,
    /// Copy every log backup first, then restore them all. By default copy and restore
    /// are pipelined: the copy step restores each copied log backup that is next in the
    /// chain while later ones are still being copied, and the apply step restores what
    /// remains. The two orders are compared in `BENCHMARKS.md`, row 2.
    #[serde(default)]
    pub sequential_restore: bool,
    /// Resume a journal whose run started more than [`STALE_AFTER_HOURS`] hours ago:
    /// what it records (which steps are done, the log-shipping setup) may no longer be
    /// true, so a stale journal is refused unless the operator says so.
    #[serde(default)]
    pub resume_stale: bool,
    /// The journal of the completed failover a failback follows: the failback keeps the
    /// log-shipping settings its snapshot recorded (see
    /// [`runbook`](crate::runbook)'s failover journal). Without one, the failback sets
    /// log shipping up with the topology's values and says so. Other procedures ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_journal: Option<PathBuf>,
    /// The site a switchover moves the pool to. By default the site the pool's state
    /// does not point at; naming the site it points at returns the pool there after a
    /// switchover that stopped before its recovery (the other site's database never came
    /// online). Other procedures ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_to: Option<SiteRole>,
}

/// After how many hours a journal is stale (see [`RunOptions::resume_stale`]).
pub const STALE_AFTER_HOURS: i64 = 24;

/// What the steps learned, kept in the journal so a resumed run knows it too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The site a switchover moves the pool to, decided by its first step from the
    /// pool's state (Normal: the backup site; FailedOver: the primary site). `None` in
    /// the other procedures, whose restoring site is fixed (see
    /// [`Context::restoring_site`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_to: Option<SiteRole>,
    /// The log-shipping setup read before failover step 1 removed it.
    pub snapshot: Option<LogShippingSnapshot>,
    /// The failover journal a failback took [`snapshot`](Self::snapshot) from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_journal: Option<PathBuf>,
    /// The last log backup the backup database holds (the data-loss evidence).
    pub last_applied: Option<LogBackup>,
    /// The backup database's restore point: as the apply step found it, then moved by
    /// each restore. Where the log it holds ends: a declared data loss starts there.
    pub restore_point: Option<Lsn>,
    /// A gap the operator accepted.
    pub accepted_gap: Option<LogChainGap>,
    /// A share the copy step could not read while data loss was accepted: the log
    /// backups only it held are lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_not_read: Option<ShareNotRead>,
    /// Log backups copied by this run.
    pub files_copied: u64,
    /// Bytes copied by this run.
    pub bytes_copied: u64,
    /// Log backups restored by this run.
    pub logs_restored: u64,
    /// Bytes this run moved, as the steps' actions report them: log backups copied
    /// (their size on disk) and restored, full backups written and restored (their
    /// `BackupSize`). The report sums the bytes moved inside the pool's outage from it.
    #[serde(default)]
    pub bytes_moved: u64,
    /// The backup instance's clock (`SYSDATETIME()`) when this failback run started: a
    /// failback backup that finished earlier is not this run's.
    pub failback_started_on_backup: Option<DateTime<Utc>>,
    /// The failback backup, once taken and verified.
    pub failback_backup_verified: Option<String>,
    /// The `RESTORE HEADERONLY` of that backup as this run read it right after taking
    /// and verifying it: the restore over the primary restores only a file that still
    /// has this header.
    pub failback_backup_header: Option<BackupHeader>,
    /// The `COPY_ONLY` backup of what the primary database held before the failback
    /// restore replaced it, once taken and verified.
    pub failback_safety_backup: Option<String>,
    /// What the run found that an operator must know but that did not stop it (files
    /// it did not use and why), each once ([`Context::warn`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The backup share as the failover's copy step found it when it could not list it and
/// the operator had accepted data loss: recorded, never skipped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareNotRead {
    /// The share.
    pub share: String,
    /// Why it could not be read.
    pub reason: String,
}

/// A progress event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step started.
    StepStarted {
        /// The step.
        step: StepId,
        /// Its title.
        title: &'static str,
    },
    /// A step acted and verified.
    StepFinished {
        /// The step.
        step: StepId,
        /// What it did.
        summary: String,
        /// How long it took.
        millis: u64,
    },
    /// A step found its work already done.
    StepSkipped {
        /// The step.
        step: StepId,
        /// Why.
        reason: String,
    },
    /// A step failed.
    StepFailed {
        /// The step.
        step: StepId,
        /// The error.
        error: String,
    },
    /// A step is about to carry out its actions.
    Planned {
        /// The step.
        step: StepId,
        /// How many actions.
        actions: usize,
        /// Bytes the actions move (file copies), for progress bars.
        bytes: u64,
    },
    /// Something an operator should read.
    Note {
        /// The step.
        step: StepId,
        /// The text.
        text: String,
    },
    /// The user sessions on a database were ended (possibly none), right before an
    /// operation that needs the database to itself.
    SessionsEnded {
        /// The step.
        step: StepId,
        /// The instance.
        target: String,
        /// The database.
        database: String,
        /// How many sessions were ended.
        sessions: usize,
    },
    /// One log backup was copied.
    FileCopied {
        /// The file name.
        file: String,
        /// Its size.
        bytes: u64,
    },
    /// One log backup was restored.
    LogRestored {
        /// The file.
        file: String,
        /// Its first LSN.
        first_lsn: Lsn,
        /// Its last LSN.
        last_lsn: Lsn,
    },
}

/// The JSON shape's version (see [`crate::schema`]).
impl Document for Event {
    const SCHEMA_VERSION: u32 = 1;
}

/// Receives progress events. Called on the thread running the procedure; must not block.
pub trait Observer: Send + Sync {
    /// One event.
    fn event(&self, event: &Event);
}

struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event) {}
}

/// Everything a step needs.
pub struct Context {
    /// The deployment.
    pub topology: Arc<Topology>,
    /// Its control planes.
    pub planes: Planes,
    /// The operator's decisions.
    pub options: RunOptions,
    /// A stable id of this run (also across resumes), used in backup file names.
    pub run_id: String,
    observer: Arc<dyn Observer>,
    facts: Mutex<Facts>,
    resumed: bool,
    cancelled: Arc<AtomicBool>,
    journal_flush: tokio::sync::Mutex<JournalFlush>,
}

/// The journal's flush to disk of the records written so far, run in the background
/// while the next step observes; every action waits for it.
enum JournalFlush {
    /// Nothing pending.
    Done,
    /// Running.
    Running(BoxFuture<'static, Result<()>>),
    /// Failed: no action may run.
    Failed(Error),
}

impl Context {
    /// A context with no facts yet and no observer.
    pub fn new(
        topology: Arc<Topology>,
        planes: Planes,
        options: RunOptions,
        run_id: impl Into<String>,
    ) -> Self {
        Self {
            topology,
            planes,
            options,
            run_id: run_id.into(),
            observer: Arc::new(Silent),
            facts: Mutex::new(Facts::default()),
            resumed: false,
            cancelled: Arc::new(AtomicBool::new(false)),
            journal_flush: tokio::sync::Mutex::new(JournalFlush::Done),
        }
    }

    /// Sends progress events to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Names the run (a resumed run keeps its first id).
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = run_id.into();
        self
    }

    /// Starts from facts recorded earlier (a resumed run).
    pub fn with_facts(self, facts: Facts) -> Self {
        *self.lock_facts() = facts;
        self
    }

    /// Continues a run a journal holds: the checks of the procedure's start (the pool is
    /// not failed over yet, …) no longer apply, while those of safety (the primary site
    /// is down) still do.
    pub fn resuming(mut self) -> Self {
        self.resumed = true;
        self
    }

    /// Whether this context continues a run a journal holds.
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// Shares a cancel flag owned elsewhere (a binding's handle).
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = flag;
        self
    }

    /// A flag that, once set, stops the run before its next action.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Makes every later action wait for `flush` (the journal's records reaching the
    /// disk) as well as any flush still pending, so that nothing changes before the
    /// journal durably says what was done. A failed flush stays failed.
    pub(crate) async fn act_after(&self, flush: BoxFuture<'static, Result<()>>) {
        let mut pending = self.journal_flush.lock().await;
        *pending = match std::mem::replace(&mut *pending, JournalFlush::Done) {
            JournalFlush::Done => JournalFlush::Running(flush),
            JournalFlush::Running(earlier) => JournalFlush::Running(Box::pin(async move {
                earlier.await?;
                flush.await
            })),
            failed @ JournalFlush::Failed(_) => failed,
        };
    }

    /// Waits until the journal's records written so far are on disk. Actions call it
    /// before changing anything; concurrent callers all wait for the one flush.
    pub(crate) async fn journal_flushed(&self) -> Result<()> {
        let mut flush = self.journal_flush.lock().await;
        if let JournalFlush::Running(running) = &mut *flush {
            *flush = match running.await {
                Ok(()) => JournalFlush::Done,
                Err(e) => JournalFlush::Failed(e),
            };
        }
        match &*flush {
            JournalFlush::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// A copy of the facts.
    pub fn facts(&self) -> Facts {
        self.lock_facts().clone()
    }

    /// Changes the facts.
    pub fn update_facts(&self, change: impl FnOnce(&mut Facts)) {
        change(&mut self.lock_facts());
    }

    fn lock_facts(&self) -> MutexGuard<'_, Facts> {
        self.facts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a progress event.
    pub fn emit(&self, event: Event) {
        self.observer.event(&event);
    }

    /// Tells the operator, once per run, something found during `step` that did not
    /// stop it: a note now, and a warning in the facts, so the report and a plan show it.
    pub fn warn(&self, step: StepId, text: String) {
        let new = {
            let mut facts = self.lock_facts();
            let new = !facts.warnings.contains(&text);
            if new {
                facts.warnings.push(text.clone());
            }
            new
        };
        if new {
            self.emit(Event::Note { step, text });
        }
    }

    /// The site whose database restores the log backups and takes over: the backup site
    /// in a failover, the site a switchover moves the pool to.
    pub fn restoring_site(&self) -> SiteRole {
        self.lock_facts().switch_to.unwrap_or(SiteRole::Backup)
    }

    /// The database plane of a site.
    pub fn sql(&self, site: SiteRole) -> &dyn DatabasePlane {
        match site {
            SiteRole::Primary => self.planes.primary.as_ref(),
            SiteRole::Backup => self.planes.backup.as_ref(),
        }
    }

    /// One of the primary site's mirroring partners; `None` for a mirror the topology
    /// does not have.
    pub fn partner_sql(&self, partner: Partner) -> Option<&dyn DatabasePlane> {
        match partner {
            Partner::Primary => Some(self.sql(SiteRole::Primary)),
            Partner::Mirror => self.planes.primary_mirror.as_deref(),
        }
    }

    /// How errors name one of the primary site's mirroring partners.
    pub fn partner_name(&self, partner: Partner) -> String {
        match (partner, &self.topology.sites.primary.mirror) {
            (Partner::Mirror, Some(mirror)) => mirror.display_name(),
            _ => self.sql_name(SiteRole::Primary),
        }
    }

    /// How errors name a site's SQL Server instance.
    pub fn sql_name(&self, site: SiteRole) -> String {
        self.topology.site(site).sql.display_name()
    }

    /// The chat database's name.
    pub fn chat_db(&self) -> &str {
        &self.topology.databases.chat
    }
}
