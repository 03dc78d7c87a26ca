//! The executor: runs a parsed script statement by statement against the
//! world, the way `powershell.exe -NoProfile -NonInteractive -Command` would
//! run it in the Skype for Business Management Shell.
//!
//! This module owns statement flow, variables, pipelines, the error
//! preference and what reaches stdout, stderr and the exit code; cmdlet
//! semantics live in `cmdlets.rs`, binding in `bind.rs`.
//!
//! # Errors, simplified
//!
//! PowerShell distinguishes non-terminating errors (the cmdlet writes an
//! error and goes on), statement-terminating errors and script-terminating
//! ones. The emulated cmdlets never write an error and then continue, so
//! the executor keeps one rule: any error (unknown command, binding error,
//! cmdlet failure, injected fault) ends its statement and is written to
//! stderr. With `$ErrorActionPreference = 'Stop'` it also ends the script
//! with exit code 1; otherwise the script goes on, and the exit code is 1
//! when the last statement failed and 0 when it succeeded, as
//! `powershell.exe -Command` derives it from `$?`. Only the preferences
//! `'Stop'` and `'Continue'` are accepted. A script that does not parse runs
//! nothing and exits with 1.
//!
//! # Warnings
//!
//! A warning (an injected [`CmdletFault::Warn`]) is written to stderr as
//! `WARNING: <message>`, the way `Write-Warning` shows it
//! (<https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/write-warning>),
//! and changes neither the statement's success nor the exit code: the warning
//! stream is not the error stream
//! (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_output_streams>).

use super::ast::{Argument, Command, Expr, Script, Statement, names_equal};
use super::bind::{bind, display};
use super::cmdlets::{self, Cmdlet, Invocation};
use super::json::Json;
use super::parse_script;
use super::pserror::PsError;
use super::world::{CmdletFault, PoolWorld};
use super::{ParseError, args};

/// What the emulated shell process prints and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutput {
    /// Everything written to standard output.
    pub stdout: String,
    /// Everything written to standard error.
    pub stderr: String,
    /// The process exit code: 0 on success, 1 on failure.
    pub exit_code: i32,
}

impl ShellOutput {
    fn failed(stderr: String) -> Self {
        Self {
            stdout: String::new(),
            stderr,
            exit_code: 1,
        }
    }
}

/// Runs the emulated `powershell.exe` with the command-line `args` (what
/// follows the program name, such as
/// `-NoProfile -NonInteractive -EncodedCommand <base64>`) against `world`.
///
/// A refused command line or a script that does not parse runs nothing and
/// exits with 1. An injected [`CmdletFault::Hang`] blocks the calling thread
/// for good: the caller's timeout must end the process.
pub fn run_shell(args: &[String], world: &dyn PoolWorld) -> ShellOutput {
    let text = match args::script_from_args(args) {
        Ok(text) => text,
        Err(message) => return ShellOutput::failed(format!("{message}\n")),
    };
    match parse_script(&text) {
        Ok(script) => Session::new(world).run(&script),
        Err(error) => ShellOutput::failed(parse_error_text(&error)),
    }
}

fn parse_error_text(error: &ParseError) -> String {
    format!(
        "{error}\n    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n    + FullyQualifiedErrorId : UnsupportedScriptConstruct\n"
    )
}

/// What `$ErrorActionPreference` says to do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    Continue,
    Stop,
}

/// The state of one running script.
struct Session<'w> {
    world: &'w dyn PoolWorld,
    on_error: OnError,
    variables: Vec<(String, Expr)>,
    stdout: String,
    stderr: String,
}

