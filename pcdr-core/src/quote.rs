//! The one audited place where untrusted text is turned into code.
//!
//! Names and paths normally travel as `sp_executesql` parameters and never touch SQL
//! text. Two statements cannot take parameters: `ALTER DATABASE` needs a literal
//! database name and `KILL` a literal integer (typed, so it needs no quoting). Cmdlet
//! arguments are passed to PowerShell inside a script. Those cases, and only those, go
//! through the functions here. Nothing else in pcdr builds code from strings.

use std::fmt;

/// The longest name `QUOTENAME` accepts (a `sysname`).
pub const MAX_SQL_NAME_CHARS: usize = 128;

/// A name `QUOTENAME` would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// Empty names are not SQL Server identifiers.
    #[error("an empty name cannot be quoted")]
    Empty,
    /// Longer than a `sysname`.
    #[error("a name of {0} characters cannot be quoted (at most 128)")]
    TooLong(usize),
}

/// Quotes a T-SQL identifier by `QUOTENAME`'s rules: wrapped in `[` `]`, every `]`
/// doubled, at most 128 characters.
///
/// ```
/// use pcdr_core::quote::quote_sql_name;
/// assert_eq!(quote_sql_name("mgc").unwrap(), "[mgc]");
/// assert_eq!(quote_sql_name("a]b").unwrap(), "[a]]b]");
/// ```
pub fn quote_sql_name(name: &str) -> Result<String, QuoteError> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err(QuoteError::Empty);
    }
    if chars > MAX_SQL_NAME_CHARS {
        return Err(QuoteError::TooLong(chars));
    }
    Ok(format!("[{}]", name.replace(']', "]]")))
}

/// The characters PowerShell treats as a single quote inside a single-quoted string.
const POWERSHELL_SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Quotes a value as a PowerShell single-quoted (verbatim) string: every single-quote
/// character, including the typographic ones PowerShell also honours, is doubled.
///
/// ```
/// use pcdr_core::quote::quote_powershell;
/// assert_eq!(quote_powershell("O'Brien"), "'O''Brien'");
/// assert_eq!(quote_powershell("$(whoami)"), "'$(whoami)'");
/// ```
pub fn quote_powershell(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if POWERSHELL_SINGLE_QUOTES.contains(&c) {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// A T-SQL identifier already quoted by [`quote_sql_name`]; displaying it yields the
/// quoted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedName(String);

impl QuotedName {
    /// Quotes `name`.
    pub fn new(name: &str) -> Result<Self, QuoteError> {
        quote_sql_name(name).map(Self)
    }
}

impl fmt::Display for QuotedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_brackets_are_doubled_and_nothing_else_changes() {
        assert_eq!(quote_sql_name("m]g[c'--").unwrap(), "[m]]g[c'--]");
        assert_eq!(quote_sql_name("]]").unwrap(), "[]]]]]");
    }

    #[test]
    fn quotename_limits_apply() {
        assert_eq!(quote_sql_name(""), Err(QuoteError::Empty));
        let long = "é".repeat(129);
        assert_eq!(quote_sql_name(&long), Err(QuoteError::TooLong(129)));
        assert!(quote_sql_name(&"é".repeat(128)).is_ok());
    }

    #[test]
    fn powershell_typographic_quotes_are_doubled_too() {
        assert_eq!(quote_powershell("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(quote_powershell(""), "''");
        assert_eq!(quote_powershell("`n\"$x\""), "'`n\"$x\"'");
    }
}
