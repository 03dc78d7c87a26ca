//! Scalar expressions and search conditions.
//!
//! Expressions: literals, `NULL`, variables, globals, (qualified) columns, function
//! calls, unary minus, `+ - *` with the usual precedence. Conditions: comparisons,
//! `IS [NOT] NULL`, `[NOT] LIKE`, `[NOT] IN (…)`, joined by `NOT` > `AND` > `OR`.
//! A `(` in a condition opens a nested condition when a comparison word or operator
//! occurs before its matching `)`, and a parenthesised expression otherwise; no
//! backtracking is needed because expressions here never contain those tokens.

use super::super::ast::{BinaryOp, CompareOp, Condition, Expr, Name};
use super::super::lexer::{Punct, Token, TokenKind};
use super::{Parser, Result};

/// Reserved keywords that are nonetheless called like functions.
const CALLABLE_KEYWORDS: &[&str] = &["COALESCE", "LEFT", "NULLIF", "RIGHT"];

/// Words that occur in conditions but never in expressions.
const CONDITION_WORDS: &[&str] = &["AND", "IN", "IS", "LIKE", "NOT", "OR"];

impl Parser<'_> {
    /// A scalar expression.
    pub(super) fn expr(&mut self) -> Result<Expr> {
        self.chained(|p| {
            let mut left = p.term()?;
            loop {
                let op = if p.eat_punct(Punct::Plus) {
                    BinaryOp::Add
                } else if p.eat_punct(Punct::Minus) {
                    BinaryOp::Subtract
                } else {
                    return Ok(left);
                };
                p.chain_link()?;
                left = binary(left, op, p.term()?);
            }
        })
    }

    fn term(&mut self) -> Result<Expr> {
        self.chained(|p| {
            let mut left = p.unary()?;
            while p.eat_punct(Punct::Star) {
                p.chain_link()?;
                left = binary(left, BinaryOp::Multiply, p.unary()?);
            }
            Ok(left)
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.eat_punct(Punct::Minus) {
            self.nested(|p| p.unary().map(|e| Expr::Negate(Box::new(e))))
        } else if self.eat_punct(Punct::Plus) {
            self.nested(Self::unary)
        } else {
            self.primary()
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.end_error());
        };
        let literal = match &token.kind {
            TokenKind::String(value) => Some(Expr::String(value.clone())),
            TokenKind::Integer => Some(integer_literal(token.text)),
            TokenKind::Decimal => Some(Expr::Decimal(token.text.to_owned())),
            TokenKind::Float => Some(Expr::Float(token.text.to_owned())),
            TokenKind::Binary => Some(Expr::Bytes(hex_bytes(token.text.get(2..).unwrap_or("")))),
            TokenKind::Variable => Some(Expr::Variable(token.text.to_owned())),
            TokenKind::GlobalVariable => Some(Expr::Global(token.text.to_owned())),
            TokenKind::Word if token.is_keyword("NULL") => Some(Expr::Null),
            _ => None,
        };
        if let Some(literal) = literal {
            self.pos += 1;
            return Ok(literal);
        }
        if self.eat_punct(Punct::LeftParen) {
            return self.nested(|p| p.parenthesised(Self::expr));
        }
        self.column_or_call(&token)
    }

    fn column_or_call(&mut self, token: &Token<'_>) -> Result<Expr> {
        let callable_keyword = CALLABLE_KEYWORDS.iter().any(|k| token.is_keyword(k))
            && self.peek_nth_punct(1, Punct::LeftParen);
        let name = if callable_keyword {
            self.pos += 1;
            Name(vec![token.text.to_owned()])
        } else {
            self.name()?
        };
        if !self.eat_punct(Punct::LeftParen) {
            return Ok(Expr::Column(name));
        }
        let args = self.nested(Self::call_arguments)?;
        Ok(Expr::Function { name, args })
    }

    /// The arguments after a function name's `(`, through the `)`.
    fn call_arguments(&mut self) -> Result<Vec<Expr>> {
        if self.eat_punct(Punct::RightParen) {
            return Ok(Vec::new());
        }
        let args = if self.eat_punct(Punct::Star) {
            vec![Expr::Wildcard]
        } else {
            self.comma_list(Self::expr)?
        };
        self.expect_punct(Punct::RightParen)?;
        Ok(args)
    }

    /// A search condition.
    pub(super) fn condition(&mut self) -> Result<Condition> {
        self.chained(|p| {
            let mut left = p.and_condition()?;
            while p.eat_keyword("OR") {
                p.chain_link()?;
                left = Condition::Or(Box::new(left), Box::new(p.and_condition()?));
            }
            Ok(left)
        })
    }

    fn and_condition(&mut self) -> Result<Condition> {
        self.chained(|p| {
            let mut left = p.not_condition()?;
            while p.eat_keyword("AND") {
                p.chain_link()?;
                left = Condition::And(Box::new(left), Box::new(p.not_condition()?));
            }
            Ok(left)
        })
    }

    fn not_condition(&mut self) -> Result<Condition> {
        if self.eat_keyword("NOT") {
            self.nested(|p| p.not_condition().map(|c| Condition::Not(Box::new(c))))
        } else if self.peek_punct(Punct::LeftParen) && self.parenthesis_holds_condition() {
            self.pos += 1;
            self.nested(|p| p.parenthesised(Self::condition))
        } else {
            self.predicate()
        }
    }

    /// Whether the `(` at the cursor encloses a condition rather than an expression.
    fn parenthesis_holds_condition(&self) -> bool {
        let mut depth = 0usize;
        for token in self.tokens.get(self.pos..).unwrap_or_default() {
            match token.kind {
                TokenKind::Punct(Punct::LeftParen) => depth += 1,
                TokenKind::Punct(Punct::RightParen) if depth <= 1 => return false,
                TokenKind::Punct(Punct::RightParen) => depth -= 1,
                _ if is_condition_token(token) => return true,
                _ => {}
            }
        }
        false
    }

    fn predicate(&mut self) -> Result<Condition> {
        let left = self.expr()?;
        if let Some(op) = self.eat_compare_op() {
            let right = self.expr()?;
            return Ok(Condition::Compare { left, op, right });
        }
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            self.expect_keyword("NULL")?;
            return Ok(Condition::IsNull {
                expr: left,
                negated,
            });
        }
        let negated = self.eat_keyword("NOT");
        if self.eat_keyword("LIKE") {
            let pattern = self.expr()?;
            return Ok(Condition::Like {
                expr: left,
                pattern,
                negated,
            });
        }
        self.expect_keyword("IN")?;
        self.expect_punct(Punct::LeftParen)?;
        let list = self.parenthesised(|p| p.comma_list(Self::expr))?;
        Ok(Condition::In {
            expr: left,
            list,
            negated,
        })
    }

    fn eat_compare_op(&mut self) -> Option<CompareOp> {
        let op = match self.peek()?.kind {
            TokenKind::Punct(Punct::Eq) => CompareOp::Eq,
            TokenKind::Punct(Punct::NotEq) => CompareOp::NotEq,
            TokenKind::Punct(Punct::Lt) => CompareOp::Lt,
            TokenKind::Punct(Punct::Gt) => CompareOp::Gt,
            TokenKind::Punct(Punct::LtEq) => CompareOp::LtEq,
            TokenKind::Punct(Punct::GtEq) => CompareOp::GtEq,
            _ => return None,
        };
        self.pos += 1;
        Some(op)
    }
}

