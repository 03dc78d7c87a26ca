//! The emulated Skype for Business Management Shell: a parser for the
//! subset of PowerShell that pcdr's PowerShell adapter sends, and an
//! executor that runs it against the emulated world.
//!
//! The adapter runs `program -NoProfile -NonInteractive -EncodedCommand <script>`;
//! [`run_shell`] takes those arguments, parses the script by PowerShell's
//! quoting rules before anything is executed, then runs it statement by
//! statement. The parser (`lexer.rs`, `parser.rs`, `ast.rs`) owns syntax
//! only and knows nothing about what a cmdlet does; the executor
//! (`exec.rs`, `bind.rs`, `cmdlets.rs`, `json.rs`) reaches the world only
//! through [`world::PoolWorld`] and does no I/O of its own.
//!
//! # Cmdlets
//!
//! `Import-Module` (`SkypeForBusiness` or `Lync`), `ConvertTo-Json`,
//! `Get-CsPersistentChatState`, `Set-CsPersistentChatState`,
//! `Set-CsPersistentChatActiveServer` and `Install-CsMirrorDatabase`, with
//! PowerShell's parameter binding (names ignoring case, unambiguous
//! prefixes, positional `-Identity`, mandatory parameters). Real parameters
//! the emulator does not implement (`-WhatIf`, `-Swap`, the common
//! parameters, …) are refused, never ignored.
//! `Install-CsMirrorDatabase` takes the SQL Server by its FQDN, never an IP
//! address, and reaches the default instance without `-SqlInstanceName`: the
//! world's instances are all named, so that fails as connecting to an instance
//! that does not exist would.
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

mod args;
mod ast;
mod bind;
mod cmdlets;
mod error;
mod exec;
#[cfg(test)]
mod exec_tests;
mod json;
mod lexer;
mod parser;
mod pserror;
mod quote;
mod refuse;
#[cfg(test)]
mod tests;
pub mod world;

pub use ast::{Argument, Command, Expr, Script, Statement, names_equal};
pub use error::ParseError;
pub use exec::{ShellOutput, run_shell};
pub use parser::parse_script;
pub use quote::quote_single;
