//! The failover journal a failback reads at its start, for the log-shipping setup the
//! failover recorded (its `snapshot_log_shipping` step) before it removed it: the
//! failback sets log shipping up again with the same `disconnect_users`, restore delay
//! and mode, file retention and alert thresholds. This module checks the journal and
//! copies its snapshot into the failback's facts, which the failback's own journal
//! keeps from then on (a resumed failback does not read the failover journal again). It
//! never writes the failover journal.
//!
//! The journal must hold a completed failover whose facts hold a snapshot, of the same
//! deployment: the same pool, instances and databases
//! ([`Deployment::name_differences`]). Two things are not compared: the backup
//! database's family, which a resume compares for a run in progress, but which is not
//! the failover journal's to vouch for once the failover is over (the backup database
//! has been recovered, served the pool, and may have been re-seeded by an earlier
//! failback attempt since); and the topology's log-shipping settings, which are what
//! the snapshot replaces. Nor is the journal's age checked: a failback follows its
//! failover by days or weeks.

use super::Deployment;
use super::history::History;
use super::journal::read_records;
use crate::error::{Error, Result};
use crate::planes::LogShippingSnapshot;
use crate::procedure::{Context, Procedure, failback, failover};
use std::path::Path;

/// Copies the snapshot of the failover journal [`RunOptions::failover_journal`] names
/// into the facts of a failback (or an online failback's prepare phase) that has none
/// yet; refuses a journal that is not a
/// completed failover of this deployment with a snapshot. Other procedures, and a
/// failback without a failover journal, are left as they are.
///
/// [`RunOptions::failover_journal`]: crate::procedure::RunOptions::failover_journal
pub(super) fn adopt_failover_snapshot(ctx: &Context, procedure: Procedure) -> Result<()> {
    let Some(journal) = &ctx.options.failover_journal else {
        return Ok(());
    };
    if !follows_a_failover(procedure) || ctx.facts().snapshot.is_some() {
        return Ok(());
    }
    let snapshot = failover_snapshot(journal, ctx)?;
    ctx.update_facts(|facts| {
        facts.snapshot = Some(snapshot);
        facts.snapshot_journal = Some(journal.clone());
    });
    Ok(())
}

/// Whether `procedure` sets log shipping up again after a failover, with the settings
/// its snapshot recorded.
pub fn follows_a_failover(procedure: Procedure) -> bool {
    procedure == failback::PROCEDURE || procedure == failback::online::PROCEDURE
}

/// The snapshot `journal` holds, when it is a completed failover of the deployment
/// `ctx` acts on.
fn failover_snapshot(journal: &Path, ctx: &Context) -> Result<LogShippingSnapshot> {
    let refuse = |message: String| Error::Journal {
        path: journal.to_path_buf(),
        message: format!(
            "{message}; name the failover's own journal with --failover-journal (the failover_journal option of the C and Python bindings), or move this one away to fail back with the topology's log-shipping settings"
        ),
    };
    if !journal.exists() {
        return Err(refuse(
            "is given as the failover journal but does not exist".into(),
        ));
    }
    let records = read_records(journal)?;
    let history = History::read(&records)
        .ok_or_else(|| refuse("is given as the failover journal but holds no run".into()))?;
    if history.procedure != failover::PROCEDURE {
        return Err(refuse(format!(
            "is given as the failover journal but holds a {} run",
            history.procedure
        )));
    }
    if !history.finished {
        return Err(refuse(
            "holds a failover that did not complete: finish it with --resume first".into(),
        ));
    }
    if let Some(then) = &history.deployment {
        let differences = then.name_differences(&Deployment::of(&ctx.topology));
        if !differences.is_empty() {
            return Err(refuse(format!(
                "holds the failover of another deployment: {}",
                differences.join("; ")
            )));
        }
    }
    history.facts.snapshot.ok_or_else(|| {
        refuse("holds a failover that recorded no log-shipping snapshot (log shipping was not configured when it ran)".into())
    })
}
