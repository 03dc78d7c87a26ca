//! Proptest strategies for hostile strings, shared by the hostile-input tests of pcdr-core
//! (`pcdr-core/tests/hostile_input.rs`) and of the emulator
//! (`pcdr-sim/tests/hostile_input.rs`), which include this file as a module.

use proptest::prelude::*;

/// Cases every hostile-input property runs.
pub const CASES: u32 = 10_000;

/// Fragments that have broken quoting somewhere: quotes of every kind, escapes,
/// separators, comments, line breaks, NUL, typographic quotes and dashes, non-ASCII.
pub const NASTY: &[&str] = &[
    "'",
    "''",
    "]",
    "]]",
    "[",
    "\"",
    "`",
    "$",
    "$(whoami)",
    "${x}",
    ";",
    "|",
    "&",
    "--",
    "/*",
    "*/",
    "#",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\0",
    "\u{7F}",
    "\u{85}",
    "\u{2018}",
    "\u{2019}",
    "\u{201A}",
    "\u{201B}",
    "\u{201C}",
    "\u{201D}",
    "\u{201E}",
    "\u{2013}",
    "\u{2014}",
    "\u{A0}",
    "\u{2028}",
    "\u{FEFF}",
    "é",
    "日本",
    "\u{1F600}",
    "N'",
    "@",
    "@@",
    "0x",
    "(",
    ")",
    "{",
    "}",
    ",",
    "=",
    ".",
    "-",
    "\\",
    "\\\\",
    " ",
    "GO",
    "DROP DATABASE mgc",
    "a",
    "mgc",
];

/// Strings that favour [`NASTY`] fragments (followed by `extra` ones), mixed with
/// arbitrary strings.
pub fn hostile_with(extra: &[&'static str]) -> impl Strategy<Value = String> {
    let nasty: Vec<&'static str> = NASTY.iter().chain(extra).copied().collect();
    let fragment = prop_oneof![
        3 => proptest::sample::select(nasty).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
        1 => "[a-zA-Z0-9]{1,6}",
    ];
    prop_oneof![
        3 => proptest::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat()),
        1 => any::<String>(),
    ]
}

/// Host names of one to four labels, many of them valid under RFC 1123.
pub fn host_name() -> impl Strategy<Value = String> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?";
    proptest::collection::vec(label, 1..5).prop_map(|labels| labels.join("."))
}

/// A TOML basic string holding exactly `value`.
pub fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
