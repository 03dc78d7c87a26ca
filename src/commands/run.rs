//! `pcdr failover`, `pcdr failback` (one command per procedure): confirm, run with a
//! journal (or resume one) through [`Embedded`], the API every front end shares, show
//! progress, write and print the report.

use super::journals::{default_journal, with_failover_journal};
use super::load_topology;
use crate::progress::{Progress, Style};
use crate::{exit, render};
use pcdr_core::embed::{Embedded, Options, RunOutcome};
use pcdr_core::procedure::{Procedure, RunOptions};
use pcdr_core::runbook::{JournalUse, Report, check_journal};
use pcdr_core::{Error, ErrorKind};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the operator asked for.
pub struct RunArgs {
    /// The topology file.
    pub topology: PathBuf,
    /// The journal file (default `pcdr-PROCEDURE-POOL.journal` here).
    pub journal: Option<PathBuf>,
    /// Skip the confirmation prompt.
    pub yes: bool,
    /// Continue the run the journal holds.
    pub resume: bool,
    /// The operator's decisions.
    pub options: RunOptions,
    /// Machine-readable output.
    pub json: bool,
}

/// Runs or resumes `procedure`.
pub async fn run(procedure: Procedure, args: RunArgs) -> ExitCode {
    let topology = match load_topology(&args.topology) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let journal = args
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(procedure, &topology.pool.fqdn));
    // Checked before asking anything or contacting anyone; the run checks again.
    let usage = if args.resume {
        JournalUse::Resume(Some(procedure))
    } else {
        JournalUse::Start(procedure)
    };
    if let Err(e) = check_journal(&journal, usage) {
        return exit::report(&e);
    }
    if !args.resume && !args.yes && !confirmed(procedure, &topology.pool.fqdn) {
        eprintln!("pcdr: not confirmed; nothing was changed");
        return ExitCode::from(exit::REFUSED);
    }
    let options = Options {
        journal: Some(journal),
        dry_run: false,
        decisions: with_failover_journal(procedure, &topology.pool.fqdn, args.options.clone()),
    };
    let mut runbook = match Embedded::new(topology, options) {
        Ok(runbook) => runbook,
        Err(e) => return exit::report(&e),
    };
    runbook.set_observer(Arc::new(Progress::new(Style::detect(args.json))));
    cancel_on_ctrl_c(runbook.cancel_flag());
    let result = if args.resume {
        runbook.resume().await
    } else {
        runbook.run(procedure).await
    };
    finish(procedure, &args, &runbook, result)
}

/// Asks the operator to type the pool's FQDN.
fn confirmed(procedure: Procedure, fqdn: &str) -> bool {
    eprint!("This will run the {procedure} of pool {fqdn}. Type the pool FQDN to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok()
        && answer.trim().eq_ignore_ascii_case(fqdn)
}

/// Ctrl-C stops the run before its next action; the journal stays resumable.
fn cancel_on_ctrl_c(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\npcdr: interrupted; stopping before the next action");
            flag.store(true, Ordering::SeqCst);
        }
    });
}

fn finish(
    procedure: Procedure,
    args: &RunArgs,
    runbook: &Embedded,
    result: pcdr_core::Result<RunOutcome>,
) -> ExitCode {
    match result {
        Ok(RunOutcome::Completed { report }) => {
            write_reports(runbook.journal(), &report);
            if args.json {
                render::json(report.as_ref());
            } else {
                render::report(&report);
            }
            ExitCode::SUCCESS
        }
        // Only a dry run plans, and the command line's runs are not dry runs (`pcdr
        // plan` plans); shown as `pcdr plan` shows it all the same.
        Ok(RunOutcome::Planned { plan }) => super::plan::print(&plan, args.json, false),
        Err(error) => failed(procedure, args, runbook, &error),
    }
}

/// Reports a run that stopped: the report files (unless the journal itself was refused),
/// the error, and how to continue when the journal can be resumed.
fn failed(procedure: Procedure, args: &RunArgs, runbook: &Embedded, error: &Error) -> ExitCode {
    let journal = runbook.journal();
    let journal_refused = matches!(error.kind(), ErrorKind::Journal | ErrorKind::JournalLocked);
    if !journal_refused && let Ok(report) = runbook.report() {
        write_reports(journal, &report);
    }
    let code = exit::report(error);
    if !journal_refused
        && matches!(
            exit::for_error(error),
            exit::FAILED | exit::REFUSED | exit::INTERRUPTED
        )
    {
        eprintln!(
            "pcdr: the journal {} records where the run stopped; after fixing the cause, continue with:\n  pcdr {procedure} --topology {} --journal {} --resume",
            journal.display(),
            args.topology.display(),
            journal.display()
        );
    }
    code
}

/// Writes the report next to the journal, as JSON and as Markdown (`<journal>.report.json`,
/// `<journal>.report.md`); a failure to write them is reported, not fatal.
fn write_reports(journal: &Path, report: &Report) {
    let with = |extension: &str| {
        let mut name = journal.as_os_str().to_owned();
        name.push(extension);
        PathBuf::from(name)
    };
    for (path, text) in [
        (with(".report.json"), report.to_json()),
        (with(".report.md"), render::markdown(report)),
    ] {
        let written = pcdr_core::private_file::create(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
        if let Err(e) = written {
            eprintln!("pcdr: cannot write the report {}: {e}", path.display());
        }
    }
}
