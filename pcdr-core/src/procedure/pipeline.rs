//! The copy pipeline: the failover's copy step copies the first log backup alone and
//! checks that the backup instance reads it where its own path says, then copies the
//! rest a few at a time and, unless [`RunOptions::sequential_restore`](super::RunOptions)
//! asks for copy-then-restore, restores each copied log backup that is next in the
//! chain as soon as it has landed, strictly in LSN order, exactly as the apply step
//! would (same actions, same facts).
//!
//! Whatever the pipeline leaves (a gap, a file it cannot read, a file that did not land)
//! is left to the apply step, which observes the database's restore point and restores
//! the rest, so a resumed run is safe either way. This module owns the concurrency of
//! the copies and the order of the restores; the LSN rule is [`crate::log_chain`]'s and
//! the header search [`super::header_search`]'s.

use super::header_search::{candidate, database_identity, file_name, restore_plan, sorted_files};
use super::shared::{
    db_state, log_shipping_folders, perform_concurrently_reporting, perform_exclusive,
};
use super::{Action, Context, StepId};
use crate::error::Result;
use crate::log_chain::{ChainIdentity, LogBackup, Lsn, plan_log_restores};
use crate::logship::join_path;
use std::collections::HashSet;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// How many log backups are copied at once.
pub const COPY_PARALLELISM: usize = 4;

/// Performs the copy actions, restoring as the files land unless the operator asked for
/// the sequential order. Returns how many log backups were restored.
pub async fn copy_and_restore(ctx: &Context, step: StepId, actions: &[Action]) -> Result<usize> {
    let pipeline = if ctx.options.sequential_restore {
        None
    } else {
        Pipeline::start(ctx, step, actions).await
    };
    match pipeline {
        None => {
            copy_checked(ctx, step, actions, &|_| ()).await?;
            Ok(0)
        }
        Some(pipeline) => pipeline.run(ctx, step, actions).await,
    }
}

/// Copies the first file alone and has the backup instance read its header by the
/// server's own path to the copy folder before the rest is copied, a few at a time: a
/// server that cannot open what pcdr wrote stops the step naming both paths
/// ([`candidate`]) before more is copied where it cannot see. `done` hears of each
/// file that landed.
async fn copy_checked(
    ctx: &Context,
    step: StepId,
    actions: &[Action],
    done: &(dyn Fn(&Action) + Sync),
) -> Result<()> {
    let Some((first, rest)) = actions.split_first() else {
        return Ok(());
    };
    first.perform(ctx, step).await?;
    done(first);
    if let Some((name, _)) = first.copied_file() {
        let folder = log_shipping_folders(ctx).copy.server;
        candidate(ctx, step, &join_path(&folder, name)).await?;
    }
    perform_concurrently_reporting(ctx, step, rest, COPY_PARALLELISM, done).await
}

/// The restoring half of the pipelined copy step: the chain as it stands before the
/// copies start, and how to go on from there.
struct Pipeline {
    /// The copy folder, as the backup instance names it.
    folder: String,
    /// The chain's identity once `ready` is restored: what the next backup must continue.
    identity: ChainIdentity,
    /// Whether readers of a standby database must be ended before the first restore.
    standby: bool,
    /// Log backups already in the copy folder that continue the chain, in order.
    ready: Vec<LogBackup>,
    /// The restore point once `ready` is restored.
    point: Lsn,
    /// The files being copied, ordered by name (their backup time): lower case, as is.
    coming: Vec<(String, String)>,
}

/// The names of the files `actions` copy, ordered by name: lower case, as is.
fn coming_files(actions: &[Action]) -> Vec<(String, String)> {
    let mut coming: Vec<(String, String)> = actions
        .iter()
        .filter_map(Action::copied_file)
        .map(|(name, _)| (name.to_ascii_lowercase(), name.to_string()))
        .collect();
    coming.sort();
    coming
}

