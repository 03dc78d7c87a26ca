//! The emulated shell's PowerShell parser on any text, and pcdr's quoting against it:
//! any value quoted by `quote_powershell` reads back as exactly itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pcdr_core::quote::quote_powershell;
use pcdr_sim::shell::{Expr, Statement, parse_script};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_script(text);
    let script = format!("$x = {}", quote_powershell(text));
    let parsed = parse_script(&script).expect("a quoted value parses");
    match parsed.statements.as_slice() {
        [
            Statement::Assign {
                variable,
                value: Expr::String(value),
            },
        ] => {
            assert_eq!(variable, "x");
            assert_eq!(value, text);
        }
        other => panic!("{script:?} parsed as {other:?}"),
    }
});
