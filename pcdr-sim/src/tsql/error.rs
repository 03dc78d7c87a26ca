//! [`ParseError`]: a batch SQL Server would reject before running it, carrying the error
//! number and message text SQL Server sends for it and the byte offset it is about.
//!
//! This file owns the wording of every parse-time message; the lexer and parser only pick
//! which constructor applies. It must not know about tokens or the AST.

use thiserror::Error;

/// A parse-time error, numbered and worded as SQL Server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Msg {number}: {message} (byte offset {offset})")]
pub struct ParseError {
    /// SQL Server's error number: 102, 105, 113, 156, 191 or 2715.
    pub number: i32,
    /// The message text exactly as SQL Server words it.
    pub message: String,
    /// Byte offset into the batch text of the token or character the error is about.
    pub offset: usize,
}

impl ParseError {
    /// 102 `Incorrect syntax near 'X'.`, or 156 `Incorrect syntax near the keyword 'X'.`
    /// when `near` is a reserved keyword.
    pub(crate) fn incorrect_syntax(near: &str, is_keyword: bool, offset: usize) -> Self {
        if is_keyword {
            Self::new(
                156,
                format!("Incorrect syntax near the keyword '{near}'."),
                offset,
            )
        } else {
            Self::new(102, format!("Incorrect syntax near '{near}'."), offset)
        }
    }

    /// 105: a string literal or delimited identifier runs to the end of the batch;
    /// `rest` is the unescaped text after its opening quote.
    pub(crate) fn unclosed_quotation(rest: &str, offset: usize) -> Self {
        Self::new(
            105,
            format!("Unclosed quotation mark after the character string '{rest}'."),
            offset,
        )
    }

    /// 113: a `/*` comment is still open at the end of the batch.
    pub(crate) fn missing_end_comment(offset: usize) -> Self {
        Self::new(113, "Missing end comment mark '*/'.".to_owned(), offset)
    }

    /// 191: parentheses, `NOT` or unary signs nest deeper than the parser allows, or an
    /// expression chains too many binary operators.
    pub(crate) fn nested_too_deeply(offset: usize) -> Self {
        Self::new(
            191,
            "Some part of your SQL statement is nested too deeply. \
             Rewrite the query or break it up into smaller queries."
                .to_owned(),
            offset,
        )
    }

    /// 2715: `DECLARE` names a data type this parser does not know; `position` is the
    /// 1-based position of the variable in the `DECLARE` list.
    pub(crate) fn unknown_data_type(position: usize, type_name: &str, offset: usize) -> Self {
        Self::new(
            2715,
            format!(
                "Column, parameter, or variable #{position}: Cannot find data type {type_name}."
            ),
            offset,
        )
    }

    fn new(number: i32, message: String, offset: usize) -> Self {
        Self {
            number,
            message,
            offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_errors_are_156_and_name_the_keyword() {
        let error = ParseError::incorrect_syntax("FROM", true, 12);
        assert_eq!(error.number, 156);
        assert_eq!(error.message, "Incorrect syntax near the keyword 'FROM'.");
        assert_eq!(error.offset, 12);
    }

    #[test]
    fn other_syntax_errors_are_102() {
        let error = ParseError::incorrect_syntax("x", false, 5);
        assert_eq!(error.number, 102);
        assert_eq!(error.message, "Incorrect syntax near 'x'.");
    }

    #[test]
    fn display_names_number_and_offset() {
        let error = ParseError::unclosed_quotation("abc", 7);
        assert_eq!(
            error.to_string(),
            "Msg 105: Unclosed quotation mark after the character string 'abc'. (byte offset 7)"
        );
    }
}
