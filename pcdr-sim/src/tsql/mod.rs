//! The T-SQL tokenizer and parser of the SQL Server emulator.
//!
//! [`parse_batch`] turns one batch (the text of a TDS SQL batch or of an `sp_executesql`
//! statement) into an [`ast::Batch`] of typed statements with owned, unescaped values, or
//! into a [`ParseError`] numbered and worded as SQL Server reports it. [`parse_identifier`]
//! reads one delimited identifier or string literal back to its value.
//!
//! This module owns syntax only: it never resolves names, checks that objects, procedures
//! or variables exist, or runs anything; that is the engine's job (2812, 208, 137, …).
//!
//! # Supported statements
//!
//! Each follows the Microsoft Learn "Transact-SQL reference" page named after it, limited
//! to the forms shown; `;` between statements is optional, keywords match in any case.
//!
//! | Form | Microsoft page |
//! |---|---|
//! | `SELECT [TOP (n) \| TOP n] * \| expr [[AS] alias], … [FROM name [[AS] alias]] [WHERE condition] [ORDER BY expr [ASC \| DESC], …]`, `SELECT @v = expr, …` | SELECT (Transact-SQL) |
//! | `RESTORE DATABASE db [FROM DISK = x, …] [WITH option, …]`, `RESTORE LOG db FROM DISK = x, … [WITH …]` | RESTORE Statements (Transact-SQL); RESTORE Statements - Arguments |
//! | `RESTORE HEADERONLY \| FILELISTONLY \| VERIFYONLY FROM DISK = x, … [WITH …]` | RESTORE Statements - HEADERONLY / FILELISTONLY / VERIFYONLY |
//! | `BACKUP DATABASE \| LOG db TO DISK = x, … [WITH option, …]` | BACKUP (Transact-SQL) |
//! | `ALTER DATABASE name SET PARTNER OFF \| PARTNER FAILOVER \| PARTNER = 'TCP://host:port'` | ALTER DATABASE Database Mirroring (Transact-SQL) |
//! | `ALTER DATABASE name SET SINGLE_USER \| RESTRICTED_USER \| MULTI_USER \| ONLINE \| OFFLINE [WITH ROLLBACK IMMEDIATE \| ROLLBACK AFTER n [SECONDS] \| NO_WAIT]`, `SET RECOVERY FULL \| BULK_LOGGED \| SIMPLE` | ALTER DATABASE SET Options (Transact-SQL) |
//! | `KILL n` | KILL (Transact-SQL) |
//! | `EXEC[UTE] [@status =] proc [value \| @p = value [OUTPUT \| OUT] \| DEFAULT, …]` | EXECUTE (Transact-SQL) |
//! | `DECLARE @v [AS] type [= expr], …` | DECLARE @local_variable (Transact-SQL) |
//! | `SET @v = expr` | SET @local_variable (Transact-SQL) |
//! | `SET option[, …] ON \| OFF`, `SET TEXTSIZE n`, `SET LOCK_TIMEOUT n` | SET Statements (Transact-SQL) |
//! | `USE db` | USE (Transact-SQL) |
//! | `BEGIN TRAN[SACTION] [name]`, `COMMIT \| ROLLBACK [TRAN[SACTION] [name] \| WORK]` | BEGIN / COMMIT / ROLLBACK TRANSACTION (Transact-SQL) |
//! | `WAITFOR DELAY 'hh:mm:ss[.fff]'` | WAITFOR (Transact-SQL) |
//! | `PRINT expr` | PRINT (Transact-SQL) |
//! | `IF condition statement` | IF...ELSE (Transact-SQL) |
//! | `BEGIN statement … END` | BEGIN...END (Transact-SQL) |
//! | `RAISERROR (message, severity, state [, argument …])` | RAISERROR (Transact-SQL) |
//! | `RETURN` | RETURN (Transact-SQL) |
//!
//! Expressions are literals, `NULL`, `@v`, `@@NAME`, (qualified) columns, function calls,
//! unary minus and `+ - *`; conditions are comparisons, `IS [NOT] NULL`, `[NOT] LIKE` and
//! `[NOT] IN (…)` joined by `NOT`, `AND`, `OR` and parentheses. As in SQL Server, a
//! procedure name alone as a batch's first statement is executed as if preceded by `EXEC`.
//! Lexical rules follow "Database identifiers" and "Constants (Transact-SQL)", with
//! `QUOTED_IDENTIFIER ON` (`"x"` is an identifier); reserved words follow "Reserved
//! Keywords (Transact-SQL)".
//!
//! # Errors
//!
//! 102 `Incorrect syntax near 'X'.` (156 `… near the keyword 'X'.` when X is reserved),
//! at the end of the batch near its last token; 105 for an unclosed string or delimited
//! identifier; 113 for an unclosed `/*`; 191 for nesting deeper than 64 or more than 128
//! binary operators in one expression or condition; 2715 for an
//! unknown `DECLARE` type. Offsets are byte offsets into the batch.

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
