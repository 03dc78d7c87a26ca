//! The emulator's T-SQL tokenizer and parser on any text, and pcdr's quoting against
//! it: any name `quote_sql_name` accepts reads back as itself, and the ALTER DATABASE
//! pcdr builds from it is one statement naming exactly it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pcdr_core::commands::sql::remove_mirroring;
use pcdr_core::quote::quote_sql_name;
use pcdr_sim::tsql::ast::Statement;
use pcdr_sim::tsql::{parse_batch, parse_identifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_batch(text);
    let _ = parse_identifier(text);
    if let Ok(quoted) = quote_sql_name(text) {
        assert_eq!(parse_identifier(&quoted).as_deref(), Ok(text));
        let command = remove_mirroring(text).expect("quotable");
        let batch = parse_batch(&command.text).expect("pcdr's ALTER DATABASE parses");
        match batch.statements.as_slice() {
            [Statement::AlterDatabase(alter)] => assert_eq!(alter.database, text),
            other => panic!("{:?} parsed as {other:?}", command.text),
        }
    }
});
