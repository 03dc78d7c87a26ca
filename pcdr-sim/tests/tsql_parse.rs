//! The T-SQL parser through its public API: the exact batches pcdr and its clients send,
//! SQL Server's errors for the wrong ones, quoting round trips, and no panics on any input.

use pcdr_sim::tsql::ast::{
    Argument, ArgumentValue, DataType, Expr, Operand, RestoreOption, RestoreTarget, Statement,
};
use pcdr_sim::tsql::{ParseError, parse_batch, parse_identifier};

/// Batches pcdr and its clients send, verbatim, one batch each.
const SAMPLES: &[&str] = &[
    "SELECT name, state_desc FROM sys.databases",
    "select @@spid",
    "SET ARITHABORT ON;SET CONCAT_NULL_YIELDS_NULL ON;SET ANSI_NULLS ON;SET ANSI_NULL_DFLT_ON ON;SET ANSI_PADDING ON;SET ANSI_WARNINGS ON;SET ANSI_NULL_DFLT_ON ON;SET CURSOR_CLOSE_ON_COMMIT ON;SET QUOTED_IDENTIFIER ON;SET TEXTSIZE 2147483647;",
    "use [msdb]",
    "BEGIN TRAN",
    "RESTORE LOG @db FROM DISK = @file WITH NORECOVERY",
    "RESTORE DATABASE @db WITH RECOVERY",
    "RESTORE DATABASE @db FROM DISK = @file WITH REPLACE, NORECOVERY, MOVE @l1 TO @p1, MOVE @l2 TO @p2",
    "RESTORE HEADERONLY FROM DISK = @file",
    "RESTORE VERIFYONLY FROM DISK = @file WITH CHECKSUM",
    "BACKUP DATABASE @db TO DISK = @file WITH INIT, CHECKSUM",
    "ALTER DATABASE [mg]]c] SET PARTNER OFF",
    "KILL 57",
    "EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @db",
    "SELECT session_id FROM sys.dm_exec_sessions WHERE database_id = DB_ID(@db) AND session_id <> @@SPID AND is_user_process = 1",
    "SELECT service_account FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'",
    "DECLARE @job_id uniqueidentifier, @schedule_id int; EXEC msdb.dbo.sp_add_schedule @schedule_name = @name, @enabled = 1, @freq_type = 4, @schedule_id = @schedule_id OUTPUT; EXEC msdb.dbo.sp_attach_schedule @job_id = @job_id, @schedule_id = @schedule_id;",
];

fn statements(sql: &str) -> Vec<Statement> {
    match parse_batch(sql) {
        Ok(batch) => batch.statements,
        Err(error) => panic!("{sql:?} failed: {error}"),
    }
}

fn error(sql: &str) -> ParseError {
    match parse_batch(sql) {
        Ok(batch) => panic!("{sql:?} parsed: {batch:?}"),
        Err(error) => error,
    }
}

