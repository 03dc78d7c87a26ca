//! Whole-script tests of the shell parser: the scripts pcdr's adapter sends,
//! the quoting round trip, each refused construct, and panic-freedom.

use super::*;

fn parse(text: &str) -> Vec<Statement> {
    match parse_script(text) {
        Ok(script) => script.statements,
        Err(error) => panic!("{text:?} did not parse:\n{error}"),
    }
}

fn refused(text: &str) -> ParseError {
    match parse_script(text) {
        Ok(script) => panic!("{text:?} parsed but should be refused: {script:?}"),
        Err(error) => error,
    }
}

fn assert_refused(text: &str, column: usize, needle: &str) {
    let error = refused(text);
    assert_eq!((error.line, error.column), (1, column), "{text:?}: {error}");
    assert!(error.message.contains(needle), "{text:?}: {error}");
}

fn s(text: &str) -> Expr {
    Expr::String(text.into())
}

fn named(name: &str, value: Expr) -> Argument {
    Argument::Named {
        name: name.into(),
        value: Some(value),
        colon: false,
    }
}

fn colon(name: &str, value: Expr) -> Argument {
    Argument::Named {
        name: name.into(),
        value: Some(value),
        colon: true,
    }
}

fn switch(name: &str) -> Argument {
    Argument::Named {
        name: name.into(),
        value: None,
        colon: false,
    }
}

fn command(name: &str, args: Vec<Argument>) -> Command {
    Command {
        name: name.into(),
        args,
    }
}

fn single(name: &str, args: Vec<Argument>) -> Statement {
    Statement::Pipeline(vec![command(name, args)])
}

const IDENTITY: &str = "service:pchat.contoso.com";

const SAMPLE_LINES: [&str; 7] = [
    "Import-Module 'SkypeForBusiness'",
    "$ErrorActionPreference = 'Stop'",
    "Set-CsPersistentChatState -Identity 'service:pchat.contoso.com' -PoolState 'FailedOver' -Confirm:$false",
    "Set-CsPersistentChatActiveServer -Identity 'service:pchat.contoso.com' -ActiveServers $null -Confirm:$false",
    "Set-CsPersistentChatActiveServer -Identity 'service:pchat.contoso.com' -ActiveServers @{Replace='pc3.contoso.com','pc4.contoso.com'} -Confirm:$false",
    "Set-CsPersistentChatActiveServer -ActiveServers @{Add=\"pc1.contoso.com\"}",
    "Install-CsMirrorDatabase -DatabaseType 'PersistentChat' -SqlServerFqdn 'sql-dal.contoso.com' -SqlInstanceName 'PCHAT' -FileShare '\\\\fs01.contoso.com\\pchat-logs' -DropExistingDatabasesOnMirror -Confirm:$false",
];

const ONE_LINE_SCRIPT: &str = "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Get-CsPersistentChatState -Identity 'service:pchat.contoso.com' | ConvertTo-Json -Compress";

fn expected_sample_lines() -> [Statement; 7] {
    [
        single(
            "Import-Module",
            vec![Argument::Positional(s("SkypeForBusiness"))],
        ),
        Statement::Assign {
            variable: "ErrorActionPreference".into(),
            value: s("Stop"),
        },
        single(
            "Set-CsPersistentChatState",
            vec![
                named("Identity", s(IDENTITY)),
                named("PoolState", s("FailedOver")),
                colon("Confirm", Expr::Bool(false)),
            ],
        ),
        single(
            "Set-CsPersistentChatActiveServer",
            vec![
                named("Identity", s(IDENTITY)),
                named("ActiveServers", Expr::Null),
                colon("Confirm", Expr::Bool(false)),
            ],
        ),
        single(
            "Set-CsPersistentChatActiveServer",
            vec![
                named("Identity", s(IDENTITY)),
                named(
                    "ActiveServers",
                    Expr::Hashtable(vec![(
                        "Replace".into(),
                        Expr::Array(vec![s("pc3.contoso.com"), s("pc4.contoso.com")]),
                    )]),
                ),
                colon("Confirm", Expr::Bool(false)),
            ],
        ),
        single(
            "Set-CsPersistentChatActiveServer",
            vec![named(
                "ActiveServers",
                Expr::Hashtable(vec![("Add".into(), s("pc1.contoso.com"))]),
            )],
        ),
        single(
            "Install-CsMirrorDatabase",
            vec![
                named("DatabaseType", s("PersistentChat")),
                named("SqlServerFqdn", s("sql-dal.contoso.com")),
                named("SqlInstanceName", s("PCHAT")),
                named("FileShare", s(r"\\fs01.contoso.com\pchat-logs")),
                switch("DropExistingDatabasesOnMirror"),
                colon("Confirm", Expr::Bool(false)),
            ],
        ),
    ]
}

