//! Human-readable plans and reports, for stdout. (`--json` prints the same values as
//! JSON documents instead, each with its `schema_version`.)

use pcdr_core::runbook::{Plan, PlannedStatus, Report, StepReport};
use pcdr_core::schema::{Document, Versioned};

#[cfg(test)]
#[path = "../pcdr-core/tests/support/snapshot.rs"]
mod snapshot;

/// `document` as pretty JSON, with its `schema_version` first.
pub fn json_text<T: Document>(document: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&Versioned::new(document))
}

/// Prints `document` as pretty JSON on stdout, with its `schema_version` first.
pub fn json<T: Document>(document: &T) {
    match json_text(document) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("pcdr: cannot write JSON: {e}"),
    }
}

/// Prints a plan: each step, what the observation found, and the exact commands.
pub fn plan(plan: &Plan) {
    println!("Plan: {}", plan.procedure);
    for (index, step) in plan.steps.iter().enumerate() {
        let status = match &step.status {
            PlannedStatus::WouldRun => "would run".to_string(),
            PlannedStatus::AlreadyDone { reason } => format!("already done: {reason}"),
            PlannedStatus::Unknown { reason } => format!("unknown: {reason}"),
            PlannedStatus::AfterEarlierSteps { reason } => {
                format!("after the earlier steps (today: {reason})")
            }
            PlannedStatus::Blocked { reason } => format!("BLOCKED: {reason}"),
        };
        println!(
            "\n{:>2}. {} ({})\n    {status}",
            index + 1,
            step.title,
            step.step.as_str()
        );
        for note in &step.notes {
            println!("    note: {note}");
        }
        for command in &step.commands {
            for line in command.to_string().lines() {
                println!("      {line}");
            }
        }
    }
    let unknown = plan.unobserved();
    let verdict = match (plan.can_run(), unknown) {
        (false, _) => "the procedure would refuse to run".to_string(),
        (true, 0) => "the procedure can run".to_string(),
        (true, n) => format!("nothing blocks the procedure, but {n} steps could not be observed"),
    };
    println!("\nVerdict: {verdict}.");
}

/// A step's duration in seconds with one decimal, or nothing if it did not end.
fn seconds(step: &StepReport) -> String {
    step.millis
        .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
        .unwrap_or_default()
}

/// Prints a report: a table of steps, then recovery time and data-loss evidence.
pub fn report(report: &Report) {
    println!("\n{:<26} {:<9} {:>9}  detail", "step", "outcome", "seconds");
    for step in &report.steps {
        let (outcome, detail) = outcome(step);
        let seconds = seconds(step);
        println!(
            "{:<26} {outcome:<9} {seconds:>9}  {detail}",
            step.step.as_str()
        );
    }
    println!();
    println!(
        "{} {}",
        report.procedure,
        if report.completed {
            "completed"
        } else {
            "NOT completed"
        }
    );
    if let Some(rto) = report.rto_seconds {
        println!("recovery time (wall clock of the run): {rto:.1} s");
    }
    match (
        &report.rpo.last_applied_file,
        &report.rpo.last_applied_finish,
    ) {
        (Some(file), Some(finish)) => println!(
            "last applied log backup: {file}, finished {}",
            finish.to_rfc3339()
        ),
        _ => println!("last applied log backup: none recorded by this run"),
    }
    if let Some(gap) = &report.rpo.accepted_gap {
        println!("DATA LOSS ACCEPTED: {gap}");
    }
    if let Some(share) = &report.rpo.share_not_read {
        println!(
            "DATA LOSS ACCEPTED: the share {} could not be read ({}); the log backups only it held are lost",
            share.share, share.reason
        );
    }
    println!(
        "files copied: {} ({} bytes); log backups restored: {}",
        report.files_copied, report.bytes_copied, report.logs_restored
    );
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
}

/// The report as Markdown: a heading, the step table, recovery time and data-loss
/// evidence.
pub fn markdown(report: &Report) -> String {
    let mut text = format!(
        "# pcdr {} report\n\nRun `{}`: {}.\n\n| step | outcome | seconds | detail |\n|---|---|---|---|\n",
        report.procedure,
        report.run_id,
        if report.completed {
            "completed"
        } else {
            "not completed"
        }
    );
    for step in &report.steps {
        let (outcome, detail) = outcome(step);
        let seconds = seconds(step);
        let detail = detail.replace('|', "\\|").replace('\n', " ");
        text.push_str(&format!(
            "| {} | {outcome} | {seconds} | {detail} |\n",
            step.step.as_str()
        ));
    }
    if let Some(rto) = report.rto_seconds {
        text.push_str(&format!(
            "\nRecovery time (wall clock of the run): {rto:.1} s.\n"
        ));
    }
    match (
        &report.rpo.last_applied_file,
        &report.rpo.last_applied_finish,
    ) {
        (Some(file), Some(finish)) => text.push_str(&format!(
            "\nLast applied log backup: `{file}`, finished {}.\n",
            finish.to_rfc3339()
        )),
        _ => text.push_str("\nNo log backup was applied by this run.\n"),
    }
    if let Some(gap) = &report.rpo.accepted_gap {
        text.push_str(&format!("\n**Data loss accepted:** {gap}.\n"));
    }
    if let Some(share) = &report.rpo.share_not_read {
        text.push_str(&format!(
            "\n**Data loss accepted:** the share `{}` could not be read ({}); the log backups only it held are lost.\n",
            share.share, share.reason
        ));
    }
    text.push_str(&format!(
        "\nFiles copied: {} ({} bytes); log backups restored: {}.\n",
        report.files_copied, report.bytes_copied, report.logs_restored
    ));
    if !report.warnings.is_empty() {
        text.push_str("\nWarnings:\n\n");
        for warning in &report.warnings {
            text.push_str(&format!("- {warning}\n"));
        }
    }
    text
}

fn outcome(step: &StepReport) -> (&'static str, String) {
    match (&step.outcome, &step.error) {
        (Some(pcdr_core::procedure::StepOutcome::Done { summary }), _) => ("done", summary.clone()),
        (Some(pcdr_core::procedure::StepOutcome::Skipped { reason }), _) => {
            ("skipped", reason.clone())
        }
        (None, Some(error)) => ("FAILED", error.clone()),
        (None, None) => ("not run", String::new()),
    }
}

/// Checks the JSON `--json` prints for `document` against `tests/snapshots/<name>.json`.
#[cfg(test)]
pub fn assert_json_snapshot<T: Document>(name: &str, document: &T) {
    let path = format!("{}/tests/snapshots/{name}.json", env!("CARGO_MANIFEST_DIR"));
    snapshot::assert_snapshot(&path, &json_text(document).unwrap());
}
