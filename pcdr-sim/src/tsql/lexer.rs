//! The T-SQL lexer: batch text to tokens, each with its byte offset.
//!
//! It owns the rules of Microsoft's "Database identifiers" and "Constants (Transact-SQL)"
//! pages for the subset the parser needs: plain, `[bracketed]` and `"quoted"` identifiers,
//! `'…'`/`N'…'` strings, integers and decimals, `@variables` and `@@globals`, comments
//! (`--` and nested `/* */`) and punctuation. Delimited tokens carry their unescaped value.
//! It knows nothing of statements; keywords stay plain words until the parser asks.

use super::error::ParseError;
use super::keywords;

/// One token of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// What the token is, with the unescaped value of delimited tokens.
    pub(crate) kind: TokenKind,
    /// The token exactly as written in the batch.
    pub(crate) text: &'a str,
    /// Byte offset of the token's first character in the batch.
    pub(crate) offset: usize,
}

/// The kinds of token T-SQL has, as far as this parser needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A plain identifier or a keyword; the parser decides which.
    Word,
    /// A `[bracketed]` or `"double quoted"` identifier, unescaped.
    QuotedIdentifier(String),
    /// A `'…'` or `N'…'` string literal, unescaped.
    String(String),
    /// Digits only.
    Integer,
    /// Digits with a decimal point.
    Decimal,
    /// A number with an exponent, such as `1.5E3`.
    Float,
    /// A binary constant such as `0x1F`; the token text includes the `0x`.
    Binary,
    /// `@name`; the token text includes the `@`.
    Variable,
    /// `@@NAME`; the token text includes the `@@`.
    GlobalVariable,
    /// An operator or separator.
    Punct(Punct),
}

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    Comma,
    Semicolon,
    LeftParen,
    RightParen,
    Dot,
    Eq,
    /// `<>` or `!=`.
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
    Star,
    Plus,
    Minus,
}

impl Token<'_> {
    /// Whether this is the plain word `keyword` (any case); delimited identifiers never are.
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    /// Whether this is a reserved keyword, which cannot serve as a plain identifier.
    pub(crate) fn is_reserved(&self) -> bool {
        self.kind == TokenKind::Word && keywords::is_reserved(self.text)
    }

    /// The 102/156 error SQL Server reports when this token is unexpected.
    pub(crate) fn syntax_error(&self) -> ParseError {
        let near = match &self.kind {
            TokenKind::QuotedIdentifier(value) | TokenKind::String(value) => value.as_str(),
            _ => self.text,
        };
        ParseError::incorrect_syntax(near, self.is_reserved(), self.offset)
    }
}

/// The tokens of a batch up to its end or up to the first lexical error.
#[derive(Debug)]
pub(crate) struct Lexed<'a> {
    /// Every token before the error, if any.
    pub(crate) tokens: Vec<Token<'a>>,
    /// The first lexical error; the parser reports it when it reaches the end of `tokens`.
    pub(crate) error: Option<ParseError>,
}