impl Pipeline {
    /// Observes the database and the copy folder as the apply step does. `None` (copy
    /// only, as in the sequential order) when the database takes no log backups, or
    /// the chain in the copy folder has a gap or a file SQL Server cannot read: the
    /// apply step decides those, as it must anyway.
    async fn start(ctx: &Context, step: StepId, actions: &[Action]) -> Option<Pipeline> {
        let db = ctx.chat_db();
        let site = ctx.restoring_site();
        let state = db_state(ctx, step, site, db).await.ok()??;
        if state.is_recovered() || !state.accepts_logs() {
            return None;
        }
        let point = ctx.sql(site).redo_start_lsn(db).await.ok()??;
        let coming = coming_files(actions);
        let folder = log_shipping_folders(ctx).copy;
        // A file about to be copied again (another size) is not read before it lands.
        let files: Vec<String> = sorted_files(ctx, step, &folder)
            .await
            .ok()?
            .into_iter()
            .filter(|f| {
                let name = file_name(f).to_ascii_lowercase();
                coming.binary_search_by(|(c, _)| c.cmp(&name)).is_err()
            })
            .collect();
        let identity = database_identity(ctx, step, &state).await.ok()?;
        let plan = restore_plan(ctx, step, &identity, point, &files)
            .await
            .ok()?;
        if plan.gap.is_some() {
            return None;
        }
        Some(Pipeline {
            folder: folder.server,
            identity: plan.final_identity(&identity),
            standby: state.in_standby,
            point: plan.to_restore.last().map_or(point, |b| b.header.last_lsn),
            ready: plan.to_restore,
            coming,
        })
    }

    /// Copies while restoring; a failed restore is the more specific cause, so it is
    /// reported before a failed copy.
    async fn run(self, ctx: &Context, step: StepId, actions: &[Action]) -> Result<usize> {
        let (landed, arrivals) = unbounded_channel();
        let report = move |action: &Action| {
            if let Some((name, _)) = action.copied_file() {
                // The restorer may have stopped listening; the copy goes on.
                let _ = landed.send(name.to_ascii_lowercase());
            }
        };
        // The copying future owns the sender, so the restorer hears the end of the copies.
        let copies = async move { copy_checked(ctx, step, actions, &report).await };
        let (copied, restored) =
            futures_util::future::join(copies, self.restore_as_copied(ctx, step, arrivals)).await;
        let restored = restored?;
        copied?;
        Ok(restored)
    }

    /// Restores `ready`, then each copied file in name order as soon as it has landed
    /// (its name arrives on `landed`) while it continues the chain. Stops quietly at
    /// the first file that does not land, cannot be read or does not continue the
    /// chain; returns how many log backups it restored.
    async fn restore_as_copied(
        self,
        ctx: &Context,
        step: StepId,
        mut landed: UnboundedReceiver<String>,
    ) -> Result<usize> {
        let mut restorer = Restorer::new(ctx, step, self.standby);
        for backup in self.ready {
            restorer.restore(backup).await?;
        }
        let mut point = self.point;
        let mut identity = self.identity;
        let mut arrived = HashSet::new();
        for (name, file) in &self.coming {
            while !arrived.contains(name) {
                match landed.recv().await {
                    Some(file) => arrived.insert(file),
                    None => return Ok(restorer.restored),
                };
            }
            let found = candidate(ctx, step, &join_path(&self.folder, file)).await?;
            let Ok(plan) = plan_log_restores(ctx.chat_db(), &identity, point, &[found]) else {
                return Ok(restorer.restored);
            };
            match plan.to_restore.into_iter().next() {
                Some(backup) => {
                    point = backup.header.last_lsn;
                    identity = identity.after(&backup.header);
                    restorer.restore(backup).await?;
                }
                None if plan.gap.is_none() => continue,
                None => break,
            }
        }
        Ok(restorer.restored)
    }
}

/// Restores log backups one at a time with the database to itself.
struct Restorer<'a> {
    ctx: &'a Context,
    step: StepId,
    /// Whether a standby copy's readers must still be ended before the first restore
    /// (SQL Server refuses the restore with 3101 otherwise), as the apply step does.
    end_sessions_first: bool,
    restored: usize,
}

impl<'a> Restorer<'a> {
    fn new(ctx: &'a Context, step: StepId, standby: bool) -> Self {
        Self {
            ctx,
            step,
            end_sessions_first: standby,
            restored: 0,
        }
    }

    async fn restore(&mut self, backup: LogBackup) -> Result<()> {
        let site = self.ctx.restoring_site();
        let database = self.ctx.chat_db().to_string();
        let mut actions = Vec::with_capacity(2);
        if std::mem::take(&mut self.end_sessions_first) {
            actions.push(Action::EndSessions {
                site,
                database: database.clone(),
            });
        }
        actions.push(Action::RestoreLog {
            site,
            database,
            backup,
        });
        let db = self.ctx.chat_db();
        perform_exclusive(self.ctx, self.step, site, db, &actions).await?;
        self.restored += 1;
        Ok(())
    }
}
