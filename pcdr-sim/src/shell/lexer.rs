//! The character cursor and the scanners for tokens that read the same in
//! every context: quoted strings, variables, bare words, numbers, blanks and
//! comments.
//!
//! This module owns character-level scanning and error positions; which token
//! may appear where is decided in `parser.rs`.

use super::ast::Expr;
use super::error::ParseError;
use super::quote::{is_double_quote, is_single_quote};

/// The result type of every scanner and parser step.
pub(super) type Result<T> = std::result::Result<T, ParseError>;

/// True for the blanks PowerShell skips between tokens that this parser
/// accepts: space, tab, vertical tab, form feed and no-break space. Other
/// Unicode spaces are refused rather than guessed at.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{0B}' | '\u{0C}' | '\u{A0}')
}

/// True for a line break character (`\r\n` is two of them).
pub(super) fn is_newline(c: char) -> bool {
    matches!(c, '\n' | '\r')
}

/// True for the characters that end a bare word in command mode.
fn ends_word(c: char) -> bool {
    is_blank(c)
        || is_newline(c)
        || matches!(c, ';' | '|' | '&' | '(' | ')' | '{' | '}' | ',' | '<' | '>')
}

/// Why `c` may not appear inside a bare word, or `None` when it may.
fn word_refusal(c: char) -> Option<String> {
    if is_single_quote(c) || is_double_quote(c) || c == '$' {
        return Some(format!(
            "a bare word joined to a quoted string or variable ('{c}') is not supported; quote the whole value"
        ));
    }
    match c {
        '`' => Some("backtick escapes and line continuations are not supported".into()),
        '[' | ']' => Some(format!(
            "'{c}' inside a bare word is not supported; quote the value"
        )),
        _ if c.is_control() || c.is_whitespace() => Some(format!(
            "unsupported character U+{:04X} in a bare word",
            u32::from(c)
        )),
        _ => None,
    }
}

/// A position-tracking reader over the script's characters.
pub(super) struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    /// A cursor at the start of `text`.
    pub(super) fn new(text: &str) -> Self {
        Cursor {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    /// The index of the next character.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The next character, if any.
    pub(super) fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    /// The character `offset` places after the next one, if any.
    pub(super) fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos.saturating_add(offset)).copied()
    }

    /// Consumes and returns the next character, if any.
    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Consumes characters while `keep` holds and returns them.
    pub(super) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            taken.push(c);
            self.pos += 1;
        }
        taken
    }

    /// Skips blanks on the current line.
    pub(super) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// Skips blanks and a `#` comment up to (not including) the line break.
    pub(super) fn skip_blanks_and_comment(&mut self) {
        self.skip_blanks();
        if self.peek() == Some('#') {
            while self.peek().is_some_and(|c| !is_newline(c)) {
                self.pos += 1;
            }
        }
    }

    /// Skips blanks, comments and line breaks.
    pub(super) fn skip_trivia(&mut self) {
        loop {
            self.skip_blanks_and_comment();
            if !self.peek().is_some_and(is_newline) {
                return;
            }
            self.pos += 1;
        }
    }

    /// An error about the character at `pos`.
    pub(super) fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let (line, line_start) = self.line_of(pos);
        let source_line = self
            .chars
            .iter()
            .skip(line_start)
            .take_while(|&&c| !is_newline(c))
            .collect();
        ParseError {
            message: message.into(),
            line,
            column: pos.saturating_sub(line_start) + 1,
            source_line,
        }
    }

    /// An error about the next character.
    pub(super) fn error_here(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// The 1-based line number of `pos` and the index where that line starts;
    /// `\r\n`, `\r` and `\n` each end one line.
    fn line_of(&self, pos: usize) -> (usize, usize) {
        let mut line = 1;
        let mut line_start = 0;
        let mut after_cr = false;
        for (i, &c) in self.chars.iter().enumerate().take(pos) {
            if is_newline(c) {
                if !(c == '\n' && after_cr) {
                    line += 1;
                }
                line_start = i + 1;
            }
            after_cr = c == '\r';
        }
        (line, line_start)
    }

    /// Scans a single-quoted string at the cursor: verbatim text in which two
    /// adjacent single-quote characters stand for the second of them.
    pub(super) fn single_quoted(&mut self) -> Result<String> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.error_at(start, "The string is missing the terminator: '."));
                }
                Some(c) if is_single_quote(c) => {
                    if !self.peek().is_some_and(is_single_quote) {
                        return Ok(text);
                    }
                    text.extend(self.bump());
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// Scans a double-quoted string at the cursor, refusing everything that
    /// would make PowerShell expand or unescape it: `$`, backticks and
    /// doubled quotes.
    pub(super) fn double_quoted(&mut self) -> Result<String> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => {
                    return Err(self.error_at(start, "The string is missing the terminator: \"."));
                }
                Some(c) if is_double_quote(c) => {
                    if !self.peek().is_some_and(is_double_quote) {
                        return Ok(text);
                    }
                    return Err(self.error_at(at, EXPANDABLE_QUOTE));
                }
                Some('$') => return Err(self.error_at(at, EXPANDABLE_DOLLAR)),
                Some('`') => return Err(self.error_at(at, EXPANDABLE_BACKTICK)),
                Some(c) => text.push(c),
            }
        }
    }

    /// Scans `$name` at the cursor: `$true`, `$false` and `$null` (any case)
    /// become their values, any other name a [`Expr::Variable`].
    pub(super) fn variable(&mut self) -> Result<Expr> {
        let start = self.pos;
        self.bump();
        match self.peek() {
            Some('(') => {
                return Err(self.error_at(start, "subexpressions '$( )' are not supported"));
            }
            Some('{') => {
                return Err(self.error_at(start, "braced variable names '${ }' are not supported"));
            }
            Some(c) if is_name_char(c) => {}
            _ => return Err(self.error_at(
                start,
                "special variables such as '$$', '$?' and '$^', and a lone '$', are not supported",
            )),
        }
        let name = self.identifier();
        if self.peek() == Some(':') {
            return Err(self.error_at(
                start,
                format!(
                    "scope- or drive-qualified variables such as '${name}:…' are not supported"
                ),
            ));
        }
        Ok(match name.to_ascii_lowercase().as_str() {
            "true" => Expr::Bool(true),
            "false" => Expr::Bool(false),
            "null" => Expr::Null,
            _ => Expr::Variable(name),
        })
    }

    /// Scans a name made of letters, digits and `_`.
    pub(super) fn identifier(&mut self) -> String {
        self.take_while(is_name_char)
    }

    /// Scans a bare word up to the next delimiter, refusing characters that
    /// would make PowerShell join, expand or escape it.
    pub(super) fn word(&mut self) -> Result<String> {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|&c| !ends_word(c)) {
            if let Some(refusal) = word_refusal(c) {
                return Err(self.error_here(refusal));
            }
            word.push(c);
            self.pos += 1;
        }
        Ok(word)
    }
}

