//! The command line of the emulated `powershell.exe`: which switches it
//! accepts and where the script is.
//!
//! This module owns command-line parsing only; it neither parses nor runs
//! the script. Like `powershell.exe`, switch names ignore case and may be
//! shortened to any unambiguous prefix (`-nop`, `-noni`, `-c`), and
//! everything after `-Command` is the script, joined by spaces. Unlike it,
//! there is no interactive mode and no `-Command -` (script on standard
//! input): both are refused, as is every switch not listed in [`SWITCHES`].

use super::ast::names_equal;

/// The switches the emulated shell accepts. `-NoProfile`, `-NonInteractive`
/// and `-NoLogo` change nothing: the emulator never loads a profile, never
/// prompts and never prints a banner.
const SWITCHES: [&str; 4] = ["NoProfile", "NonInteractive", "NoLogo", "Command"];

/// The script given by `-Command`, or the message explaining why the
/// command line is refused.
pub(super) fn script_from_args(args: &[String]) -> Result<String, String> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if switch_named(arg)? == "Command" {
            return command_text(rest.as_slice());
        }
    }
    Err("The emulated shell has no interactive mode: pass -Command <script>.".into())
}

/// The switch that `arg` names, by exact name or unambiguous prefix.
fn switch_named(arg: &str) -> Result<&'static str, String> {
    let Some(name) = arg.strip_prefix('-').filter(|name| !name.is_empty()) else {
        return Err(unknown(arg));
    };
    if let Some(exact) = SWITCHES.iter().find(|s| names_equal(s, name)) {
        return Ok(exact);
    }
    let matches: Vec<&str> = SWITCHES
        .iter()
        .copied()
        .filter(|s| starts_with_ignoring_case(s, name))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(unknown(arg)),
        many => Err(format!(
            "The switch '{arg}' is ambiguous: it could be -{}.",
            many.join(", -")
        )),
    }
}

fn unknown(arg: &str) -> String {
    format!(
        "The argument '{arg}' is not recognized: the emulated shell accepts only -NoProfile, -NonInteractive, -NoLogo and -Command <script>."
    )
}

/// The script made of every argument after `-Command`.
fn command_text(rest: &[String]) -> Result<String, String> {
    match rest {
        [] => Err("Cannot process the command because of a missing parameter. A command must follow -Command.".into()),
        [only] if only == "-" => {
            Err("Reading the script from standard input (-Command -) is not supported by the emulated shell.".into())
        }
        words => Ok(words.join(" ")),
    }
}

/// True when `name` starts with `prefix`, ignoring case as PowerShell does.
pub(super) fn starts_with_ignoring_case(name: &str, prefix: &str) -> bool {
    let mut name = name.chars().flat_map(char::to_lowercase);
    prefix
        .chars()
        .flat_map(char::to_lowercase)
        .all(|c| name.next() == Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn the_adapters_command_line_yields_the_script() {
        let line = args(&[
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "Get-X | ConvertTo-Json",
        ]);
        assert_eq!(script_from_args(&line), Ok("Get-X | ConvertTo-Json".into()));
    }

    #[test]
    fn switches_ignore_case_and_accept_unambiguous_prefixes() {
        let line = args(&["-nop", "-NONI", "-c", "Get-X", "-Identity", "'a'"]);
        assert_eq!(script_from_args(&line), Ok("Get-X -Identity 'a'".into()));
    }

    #[test]
    fn unknown_ambiguous_and_missing_pieces_are_refused() {
        let refused = |list: &[&str]| script_from_args(&args(list)).unwrap_err();
        assert!(refused(&["-ExecutionPolicy", "Bypass"]).contains("'-ExecutionPolicy'"));
        assert!(refused(&["-No", "-Command", "x"]).contains("ambiguous"));
        assert!(refused(&["Get-X"]).contains("'Get-X'"));
        assert!(refused(&["-NoProfile"]).contains("interactive"));
        assert!(refused(&["-Command"]).contains("must follow -Command"));
        assert!(refused(&["-Command", "-"]).contains("standard input"));
    }
}
