//! Human-readable plans and reports, for stdout. (`--json` prints the same values as
//! JSON documents instead, each with its `schema_version`.)

use pcdr_core::runbook::{Plan, PlannedStatus, Report, StepReport};
use pcdr_core::schema::{Document, Versioned};

use crate::timeline;

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
    if let Some(outage) = outage(report) {
        println!("outage: {outage}");
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

/// The pool's outage in one sentence: how long it served no one, from when to when,
/// and the bytes moved meanwhile.
fn outage(report: &Report) -> Option<String> {
    let window = report.outage.as_ref()?;
    let from = match window.fenced_by {
        Some(fence) => format!(
            "{} ({} started)",
            window.started.to_rfc3339(),
            fence.as_str()
        ),
        None => format!(
            "{} (the run's start: the pool served no one already)",
            window.started.to_rfc3339()
        ),
    };
    let to = match window.ended {
        Some(end) => format!(
            "to {} ({} ended)",
            end.to_rfc3339(),
            report
                .procedure
                .activating_step()
                .map_or("the activation", |step| step.as_str())
        ),
        None => "and still serves no one: the run has not activated its servers".to_string(),
    };
    Some(format!(
        "the pool served no one for {:.1} s, from {from} {to}; {} bytes moved inside the window (log backups copied and restored, full backups written and restored)",
        window.seconds, window.bytes_moved
    ))
}

/// The report as Markdown: a heading, the step table, the timeline (a Mermaid chart),
/// recovery time, the pool's outage and data-loss evidence.
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
    if let Some(chart) = timeline::gantt(report) {
        text.push_str(&format!("\nTimeline:\n\n{chart}"));
    }
    if let Some(rto) = report.rto_seconds {
        text.push_str(&format!(
            "\nRecovery time (wall clock of the run): {rto:.1} s.\n"
        ));
    }
    if let Some(outage) = outage(report) {
        text.push_str(&format!("\n**Outage:** {outage}.\n"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use pcdr_core::procedure::{Facts, RunOptions, StepOutcome, failback};
    use pcdr_core::runbook::{JOURNAL_FORMAT, Record};

    /// `millis` after 2026-11-27 13:00:00 UTC.
    fn at(millis: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).unwrap() + Duration::milliseconds(millis)
    }

    /// A failback journaled up to (not including) its step at `until`: step `i` starts at
    /// `i` × 2.5 s and takes 2 s; the first is skipped, the others are done and each
    /// copies one more log backup of 1024 bytes.
    fn failback_report(until: usize) -> Report {
        let mut records = vec![Record::Started {
            format: JOURNAL_FORMAT,
            procedure: failback::PROCEDURE,
            run_id: "20261127130000".into(),
            options: RunOptions::default(),
            deployment: None,
            at: at(0),
        }];
        for (index, &step) in (0..).zip(&failback::PROCEDURE.steps()[..until]) {
            let outcome = if index == 0 {
                StepOutcome::Skipped {
                    reason: "checked already".into(),
                }
            } else {
                StepOutcome::Done {
                    summary: format!("{} done", step.as_str()),
                }
            };
            let facts = Facts {
                files_copied: index as u64,
                bytes_copied: 1024 * index as u64,
                bytes_moved: 1024 * index as u64,
                ..Facts::default()
            };
            records.push(Record::StepStarted {
                step,
                at: at(index * 2500),
            });
            records.push(Record::StepFinished {
                step,
                outcome,
                facts,
                at: at(index * 2500 + 2000),
            });
        }
        if until == failback::PROCEDURE.steps().len() {
            records.push(Record::Finished {
                at: at(until as i64 * 2500),
            });
        }
        Report::from_records(failback::PROCEDURE, &records)
    }

    #[test]
    fn the_markdown_report_draws_the_timeline_and_states_the_outage() {
        let report = failback_report(failback::PROCEDURE.steps().len());
        snapshot::assert_snapshot(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/report.md"),
            &markdown(&report),
        );
    }

    #[test]
    fn an_open_outage_is_drawn_and_stated_as_still_open() {
        let activation = failback::PROCEDURE
            .steps()
            .iter()
            .position(|&s| s == failback::ACTIVATE_PRIMARY_SERVERS)
            .unwrap();
        let text = markdown(&failback_report(activation));
        assert!(text.contains("pool serves no one, still open"), "{text}");
        assert!(
            text.contains("the run has not activated its servers"),
            "{text}"
        );
    }
}
