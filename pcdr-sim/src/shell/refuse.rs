//! The messages that name each refused construct.
//!
//! This module owns the wording of refusals only; the parser decides where a
//! character is out of place and asks here how to say so.

use super::quote::{is_double_quote, is_single_quote};

/// The refusal message for `c` (followed by `next`) found `context`, such as
/// "directly after a value": a named construct when `c` starts one that this
/// parser refuses, otherwise a plain "unexpected" message.
pub(super) fn message(c: char, next: Option<char>, context: &str) -> String {
    construct(c, next).map_or_else(|| unexpected(c, context), str::to_owned)
}

/// The refused PowerShell construct that starts with `c` then `next`.
fn construct(c: char, next: Option<char>) -> Option<&'static str> {
    let message = match (c, next) {
        ('`', _) => "backtick escapes and line continuations are not supported",
        ('$', Some('(')) => "subexpressions '$( )' are not supported",
        ('{', _) => "script blocks '{ }' are not supported",
        ('(', _) => "parenthesised expressions '( )' are not supported",
        ('[', _) => "type literals and casts '[type]' are not supported",
        ('&', Some('&')) => "the pipeline chain operator '&&' is not supported",
        ('|', Some('|')) => "the pipeline chain operator '||' is not supported",
        ('&', _) => "the call and background operator '&' is not supported",
        ('<', Some('#')) => "block comments '<# #>' are not supported",
        ('>' | '<', _) => "redirections such as '>', '>>', '2>&1' and '<' are not supported",
        ('@', Some(q)) if is_single_quote(q) || is_double_quote(q) => {
            "here-strings '@' … '@' are not supported"
        }
        ('@', Some(n)) if n.is_alphanumeric() || n == '_' => {
            "splatting '@variable' is not supported"
        }
        ('@', _) => "only '@( )' arrays and '@{ }' hashtables may start with '@'",
        ('.', _) => "dot-sourcing and member access '.' are not supported",
        _ => return None,
    };
    Some(message)
}

fn unexpected(c: char, context: &str) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("unsupported character U+{:04X} {context}", u32::from(c))
    } else {
        format!("unexpected '{c}' {context}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_refused_construct() {
        assert!(message('&', Some('&'), "x").contains("'&&'"));
        assert!(message('@', Some('a'), "x").contains("splatting"));
        assert!(message('@', Some('\''), "x").contains("here-strings"));
    }

    #[test]
    fn message_falls_back_to_unexpected_with_context() {
        assert_eq!(message(')', None, "here"), "unexpected ')' here");
        assert_eq!(
            message('\u{2003}', None, "here"),
            "unsupported character U+2003 here"
        );
    }
}
