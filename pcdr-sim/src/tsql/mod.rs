//! The T-SQL tokenizer and parser of the SQL Server emulator.
//!
//! [`parse_batch`] turns one batch (the text of a TDS SQL batch or of an `sp_executesql`
//! statement) into an [`ast::Batch`] of typed statements with owned, unescaped values, or
//! into a [`ParseError`] numbered and worded as SQL Server reports it. [`parse_identifier`]
//! reads one delimited identifier or string literal back to its value.
//!
//! This module owns syntax only: it never resolves names, checks that objects, procedures
//! or variables exist, or runs anything; that is the engine's job.

pub mod ast;
mod error;
mod keywords;
mod lexer;
mod parser;

pub use error::ParseError;

use lexer::{Token, TokenKind};

/// Parses one batch into its statements; an empty batch (or one of only comments and
/// `;`) has none.
///
/// The first error, positioned and numbered as SQL Server reports it, ends parsing.
pub fn parse_batch(sql: &str) -> Result<ast::Batch, ParseError> {
    parser::parse_batch(sql)
}

/// Reads one identifier or string literal back to its value: `[mg]]c]` gives `mg]c`,
/// `"a""b"` gives `a"b`, `N'O''Brien'` gives `O'Brien`, and a plain `mgc` gives `mgc`.
///
/// Comments and whitespace around the token are ignored; anything else is an error, as
/// is an unclosed delimiter (105).
pub fn parse_identifier(text: &str) -> Result<String, ParseError> {
    let lexed = lexer::tokenize(text);
    if let Some(error) = lexed.error {
        return Err(error);
    }
    match lexed.tokens.as_slice() {
        [single] => identifier_value(single),
        [] => Err(ParseError::incorrect_syntax("", false, 0)),
        [_, second, ..] => Err(second.syntax_error()),
    }
}

fn identifier_value(token: &Token<'_>) -> Result<String, ParseError> {
    match &token.kind {
        TokenKind::QuotedIdentifier(value) | TokenKind::String(value) => Ok(value.clone()),
        TokenKind::Word if !token.is_reserved() => Ok(token.text.to_owned()),
        _ => Err(token.syntax_error()),
    }
}