#[test]
fn one_line_script_parses_to_import_assignment_and_pipeline() {
    let expected = vec![
        single(
            "Import-Module",
            vec![Argument::Positional(s("SkypeForBusiness"))],
        ),
        Statement::Assign {
            variable: "ErrorActionPreference".into(),
            value: s("Stop"),
        },
        Statement::Pipeline(vec![
            command(
                "Get-CsPersistentChatState",
                vec![named("Identity", s(IDENTITY))],
            ),
            command("ConvertTo-Json", vec![switch("Compress")]),
        ]),
    ];
    assert_eq!(parse(ONE_LINE_SCRIPT), expected);
}

#[test]
fn each_sample_line_parses_to_its_expected_statement() {
    for (line, expected) in SAMPLE_LINES.iter().zip(expected_sample_lines()) {
        assert_eq!(parse(line), vec![expected], "{line}");
    }
}

#[test]
fn sample_lines_joined_by_crlf_parse_to_all_statements_in_order() {
    let script = SAMPLE_LINES.join("\r\n");
    assert_eq!(parse(&script), expected_sample_lines().to_vec());
}

#[test]
fn convertto_json_depth_is_an_integer_and_compress_a_switch() {
    let statements = parse("Get-CsPool | ConvertTo-Json -Depth 4 -Compress");
    let expected = command(
        "ConvertTo-Json",
        vec![named("Depth", Expr::Integer(4)), switch("Compress")],
    );
    assert_eq!(
        statements,
        vec![Statement::Pipeline(vec![
            command("Get-CsPool", vec![]),
            expected
        ])]
    );
}

#[test]
fn bare_words_numbers_and_dotted_names_are_command_arguments() {
    let statements = parse("Set-X FailedOver pc1.contoso.com 10.0.0.1 -1 2.5 -Count:3");
    let expected = single(
        "Set-X",
        vec![
            Argument::Positional(Expr::BareWord("FailedOver".into())),
            Argument::Positional(Expr::BareWord("pc1.contoso.com".into())),
            Argument::Positional(Expr::BareWord("10.0.0.1".into())),
            Argument::Positional(Expr::Integer(-1)),
            Argument::Positional(Expr::Number(2.5)),
            colon("Count", Expr::Integer(3)),
        ],
    );
    assert_eq!(statements, vec![expected]);
}

#[test]
fn arrays_in_all_spellings_parse_to_the_same_tree() {
    let pair = Expr::Array(vec![s("a"), s("b")]);
    for text in [
        "Set-X -V 'a','b'",
        "Set-X -V 'a' , 'b'",
        "Set-X -V @('a','b')",
        "Set-X -V @(\n'a',\n'b'\n)",
        "Set-X -V 'a',\n  'b'",
    ] {
        assert_eq!(
            parse(text),
            vec![single("Set-X", vec![named("V", pair.clone())])],
            "{text:?}"
        );
    }
    let empty = parse("Set-X -V @()");
    assert_eq!(
        empty,
        vec![single("Set-X", vec![named("V", Expr::Array(vec![]))])]
    );
}

#[test]
fn hashtables_accept_quoted_keys_newlines_and_semicolons() {
    let statements =
        parse("$h = @{\n  Add = 'a', 'b'   # new servers\n  'Remove' = 'x'; Replace = @()\n}");
    let expected = Expr::Hashtable(vec![
        ("Add".into(), Expr::Array(vec![s("a"), s("b")])),
        ("Remove".into(), s("x")),
        ("Replace".into(), Expr::Array(vec![])),
    ]);
    assert_eq!(
        statements,
        vec![Statement::Assign {
            variable: "h".into(),
            value: expected
        }]
    );
    assert_eq!(
        parse("$h = @{}"),
        vec![Statement::Assign {
            variable: "h".into(),
            value: Expr::Hashtable(vec![])
        }]
    );
}

#[test]
fn variables_and_constants_ignore_case_and_keep_names() {
    let statements = parse("Set-X -A $TRUE -B $Null -C $Servers");
    let expected = single(
        "Set-X",
        vec![
            named("A", Expr::Bool(true)),
            named("B", Expr::Null),
            named("C", Expr::Variable("Servers".into())),
        ],
    );
    assert_eq!(statements, vec![expected]);
}

#[test]
fn a_parameter_followed_by_a_value_without_colon_records_no_colon() {
    let statements = parse("Set-X -Confirm $false");
    assert_eq!(
        statements,
        vec![single("Set-X", vec![named("Confirm", Expr::Bool(false))])]
    );
}

