//! Progress of a running procedure, on stderr: a line per step, and bars for copying
//! and restoring on a terminal; plain lines when stderr is not a terminal; JSON lines
//! with `--json`, each an event with its `schema_version` ([`pcdr_core::schema`]).

use indicatif::{ProgressBar, ProgressStyle};
use pcdr_core::procedure::{Event, Observer};
use pcdr_core::schema::Versioned;
use std::io::IsTerminal;
use std::sync::Mutex;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Lines and progress bars.
    Terminal,
    /// Lines only.
    Plain,
    /// One JSON object per event.
    Json,
}

impl Style {
    /// JSON when asked, bars when stderr is a terminal, plain lines otherwise.
    pub fn detect(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stderr().is_terminal() {
            Self::Terminal
        } else {
            Self::Plain
        }
    }
}

/// Prints progress events.
pub struct Progress {
    style: Style,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// A printer in `style`.
    pub fn new(style: Style) -> Self {
        Self {
            style,
            bar: Mutex::new(None),
        }
    }

    fn line(&self, text: &str) {
        match self.bar.lock().ok().and_then(|b| b.clone()) {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn start_bar(&self, actions: usize, bytes: u64) {
        if self.style != Style::Terminal {
            return;
        }
        let (length, template) = if bytes > 0 {
            (
                bytes,
                "  {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
        } else {
            (actions as u64, "  {bar:30} {pos}/{len} eta {eta}")
        };
        let bar = ProgressBar::new(length);
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, by: u64) {
        if let Some(bar) = self.bar.lock().ok().and_then(|b| b.clone()) {
            bar.inc(by);
        }
    }

    fn finish_bar(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        if self.style == Style::Json {
            if let Ok(json) = serde_json::to_string(&Versioned::new(event)) {
                eprintln!("{json}");
            }
            return;
        }
        match event {
            Event::StepStarted { step, title } => {
                self.line(&format!("> {title} ({})", step.as_str()))
            }
            Event::Planned { actions, bytes, .. } => self.start_bar(*actions, *bytes),
            Event::FileCopied { file, bytes } => {
                self.advance(*bytes);
                self.line(&format!("    copied {file} ({bytes} bytes)"));
            }
            Event::LogRestored {
                file,
                first_lsn,
                last_lsn,
            } => {
                self.advance(1);
                self.line(&format!(
                    "    restored {file} (LSN {first_lsn} to {last_lsn})"
                ));
            }
            Event::Note { text, .. } => self.line(&format!("    note: {text}")),
            Event::SessionsEnded {
                target,
                database,
                sessions,
                ..
            } => self.line(&format!(
                "    ended {sessions} sessions on {database} on {target}"
            )),
            Event::StepFinished {
                summary, millis, ..
            } => {
                self.finish_bar();
                self.line(&format!(
                    "  done: {summary} ({:.1} s)",
                    *millis as f64 / 1000.0
                ));
            }
            Event::StepSkipped { reason, .. } => self.line(&format!("  skipped: {reason}")),
            Event::StepFailed { error, .. } => {
                self.finish_bar();
                self.line(&format!("  FAILED: {error}"));
            }
        }
    }
}
