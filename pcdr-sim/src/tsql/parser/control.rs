//! Control-of-flow statements, each following its Microsoft reference page:
//!
//! ```text
//! IF condition statement                           -- "IF...ELSE (Transact-SQL)"
//! BEGIN statement … END                            -- "BEGIN...END (Transact-SQL)"
//! RAISERROR (message, severity, state [, arg …])   -- "RAISERROR (Transact-SQL)"
//! RETURN                                           -- "RETURN (Transact-SQL)"
//! ```
//!
//! `ELSE` and `RAISERROR`'s `WITH` options are not supported (a syntax error).

use super::super::ast::Statement;
use super::super::lexer::Punct;
use super::{Parser, Result};

impl Parser<'_> {
    /// `IF condition statement`.
    pub(super) fn if_statement(&mut self) -> Result<Statement> {
        self.expect_keyword("IF")?;
        let condition = self.condition()?;
        let then = self.nested(|p| p.statement(false))?;
        Ok(Statement::If {
            condition,
            then: Box::new(then),
        })
    }

    /// Whether the cursor is at `BEGIN TRAN[SACTION]` rather than a `BEGIN … END` block.
    pub(super) fn at_begin_transaction(&self) -> bool {
        self.peek_nth(1)
            .is_some_and(|t| t.is_keyword("TRAN") || t.is_keyword("TRANSACTION"))
    }

    /// `BEGIN statement … END`; a block holds at least one statement.
    pub(super) fn block(&mut self) -> Result<Statement> {
        self.expect_keyword("BEGIN")?;
        let mut statements = Vec::new();
        loop {
            while self.eat_punct(Punct::Semicolon) {}
            if self.peek_keyword("END") && !statements.is_empty() {
                self.pos += 1;
                return Ok(Statement::Block(statements));
            }
            if self.at_end() {
                return Err(self.end_error());
            }
            statements.push(self.nested(|p| p.statement(false))?);
        }
    }

    /// `RAISERROR (message, severity, state [, argument …])`.
    pub(super) fn raise_error(&mut self) -> Result<Statement> {
        self.expect_keyword("RAISERROR")?;
        self.expect_punct(Punct::LeftParen)?;
        let mut parts = self
            .parenthesised(|p| p.comma_list(Self::expr))?
            .into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(message), Some(severity), Some(state)) => Ok(Statement::RaiseError {
                message,
                severity,
                state,
                args: parts.collect(),
            }),
            _ => Err(self.error()),
        }
    }

    /// `RETURN`, without a value (a batch cannot return one).
    pub(super) fn return_statement(&mut self) -> Result<Statement> {
        self.expect_keyword("RETURN")?;
        Ok(Statement::Return)
    }
}
