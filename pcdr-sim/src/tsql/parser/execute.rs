//! `EXEC[UTE] [@status =] procedure [argument, …]`, following Microsoft's
//! "EXECUTE (Transact-SQL)" for a named procedure: arguments are positional values or
//! `@parameter = value`, each optionally `OUTPUT`/`OUT`, and `DEFAULT` is a value.
//! A batch's first statement may omit `EXEC`; the dispatcher then calls
//! [`Parser::execute_body`] directly.

use super::super::ast::{Argument, ArgumentValue, Execute};
use super::super::lexer::{Punct, TokenKind};
use super::{Parser, Result};

impl Parser<'_> {
    /// `EXEC …` or `EXECUTE …`.
    pub(super) fn execute(&mut self) -> Result<Execute> {
        if self.eat_one_of(&["EXEC", "EXECUTE"]).is_none() {
            return Err(self.error());
        }
        self.execute_body()
    }

    /// Everything after `EXEC`.
    pub(super) fn execute_body(&mut self) -> Result<Execute> {
        let return_status = self.eat_assignment_target();
        let procedure = self.name()?;
        let args = if self.at_argument() {
            self.comma_list(Self::argument)?
        } else {
            Vec::new()
        };
        Ok(Execute {
            return_status,
            procedure,
            args,
        })
    }

    /// Whether an argument list follows the procedure name: anything but the end of the
    /// statement, which is the end of the batch, `;` or a reserved word.
    fn at_argument(&self) -> bool {
        self.peek().is_some_and(|token| {
            token.kind != TokenKind::Punct(Punct::Semicolon)
                && (!token.is_reserved() || token.is_keyword("NULL") || token.is_keyword("DEFAULT"))
        })
    }

    fn argument(&mut self) -> Result<Argument> {
        let name = self.eat_assignment_target();
        let value = if self.eat_keyword("DEFAULT") {
            ArgumentValue::Default
        } else {
            ArgumentValue::Expr(self.expr()?)
        };
        let output = self.eat_one_of(&["OUTPUT", "OUT"]).is_some();
        Ok(Argument {
            name,
            value,
            output,
        })
    }
}
