//! A parser for the subset of PowerShell that pcdr's PowerShell adapter
//! sends to the Skype for Business Management Shell.
//!
//! The adapter runs `program -NoProfile -NonInteractive -Command <script>`;
//! the emulated shell parses that script here, by PowerShell's quoting rules,
//! before anything is executed. This module owns syntax only: it does no I/O
//! and knows nothing about what a cmdlet does.
//!
//! # Accepted
//!
//! * Statements separated by line breaks or `;`; `#` comments.
//! * Assignments `$name = value`.
//! * Pipelines `Cmdlet-Name args | Cmdlet-Name args`.
//! * Arguments `-Name value`, `-Name:value`, switches `-Force`, positional
//!   values.
//! * Values: single-quoted strings (`''` and the typographic quotes `‘ ’ ‚ ‛`
//!   follow PowerShell's rules), double-quoted strings without `$`, backticks
//!   or doubled quotes, plain decimal numbers, `$true`, `$false`, `$null`,
//!   `$variable` references, bare words as command arguments, arrays
//!   `a, b` / `@(a, b)` / `@()`, and hashtables `@{Key = value; …}`.
//!
//! # Refused
//!
//! Everything else: subexpressions `$( )`, backticks, expandable strings,
//! script blocks, `&` and `.` invocation, redirections, `&&` and `||`,
//! `[type]` casts, splatting, here-strings, operators, member access,
//! keywords, unbalanced quotes and brackets, unusual whitespace.
//!
//! Refusing is the safe choice: a disaster-recovery run must never act on a
//! command the emulator read differently from the real shell. An emulator
//! that guesses at a construct it does not implement could report success
//! for a script that PowerShell would run differently, hiding an adapter bug
//! until the real failover. A refusal names the construct and its position,
//! so the gap is visible at once.
//!
//! # Names
//!
//! Command, parameter, variable and hashtable-key names keep the text as
//! written. PowerShell compares them ignoring case; do the same with
//! [`names_equal`], [`Command::is`] and [`Argument::is_named`].

mod ast;
mod error;
mod lexer;
mod parser;
mod quote;
mod refuse;
#[cfg(test)]
mod tests;
pub mod world;

pub use ast::{Argument, Command, Expr, Script, Statement, names_equal};
pub use error::ParseError;
pub use parser::parse_script;
pub use quote::quote_single;