#[test]
fn colon_value_may_follow_blanks_and_be_an_array() {
    let statements = parse("Set-X -Servers: 'a','b'");
    let expected = colon("Servers", Expr::Array(vec![s("a"), s("b")]));
    assert_eq!(statements, vec![single("Set-X", vec![expected])]);
}

#[test]
fn typographic_quotes_and_dashes_work_as_powershell_reads_them() {
    let statements = parse("Set-X –Identity ‘it’’s’ —Name “plain”");
    let expected = single(
        "Set-X",
        vec![named("Identity", s("it’s")), named("Name", s("plain"))],
    );
    assert_eq!(statements, vec![expected]);
}

#[test]
fn comments_blank_lines_and_empty_statements_are_skipped() {
    assert_eq!(parse(""), vec![]);
    assert_eq!(parse("# only a comment\n\n;;\n"), vec![]);
    let statements = parse("Get-X # trailing -Force\n;Get-Y");
    assert_eq!(
        statements,
        vec![single("Get-X", vec![]), single("Get-Y", vec![])]
    );
}

#[test]
fn a_pipe_may_be_followed_by_a_line_break() {
    let statements = parse("Get-X |\n  Out-Null");
    let expected = Statement::Pipeline(vec![command("Get-X", vec![]), command("Out-Null", vec![])]);
    assert_eq!(statements, vec![expected]);
}

#[test]
fn quote_single_of_a_value_with_quotes_parses_back_to_itself() {
    let value = "O'Brien’s 'pool'";
    let statements = parse(&format!("Get-X -Name {}", quote_single(value)));
    assert_eq!(
        statements,
        vec![single("Get-X", vec![named("Name", s(value))])]
    );
}

/// A deterministic generator of awkward strings (a linear congruential
/// generator over an alphabet of characters PowerShell treats specially).
fn awkward_strings(count: usize) -> Vec<String> {
    const ALPHABET: &[char] = &[
        'a', 'Z', '0', ' ', '\t', '\'', '"', '$', '`', ';', '|', '#', '\n', '\r', '{', '}', '(',
        ')', '@', '&', '>', '-', ',', '=', '\\', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}',
        '\u{201C}', '\u{201D}', '\u{201E}', '\u{2013}', 'é', '中', '😀', '\u{A0}', '\0',
    ];
    let mut state: u64 = 0x5eed_cafe;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0) % bound
    };
    (0..count)
        .map(|_| {
            let len = next(24);
            (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect()
        })
        .collect()
}

#[test]
fn quote_single_round_trips_every_generated_string() {
    let mut values = awkward_strings(2000);
    values.extend([
        "".into(),
        "'".into(),
        "''".into(),
        "’".into(),
        "'‘’‚‛".into(),
    ]);
    for value in values {
        let script = format!("Get-X -Name {}", quote_single(&value));
        let expected = vec![single("Get-X", vec![named("Name", s(&value))])];
        assert_eq!(parse(&script), expected, "{value:?}");
    }
}

#[test]
fn refuses_subexpressions() {
    assert_refused("Get-X $(whoami)", 7, "subexpressions");
    assert_refused("Get-X -Name:$(whoami)", 13, "subexpressions");
}

#[test]
fn refuses_backticks_anywhere_outside_single_quotes() {
    assert_refused("Get-X -Name `\n 'a'", 13, "backtick");
    assert_refused("Get-X a`b", 8, "backtick");
    assert_refused("Get-X \"a`tb\"", 9, "backtick");
}

#[test]
fn refuses_expandable_double_quoted_strings() {
    assert_refused("Get-X -Name \"$env:X\"", 14, "expandable");
    assert_refused("Get-X -Name \"a\"\"b\"", 15, "doubled quotes");
}

#[test]
fn refuses_call_and_dot_source_invocation() {
    assert_refused("Get-X; & calc", 8, "call");
    assert_refused(". ./evil.ps1", 1, "dot-sourcing");
    assert_refused("Get-X & calc", 7, "'&'");
}

#[test]
fn refuses_redirections() {
    assert_refused("Get-X | Out-File x > y", 20, "redirections");
    assert_refused("Get-X 2>&1", 8, "redirections");
    assert_refused("Get-X >> log", 7, "redirections");
}

#[test]
fn refuses_pipeline_chain_operators() {
    assert_refused("Get-X && Get-Y", 7, "'&&'");
    assert_refused("Get-X || Get-Y", 7, "'||'");
}

#[test]
fn refuses_script_blocks() {
    assert_refused("Get-X { }", 7, "script blocks");
    assert_refused("Get-X | Where-Object {$_}", 22, "script blocks");
}

#[test]
fn refuses_type_casts() {
    assert_refused("Get-X [string]'a'", 7, "casts");
    assert_refused("$x = [int]'4'", 6, "casts");
}