impl<'w> Session<'w> {
    fn new(world: &'w dyn PoolWorld) -> Self {
        Self {
            world,
            on_error: OnError::Continue,
            variables: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    fn run(mut self, script: &Script) -> ShellOutput {
        let mut last_failed = false;
        for statement in &script.statements {
            last_failed = match self.statement(statement) {
                Ok(()) => false,
                Err(text) => {
                    self.stderr.push_str(&text);
                    true
                }
            };
            if last_failed && self.on_error == OnError::Stop {
                break;
            }
        }
        ShellOutput {
            stdout: self.stdout,
            stderr: self.stderr,
            exit_code: i32::from(last_failed),
        }
    }

    /// Runs one statement; an error comes back as its stderr text.
    fn statement(&mut self, statement: &Statement) -> Result<(), String> {
        match statement {
            Statement::Assign { variable, value } => self.assign(variable, value),
            Statement::Pipeline(commands) => {
                let output = self.pipeline(commands)?;
                self.write_output(&output);
                Ok(())
            }
        }
    }

    fn assign(&mut self, variable: &str, value: &Expr) -> Result<(), String> {
        let value = self.resolve(value);
        if names_equal(variable, "ErrorActionPreference") {
            self.on_error = preference(&value)?;
        }
        self.variables
            .retain(|(name, _)| !names_equal(name, variable));
        self.variables.push((variable.to_string(), value));
        Ok(())
    }

    /// Runs the commands of a pipeline in turn, each getting the objects
    /// the previous one wrote.
    fn pipeline(&mut self, commands: &[Command]) -> Result<Vec<Json>, String> {
        let mut input = None;
        for command in commands {
            input = Some(self.command(command, input)?);
        }
        Ok(input.unwrap_or_default())
    }

    fn command(
        &mut self,
        command: &Command,
        input: Option<Vec<Json>>,
    ) -> Result<Vec<Json>, String> {
        let Some(cmdlet) = cmdlets::find(&command.name) else {
            return Err(not_recognized(&command.name).render(&command.name, ""));
        };
        self.invoke(cmdlet, command, input)
            .map_err(|error| error.render(&command.name, cmdlet.name))
    }

    /// Binds the arguments, then asks the world for an injected fault just
    /// before the cmdlet would act, then runs it.
    fn invoke(
        &mut self,
        cmdlet: &Cmdlet,
        command: &Command,
        input: Option<Vec<Json>>,
    ) -> Result<Vec<Json>, PsError> {
        let args: Vec<Argument> = command
            .args
            .iter()
            .map(|arg| self.resolve_arg(arg))
            .collect();
        let bound = bind(cmdlet.params, &args)?;
        if !cmdlet.takes_input && input.as_ref().is_some_and(|items| !items.is_empty()) {
            return Err(input_not_bound());
        }
        match self.world.cmdlet_fault(cmdlet.name) {
            Some(CmdletFault::Fail(message)) => return Err(PsError::operation("", message)),
            Some(CmdletFault::Hang) => hang(),
            Some(CmdletFault::Warn(message)) => self.warn(&message),
            None => {}
        }
        let invocation = Invocation {
            world: self.world,
            input,
        };
        (cmdlet.run)(&bound, invocation)
    }

    fn resolve_arg(&self, arg: &Argument) -> Argument {
        match arg {
            Argument::Named { name, value, colon } => Argument::Named {
                name: name.clone(),
                value: value.as_ref().map(|v| self.resolve(v)),
                colon: *colon,
            },
            Argument::Positional(value) => Argument::Positional(self.resolve(value)),
        }
    }

    /// `value` with every variable replaced by its value; an unset
    /// variable is `$null`, as PowerShell has it outside strict mode.
    fn resolve(&self, value: &Expr) -> Expr {
        match value {
            Expr::Variable(name) => self
                .variables
                .iter()
                .find(|(known, _)| names_equal(known, name))
                .map_or(Expr::Null, |(_, value)| value.clone()),
            Expr::Array(items) => Expr::Array(items.iter().map(|i| self.resolve(i)).collect()),
            Expr::Hashtable(entries) => Expr::Hashtable(
                entries
                    .iter()
                    .map(|(key, v)| (key.clone(), self.resolve(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Writes a warning record to stderr.
    fn warn(&mut self, message: &str) {
        self.stderr.push_str(&format!("WARNING: {message}\n"));
    }

    fn write_output(&mut self, output: &[Json]) {
        for item in output {
            self.stdout.push_str(&host_text(item));
            self.stdout.push('\n');
        }
    }
}

/// The preference a value of `$ErrorActionPreference` selects.
fn preference(value: &Expr) -> Result<OnError, String> {
    match value {
        Expr::String(s) if names_equal(s, "Stop") => Ok(OnError::Stop),
        Expr::String(s) if names_equal(s, "Continue") => Ok(OnError::Continue),
        other => Err(format!(
            "The emulated shell supports $ErrorActionPreference = 'Stop' or 'Continue' only, not '{}'.\n",
            display(other)
        )),
    }
}

fn not_recognized(name: &str) -> PsError {
    PsError {
        message: format!(
            "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
        ),
        category: "ObjectNotFound",
        target: name.to_string(),
        reason: "CommandNotFoundException",
        id: "CommandNotFoundException",
    }
}

fn input_not_bound() -> PsError {
    PsError::binding(
        "InputObjectNotBound",
        "The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.",
    )
}

/// Blocks the calling thread for good, as a hung cmdlet does.
fn hang() -> ! {
    loop {
        std::thread::park();
    }
}

/// An object as the console host shows it when it is not converted: a
/// string as itself, an object as `Name : value` lines.
fn host_text(item: &Json) -> String {
    match item {
        Json::Object(props) => {
            let width = props
                .iter()
                .map(|(name, _)| name.chars().count())
                .max()
                .unwrap_or(0);
            let lines: Vec<String> = props
                .iter()
                .map(|(name, value)| format!("{name:<width$} : {}", host_text(value)))
                .collect();
            format!("\n{}\n", lines.join("\n"))
        }
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(host_text).collect::<Vec<_>>().join("\n"),
    }
}