const EXPANDABLE_QUOTE: &str = "doubled quotes inside a double-quoted string are escapes, which are not supported; use single quotes";
const EXPANDABLE_DOLLAR: &str = "'$' inside a double-quoted string makes it expandable, which is not supported; use single quotes";
const EXPANDABLE_BACKTICK: &str =
    "backtick escapes inside a double-quoted string are not supported; use single quotes";

/// True for the characters of variable, parameter and hashtable-key names.
pub(super) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What a word that starts like a number turned out to be.
#[derive(Debug, PartialEq)]
pub(super) enum Numeric {
    /// A whole decimal number that fits in an `i64`.
    Integer(i64),
    /// A finite decimal number with a fraction or an exponent.
    Float(f64),
    /// Three or more dot-separated digit groups, such as `10.0.0.1`, which
    /// PowerShell reads as text in command mode.
    Dotted,
    /// Anything else: hex, suffixes such as `kb` or `L`, overflow, operators.
    Invalid,
}

/// Classifies a word that starts with a digit or `-digit`. Only plain
/// decimals are numbers; every other PowerShell numeric form is refused.
pub(super) fn classify_number(word: &str) -> Numeric {
    if is_dotted_digits(word) {
        return Numeric::Dotted;
    }
    if !is_plain_decimal(word) {
        return Numeric::Invalid;
    }
    if word.contains(['.', 'e', 'E']) {
        word.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map_or(Numeric::Invalid, Numeric::Float)
    } else {
        word.parse::<i64>()
            .map_or(Numeric::Invalid, Numeric::Integer)
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_dotted_digits(word: &str) -> bool {
    word.split('.').count() >= 3 && word.split('.').all(all_digits)
}

/// `-?digits(.digits)?([eE][+-]?digits)?`
fn is_plain_decimal(word: &str) -> bool {
    let body = word.strip_prefix('-').unwrap_or(word);
    let (mantissa, exponent) = body
        .split_once(['e', 'E'])
        .map_or((body, None), |(m, e)| (m, Some(e)));
    let (whole, fraction) = mantissa
        .split_once('.')
        .map_or((mantissa, None), |(w, f)| (w, Some(f)));
    all_digits(whole)
        && fraction.is_none_or(all_digits)
        && exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_quoted_keeps_the_second_of_two_adjacent_quotes() {
        let mut cursor = Cursor::new("'a''b’‘c' rest");
        assert_eq!(cursor.single_quoted(), Ok("a'b‘c".to_string()));
        assert_eq!(cursor.peek(), Some(' '));
    }

    #[test]
    fn single_quoted_accepts_typographic_delimiters() {
        let mut cursor = Cursor::new("‘Stop’");
        assert_eq!(cursor.single_quoted(), Ok("Stop".to_string()));
    }

    #[test]
    fn classify_number_accepts_plain_decimals_only() {
        assert_eq!(classify_number("4"), Numeric::Integer(4));
        assert_eq!(classify_number("-12"), Numeric::Integer(-12));
        assert_eq!(classify_number("2.5"), Numeric::Float(2.5));
        assert_eq!(classify_number("1e3"), Numeric::Float(1000.0));
        assert_eq!(classify_number("10.0.0.1"), Numeric::Dotted);
        for refused in [
            "0x10",
            "4kb",
            "10L",
            "1.",
            "1..2",
            "99999999999999999999",
            "1e999",
            "1+2",
        ] {
            assert_eq!(classify_number(refused), Numeric::Invalid, "{refused}");
        }
    }

    #[test]
    fn error_positions_count_crlf_as_one_line_break() {
        let cursor = Cursor::new("a\r\nbc\rd\ne");
        let error = cursor.error_at(4, "m");
        assert_eq!((error.line, error.column), (2, 2));
        assert_eq!(error.source_line, "bc");
        assert_eq!(cursor.error_at(8, "m").line, 4);
    }
}
