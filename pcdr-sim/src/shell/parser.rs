//! The statement grammar: which construct may appear where, in command mode
//! (command arguments) and expression mode (assigned values, `@( )` and
//! `@{ }` contents), and the refusal of everything else.
//!
//! This module owns the grammar; character scanning lives in `lexer.rs` and
//! refusal wording in `refuse.rs`. It must not interpret cmdlets.

use super::ast::{Argument, Command, Expr, Script, Statement, names_equal};
use super::error::ParseError;
use super::lexer::{Cursor, Numeric, Result, classify_number, is_blank, is_name_char, is_newline};
use super::quote::{is_dash, is_double_quote, is_single_quote};
use super::refuse;

/// How deeply `@( )` and `@{ }` may nest before the parser refuses; keeps
/// hostile input from exhausting the stack.
const MAX_NESTING: usize = 32;

/// PowerShell's keywords and reserved words (about_Reserved_Words, plus
/// `clean`). A statement starting with one is a language construct, not a
/// command, and is refused. A few (`type`) also work as command aliases in
/// PowerShell; refusing those is harmless, running a keyword as a command
/// would not be.
const KEYWORDS: &[&str] = &[
    "assembly",
    "base",
    "begin",
    "break",
    "catch",
    "class",
    "clean",
    "command",
    "configuration",
    "continue",
    "data",
    "define",
    "do",
    "dynamicparam",
    "else",
    "elseif",
    "end",
    "enum",
    "exit",
    "filter",
    "finally",
    "for",
    "foreach",
    "from",
    "function",
    "hidden",
    "if",
    "in",
    "inlinescript",
    "interface",
    "module",
    "namespace",
    "parallel",
    "param",
    "private",
    "process",
    "public",
    "return",
    "sequence",
    "static",
    "switch",
    "throw",
    "trap",
    "try",
    "type",
    "until",
    "using",
    "var",
    "while",
    "workflow",
];

/// Whether bare words are text (command arguments) or would run a command
/// (expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    Expression,
}

/// Parses `text` as a script in the supported PowerShell subset.
///
/// Returns the statements, or the first construct that is malformed or
/// outside the subset, with its position.
///
/// ```
/// use pcdr_sim::shell::{parse_script, Statement};
/// let script = parse_script("Set-CsPersistentChatState -PoolState 'FailedOver' -Confirm:$false")?;
/// if let Statement::Pipeline(commands) = &script.statements[0] {
///     assert!(commands[0].args[1].is_named("confirm"));
/// }
/// assert!(parse_script("Remove-Item $(whoami)").is_err());
/// # Ok::<(), pcdr_sim::shell::ParseError>(())
/// ```
pub fn parse_script(text: &str) -> Result<Script> {
    let mut parser = Parser {
        cur: Cursor::new(text),
        depth: 0,
    };
    parser.script()
}

struct Parser {
    cur: Cursor,
    depth: usize,
}

fn starts_command_name(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn starts_bare_word(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '_' | '\\' | '/' | '*')
}

impl Parser {
    fn script(&mut self) -> Result<Script> {
        let mut statements = Vec::new();
        loop {
            self.cur.skip_trivia();
            match self.cur.peek() {
                None => return Ok(Script { statements }),
                Some(';') => {
                    self.cur.bump();
                }
                Some(_) => {
                    statements.push(self.statement()?);
                    self.end_of_statement()?;
                }
            }
        }
    }

    fn statement(&mut self) -> Result<Statement> {
        match self.cur.peek() {
            Some('$') => self.assignment(),
            Some(c) if starts_command_name(c) => self.pipeline().map(Statement::Pipeline),
            _ => Err(self.refuse_here(
                "at the start of a statement: only commands and '$name = value' assignments are supported",
            )),
        }
    }

    fn end_of_statement(&mut self) -> Result<()> {
        self.cur.skip_blanks_and_comment();
        match self.cur.peek() {
            Some(c) if c == ';' || is_newline(c) => {
                self.cur.bump();
                Ok(())
            }
            None => Ok(()),
            Some(_) => {
                Err(self.refuse_here("after the statement: only ';' or a new line may end it"))
            }
        }
    }

