//! The parse error: what was refused or malformed, and where.
//!
//! This module owns the error type and its PowerShell-like rendering; it
//! decides nothing about which input is refused.

use std::fmt;

/// Why a script was not parsed: a message and the position it refers to.
///
/// `line` and `column` are 1-based; a column counts characters (Unicode
/// scalar values) from the start of the line. `Display` renders the error
/// the way PowerShell's parser does:
///
/// ```text
/// At line:1 char:13
/// + Get-X -Name 'abc
/// +             ~
/// The string is missing the terminator: '.
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, naming the refused construct.
    pub message: String,
    /// The 1-based line of the offending text.
    pub line: usize,
    /// The 1-based column (in characters) of the offending text.
    pub column: usize,
    /// The full text of that line, without its line break.
    pub source_line: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "At line:{} char:{}", self.line, self.column)?;
        writeln!(f, "+ {}", self.source_line)?;
        writeln!(f, "+ {}~", self.caret_indent())?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// The whitespace that puts the caret under `column`, keeping tabs so
    /// the caret lines up however the terminal renders them.
    fn caret_indent(&self) -> String {
        self.source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_points_a_caret_at_the_column() {
        let error = ParseError {
            message: "The string is missing the terminator: '.".into(),
            line: 1,
            column: 13,
            source_line: "Get-X -Name 'abc".into(),
        };
        assert_eq!(
            error.to_string(),
            "At line:1 char:13\n+ Get-X -Name 'abc\n+             ~\nThe string is missing the terminator: '."
        );
    }

    #[test]
    fn display_keeps_tabs_in_the_caret_indent() {
        let error = ParseError {
            message: "m".into(),
            line: 2,
            column: 3,
            source_line: "\tab".into(),
        };
        assert_eq!(error.to_string(), "At line:2 char:3\n+ \tab\n+ \t ~\nm");
    }
}