#[test]
fn refuses_splatting_and_here_strings() {
    assert_refused("Get-X @args", 7, "splatting");
    assert_refused("Get-X @'\nx\n'@", 7, "here-strings");
}

#[test]
fn refuses_unterminated_quotes_at_their_opening() {
    assert_refused("Get-X -Name 'abc", 13, "missing the terminator: '.");
    assert_refused("Get-X -Name \"abc", 13, "missing the terminator: \".");
}

#[test]
fn refuses_unbalanced_brackets() {
    assert_refused("Get-X -H @{Add='a'", 10, "hash literal was incomplete");
    assert_refused("Get-X -H @('a'", 10, "Missing closing ')'");
    assert_refused("Get-X -H 'a')", 13, "unexpected ')'");
    assert_refused("$x = @{Add='a'}}", 16, "unexpected '}'");
}

#[test]
fn refuses_keywords_operators_and_member_access() {
    assert_refused("if ($x) { Get-X }", 1, "'if' keyword");
    assert_refused("exit 1", 1, "'exit' keyword");
    assert_refused("$x = 'a' -f 'b'", 10, "after the statement");
    assert_refused("$x.Length = 1", 3, "member access");
    assert_refused("Get-X $env:X", 7, "drive-qualified");
}

#[test]
fn refuses_bare_words_in_expressions_because_they_would_run() {
    assert_refused("$x = Stop", 6, "would run as a command");
    assert_refused("Set-X -H @{Add=pc1}", 16, "would run as a command");
    assert_refused("Set-X -V @(whoami)", 12, "would run as a command");
}

#[test]
fn refuses_unsupported_numbers_and_parameter_forms() {
    assert_refused("Get-X -Size 4kb", 13, "not a supported number");
    assert_refused("Get-X 0x10", 7, "not a supported number");
    assert_refused("Get-X -- -Name", 7, "'--'");
    assert_refused("Get-X -Name:", 13, "needs a value");
}

#[test]
fn refuses_duplicate_hashtable_keys_ignoring_case() {
    assert_refused("Set-X -H @{Add='a'; add='b'}", 21, "Duplicate keys 'add'");
}

#[test]
fn refuses_dangling_pipes_and_commas() {
    assert_refused("Get-X |", 8, "empty pipe element");
    assert_refused("| Get-X", 1, "at the start of a statement");
    assert_refused("Get-X 'a',", 11, "value is missing");
}

#[test]
fn refuses_unusual_whitespace_instead_of_guessing() {
    assert_refused("Get-X\u{2003}-Force", 6, "U+2003");
}

#[test]
fn errors_report_later_lines_and_render_like_powershell() {
    let error = refused("Import-Module 'SkypeForBusiness'\r\nGet-X $(whoami)");
    assert_eq!((error.line, error.column), (2, 7));
    assert_eq!(
        error.to_string(),
        "At line:2 char:7\n+ Get-X $(whoami)\n+       ~\nsubexpressions '$( )' are not supported"
    );
}

#[test]
fn deeply_nested_input_is_refused_not_overflowing_the_stack() {
    let text = format!("Get-X {}", "@(".repeat(10_000));
    assert!(refused(&text).message.contains("nested more than"));
}

#[test]
fn no_prefix_of_a_sample_script_panics() {
    let mut scripts = vec![ONE_LINE_SCRIPT.to_string(), SAMPLE_LINES.join("\n")];
    scripts.push("$h = @{\n Add = 'a‘’b', \"c\" # x\n}; Get-X -A:$h | Out-Null".into());
    for script in scripts {
        for (end, _) in script.char_indices() {
            if let Err(error) = parse_script(&script[..end]) {
                assert!(error.line >= 1 && error.column >= 1);
                assert!(!error.to_string().is_empty());
            }
        }
    }
}

#[test]
fn no_generated_string_panics_as_a_script() {
    for text in awkward_strings(5000) {
        if let Err(error) = parse_script(&text) {
            assert!(error.line >= 1 && error.column >= 1, "{text:?}");
            assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn a_parameter_pairs_with_a_following_negative_number() {
    let statements = parse("Get-X -Depth -1 -Force");
    let expected = single(
        "Get-X",
        vec![named("Depth", Expr::Integer(-1)), switch("Force")],
    );
    assert_eq!(statements, vec![expected]);
}

#[test]
fn parsed_names_compare_ignoring_case() {
    let statements = parse("convertto-json -COMPRESS");
    let Some(Statement::Pipeline(commands)) = statements.first() else {
        panic!("expected a pipeline: {statements:?}");
    };
    assert!(commands[0].is("ConvertTo-Json"));
    assert!(commands[0].args[0].is_named("Compress"));
}
