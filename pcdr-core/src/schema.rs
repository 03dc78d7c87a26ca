//! The version of each JSON document pcdr writes, carried as the document's first key,
//! `"schema_version"`: a reader checks it before anything else and refuses a version
//! it does not know instead of misreading the document.
//!
//! Each document type states its version once, next to its definition, as
//! [`Document::SCHEMA_VERSION`]; this module depends on none of them:
//!
//! | document | type | written by |
//! |---|---|---|
//! | run report | [`Report`](crate::runbook::Report) | `pcdr failover/failback --json`, `<journal>.report.json`, `pcdr_runbook_report` |
//! | plan | [`Plan`](crate::runbook::Plan) | `pcdr plan --json`, `pcdr_runbook_plan` |
//! | progress event | [`Event`](crate::procedure::Event) | `--json` progress lines on stderr, the C progress callback |
//! | run outcome | [`RunOutcome`](crate::embed::RunOutcome) | `pcdr_runbook_run`, `pcdr_runbook_resume` |
//! | step outcome | [`StepOutcome`](crate::procedure::StepOutcome) | `pcdr_runbook_run_step` |
//! | drill summary | `pcdr_sim::drill::DrillReport` | `pcdr drill --json` |
//! | status | the CLI's status | `pcdr status --json` |
//!
//! Writers wrap the value in [`Versioned`], which adds the key; this module owns no
//! document's content. A version is raised when a key is removed or renamed or its type
//! or meaning changes; adding a key keeps it, since readers ignore keys they do not
//! know. A document embedding another (a drill summary holds two reports) is raised
//! with it; the embedded one carries no version of its own.
//!
//! ```
//! use pcdr_core::schema::{Document, Versioned};
//!
//! #[derive(serde::Serialize)]
//! struct Greeting {
//!     text: &'static str,
//! }
//!
//! impl Document for Greeting {
//!     const SCHEMA_VERSION: u32 = 3;
//! }
//!
//! let json = serde_json::to_string(&Versioned::new(&Greeting { text: "hi" })).unwrap();
//! assert_eq!(json, r#"{"schema_version":3,"text":"hi"}"#);
//! ```

use serde::Serialize;

/// A JSON document pcdr writes at top level: a struct, or an enum tagged by a key.
pub trait Document: Serialize {
    /// The version of the document's shape, written as `"schema_version"`.
    const SCHEMA_VERSION: u32;
}

/// A document with its version: serializes as `{"schema_version": N, …the document's
/// keys}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Versioned<'a, T> {
    schema_version: u32,
    #[serde(flatten)]
    document: &'a T,
}

impl<'a, T: Document> Versioned<'a, T> {
    /// `document` with its type's version.
    pub fn new(document: &'a T) -> Self {
        Self {
            schema_version: T::SCHEMA_VERSION,
            document,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_chain::Lsn;
    use crate::procedure::{Event, StepOutcome, failover};

    /// One event of each kind, as a failover's copy step would send them.
    fn events() -> Vec<Event> {
        let step = failover::PROCEDURE.steps()[3];
        let file = r"D:\LogShipping\mgc\mgc_20261127120400.trn".to_string();
        vec![
            Event::StepStarted {
                step,
                title: step.title(),
            },
            Event::Planned {
                step,
                actions: 2,
                bytes: 2048,
            },
            Event::Note {
                step,
                text: "restoring each log backup as it lands".into(),
            },
            Event::FileCopied {
                file: file.clone(),
                bytes: 1024,
            },
            Event::LogRestored {
                file,
                first_lsn: Lsn(400),
                last_lsn: Lsn(500),
            },
            Event::StepFinished {
                step,
                summary: "copied 2 log backups".into(),
                millis: 1500,
            },
            Event::StepSkipped {
                step,
                reason: "nothing left to copy".into(),
            },
            Event::StepFailed {
                step,
                error: "the share does not answer".into(),
            },
        ]
    }

    #[test]
    fn the_event_lines_match_their_snapshot() {
        let lines: Vec<String> = events()
            .iter()
            .map(|event| serde_json::to_string(&Versioned::new(event)).unwrap())
            .collect();
        crate::snapshot::assert_snapshot(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/events.jsonl"),
            &lines.join("\n"),
        );
    }

    #[test]
    fn the_version_comes_first_then_the_document_as_it_is() {
        let outcome = StepOutcome::Skipped {
            reason: "already done".into(),
        };
        let versioned = serde_json::to_string(&Versioned::new(&outcome)).unwrap();
        let bare = serde_json::to_string(&outcome).unwrap();
        assert_eq!(
            versioned,
            r#"{"schema_version":1,"outcome":"skipped","reason":"already done"}"#
        );
        assert_eq!(versioned.replace(r#""schema_version":1,"#, ""), bare);
    }
}
