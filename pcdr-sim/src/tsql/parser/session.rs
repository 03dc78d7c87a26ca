//! Session and control statements, each following its Microsoft reference page:
//!
//! ```text
//! KILL session_id                                   -- "KILL (Transact-SQL)"
//! USE database                                      -- "USE (Transact-SQL)"
//! SET option[, option …] ON | OFF                   -- "SET Statements (Transact-SQL)"
//! SET TEXTSIZE n | SET LOCK_TIMEOUT n
//! SET @variable = expression                        -- "SET @local_variable"
//! BEGIN TRAN[SACTION] [name]                        -- "BEGIN TRANSACTION"
//! COMMIT | ROLLBACK [TRAN[SACTION] [name] | WORK]   -- "COMMIT/ROLLBACK TRANSACTION"
//! WAITFOR DELAY 'hh:mm:ss[.fff]'                    -- "WAITFOR (Transact-SQL)"
//! PRINT expression                                  -- "PRINT (Transact-SQL)"
//! ```

use super::super::ast::{Operand, Statement};
use super::super::lexer::{Punct, TokenKind};
use super::{Parser, Result};

impl Parser<'_> {
    /// `KILL n`: only an integer literal is accepted.
    pub(super) fn kill(&mut self) -> Result<Statement> {
        self.expect_keyword("KILL")?;
        self.integer().map(Statement::Kill)
    }

    /// `USE database`.
    pub(super) fn use_database(&mut self) -> Result<Statement> {
        self.expect_keyword("USE")?;
        self.identifier().map(Statement::Use)
    }

    /// `SET …`: a variable, `TEXTSIZE`, `LOCK_TIMEOUT` or ON/OFF options.
    pub(super) fn set(&mut self) -> Result<Statement> {
        self.expect_keyword("SET")?;
        if let Some(variable) = self.eat_variable() {
            self.expect_punct(Punct::Eq)?;
            let value = self.expr()?;
            return Ok(Statement::SetVariable { variable, value });
        }
        match self.eat_one_of(&["TEXTSIZE", "LOCK_TIMEOUT"]) {
            Some("TEXTSIZE") => self.signed_integer().map(Statement::SetTextSize),
            Some("LOCK_TIMEOUT") => self.signed_integer().map(Statement::SetLockTimeout),
            _ => self.set_options(),
        }
    }

    /// `option[, option …] ON | OFF`; option names are upper-cased.
    fn set_options(&mut self) -> Result<Statement> {
        let options = self.comma_list(Self::option_name)?;
        match self.eat_one_of(&["ON", "OFF"]) {
            Some(state) => Ok(Statement::SetOptions {
                options,
                on: state == "ON",
            }),
            None => Err(self.error()),
        }
    }

    fn option_name(&mut self) -> Result<String> {
        match self.peek() {
            Some(token) if token.kind == TokenKind::Word && !token.is_reserved() => {
                let name = token.text.to_ascii_uppercase();
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.error()),
        }
    }

    /// `BEGIN TRAN[SACTION] [name]`.
    pub(super) fn begin_transaction(&mut self) -> Result<Statement> {
        self.expect_keyword("BEGIN")?;
        if self.eat_one_of(&["TRAN", "TRANSACTION"]).is_none() {
            return Err(self.error());
        }
        self.transaction_name().map(Statement::BeginTransaction)
    }

    /// `COMMIT | ROLLBACK [TRAN[SACTION] [name] | WORK]`.
    pub(super) fn end_transaction(&mut self) -> Result<Statement> {
        let commit = match self.eat_one_of(&["COMMIT", "ROLLBACK"]) {
            Some(word) => word == "COMMIT",
            None => return Err(self.error()),
        };
        let name = if self.eat_one_of(&["TRAN", "TRANSACTION"]).is_some() {
            self.transaction_name()?
        } else {
            self.eat_keyword("WORK");
            None
        };
        Ok(if commit {
            Statement::CommitTransaction(name)
        } else {
            Statement::RollbackTransaction(name)
        })
    }

    /// The optional name after `TRAN[SACTION]`: an identifier or a variable.
    fn transaction_name(&mut self) -> Result<Option<Operand>> {
        if let Some(variable) = self.eat_variable() {
            return Ok(Some(Operand::Variable(variable)));
        }
        if self.at_identifier() {
            return self
                .identifier()
                .map(|name| Some(Operand::Identifier(name)));
        }
        Ok(None)
    }

    /// `WAITFOR DELAY 'time'` with a string literal or a variable.
    pub(super) fn wait_for(&mut self) -> Result<Statement> {
        self.expect_keyword("WAITFOR")?;
        self.expect_keyword("DELAY")?;
        if let Some(variable) = self.eat_variable() {
            return Ok(Statement::WaitForDelay(Operand::Variable(variable)));
        }
        match self.eat_string() {
            Some(delay) => Ok(Statement::WaitForDelay(Operand::String(delay))),
            None => Err(self.error()),
        }
    }

    /// `PRINT expression`.
    pub(super) fn print(&mut self) -> Result<Statement> {
        self.expect_keyword("PRINT")?;
        self.expr().map(Statement::Print)
    }
}
