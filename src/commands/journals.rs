//! The journals a command finds when none is named: one per procedure and pool, and,
//! for a failback (online or not), the journal of the failover it follows.

use pcdr_core::procedure::{Procedure, RunOptions, failover};
use pcdr_core::runbook::follows_a_failover;
use std::path::PathBuf;

/// The journal a run uses when none is named: one per procedure and pool
/// (`pcdr-failover-pchat.contoso.com.journal`), so a journal left by another pool's run
/// or drill is never picked up by mistake.
pub fn default_journal(procedure: Procedure, pool: &str) -> PathBuf {
    PathBuf::from(format!("pcdr-{procedure}-{pool}.journal"))
}

/// The operator's decisions for `procedure` on `pool`: a failback that names no failover
/// journal reads the failover's default one, when it exists.
pub fn with_failover_journal(procedure: Procedure, pool: &str, options: RunOptions) -> RunOptions {
    let default = default_journal(failover::PROCEDURE, pool);
    let found = follows_a_failover(procedure) && default.exists();
    RunOptions {
        failover_journal: options
            .failover_journal
            .or_else(|| found.then_some(default)),
        ..options
    }
}