/// Splits `sql` into tokens, stopping at the first lexical error.
pub(crate) fn tokenize(sql: &str) -> Lexed<'_> {
    let mut lexer = Lexer { src: sql, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(Some(token)) => tokens.push(token),
            Ok(None) => {
                return Lexed {
                    tokens,
                    error: None,
                };
            }
            Err(error) => {
                return Lexed {
                    tokens,
                    error: Some(error),
                };
            }
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next_token(&mut self) -> Result<Option<Token<'a>>, ParseError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(None);
        };
        let kind = match c {
            '[' => self.delimited(1, b']').map(TokenKind::QuotedIdentifier)?,
            '"' => self.delimited(1, b'"').map(TokenKind::QuotedIdentifier)?,
            '\'' => self.delimited(1, b'\'').map(TokenKind::String)?,
            'N' | 'n' if self.byte_at(start + 1) == Some(b'\'') => {
                self.delimited(2, b'\'').map(TokenKind::String)?
            }
            '@' => self.variable()?,
            '0'..='9' => self.number(),
            '.' if self.byte_at(start + 1).is_some_and(|b| b.is_ascii_digit()) => self.number(),
            c if starts_word(c) => self.word(),
            _ => self.punct(c)?,
        };
        Ok(Some(Token {
            kind,
            text: &self.src[start..self.pos],
            offset: start,
        }))
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn byte_at(&self, index: usize) -> Option<u8> {
        self.src.as_bytes().get(index).copied()
    }

    /// Compares bytes, so it is safe at any position, even inside a multi-byte character.
    fn rest_starts_with(&self, prefix: &str) -> bool {
        self.src
            .as_bytes()
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(prefix.as_bytes()))
    }

    /// Skips whitespace, `--` line comments and nested `/* */` block comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek_char() {
                Some(c) if c.is_whitespace() => self.pos += c.len_utf8(),
                Some('-') if self.rest_starts_with("--") => self.skip_line_comment(),
                Some('/') if self.rest_starts_with("/*") => self.skip_block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_line_comment(&mut self) {
        self.pos = match self.src[self.pos..].find('\n') {
            Some(newline) => self.pos + newline + 1,
            None => self.src.len(),
        };
    }

    fn skip_block_comment(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let mut depth = 0usize;
        while self.pos < self.src.len() {
            if self.rest_starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if self.rest_starts_with("*/") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return Ok(());
                }
            } else {
                self.pos += 1;
            }
        }
        Err(ParseError::missing_end_comment(start))
    }

    /// Reads a quoted token whose opening delimiter is `open_len` bytes long and whose
    /// closing delimiter `close` is escaped by doubling it; returns the unescaped value.
    /// Unclosed, it is error 105 quoting the rest of the batch unescaped, as SQL Server
    /// does (`select 1[[74]]` reports `'[74]'`).
    fn delimited(&mut self, open_len: usize, close: u8) -> Result<String, ParseError> {
        let start = self.pos;
        let content_start = start + open_len;
        let bytes = self.src.as_bytes();
        let mut value = String::new();
        let mut chunk_start = content_start;
        let mut i = content_start;
        while i < bytes.len() {
            if bytes[i] != close {
                i += 1;
                continue;
            }
            value.push_str(&self.src[chunk_start..i]);
            if bytes.get(i + 1) == Some(&close) {
                value.push(char::from(close));
                i += 2;
                chunk_start = i;
            } else {
                self.pos = i + 1;
                return Ok(value);
            }
        }
        value.push_str(&self.src[chunk_start..]);
        Err(ParseError::unclosed_quotation(&value, start))
    }

    fn variable(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let global = self.byte_at(start + 1) == Some(b'@');
        self.pos += if global { 2 } else { 1 };
        let name_start = self.pos;
        self.skip_while(continues_word);
        if self.pos == name_start {
            let near = &self.src[start..self.pos];
            return Err(ParseError::incorrect_syntax(near, false, start));
        }
        Ok(if global {
            TokenKind::GlobalVariable
        } else {
            TokenKind::Variable
        })
    }

    /// An integer, a decimal, a float (`1.5E3`) or a binary constant (`0x1F`).
    fn number(&mut self) -> TokenKind {
        if self.rest_starts_with("0x") || self.rest_starts_with("0X") {
            self.pos += 2;
            self.skip_while(|c| c.is_ascii_hexdigit());
            return TokenKind::Binary;
        }
        self.skip_while(|c| c.is_ascii_digit());
        let mut kind = TokenKind::Integer;
        if self.peek_char() == Some('.') {
            self.pos += 1;
            self.skip_while(|c| c.is_ascii_digit());
            kind = TokenKind::Decimal;
        }
        if self.at_exponent() {
            self.pos += 1;
            if matches!(self.peek_char(), Some('+' | '-')) {
                self.pos += 1;
            }
            self.skip_while(|c| c.is_ascii_digit());
            kind = TokenKind::Float;
        }
        kind
    }

    /// Whether the cursor is at `e` or `E` followed by digits, optionally signed.
    fn at_exponent(&self) -> bool {
        let bytes = self.src.as_bytes();
        let at = |offset: usize| bytes.get(self.pos + offset).copied();
        let digit_at = |offset: usize| at(offset).is_some_and(|b| b.is_ascii_digit());
        matches!(at(0), Some(b'e' | b'E'))
            && (digit_at(1) || (matches!(at(1), Some(b'+' | b'-')) && digit_at(2)))
    }

    fn word(&mut self) -> TokenKind {
        self.skip_while(continues_word);
        TokenKind::Word
    }

    fn skip_while(&mut self, accept: impl Fn(char) -> bool) {
        while let Some(c) = self.peek_char().filter(|&c| accept(c)) {
            self.pos += c.len_utf8();
        }
    }

    fn punct(&mut self, c: char) -> Result<TokenKind, ParseError> {
        let two = self.src[self.pos..].get(..2);
        let (punct, len) = match (c, two) {
            (_, Some("<>" | "!=")) => (Punct::NotEq, 2),
            (_, Some("<=")) => (Punct::LtEq, 2),
            (_, Some(">=")) => (Punct::GtEq, 2),
            ('<', _) => (Punct::Lt, 1),
            ('>', _) => (Punct::Gt, 1),
            ('=', _) => (Punct::Eq, 1),
            (',', _) => (Punct::Comma, 1),
            (';', _) => (Punct::Semicolon, 1),
            ('(', _) => (Punct::LeftParen, 1),
            (')', _) => (Punct::RightParen, 1),
            ('.', _) => (Punct::Dot, 1),
            ('*', _) => (Punct::Star, 1),
            ('+', _) => (Punct::Plus, 1),
            ('-', _) => (Punct::Minus, 1),
            _ => {
                let near = &self.src[self.pos..self.pos + c.len_utf8()];
                return Err(ParseError::incorrect_syntax(near, false, self.pos));
            }
        };
        self.pos += len;
        Ok(TokenKind::Punct(punct))
    }
}

