//! `SELECT [TOP (n) | TOP n] select_list [FROM table [[AS] alias]] [WHERE condition]
//! [ORDER BY expr [ASC | DESC], …]`, following Microsoft's "SELECT (Transact-SQL)"
//! without joins, subqueries, `GROUP BY` or `DISTINCT`.

use super::super::ast::{Expr, OrderItem, Select, SelectItem, TableRef};
use super::super::lexer::Punct;
use super::{Parser, Result};

impl Parser<'_> {
    /// `SELECT …`.
    pub(super) fn select(&mut self) -> Result<Select> {
        self.expect_keyword("SELECT")?;
        let top = if self.eat_keyword("TOP") {
            Some(self.top()?)
        } else {
            None
        };
        let items = self.comma_list(Self::select_item)?;
        let from = if self.eat_keyword("FROM") {
            Some(self.table_ref()?)
        } else {
            None
        };
        let filter = if self.eat_keyword("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        let order_by = if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            self.comma_list(Self::order_item)?
        } else {
            Vec::new()
        };
        Ok(Select {
            top,
            items,
            from,
            filter,
            order_by,
        })
    }

    /// The count after `TOP`: `(expr)` or an integer literal.
    fn top(&mut self) -> Result<Expr> {
        if self.eat_punct(Punct::LeftParen) {
            return self.nested(|p| p.parenthesised(Self::expr));
        }
        self.integer().map(Expr::Integer)
    }

    fn select_item(&mut self) -> Result<SelectItem> {
        if self.eat_punct(Punct::Star) {
            return Ok(SelectItem::Wildcard);
        }
        if let Some(variable) = self.eat_assignment_target() {
            let value = self.expr()?;
            return Ok(SelectItem::Assign { variable, value });
        }
        let expr = self.expr()?;
        let alias = self.alias()?;
        Ok(SelectItem::Expr { expr, alias })
    }

    /// `[AS] alias` where the alias is an identifier or (for columns) a string literal.
    fn alias(&mut self) -> Result<Option<String>> {
        let explicit = self.eat_keyword("AS");
        if let Some(alias) = self.eat_string() {
            return Ok(Some(alias));
        }
        if explicit || self.at_identifier() {
            return self.identifier().map(Some);
        }
        Ok(None)
    }

    fn table_ref(&mut self) -> Result<TableRef> {
        let name = self.name()?;
        let alias = if self.eat_keyword("AS") || self.at_identifier() {
            Some(self.identifier()?)
        } else {
            None
        };
        Ok(TableRef { name, alias })
    }

    fn order_item(&mut self) -> Result<OrderItem> {
        let expr = self.expr()?;
        let descending = match self.eat_one_of(&["ASC", "DESC"]) {
            Some(direction) => direction == "DESC",
            None => false,
        };
        Ok(OrderItem { expr, descending })
    }
}
