//! The command line of the emulated `powershell.exe`: which switches it
//! accepts and where the script is.
//!
//! This module owns command-line parsing only; it neither parses nor runs
//! the script. Like `powershell.exe`, switch names ignore case and may be
//! shortened to any unambiguous prefix (`-nop`, `-noni`, `-c`, `-e`), and
//! everything after `-Command` is the script, joined by spaces, while
//! `-EncodedCommand` takes the Base64 of the script's UTF-16LE text (pcdr's
//! adapter sends this form)
//! (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe>).
//! Unlike it, there is no interactive mode and no `-Command -` (script on
//! standard input), and nothing may follow `-EncodedCommand <base64>`: all are
//! refused, as is every switch not listed in [`SWITCHES`].

use super::ast::names_equal;
use base64::Engine as _;

/// The switches the emulated shell accepts. `-NoProfile`, `-NonInteractive`
/// and `-NoLogo` change nothing: the emulator never loads a profile, never
/// prompts and never prints a banner.
const SWITCHES: [&str; 5] = [
    "NoProfile",
    "NonInteractive",
    "NoLogo",
    "Command",
    "EncodedCommand",
];

/// The script given by `-Command` or `-EncodedCommand`, or the message
/// explaining why the command line is refused.
pub(super) fn script_from_args(args: &[String]) -> Result<String, String> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match switch_named(arg)? {
            "Command" => return command_text(rest.as_slice()),
            "EncodedCommand" => return encoded_text(rest.as_slice()),
            _ => {}
        }
    }
    Err("The emulated shell has no interactive mode: pass -EncodedCommand <base64> or -Command <script>.".into())
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
        "The argument '{arg}' is not recognized: the emulated shell accepts only -NoProfile, -NonInteractive, -NoLogo, -EncodedCommand <base64> and -Command <script>."
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

/// The script `-EncodedCommand` carries: its one argument, Base64 of UTF-16LE
/// text.
fn encoded_text(rest: &[String]) -> Result<String, String> {
    let encoded = match rest {
        [one] => one,
        [] => return Err("Cannot process the command because of a missing parameter. A Base64 string must follow -EncodedCommand.".into()),
        [_, extra, ..] => return Err(format!("The argument '{extra}' follows -EncodedCommand <base64>: the emulated shell accepts nothing after it.")),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("The -EncodedCommand argument is not Base64: {e}."))?;
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|pair| match pair {
            [low, high] => Ok(u16::from_le_bytes([*low, *high])),
            _ => Err(
                "The -EncodedCommand argument is not UTF-16LE text: it has an odd number of bytes."
                    .to_string(),
            ),
        })
        .collect::<Result<_, _>>()?;
    String::from_utf16(&units)
        .map_err(|e| format!("The -EncodedCommand argument is not UTF-16LE text: {e}."))
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

    /// `dir "c:\program files" `, encoded as the documented example encodes
    /// it (`[Text.Encoding]::Unicode`, then `[Convert]::ToBase64String`).
    const ENCODED_DIR: &str = "ZABpAHIAIAAiAGMAOgBcAHAAcgBvAGcAcgBhAG0AIABmAGkAbABlAHMAIgAgAA==";

    #[test]
    fn an_encoded_command_yields_its_decoded_script() {
        let line = args(&[
            "-NoProfile",
            "-NonInteractive",
            "-EncodedCommand",
            ENCODED_DIR,
        ]);
        assert_eq!(
            script_from_args(&line),
            Ok("dir \"c:\\program files\" ".into())
        );
        assert_eq!(
            script_from_args(&args(&["-e", ENCODED_DIR])),
            Ok("dir \"c:\\program files\" ".into())
        );
    }

    #[test]
    fn a_bad_encoded_command_is_refused() {
        let refused = |list: &[&str]| script_from_args(&args(list)).unwrap_err();
        assert!(refused(&["-EncodedCommand"]).contains("must follow -EncodedCommand"));
        assert!(refused(&["-EncodedCommand", "%%"]).contains("not Base64"));
        assert!(refused(&["-EncodedCommand", "ZABp"]).contains("odd number"));
        assert!(refused(&["-EncodedCommand", ENCODED_DIR, "-NoLogo"]).contains("'-NoLogo'"));
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