/// First character of a plain identifier: a letter, `_` or `#`.
fn starts_word(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '#'
}

/// Later characters of a plain identifier or variable name.
fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '$' | '#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<TokenKind> {
        let lexed = tokenize(sql);
        assert_eq!(lexed.error, None, "{sql}");
        lexed.tokens.into_iter().map(|token| token.kind).collect()
    }

    fn texts(sql: &str) -> Vec<&str> {
        tokenize(sql)
            .tokens
            .iter()
            .map(|token| token.text)
            .collect()
    }

    fn error(sql: &str) -> ParseError {
        match tokenize(sql).error {
            Some(error) => error,
            None => panic!("{sql:?} lexed without error"),
        }
    }

    #[test]
    fn words_variables_and_globals_keep_their_text() {
        assert_eq!(
            texts("select @@spid, @db_1,#tmp x$1"),
            ["select", "@@spid", ",", "@db_1", ",", "#tmp", "x$1"]
        );
        assert_eq!(
            kinds("@a @@SPID")[..],
            [TokenKind::Variable, TokenKind::GlobalVariable]
        );
    }

    #[test]
    fn brackets_unescape_doubled_closing_bracket_and_allow_newlines() {
        assert_eq!(
            kinds("[mg]]c] [a\nb]"),
            [
                TokenKind::QuotedIdentifier("mg]c".into()),
                TokenKind::QuotedIdentifier("a\nb".into())
            ]
        );
    }

    #[test]
    fn double_quotes_unescape_doubled_quote() {
        assert_eq!(
            kinds(r#""a""b""#),
            [TokenKind::QuotedIdentifier("a\"b".into())]
        );
    }

    #[test]
    fn strings_with_and_without_n_prefix_unescape_doubled_quote() {
        assert_eq!(
            kinds("'O''Brien' N'x' n'' N"),
            [
                TokenKind::String("O'Brien".into()),
                TokenKind::String("x".into()),
                TokenKind::String(String::new()),
                TokenKind::Word
            ]
        );
    }

    #[test]
    fn numbers_are_integers_decimals_floats_or_binary() {
        let expected = [
            TokenKind::Integer,
            TokenKind::Decimal,
            TokenKind::Decimal,
            TokenKind::Decimal,
            TokenKind::Float,
            TokenKind::Float,
            TokenKind::Binary,
            TokenKind::Binary,
        ];
        assert_eq!(kinds("57 1.5 .5 2. 1e5 2.5E-3 0x1F 0X"), expected);
        assert_eq!(
            texts("0x1Fg 1e 1e+"),
            ["0x1F", "g", "1", "e", "1", "e", "+"]
        );
    }

    #[test]
    fn operators_take_the_longest_match() {
        let expected = [
            Punct::NotEq,
            Punct::NotEq,
            Punct::LtEq,
            Punct::GtEq,
            Punct::Lt,
            Punct::Gt,
            Punct::Eq,
            Punct::Star,
            Punct::Plus,
            Punct::Minus,
        ];
        let expected: Vec<_> = expected.into_iter().map(TokenKind::Punct).collect();
        assert_eq!(kinds("<> != <= >= < > = * + -"), expected);
    }

    #[test]
    fn multi_part_names_lex_as_words_and_dots() {
        assert_eq!(
            texts("a..c [sys].[databases]"),
            ["a", ".", ".", "c", "[sys]", ".", "[databases]"]
        );
    }

    #[test]
    fn comments_are_skipped_and_block_comments_nest() {
        assert_eq!(texts("a -- x */\nb /* c /* d */ e */ f--"), ["a", "b", "f"]);
    }

    #[test]
    fn block_comments_may_contain_multi_byte_characters() {
        assert_eq!(texts("a /* é日🦀 */ b /* ü"), ["a", "b"]);
        assert_eq!(error("a /* ü").number, 113);
    }

    #[test]
    fn tokens_carry_byte_offsets() {
        let offsets: Vec<_> = tokenize("é [x] 'y'")
            .tokens
            .iter()
            .map(|token| token.offset)
            .collect();
        assert_eq!(offsets, [0, 3, 7]);
    }

    #[test]
    fn unclosed_delimiters_are_105_with_the_rest_of_the_text() {
        for (sql, rest) in [("x 'abc", "abc"), ("[ab", "ab"), ("\"q", "q"), ("N'", "")] {
            let error = error(sql);
            assert_eq!(error.number, 105, "{sql}");
            let expected = format!("Unclosed quotation mark after the character string '{rest}'.");
            assert_eq!(error.message, expected);
        }
    }

    #[test]
    fn unclosed_delimiters_quote_the_text_unescaped() {
        let bracket = error("select 1[[74]]");
        let expected = "Unclosed quotation mark after the character string '[74]'.";
        assert_eq!((bracket.number, bracket.message.as_str()), (105, expected));
        let string = error("'it''s");
        assert!(
            string.message.ends_with("string 'it's'."),
            "{}",
            string.message
        );
    }

    #[test]
    fn unclosed_block_comment_is_113() {
        let error = error("select 1 /* /* */");
        assert_eq!((error.number, error.offset), (113, 9));
    }

    #[test]
    fn stray_characters_are_102_near_the_character() {
        for (sql, near) in [
            ("a ? b", "?"),
            ("§", "§"),
            ("@ x", "@"),
            ("!", "!"),
            ("a/b", "/"),
        ] {
            let error = error(sql);
            assert_eq!(error.number, 102);
            assert_eq!(error.message, format!("Incorrect syntax near '{near}'."));
        }
    }

    #[test]
    fn tokens_before_a_lexical_error_are_kept() {
        assert_eq!(tokenize("DROP x ?").tokens.len(), 2);
    }

    #[test]
    fn reserved_words_report_156_and_delimited_tokens_report_their_value() {
        let lexed = tokenize("from [from] 'it''s'");
        let errors: Vec<_> = lexed.tokens.iter().map(Token::syntax_error).collect();
        assert_eq!(errors[0].number, 156);
        assert_eq!(errors[1].message, "Incorrect syntax near 'from'.");
        assert_eq!(errors[2].message, "Incorrect syntax near 'it's'.");
    }
}