fn binary(left: Expr, op: BinaryOp, right: Expr) -> Expr {
    Expr::Binary {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

/// An integer literal as [`Expr::Integer`], or as [`Expr::Decimal`] past 64 bits.
fn integer_literal(text: &str) -> Expr {
    match text.parse() {
        Ok(value) => Expr::Integer(value),
        Err(_) => Expr::Decimal(text.to_owned()),
    }
}

/// The bytes of a binary constant's hex digits; an odd count gets a leading zero.
fn hex_bytes(digits: &str) -> Vec<u8> {
    let nibbles: Vec<u8> = digits
        .chars()
        .filter_map(|c| c.to_digit(16))
        .filter_map(|d| u8::try_from(d).ok())
        .collect();
    let (odd_head, pairs) = nibbles.split_at(nibbles.len() % 2);
    let byte = |digits: &[u8]| digits.iter().fold(0u8, |acc, d| (acc << 4) | d);
    odd_head
        .iter()
        .copied()
        .chain(pairs.chunks_exact(2).map(byte))
        .collect()
}

fn is_condition_token(token: &Token<'_>) -> bool {
    match token.kind {
        TokenKind::Punct(punct) => matches!(
            punct,
            Punct::Eq | Punct::NotEq | Punct::Lt | Punct::Gt | Punct::LtEq | Punct::GtEq
        ),
        TokenKind::Word => CONDITION_WORDS.iter().any(|w| token.is_keyword(w)),
        _ => false,
    }
}
