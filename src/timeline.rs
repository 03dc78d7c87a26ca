//! The run's timeline as a picture: a Mermaid `gantt` chart (GitHub, GitLab and Azure
//! DevOps render it in Markdown) with the pool's outage as its own bar and every step
//! the journal saw end as a bar from its last start to its end. Only what the journal
//! records is drawn: a step's inner work (the copy step's restores of log backups as
//! they land) lies within its bar. This module draws; what the times are is the
//! report's ([`pcdr_core::runbook::Report`]).

use chrono::{DateTime, Duration, Utc};
use pcdr_core::procedure::StepOutcome;
use pcdr_core::runbook::{OutageWindow, Report, StepReport};

/// The chart as a fenced `mermaid` block, or nothing when the journal holds no time to
/// draw (no step ended and the pool was not fenced).
pub fn gantt(report: &Report) -> Option<String> {
    let outage = report.outage.as_ref().map(outage_bar);
    let steps: Vec<String> = report.steps.iter().filter_map(step_bar).collect();
    if outage.is_none() && steps.is_empty() {
        return None;
    }
    let mut chart = format!(
        "```mermaid\ngantt\n    title {} run {} (UTC)\n    dateFormat YYYY-MM-DD HH:mm:ss.SSS\n    axisFormat %H:%M:%S\n",
        report.procedure, report.run_id
    );
    if let Some(bar) = outage {
        chart.push_str(&format!("    section Outage\n    {bar}\n"));
    }
    chart.push_str("    section Steps\n");
    for bar in steps {
        chart.push_str(&format!("    {bar}\n"));
    }
    chart.push_str("```\n");
    Some(chart)
}

/// The outage's bar: critical, or active while the window is still open.
fn outage_bar(outage: &OutageWindow) -> String {
    let (tag, end, name) = match outage.ended {
        Some(end) => ("crit", end, "pool serves no one"),
        None => {
            let so_far = Duration::milliseconds((outage.seconds * 1000.0) as i64);
            (
                "active",
                outage.started + so_far,
                "pool serves no one, still open",
            )
        }
    };
    bar(
        &format!("{name} ({:.1} s)", outage.seconds),
        tag,
        outage.started,
        end,
    )
}

/// A step's bar, if it started and ended: plain when done, greyed (`done`) when skipped,
/// critical when its last attempt failed.
fn step_bar(step: &StepReport) -> Option<String> {
    let tag = match (&step.outcome, &step.error) {
        (Some(StepOutcome::Done { .. }), _) => "",
        (Some(StepOutcome::Skipped { .. }), _) => "done",
        (None, Some(_)) => "crit",
        (None, None) => return None,
    };
    Some(bar(step.step.as_str(), tag, step.started?, step.ended?))
}

/// One task line: `name :tag, start, end` (no tag: `name :start, end`).
fn bar(name: &str, tag: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let tag = if tag.is_empty() {
        String::new()
    } else {
        format!("{tag}, ")
    };
    format!("{name} :{tag}{}, {}", time(start), time(end))
}

/// A time as the chart's `dateFormat` reads it.
fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}
