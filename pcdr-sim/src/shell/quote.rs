//! Which characters PowerShell treats as quotes and dashes, and the
//! single-quote rule that turns any text into a literal PowerShell string.
//!
//! This module owns character classes only; scanning lives in `lexer.rs`.

/// True for the characters PowerShell accepts as a single quote:
/// `'` and the typographic quotes `‘ ’ ‚ ‛` (U+2018, U+2019, U+201A, U+201B).
pub(super) fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

/// True for the characters PowerShell accepts as a double quote:
/// `"` and the typographic quotes `“ ” „` (U+201C, U+201D, U+201E).
pub(super) fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

/// True for the characters PowerShell accepts as the dash that starts a
/// parameter: `-` and the dashes `– — ―` (U+2013, U+2014, U+2015).
pub(super) fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

/// Quotes `value` as a PowerShell single-quoted string literal.
///
/// The value is wrapped in `'` and every character PowerShell treats as a
/// single quote (`'`, `‘`, `’`, `‚`, `‛`) is doubled; nothing else is special
/// inside single quotes, so the result always reads back as exactly `value`.
///
/// ```
/// use pcdr_sim::shell::quote_single;
/// assert_eq!(quote_single("it's"), "'it''s'");
/// assert_eq!(quote_single("O’Brien"), "'O’’Brien'");
/// ```
pub fn quote_single(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if is_single_quote(c) {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_single_wraps_plain_text() {
        assert_eq!(quote_single("Stop"), "'Stop'");
        assert_eq!(quote_single(""), "''");
    }

    #[test]
    fn quote_single_doubles_every_kind_of_single_quote() {
        assert_eq!(quote_single("a'b‘c’d‚e‛f"), "'a''b‘‘c’’d‚‚e‛‛f'");
    }

    #[test]
    fn quote_single_leaves_dollar_backtick_and_double_quotes_alone() {
        assert_eq!(quote_single("$x `n \"y\""), "'$x `n \"y\"'");
    }
}
