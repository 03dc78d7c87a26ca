//! `DECLARE @a type [= value], …` with the data types the procedures need, following
//! Microsoft's "DECLARE @local_variable (Transact-SQL)" and "Data types (Transact-SQL)":
//! `int`, `bigint`, `bit`, `nvarchar[(n | max)]`, `varchar[(n | max)]`, `sysname`,
//! `uniqueidentifier`, `datetime`, `datetime2[(n)]`, `decimal[(p[, s])]` and
//! `numeric[(p[, s])]`. An unknown type name is SQL Server's error 2715.

use super::super::ast::{DataType, Declaration, Length};
use super::super::error::ParseError;
use super::super::lexer::{Punct, TokenKind};
use super::{Parser, Result};

/// `datetime2` without a precision.
const DEFAULT_DATETIME2_PRECISION: u8 = 7;
/// `decimal`/`numeric` without a precision.
const DEFAULT_DECIMAL_PRECISION: u8 = 18;

impl Parser<'_> {
    /// `DECLARE …`.
    pub(super) fn declare(&mut self) -> Result<Vec<Declaration>> {
        self.expect_keyword("DECLARE")?;
        let mut declarations = Vec::new();
        loop {
            declarations.push(self.declaration(declarations.len() + 1)?);
            if !self.eat_punct(Punct::Comma) {
                return Ok(declarations);
            }
        }
    }

    /// `@name [AS] type [= value]`; `position` (1-based) numbers error 2715.
    fn declaration(&mut self, position: usize) -> Result<Declaration> {
        let Some(variable) = self.eat_variable() else {
            return Err(self.error());
        };
        self.eat_keyword("AS");
        let data_type = self.data_type(position)?;
        let initial = if self.eat_punct(Punct::Eq) {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Declaration {
            variable,
            data_type,
            initial,
        })
    }

    fn data_type(&mut self, position: usize) -> Result<DataType> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.end_error());
        };
        let type_name = match &token.kind {
            TokenKind::Word if !token.is_reserved() => token.text.to_owned(),
            TokenKind::QuotedIdentifier(name) => name.clone(),
            _ => return Err(token.syntax_error()),
        };
        self.pos += 1;
        match type_name.to_ascii_lowercase().as_str() {
            "int" => Ok(DataType::Int),
            "bigint" => Ok(DataType::BigInt),
            "bit" => Ok(DataType::Bit),
            "sysname" => Ok(DataType::SysName),
            "uniqueidentifier" => Ok(DataType::UniqueIdentifier),
            "datetime" => Ok(DataType::DateTime),
            "nvarchar" => self.length().map(DataType::NVarChar),
            "varchar" => self.length().map(DataType::VarChar),
            "datetime2" => self.datetime2_precision().map(DataType::DateTime2),
            "decimal" | "numeric" => self.decimal(),
            _ => Err(ParseError::unknown_data_type(
                position,
                &type_name,
                token.offset,
            )),
        }
    }

    /// `[(n | max)]`, 1 when omitted.
    fn length(&mut self) -> Result<Length> {
        if !self.eat_punct(Punct::LeftParen) {
            return Ok(Length::Chars(1));
        }
        let length = if self.eat_keyword("MAX") {
            Length::Max
        } else {
            Length::Chars(self.small_integer()?)
        };
        self.expect_punct(Punct::RightParen)?;
        Ok(length)
    }

    fn datetime2_precision(&mut self) -> Result<u8> {
        if !self.eat_punct(Punct::LeftParen) {
            return Ok(DEFAULT_DATETIME2_PRECISION);
        }
        let precision = self.small_integer()?;
        self.expect_punct(Punct::RightParen)?;
        Ok(precision)
    }

    /// `[(p[, s])]` after `decimal` or `numeric`.
    fn decimal(&mut self) -> Result<DataType> {
        let (mut precision, mut scale) = (DEFAULT_DECIMAL_PRECISION, 0);
        if self.eat_punct(Punct::LeftParen) {
            precision = self.small_integer()?;
            if self.eat_punct(Punct::Comma) {
                scale = self.small_integer()?;
            }
            self.expect_punct(Punct::RightParen)?;
        }
        Ok(DataType::Decimal { precision, scale })
    }

    /// An integer literal that fits in `T`; a larger one is reported like any
    /// unexpected token.
    fn small_integer<T: TryFrom<i64>>(&mut self) -> Result<T> {
        let start = self.pos;
        let value = self.integer()?;
        T::try_from(value).map_err(|_| {
            self.pos = start;
            self.error()
        })
    }
}