#[test]
fn every_sample_batch_parses() {
    let counts: Vec<_> = SAMPLES.iter().map(|sql| statements(sql).len()).collect();
    assert_eq!(counts, [1, 1, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
}

#[test]
fn connection_settings_batch_keeps_every_option_in_order() {
    let statements = statements(SAMPLES[2]);
    assert_eq!(statements[9], Statement::SetTextSize(2147483647));
    let Statement::SetOptions { options, on: true } = &statements[7] else {
        panic!("{:?}", statements[7]);
    };
    assert_eq!(options, &["CURSOR_CLOSE_ON_COMMIT"]);
}

#[test]
fn log_shipping_schedule_batch_has_typed_declarations_and_output_argument() {
    let statements = statements(SAMPLES[16]);
    let Statement::Declare(declarations) = &statements[0] else {
        panic!("{:?}", statements[0]);
    };
    let types: Vec<_> = declarations.iter().map(|d| d.data_type).collect();
    assert_eq!(types, [DataType::UniqueIdentifier, DataType::Int]);
    let Statement::Execute(schedule) = &statements[1] else {
        panic!("{:?}", statements[1]);
    };
    let expected = Argument {
        name: Some("@schedule_id".into()),
        value: ArgumentValue::Expr(Expr::Variable("@schedule_id".into())),
        output: true,
    };
    assert_eq!(schedule.args.last(), Some(&expected));
    assert_eq!(schedule.procedure.0, ["msdb", "dbo", "sp_add_schedule"]);
}

#[test]
fn restore_log_sample_is_fully_typed() {
    let Statement::Restore(restore) = &statements(SAMPLES[5])[0] else {
        panic!("not a RESTORE");
    };
    assert_eq!(
        restore.target,
        RestoreTarget::Log(Operand::Variable("@db".into()))
    );
    assert_eq!(restore.from, [Operand::Variable("@file".into())]);
    assert_eq!(restore.options, [RestoreOption::NoRecovery]);
}

#[test]
fn samples_also_parse_as_one_batch_without_semicolons() {
    let joined = SAMPLES.join("\n").replace(';', " ");
    let expected: usize = SAMPLES.iter().map(|sql| statements(sql).len()).sum();
    assert_eq!(statements(&joined).len(), expected);
}

#[test]
fn error_cases_carry_sql_server_numbers_and_texts() {
    let cases = [
        (
            "SELECT 'abc",
            105,
            "Unclosed quotation mark after the character string 'abc'.",
        ),
        (
            "USE [msdb",
            105,
            "Unclosed quotation mark after the character string 'msdb'.",
        ),
        (
            "RESTORE LOG FROM DISK = 'x'",
            156,
            "Incorrect syntax near the keyword 'FROM'.",
        ),
        (
            "DROP DATABASE mgc",
            156,
            "Incorrect syntax near the keyword 'DROP'.",
        ),
        ("KILL 'x'", 102, "Incorrect syntax near 'x'."),
        ("SELECT ~ 1", 102, "Incorrect syntax near '~'."),
        (
            "MERGE t USING s ON 1 = 1",
            156,
            "Incorrect syntax near the keyword 'MERGE'.",
        ),
        ("/* open", 113, "Missing end comment mark '*/'."),
    ];
    for (sql, number, message) in cases {
        let error = error(sql);
        assert_eq!(
            (error.number, error.message.as_str()),
            (number, message),
            "{sql:?}"
        );
    }
}

#[test]
fn empty_batch_is_valid_and_has_no_statements() {
    assert_eq!(statements(""), []);
}

#[test]
fn parse_identifier_reads_each_quoting_form() {
    let cases = [
        ("[mg]]c]", "mg]c"),
        ("\"a\"\"b\"", "a\"b"),
        ("N'O''Brien'", "O'Brien"),
        ("'x'", "x"),
        ("mgc", "mgc"),
    ];
    for (text, value) in cases {
        assert_eq!(parse_identifier(text), Ok(value.to_string()), "{text}");
    }
    assert_eq!(parse_identifier("[a] [b]").map_err(|e| e.number), Err(102));
    assert_eq!(parse_identifier("FROM").map_err(|e| e.number), Err(156));
    assert_eq!(parse_identifier("[a").map_err(|e| e.number), Err(105));
}

/// A deterministic xorshift generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces that stress quoting: delimiters, comment and statement markers, control
/// characters and multi-byte characters.
const PIECES: &[&str] = &[
    "]", "]]", "[", "'", "''", "\"", "--", "/*", "*/", ";", "\n", "\r\n", "\t", "\0", " ", "a",
    "Z", "_", "@", "@@", "N'", "é", "日本", "🦀", "\u{feff}", "\u{202e}", "x y", "SELECT", "GO",
    "0", "-", "(", ")", ",", ".", "=", "\\",
];

fn generated_string(rng: &mut Rng) -> String {
    let len = rng.below(24);
    (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

#[test]
fn bracket_quoting_round_trips_for_generated_strings() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5000 {
        let value = generated_string(&mut rng);
        let quoted = format!("[{}]", value.replace(']', "]]"));
        assert_eq!(parse_identifier(&quoted), Ok(value.clone()), "{quoted:?}");
    }
}

#[test]
fn national_string_quoting_round_trips_for_generated_strings() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..5000 {
        let value = generated_string(&mut rng);
        let quoted = format!("N'{}'", value.replace('\'', "''"));
        assert_eq!(parse_identifier(&quoted), Ok(value.clone()), "{quoted:?}");
    }
}

#[test]
fn quoted_values_survive_inside_whole_statements() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..1000 {
        let value = generated_string(&mut rng);
        let sql = format!(
            "ALTER DATABASE [{}] SET PARTNER OFF; PRINT N'{}'",
            value.replace(']', "]]"),
            value.replace('\'', "''")
        );
        let statements = statements(&sql);
        let Statement::AlterDatabase(alter) = &statements[0] else {
            panic!("{sql:?}");
        };
        assert_eq!(alter.database, value);
        assert_eq!(statements[1], Statement::Print(Expr::String(value.clone())));
    }
}

fn assert_no_panic(sql: &str) {
    if let Err(error) = parse_batch(sql) {
        assert!(error.offset <= sql.len(), "{sql:?}: {error}");
        assert!(!error.message.is_empty());
    }
    let _ = parse_identifier(sql);
}

#[test]
fn no_prefix_of_a_sample_panics() {
    for sql in SAMPLES {
        for (end, _) in sql.char_indices() {
            assert_no_panic(&sql[..end]);
        }
    }
}

#[test]
fn random_text_never_panics() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..5000 {
        assert_no_panic(&generated_string(&mut rng));
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        assert_no_panic(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_sample_fragments_never_panic() {
    let words: Vec<&str> = SAMPLES.iter().flat_map(|s| s.split(' ')).collect();
    let mut rng = Rng(0xFEED_FACE_CAFE_BEEF);
    for _ in 0..5000 {
        let len = rng.below(16);
        let sql: Vec<&str> = (0..len).map(|_| words[rng.below(words.len())]).collect();
        assert_no_panic(&sql.join(" "));
    }
}
