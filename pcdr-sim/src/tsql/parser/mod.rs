//! The recursive-descent parser: tokens to [`Batch`].
//!
//! This file owns the token cursor, the shared pieces (identifiers, multi-part names,
//! operands, integers, error positions, nesting depth) and the dispatch on a statement's
//! first word. Each statement family lives in its own file as an `impl Parser` block.

mod alter;
mod backup;
mod control;
mod execute;
mod expr;
mod select;
mod session;
mod variables;

use super::ast::{Batch, IntOperand, Name, Operand, Statement};
use super::error::ParseError;
use super::lexer::{self, Punct, Token, TokenKind};

type Result<T> = std::result::Result<T, ParseError>;

/// How deeply parentheses, `NOT` and unary signs may nest before error 191.
const MAX_DEPTH: usize = 64;

/// How many binary operators (`+ - *`, `AND`, `OR`) one expression or search condition
/// may hold, nested parts included, before error 191. Each one can be a level of the
/// syntax tree, which the engine evaluates (and drops) recursively: an unbounded chain
/// such as `1+1+1…` overflowed the stack and aborted the emulator. With [`MAX_DEPTH`]
/// this bounds the tree's depth.
const MAX_CHAINED_OPERATORS: usize = 128;

/// Parses a whole batch; see [`super::parse_batch`].
pub(crate) fn parse_batch(sql: &str) -> Result<Batch> {
    let mut parser = Parser::new(sql);
    let mut statements = Vec::new();
    loop {
        while parser.eat_punct(Punct::Semicolon) {}
        if parser.at_end() {
            break;
        }
        let first = statements.is_empty();
        statements.push(parser.statement(first)?);
    }
    match parser.lex_error {
        Some(error) => Err(error),
        None => Ok(Batch { statements }),
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    lex_error: Option<ParseError>,
    depth: usize,
    /// Binary operators in the expression or condition being parsed.
    operators: usize,
    /// How many [`Parser::chained`] calls are running; the count restarts at 0.
    chain_calls: usize,
}

impl<'a> Parser<'a> {
    fn new(sql: &'a str) -> Self {
        let lexed = lexer::tokenize(sql);
        Self {
            tokens: lexed.tokens,
            pos: 0,
            lex_error: lexed.error,
            depth: 0,
            operators: 0,
            chain_calls: 0,
        }
    }

    /// Parses one statement. A batch's first statement may be a bare procedure name,
    /// which SQL Server runs as if preceded by `EXEC`.
    fn statement(&mut self, first: bool) -> Result<Statement> {
        let word = match self.peek() {
            Some(token) if token.kind == TokenKind::Word => token.text.to_ascii_uppercase(),
            _ => String::new(),
        };
        match word.as_str() {
            "SELECT" => self.select().map(Statement::Select),
            "RESTORE" => self.restore().map(Statement::Restore),
            "BACKUP" => self.backup().map(Statement::Backup),
            "ALTER" => self.alter_database().map(Statement::AlterDatabase),
            "KILL" => self.kill(),
            "EXEC" | "EXECUTE" => self.execute().map(Statement::Execute),
            "DECLARE" => self.declare().map(Statement::Declare),
            "SET" => self.set(),
            "USE" => self.use_database(),
            "BEGIN" if self.at_begin_transaction() => self.begin_transaction(),
            "BEGIN" => self.block(),
            "IF" => self.if_statement(),
            "RAISERROR" => self.raise_error(),
            "RETURN" => self.return_statement(),
            "COMMIT" | "ROLLBACK" => self.end_transaction(),
            "WAITFOR" => self.wait_for(),
            "PRINT" => self.print(),
            _ if first && self.at_identifier() => self.execute_body().map(Statement::Execute),
            _ => Err(self.error()),
        }
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn peek_nth(&self, n: usize) -> Option<&Token<'a>> {
        self.tokens.get(self.pos + n)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Takes the current token.
    fn bump(&mut self) -> Option<Token<'a>> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += usize::from(token.is_some());
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|token| token.is_keyword(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        self.pos += usize::from(found);
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Takes the current word if it is one of `keywords`, returning which (upper case).
    fn eat_one_of(&mut self, keywords: &[&'static str]) -> Option<&'static str> {
        let found = keywords.iter().copied().find(|k| self.peek_keyword(k))?;
        self.pos += 1;
        Some(found)
    }

    fn peek_punct(&self, punct: Punct) -> bool {
        self.peek_nth_punct(0, punct)
    }

    fn peek_nth_punct(&self, n: usize, punct: Punct) -> bool {
        self.peek_nth(n)
            .is_some_and(|token| token.kind == TokenKind::Punct(punct))
    }

    fn eat_punct(&mut self, punct: Punct) -> bool {
        let found = self.peek_punct(punct);
        self.pos += usize::from(found);
        found
    }

    fn expect_punct(&mut self, punct: Punct) -> Result<()> {
        if self.eat_punct(punct) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Parses `item (, item)*`.
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let mut items = vec![item(self)?];
        while self.eat_punct(Punct::Comma) {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// Runs `inner` after a consumed `(` and expects the `)`.
    fn parenthesised<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let value = inner(self)?;
        self.expect_punct(Punct::RightParen)?;
        Ok(value)
    }

    /// The error for the current position: near the current token, or at the end of the
    /// batch the lexical error that ended it, else near the last token.
    fn error(&self) -> ParseError {
        match self.peek() {
            Some(token) => token.syntax_error(),
            None => self.end_error(),
        }
    }

    fn end_error(&self) -> ParseError {
        if let Some(error) = &self.lex_error {
            return error.clone();
        }
        match self.tokens.last() {
            Some(token) => token.syntax_error(),
            None => ParseError::incorrect_syntax("", false, 0),
        }
    }

    /// Runs `parse` one nesting level deeper, failing with 191 past [`MAX_DEPTH`].
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            let offset = self.peek().map_or(0, |token| token.offset);
            return Err(ParseError::nested_too_deeply(offset));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// Runs `parse`, which chains binary operators by calling [`Self::chain_link`]; every
    /// link up to the end of the outermost such call counts towards
    /// [`MAX_CHAINED_OPERATORS`].
    fn chained<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.chain_calls += 1;
        let result = parse(self);
        self.chain_calls -= 1;
        if self.chain_calls == 0 {
            self.operators = 0;
        }
        result
    }

    /// Counts one more binary operator, failing with 191 past [`MAX_CHAINED_OPERATORS`].
    fn chain_link(&mut self) -> Result<()> {
        if self.operators >= MAX_CHAINED_OPERATORS {
            let offset = self.peek().map_or(0, |token| token.offset);
            return Err(ParseError::nested_too_deeply(offset));
        }
        self.operators += 1;
        Ok(())
    }

    /// Whether the current token can be an identifier: a plain non-reserved word or a
    /// delimited identifier.
    fn at_identifier(&self) -> bool {
        self.peek().is_some_and(|token| match token.kind {
            TokenKind::Word => !token.is_reserved(),
            TokenKind::QuotedIdentifier(_) => true,
            _ => false,
        })
    }

    /// An identifier's unescaped value.
    fn identifier(&mut self) -> Result<String> {
        if !self.at_identifier() {
            return Err(self.error());
        }
        match self.bump() {
            Some(Token {
                kind: TokenKind::QuotedIdentifier(value),
                ..
            }) => Ok(value),
            Some(token) => Ok(token.text.to_owned()),
            None => Err(self.end_error()),
        }
    }

    /// A multi-part name: `a`, `a.b`, `a.b.c`, `a..c`.
    fn name(&mut self) -> Result<Name> {
        let mut parts = vec![self.identifier()?];
        while self.eat_punct(Punct::Dot) {
            if self.peek_punct(Punct::Dot) {
                parts.push(String::new());
            } else {
                parts.push(self.identifier()?);
            }
        }
        Ok(Name(parts))
    }

    /// A variable's name (with its `@`), if the current token is one.
    fn eat_variable(&mut self) -> Option<String> {
        let token = self.peek()?;
        if token.kind != TokenKind::Variable {
            return None;
        }
        let name = token.text.to_owned();
        self.pos += 1;
        Some(name)
    }

    /// Takes `@variable =` if the cursor is at one, returning the variable.
    fn eat_assignment_target(&mut self) -> Option<String> {
        let at_assignment = self.peek().is_some_and(|t| t.kind == TokenKind::Variable)
            && self.peek_nth_punct(1, Punct::Eq);
        if !at_assignment {
            return None;
        }
        let variable = self.eat_variable()?;
        self.pos += 1;
        Some(variable)
    }

    /// An identifier, a string literal or a variable.
    fn operand(&mut self) -> Result<Operand> {
        if let Some(variable) = self.eat_variable() {
            return Ok(Operand::Variable(variable));
        }
        if let Some(value) = self.eat_string() {
            return Ok(Operand::String(value));
        }
        self.identifier().map(Operand::Identifier)
    }

    /// A string literal's value, if the current token is one.
    fn eat_string(&mut self) -> Option<String> {
        let Some(Token {
            kind: TokenKind::String(value),
            ..
        }) = self.peek()
        else {
            return None;
        };
        let value = value.clone();
        self.pos += 1;
        Some(value)
    }

    /// An integer literal or a variable.
    fn int_operand(&mut self) -> Result<IntOperand> {
        match self.eat_variable() {
            Some(variable) => Ok(IntOperand::Variable(variable)),
            None => self.integer().map(IntOperand::Literal),
        }
    }

    /// An unsigned integer literal that fits in 64 bits.
    fn integer(&mut self) -> Result<i64> {
        let value = self
            .peek()
            .filter(|token| token.kind == TokenKind::Integer)
            .and_then(|token| token.text.parse().ok());
        let Some(value) = value else {
            return Err(self.error());
        };
        self.pos += 1;
        Ok(value)
    }

    /// An integer literal with an optional leading minus.
    fn signed_integer(&mut self) -> Result<i64> {
        if self.eat_punct(Punct::Minus) {
            self.integer().map(|value| -value)
        } else {
            self.integer()
        }
    }
}

#[cfg(test)]
mod tests;