    /// The refusal for the next character, `context` describing where it is.
    fn refuse_here(&self, context: &str) -> ParseError {
        let message = match self.cur.peek() {
            Some(c) => refuse::message(c, self.cur.peek_at(1), context),
            None => format!("unexpected end of script {context}"),
        };
        self.cur.error_here(message)
    }

    fn next_is_digit(&self) -> bool {
        self.cur.peek_at(1).is_some_and(|c| c.is_ascii_digit())
    }

    /// True at the end of a command name, parameter name or value.
    fn at_argument_end(&self) -> bool {
        self.cur
            .peek()
            .is_none_or(|c| is_blank(c) || is_newline(c) || matches!(c, ';' | '|'))
    }

    fn assignment(&mut self) -> Result<Statement> {
        let start = self.cur.pos();
        let Expr::Variable(variable) = self.cur.variable()? else {
            return Err(self
                .cur
                .error_at(start, "$true, $false and $null cannot be assigned to"));
        };
        self.cur.skip_blanks();
        if self.cur.peek() != Some('=') || self.cur.peek_at(1) == Some('=') {
            return Err(self.refuse_here(
                "after a variable: a statement starting with a variable must be '$name = value'",
            ));
        }
        self.cur.bump();
        self.cur.skip_trivia();
        let value = self.list(Mode::Expression)?;
        Ok(Statement::Assign { variable, value })
    }

    fn pipeline(&mut self) -> Result<Vec<Command>> {
        let mut commands = vec![self.command()?];
        while self.cur.peek() == Some('|') {
            if self.cur.peek_at(1) == Some('|') {
                return Err(self.refuse_here("after a command"));
            }
            self.cur.bump();
            self.cur.skip_trivia();
            match self.cur.peek() {
                Some(c) if starts_command_name(c) => commands.push(self.command()?),
                Some(_) => {
                    return Err(self.refuse_here("after '|': only a command may follow a pipe"));
                }
                None => return Err(self.cur.error_here("An empty pipe element is not allowed.")),
            }
        }
        Ok(commands)
    }

    /// Parses a command and its arguments, stopping at the end of the
    /// statement or at a `|`.
    fn command(&mut self) -> Result<Command> {
        let name = self.command_name()?;
        let mut args = Vec::new();
        loop {
            self.cur.skip_blanks_and_comment();
            match self.cur.peek() {
                None | Some(';' | '|') => break,
                Some(c) if is_newline(c) => break,
                Some(c) if is_dash(c) && !self.next_is_digit() => args.push(self.parameter()?),
                Some(_) => args.push(Argument::Positional(self.list(Mode::Command)?)),
            }
        }
        Ok(Command { name, args })
    }

    fn command_name(&mut self) -> Result<String> {
        let start = self.cur.pos();
        let name = self.cur.take_while(|c| is_name_char(c) || c == '-');
        if !self.at_argument_end() {
            return Err(self.refuse_here(
                "in a command name: only cmdlet names such as Get-CsPool are supported",
            ));
        }
        if KEYWORDS.iter().any(|keyword| names_equal(keyword, &name)) {
            return Err(self
                .cur
                .error_at(start, format!("the '{name}' keyword is not supported")));
        }
        Ok(name)
    }

    /// Parses `-Name`, `-Name value` or `-Name:value` at a dash.
    fn parameter(&mut self) -> Result<Argument> {
        let start = self.cur.pos();
        self.cur.bump();
        if !self.cur.peek().is_some_and(starts_command_name) {
            return Err(self.cur.error_at(
                start,
                "a '-' must be followed by a parameter name; '--', '--%' and a lone '-' are not supported",
            ));
        }
        let name = self.cur.identifier();
        if self.cur.peek() == Some(':') {
            self.cur.bump();
            return self.colon_value(name);
        }
        if !self.at_argument_end() {
            return Err(self.refuse_here(&format!("in the parameter name -{name}")));
        }
        let value = self.paired_value()?;
        Ok(Argument::Named {
            name,
            value,
            colon: false,
        })
    }

