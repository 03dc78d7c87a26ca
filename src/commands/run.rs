//! `pcdr failover` and `pcdr failback`: confirm, run with a journal (or resume one),
//! show progress, print the report.

use super::load_topology;
use crate::progress::{Progress, Style};
use crate::{exit, render};
use pcdr_core::adapters;
use pcdr_core::procedure::{Context, Procedure, RunOptions};
use pcdr_core::runbook::{Record, Report, Runbook, new_run_id, read_records};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What the operator asked for.
pub struct RunArgs {
    /// The topology file.
    pub topology: PathBuf,
    /// The journal file (default `pcdr-PROCEDURE.journal` here).
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
        .unwrap_or_else(|| PathBuf::from(format!("pcdr-{procedure}.journal")));
    if let Err(code) = check_journal(procedure, &journal, args.resume) {
        return code;
    }
    if !args.resume && !args.yes && !confirmed(procedure, &topology.pool.fqdn) {
        eprintln!("pcdr: not confirmed; nothing was changed");
        return ExitCode::from(exit::REFUSED);
    }
    let planes = match adapters::connect(&topology) {
        Ok(planes) => planes,
        Err(e) => return exit::report(&e),
    };
    let progress = Arc::new(Progress::new(Style::detect(args.json)));
    let ctx = Context::new(
        Arc::new(topology),
        planes,
        args.options.clone(),
        new_run_id(),
    )
    .with_observer(progress);
    cancel_on_ctrl_c(&ctx);
    let runbook = Runbook::new(ctx, &journal);
    let result = if args.resume {
        runbook.resume().await
    } else {
        runbook.execute(procedure).await
    };
    finish(procedure, &args, &journal, result)
}

/// Refuses to start over a journal that holds a run, and to resume one that does not
/// exist or belongs to the other procedure.
fn check_journal(procedure: Procedure, journal: &Path, resume: bool) -> Result<(), ExitCode> {
    if is_locked(journal) {
        eprintln!(
            "pcdr: journal {} is locked by another pcdr run; wait for it to finish (or stop it), then resume",
            journal.display()
        );
        return Err(ExitCode::from(exit::REFUSED));
    }
    let records = if journal.exists() {
        read_records(journal).map_err(|e| exit::report(&e))?
    } else {
        Vec::new()
    };
    let held = records.iter().find_map(|r| match r {
        Record::Started { procedure, .. } => Some(*procedure),
        _ => None,
    });
    let finished = records.iter().any(|r| matches!(r, Record::Finished { .. }));
    let fail = |message: String| {
        eprintln!("pcdr: {message}");
        Err(ExitCode::from(exit::USAGE))
    };
    match (held, resume) {
        (Some(other), _) if other != procedure => fail(format!(
            "{} holds a {other} run, not a {procedure}",
            journal.display()
        )),
        (Some(_), false) if finished => fail(format!(
            "{} holds a completed {procedure}; give another --journal for a new run",
            journal.display()
        )),
        (Some(_), false) => fail(format!(
            "{} holds an interrupted {procedure}; run the same command with --resume to continue it",
            journal.display()
        )),
        (None, true) => fail(format!("{} holds no run to resume", journal.display())),
        _ => Ok(()),
    }
}

/// Whether another run holds the journal's lock (checked before reading it, so the
/// refusal says so rather than describing the other run's records).
fn is_locked(journal: &Path) -> bool {
    std::fs::File::open(journal)
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
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
fn cancel_on_ctrl_c(ctx: &Context) {
    let flag = ctx.cancel_flag();
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
    journal: &Path,
    result: pcdr_core::Result<Report>,
) -> ExitCode {
    match result {
        Ok(report) => {
            write_reports(journal, &report);
            if args.json {
                render::json(&report);
            } else {
                render::report(&report);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if !matches!(
                error,
                pcdr_core::Error::Journal { .. } | pcdr_core::Error::JournalLocked { .. }
            ) && let Ok(records) = read_records(journal)
            {
                write_reports(journal, &Report::from_records(procedure, &records));
            }
            let code = exit::report(&error);
            if matches!(
                exit::for_error(&error),
                exit::FAILED | exit::REFUSED | exit::INTERRUPTED
            ) {
                eprintln!(
                    "pcdr: the journal {} records where the run stopped; after fixing the cause, continue with:\n  pcdr {procedure} --topology {} --journal {} --resume",
                    journal.display(),
                    args.topology.display(),
                    journal.display()
                );
            }
            code
        }
    }
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
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("pcdr: cannot write the report {}: {e}", path.display());
        }
    }
}