    /// Parses the value after `-Name:`, which may follow blanks.
    fn colon_value(&mut self, name: String) -> Result<Argument> {
        self.cur.skip_blanks();
        if self.at_argument_end() || self.cur.peek() == Some('#') {
            return Err(self
                .cur
                .error_here(format!("the parameter -{name}: needs a value after ':'")));
        }
        let value = self.list(Mode::Command)?;
        Ok(Argument::Named {
            name,
            value: Some(value),
            colon: true,
        })
    }

    /// The value that follows `-Name` without a colon: the next argument
    /// unless that is another parameter or the end of the command.
    fn paired_value(&mut self) -> Result<Option<Expr>> {
        self.cur.skip_blanks();
        match self.cur.peek() {
            None | Some(';' | '|' | '#') => Ok(None),
            Some(c) if is_newline(c) => Ok(None),
            Some(c) if is_dash(c) && !self.next_is_digit() => Ok(None),
            Some(_) => self.list(Mode::Command).map(Some),
        }
    }

    /// Parses one value, or several separated by `,` as an [`Expr::Array`].
    /// A line break may follow a comma.
    fn list(&mut self, mode: Mode) -> Result<Expr> {
        let first = self.value(mode)?;
        let mut items = Vec::new();
        loop {
            self.cur.skip_blanks();
            if self.cur.peek() != Some(',') {
                break;
            }
            self.cur.bump();
            self.cur.skip_trivia();
            items.push(self.value(mode)?);
        }
        if items.is_empty() {
            return Ok(first);
        }
        items.insert(0, first);
        Ok(Expr::Array(items))
    }

    /// Parses one value and checks that nothing is glued to its end.
    fn value(&mut self, mode: Mode) -> Result<Expr> {
        let value = self.atom(mode)?;
        match self.cur.peek() {
            None => Ok(value),
            Some(c) if is_blank(c) || is_newline(c) || matches!(c, ';' | '|' | ',' | ')' | '}') => {
                Ok(value)
            }
            Some(_) => Err(self.refuse_here("directly after a value")),
        }
    }

    fn atom(&mut self, mode: Mode) -> Result<Expr> {
        let Some(c) = self.cur.peek() else {
            return Err(self
                .cur
                .error_here("a value is missing at the end of the script"));
        };
        match c {
            _ if is_single_quote(c) => self.cur.single_quoted().map(Expr::String),
            _ if is_double_quote(c) => self.cur.double_quoted().map(Expr::String),
            '$' => self.cur.variable(),
            '@' if matches!(self.cur.peek_at(1), Some('(' | '{')) => self.nested(),
            _ if c.is_ascii_digit() || (is_dash(c) && self.next_is_digit()) => self.number(mode),
            _ if starts_bare_word(c) => self.bare_word(mode),
            _ => Err(self.refuse_here("where a value was expected")),
        }
    }

    fn number(&mut self, mode: Mode) -> Result<Expr> {
        let start = self.cur.pos();
        let word = self.cur.word()?;
        match classify_number(&word) {
            Numeric::Integer(n) => Ok(Expr::Integer(n)),
            Numeric::Float(x) => Ok(Expr::Number(x)),
            Numeric::Dotted if mode == Mode::Command => Ok(Expr::BareWord(word)),
            Numeric::Dotted | Numeric::Invalid => Err(self.cur.error_at(
                start,
                format!("'{word}' is not a supported number: only plain decimals such as 4, -1 or 2.5 are"),
            )),
        }
    }

    fn bare_word(&mut self, mode: Mode) -> Result<Expr> {
        let start = self.cur.pos();
        let word = self.cur.word()?;
        match mode {
            Mode::Command => Ok(Expr::BareWord(word)),
            Mode::Expression => Err(self.cur.error_at(
                start,
                format!("the bare word '{word}' would run as a command here; quote it as a string"),
            )),
        }
    }

    /// Parses `@( … )` or `@{ … }` at the `@`, bounding the nesting depth.
    fn nested(&mut self) -> Result<Expr> {
        if self.depth >= MAX_NESTING {
            return Err(self.cur.error_here(format!(
                "arrays and hashtables nested more than {MAX_NESTING} deep are not supported"
            )));
        }
        let start = self.cur.pos();
        self.cur.bump();
        let opening = self.cur.bump();
        self.depth += 1;
        let result = if opening == Some('(') {
            self.array_body(start)
        } else {
            self.hashtable_body(start)
        };
        self.depth -= 1;
        result
    }

    /// Parses the inside of `@( … )`: nothing, or one comma-separated list.
    /// Like PowerShell, `@(x)` where `x` is itself an array literal is that
    /// array, not an array holding it.
    fn array_body(&mut self, start: usize) -> Result<Expr> {
        self.cur.skip_trivia();
        if self.cur.peek() == Some(')') {
            self.cur.bump();
            return Ok(Expr::Array(Vec::new()));
        }
        let value = self.list(Mode::Expression)?;
        self.cur.skip_trivia();
        match self.cur.peek() {
            Some(')') => self.cur.bump(),
            None => {
                return Err(self
                    .cur
                    .error_at(start, "Missing closing ')' for this '@('."));
            }
            Some(_) => {
                return Err(self.refuse_here(
                    "inside '@( )': only one comma-separated list of values is supported",
                ));
            }
        };
        Ok(match value {
            Expr::Array(items) => Expr::Array(items),
            single => Expr::Array(vec![single]),
        })
    }

    /// Parses the inside of `@{ … }`: `key = value` entries separated by `;`
    /// or line breaks, with no key repeated (ignoring case).
    fn hashtable_body(&mut self, start: usize) -> Result<Expr> {
        let mut entries = Vec::new();
        loop {
            self.skip_entry_separators();
            match self.cur.peek() {
                Some('}') => {
                    self.cur.bump();
                    return Ok(Expr::Hashtable(entries));
                }
                None => {
                    return Err(self.cur.error_at(
                        start,
                        "The hash literal was incomplete: this '@{' has no closing '}'.",
                    ));
                }
                Some(_) => {
                    let entry = self.hash_entry(&entries)?;
                    entries.push(entry);
                }
            }
        }
    }

    fn skip_entry_separators(&mut self) {
        self.cur.skip_trivia();
        while self.cur.peek() == Some(';') {
            self.cur.bump();
            self.cur.skip_trivia();
        }
    }

    fn hash_entry(&mut self, earlier: &[(String, Expr)]) -> Result<(String, Expr)> {
        let key_start = self.cur.pos();
        let key = self.hash_key()?;
        if earlier.iter().any(|(seen, _)| names_equal(seen, &key)) {
            return Err(self.cur.error_at(
                key_start,
                format!("Duplicate keys '{key}' are not allowed in hash literals."),
            ));
        }
        self.cur.skip_blanks();
        if self.cur.peek() != Some('=') {
            return Err(self.refuse_here(&format!("after the hashtable key '{key}': expected '='")));
        }
        self.cur.bump();
        self.cur.skip_trivia();
        let value = self.list(Mode::Expression)?;
        self.cur.skip_blanks_and_comment();
        match self.cur.peek() {
            None | Some(';' | '}') => Ok((key, value)),
            Some(c) if is_newline(c) => Ok((key, value)),
            Some(_) => Err(self.refuse_here(
                "after a hashtable value: entries must be separated by ';' or a new line",
            )),
        }
    }

    fn hash_key(&mut self) -> Result<String> {
        match self.cur.peek() {
            Some(c) if is_single_quote(c) => self.cur.single_quoted(),
            Some(c) if is_double_quote(c) => self.cur.double_quoted(),
            Some(c) if starts_command_name(c) => Ok(self.cur.identifier()),
            _ => Err(self.refuse_here(
                "where a hashtable key was expected: keys must be names or quoted strings",
            )),
        }
    }
}
