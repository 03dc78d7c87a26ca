//! Unit tests of the parser: one group per statement family, then batches and errors.

use super::super::ast::*;
use super::super::error::ParseError;
use super::parse_batch;

fn parse(sql: &str) -> Vec<Statement> {
    match parse_batch(sql) {
        Ok(batch) => batch.statements,
        Err(error) => panic!("{sql:?} failed: {error}"),
    }
}

fn parse_one(sql: &str) -> Statement {
    let mut statements = parse(sql);
    assert_eq!(statements.len(), 1, "{sql:?}: {statements:?}");
    statements.remove(0)
}

fn error(sql: &str) -> ParseError {
    match parse_batch(sql) {
        Ok(batch) => panic!("{sql:?} parsed: {batch:?}"),
        Err(error) => error,
    }
}

fn name(parts: &[&str]) -> Name {
    Name(parts.iter().map(|part| part.to_string()).collect())
}

fn column(parts: &[&str]) -> Expr {
    Expr::Column(name(parts))
}

fn var(name: &str) -> Expr {
    Expr::Variable(name.into())
}

fn string(value: &str) -> Expr {
    Expr::String(value.into())
}

fn compare(left: Expr, op: CompareOp, right: Expr) -> Condition {
    Condition::Compare { left, op, right }
}

fn select(sql: &str) -> Select {
    match parse_one(sql) {
        Statement::Select(select) => select,
        other => panic!("{sql:?} is {other:?}"),
    }
}

fn restore(sql: &str) -> Restore {
    match parse_one(sql) {
        Statement::Restore(restore) => restore,
        other => panic!("{sql:?} is {other:?}"),
    }
}

fn backup(sql: &str) -> Backup {
    match parse_one(sql) {
        Statement::Backup(backup) => backup,
        other => panic!("{sql:?} is {other:?}"),
    }
}

fn alter(sql: &str) -> AlterDatabase {
    match parse_one(sql) {
        Statement::AlterDatabase(alter) => alter,
        other => panic!("{sql:?} is {other:?}"),
    }
}

fn execute(sql: &str) -> Execute {
    match parse_one(sql) {
        Statement::Execute(execute) => execute,
        other => panic!("{sql:?} is {other:?}"),
    }
}

fn op_var(name: &str) -> Operand {
    Operand::Variable(name.into())
}

fn assert_error(sql: &str, number: i32, message: &str) {
    let error = error(sql);
    assert_eq!(
        (error.number, error.message.as_str()),
        (number, message),
        "{sql:?}"
    );
}

// SELECT

#[test]
fn select_columns_from_qualified_table() {
    let select = select("SELECT name, state_desc FROM sys.databases");
    let expected = vec![
        SelectItem::Expr {
            expr: column(&["name"]),
            alias: None,
        },
        SelectItem::Expr {
            expr: column(&["state_desc"]),
            alias: None,
        },
    ];
    assert_eq!(select.items, expected);
    let from = TableRef {
        name: name(&["sys", "databases"]),
        alias: None,
    };
    assert_eq!(select.from, Some(from));
    assert_eq!((select.filter, select.order_by), (None, vec![]));
}

#[test]
fn select_global_in_lower_case() {
    let select = select("select @@spid");
    let expected = SelectItem::Expr {
        expr: Expr::Global("@@spid".into()),
        alias: None,
    };
    assert_eq!(select.items, [expected]);
}

#[test]
fn select_star_top_where_and_order_by() {
    let select = select(
        "SeLeCt TOP (5) * from [sys].[databases] d WHERE d.name <> N'x' ORDER BY 1 DESC, name",
    );
    assert_eq!(select.top, Some(Expr::Integer(5)));
    assert_eq!(select.items, [SelectItem::Wildcard]);
    assert_eq!(select.from.and_then(|from| from.alias), Some("d".into()));
    let filter = compare(column(&["d", "name"]), CompareOp::NotEq, string("x"));
    assert_eq!(select.filter, Some(filter));
    let order: Vec<_> = select.order_by.iter().map(|o| o.descending).collect();
    assert_eq!(order, [true, false]);
}

#[test]
fn select_top_without_parentheses_takes_an_integer() {
    assert_eq!(
        select("SELECT TOP 1 name FROM t").top,
        Some(Expr::Integer(1))
    );
}

#[test]
fn select_aliases_with_and_without_as() {
    let select = select("SELECT DB_NAME() AS db, 1 one, 2 AS [two words], 3 AS 'three'");
    let aliases: Vec<_> = select
        .items
        .iter()
        .map(|item| match item {
            SelectItem::Expr { alias, .. } => alias.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected = ["db", "one", "two words", "three"].map(|a| Some(a.to_string()));
    assert_eq!(aliases, expected);
}

#[test]
fn select_sessions_of_a_database_except_own() {
    let select = select(
        "SELECT session_id FROM sys.dm_exec_sessions WHERE database_id = DB_ID(@db) \
         AND session_id <> @@SPID AND is_user_process = 1",
    );
    let db_id = Expr::Function {
        name: name(&["DB_ID"]),
        args: vec![var("@db")],
    };
    let expected = Condition::And(
        Box::new(Condition::And(
            Box::new(compare(column(&["database_id"]), CompareOp::Eq, db_id)),
            Box::new(compare(
                column(&["session_id"]),
                CompareOp::NotEq,
                Expr::Global("@@SPID".into()),
            )),
        )),
        Box::new(compare(
            column(&["is_user_process"]),
            CompareOp::Eq,
            Expr::Integer(1),
        )),
    );
    assert_eq!(select.filter, Some(expected));
}

#[test]
fn select_with_like_on_national_string() {
    let select = select(
        "SELECT service_account FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'",
    );
    let expected = Condition::Like {
        expr: column(&["servicename"]),
        pattern: string("SQL Server Agent%"),
        negated: false,
    };
    assert_eq!(select.filter, Some(expected));
}

#[test]
fn conditions_bind_not_then_and_then_or() {
    let select = select("SELECT 1 FROM t WHERE NOT a = 1 OR b = 2 AND c = 3");
    let a = compare(column(&["a"]), CompareOp::Eq, Expr::Integer(1));
    let b = compare(column(&["b"]), CompareOp::Eq, Expr::Integer(2));
    let c = compare(column(&["c"]), CompareOp::Eq, Expr::Integer(3));
    let expected = Condition::Or(
        Box::new(Condition::Not(Box::new(a))),
        Box::new(Condition::And(Box::new(b), Box::new(c))),
    );
    assert_eq!(select.filter, Some(expected));
}

#[test]
fn parentheses_group_conditions_or_expressions() {
    let select = select("SELECT 1 FROM t WHERE (a = 1 OR (b) < 2) AND (c + 1) * 2 >= 4");
    let Some(Condition::And(left, right)) = select.filter else {
        panic!("not an AND");
    };
    assert!(matches!(*left, Condition::Or(..)));
    let Condition::Compare { left, op, .. } = *right else {
        panic!("not a comparison");
    };
    assert_eq!(op, CompareOp::GtEq);
    assert!(matches!(
        left,
        Expr::Binary {
            op: BinaryOp::Multiply,
            ..
        }
    ));
}

#[test]
fn is_null_in_and_negated_forms() {
    let select = select(
        "SELECT 1 FROM t WHERE a IS NULL AND b IS NOT NULL AND c NOT LIKE 'x%' \
         AND d IN (1, 2) AND e NOT IN ('a')",
    );
    let text = format!("{:?}", select.filter);
    assert_eq!(text.matches("negated: true").count(), 3, "{text}");
    assert_eq!(text.matches("negated: false").count(), 2, "{text}");
}

#[test]
fn every_comparison_operator() {
    let ops = [
        ("=", CompareOp::Eq),
        ("<>", CompareOp::NotEq),
        ("!=", CompareOp::NotEq),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
        ("<=", CompareOp::LtEq),
        (">=", CompareOp::GtEq),
    ];
    for (text, op) in ops {
        let select = select(&format!("SELECT 1 FROM t WHERE a {text} 1"));
        let expected = compare(column(&["a"]), op, Expr::Integer(1));
        assert_eq!(select.filter, Some(expected), "{text}");
    }
}

#[test]
fn expressions_respect_precedence_and_unary_minus() {
    let select = select("SELECT 'a' + @b * -2, COUNT(*), 1.50, NULL, 99999999999999999999");
    let items: Vec<_> = select
        .items
        .into_iter()
        .map(|item| match item {
            SelectItem::Expr { expr, .. } => expr,
            other => panic!("{other:?}"),
        })
        .collect();
    let product = Expr::Binary {
        left: Box::new(var("@b")),
        op: BinaryOp::Multiply,
        right: Box::new(Expr::Negate(Box::new(Expr::Integer(2)))),
    };
    let sum = Expr::Binary {
        left: Box::new(string("a")),
        op: BinaryOp::Add,
        right: Box::new(product),
    };
    let count = Expr::Function {
        name: name(&["COUNT"]),
        args: vec![Expr::Wildcard],
    };
    let big = Expr::Decimal("99999999999999999999".into());
    assert_eq!(
        items,
        [sum, count, Expr::Decimal("1.50".into()), Expr::Null, big]
    );
}

#[test]
fn float_and_binary_constants_are_single_literals() {
    let select = select("SELECT 1.5E3, 0x1F, 0x102, 0x");
    let items: Vec<_> = select
        .items
        .into_iter()
        .map(|item| match item {
            SelectItem::Expr { expr, alias: None } => expr,
            other => panic!("{other:?}"),
        })
        .collect();
    let expected = [
        Expr::Float("1.5E3".into()),
        Expr::Bytes(vec![0x1f]),
        Expr::Bytes(vec![0x01, 0x02]),
        Expr::Bytes(vec![]),
    ];
    assert_eq!(items, expected);
}

#[test]
fn functions_take_string_arguments_and_reserved_callables() {
    let select = select("SELECT SERVERPROPERTY('ProductVersion'), LEFT(@s, 3), @@VERSION");
    let text = format!("{:?}", select.items);
    assert!(
        text.contains("SERVERPROPERTY") && text.contains("LEFT"),
        "{text}"
    );
}

#[test]
fn select_assigns_variables() {
    let select = select("SELECT @a = 1, @b = DB_NAME()");
    assert!(matches!(&select.items[0], SelectItem::Assign { variable, .. } if variable == "@a"));
    assert_eq!(select.items.len(), 2);
}

// RESTORE and BACKUP

#[test]
fn restore_log_with_norecovery() {
    let restore = restore("RESTORE LOG @db FROM DISK = @file WITH NORECOVERY");
    assert_eq!(restore.target, RestoreTarget::Log(op_var("@db")));
    assert_eq!(restore.from, [op_var("@file")]);
    assert_eq!(restore.options, [RestoreOption::NoRecovery]);
}

#[test]
fn restore_database_with_recovery_only() {
    let restore = restore("RESTORE DATABASE @db WITH RECOVERY");
    assert_eq!(restore.target, RestoreTarget::Database(op_var("@db")));
    assert!(restore.from.is_empty());
    assert_eq!(restore.options, [RestoreOption::Recovery]);
}

#[test]
fn restore_database_replace_with_moves() {
    let restore = restore(
        "RESTORE DATABASE @db FROM DISK = @file WITH REPLACE, NORECOVERY, \
         MOVE @l1 TO @p1, MOVE @l2 TO @p2",
    );
    let expected = [
        RestoreOption::Replace,
        RestoreOption::NoRecovery,
        RestoreOption::Move {
            logical: op_var("@l1"),
            physical: op_var("@p1"),
        },
        RestoreOption::Move {
            logical: op_var("@l2"),
            physical: op_var("@p2"),
        },
    ];
    assert_eq!(restore.options, expected);
}

#[test]
fn restore_reads_headers_file_lists_and_verifies() {
    let header = restore("RESTORE HEADERONLY FROM DISK = @file");
    assert_eq!(header.target, RestoreTarget::HeaderOnly);
    let files = restore("restore filelistonly from disk = N'C:\\b\\mgc.bak'");
    assert_eq!(files.target, RestoreTarget::FileListOnly);
    assert_eq!(files.from, [Operand::String("C:\\b\\mgc.bak".into())]);
    let verify = restore("RESTORE VERIFYONLY FROM DISK = @file WITH CHECKSUM");
    assert_eq!(verify.target, RestoreTarget::VerifyOnly);
    assert_eq!(verify.options, [RestoreOption::Checksum]);
}

#[test]
fn restore_takes_every_option_and_several_disks() {
    let restore = restore(
        "RESTORE DATABASE [mgc] FROM DISK = 'a.bak', DISK = 'b.bak' WITH STANDBY = N'u.tuf', \
         RESTART, NO_CHECKSUM, STATS, STATS = 10, FILE = 2, FILE = @n, STOPAT = '2026-01-01', \
         CONTINUE_AFTER_ERROR, STOP_ON_ERROR, KEEP_REPLICATION",
    );
    assert_eq!(
        restore.target,
        RestoreTarget::Database(Operand::Identifier("mgc".into()))
    );
    assert_eq!(restore.from.len(), 2);
    let expected = [
        RestoreOption::Standby(Operand::String("u.tuf".into())),
        RestoreOption::Restart,
        RestoreOption::NoChecksum,
        RestoreOption::Stats(None),
        RestoreOption::Stats(Some(IntOperand::Literal(10))),
        RestoreOption::File(IntOperand::Literal(2)),
        RestoreOption::File(IntOperand::Variable("@n".into())),
        RestoreOption::StopAt(Operand::String("2026-01-01".into())),
        RestoreOption::ContinueAfterError,
        RestoreOption::StopOnError,
        RestoreOption::KeepReplication,
    ];
    assert_eq!(restore.options, expected);
}

#[test]
fn backup_database_with_init_checksum() {
    let backup = backup("BACKUP DATABASE @db TO DISK = @file WITH INIT, CHECKSUM");
    assert!(!backup.log);
    assert_eq!(backup.database, op_var("@db"));
    assert_eq!(backup.to, [op_var("@file")]);
    assert_eq!(backup.options, [BackupOption::Init, BackupOption::Checksum]);
}

#[test]
fn backup_log_takes_every_option() {
    let backup = backup(
        "backup log mgc to disk = '\\\\share\\mgc.trn' with noinit, format, noformat, \
         no_checksum, copy_only, compression, no_compression, stats = 5, name = N'n', \
         description = 'd', norecovery, no_truncate, skip, noskip",
    );
    assert!(backup.log);
    assert_eq!(backup.database, Operand::Identifier("mgc".into()));
    assert_eq!(backup.to, [Operand::String("\\\\share\\mgc.trn".into())]);
    assert_eq!(backup.options.len(), 14);
    assert_eq!(
        backup.options[7],
        BackupOption::Stats(Some(IntOperand::Literal(5)))
    );
    assert_eq!(
        backup.options[8],
        BackupOption::Name(Operand::String("n".into()))
    );
}

// ALTER DATABASE

#[test]
fn alter_database_partner_off_on_bracketed_name() {
    let alter = alter("ALTER DATABASE [mg]]c] SET PARTNER OFF");
    assert_eq!(alter.database, "mg]c");
    assert_eq!(alter.action, AlterDatabaseAction::PartnerOff);
}

/// "ALTER DATABASE Database Mirroring (Transact-SQL)"
/// (<https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>):
/// `SET PARTNER FAILOVER` switches the roles.
#[test]
fn alter_database_partner_failover() {
    let alter = alter("ALTER DATABASE [mgc] SET PARTNER FAILOVER");
    assert_eq!(alter.action, AlterDatabaseAction::PartnerFailover);
}

#[test]
fn alter_database_partner_endpoint() {
    let alter = alter("alter database mgc set partner = 'TCP://sql2.contoso.com:5022'");
    let expected = AlterDatabaseAction::Partner("TCP://sql2.contoso.com:5022".into());
    assert_eq!(alter.action, expected);
}

#[test]
fn alter_database_user_access_with_terminations() {
    let cases = [
        (
            "SINGLE_USER WITH ROLLBACK IMMEDIATE",
            UserAccess::Single,
            Some(Termination::RollbackImmediate),
        ),
        (
            "SINGLE_USER WITH ROLLBACK AFTER 30 SECONDS",
            UserAccess::Single,
            Some(Termination::RollbackAfterSeconds(30)),
        ),
        (
            "SINGLE_USER WITH ROLLBACK AFTER 5",
            UserAccess::Single,
            Some(Termination::RollbackAfterSeconds(5)),
        ),
        (
            "SINGLE_USER WITH NO_WAIT",
            UserAccess::Single,
            Some(Termination::NoWait),
        ),
        ("MULTI_USER", UserAccess::Multi, None),
        ("RESTRICTED_USER", UserAccess::Restricted, None),
    ];
    for (text, access, termination) in cases {
        let alter = alter(&format!("ALTER DATABASE mgc SET {text}"));
        let expected = AlterDatabaseAction::UserAccess {
            access,
            termination,
        };
        assert_eq!(alter.action, expected, "{text}");
    }
}

#[test]
fn alter_database_state_and_recovery_model() {
    let online = alter("ALTER DATABASE \"mgc\" SET ONLINE").action;
    let offline = alter("ALTER DATABASE mgc SET OFFLINE WITH ROLLBACK IMMEDIATE").action;
    assert_eq!(
        online,
        AlterDatabaseAction::State {
            online: true,
            termination: None
        }
    );
    assert_eq!(
        offline,
        AlterDatabaseAction::State {
            online: false,
            termination: Some(Termination::RollbackImmediate)
        }
    );
    for (text, model) in [
        ("FULL", RecoveryModel::Full),
        ("simple", RecoveryModel::Simple),
        ("Bulk_Logged", RecoveryModel::BulkLogged),
    ] {
        let alter = alter(&format!("ALTER DATABASE mgc SET RECOVERY {text}"));
        assert_eq!(alter.action, AlterDatabaseAction::Recovery(model));
    }
}

#[test]
fn alter_database_rejects_a_variable_name() {
    assert_error(
        "ALTER DATABASE @db SET PARTNER OFF",
        102,
        "Incorrect syntax near '@db'.",
    );
}

// KILL, EXEC, DECLARE, SET

#[test]
fn kill_takes_an_integer_literal() {
    assert_eq!(parse_one("KILL 57"), Statement::Kill(57));
}

#[test]
fn kill_rejects_anything_but_an_integer() {
    assert_error("KILL 'x'", 102, "Incorrect syntax near 'x'.");
    assert_error("KILL @@SPID", 102, "Incorrect syntax near '@@SPID'.");
    assert_error("KILL -1", 102, "Incorrect syntax near '-'.");
    assert_error("KILL", 156, "Incorrect syntax near the keyword 'KILL'.");
}

#[test]
fn exec_named_argument_on_three_part_name() {
    let execute = execute(
        "EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @db",
    );
    assert_eq!(
        execute.procedure,
        name(&["master", "dbo", "sp_delete_log_shipping_secondary_database"])
    );
    let expected = Argument {
        name: Some("@secondary_database".into()),
        value: ArgumentValue::Expr(var("@db")),
        output: false,
    };
    assert_eq!(execute.args, [expected]);
}

#[test]
fn exec_return_status_positional_default_and_output() {
    let execute = execute("EXECUTE @rc = [master]..sp_x N'a', DEFAULT, -1, @o OUT, @p = @q OUTPUT");
    assert_eq!(execute.return_status, Some("@rc".into()));
    assert_eq!(execute.procedure, name(&["master", "", "sp_x"]));
    let shapes: Vec<_> = execute
        .args
        .iter()
        .map(|a| {
            (
                a.name.is_some(),
                a.value == ArgumentValue::Default,
                a.output,
            )
        })
        .collect();
    let expected = [
        (false, false, false),
        (false, true, false),
        (false, false, false),
        (false, false, true),
        (true, false, true),
    ];
    assert_eq!(shapes, expected);
}

#[test]
fn exec_without_arguments_ends_at_the_next_statement() {
    let statements = parse("EXEC sp_who SELECT 1");
    assert!(matches!(&statements[0], Statement::Execute(e) if e.args.is_empty()));
    assert!(matches!(statements[1], Statement::Select(_)));
}

#[test]
fn a_bare_procedure_name_first_in_the_batch_is_executed() {
    let statements = parse("sp_who2 'active'; EXEC sp_who");
    assert!(matches!(&statements[0], Statement::Execute(e) if e.procedure == name(&["sp_who2"])));
    assert_error("SELECT 1; sp_who", 102, "Incorrect syntax near 'sp_who'.");
}

#[test]
fn declare_several_variables_with_types_and_initial_values() {
    let Statement::Declare(declarations) = parse_one(
        "DECLARE @a int = 1, @b BIGINT, @c bit, @d nvarchar(max), @e varchar(20), @f sysname, \
         @g uniqueidentifier, @h datetime, @i datetime2(3), @j numeric(10, 2), @k decimal, \
         @l AS nvarchar, @m [int], @n datetime2, @o decimal(5)",
    ) else {
        panic!("not a DECLARE");
    };
    let types: Vec<_> = declarations.iter().map(|d| d.data_type).collect();
    let expected = [
        DataType::Int,
        DataType::BigInt,
        DataType::Bit,
        DataType::NVarChar(Length::Max),
        DataType::VarChar(Length::Chars(20)),
        DataType::SysName,
        DataType::UniqueIdentifier,
        DataType::DateTime,
        DataType::DateTime2(3),
        DataType::Decimal {
            precision: 10,
            scale: 2,
        },
        DataType::Decimal {
            precision: 18,
            scale: 0,
        },
        DataType::NVarChar(Length::Chars(1)),
        DataType::Int,
        DataType::DateTime2(7),
        DataType::Decimal {
            precision: 5,
            scale: 0,
        },
    ];
    assert_eq!(types, expected);
    assert_eq!(declarations[0].initial, Some(Expr::Integer(1)));
    assert_eq!(declarations[14].variable, "@o");
}

#[test]
fn declare_of_an_unknown_type_is_2715() {
    assert_error(
        "DECLARE @a int, @b geography",
        2715,
        "Column, parameter, or variable #2: Cannot find data type geography.",
    );
}

#[test]
fn set_variable_and_options() {
    let statements = parse("SET @a = N'x' + @b; SET NOCOUNT ON; set xact_abort, ansi_nulls off");
    assert_eq!(
        statements[0],
        Statement::SetVariable {
            variable: "@a".into(),
            value: Expr::Binary {
                left: Box::new(string("x")),
                op: BinaryOp::Add,
                right: Box::new(var("@b")),
            },
        }
    );
    let options = |names: &[&str], on| Statement::SetOptions {
        options: names.iter().map(|n| n.to_string()).collect(),
        on,
    };
    assert_eq!(statements[1], options(&["NOCOUNT"], true));
    assert_eq!(statements[2], options(&["XACT_ABORT", "ANSI_NULLS"], false));
}

#[test]
fn set_textsize_and_lock_timeout_take_signed_integers() {
    let statements = parse("SET TEXTSIZE 2147483647 SET LOCK_TIMEOUT -1");
    assert_eq!(
        statements,
        [
            Statement::SetTextSize(2147483647),
            Statement::SetLockTimeout(-1)
        ]
    );
}

// USE, transactions, WAITFOR, PRINT

#[test]
fn use_takes_a_plain_or_delimited_name() {
    assert_eq!(parse_one("use [msdb]"), Statement::Use("msdb".into()));
    assert_eq!(parse_one("USE master;"), Statement::Use("master".into()));
}

#[test]
fn transactions_begin_commit_and_roll_back() {
    let statements = parse(
        "BEGIN TRAN BEGIN TRANSACTION t1 COMMIT COMMIT TRAN COMMIT WORK \
         ROLLBACK TRANSACTION @t ROLLBACK",
    );
    let t1 = Some(Operand::Identifier("t1".into()));
    let expected = [
        Statement::BeginTransaction(None),
        Statement::BeginTransaction(t1),
        Statement::CommitTransaction(None),
        Statement::CommitTransaction(None),
        Statement::CommitTransaction(None),
        Statement::RollbackTransaction(Some(op_var("@t"))),
        Statement::RollbackTransaction(None),
    ];
    assert_eq!(statements, expected);
}

#[test]
fn waitfor_delay_and_print() {
    let statements = parse("WAITFOR DELAY '00:00:01.500'; WAITFOR DELAY @d; PRINT N'done ' + @x");
    assert_eq!(
        statements[0],
        Statement::WaitForDelay(Operand::String("00:00:01.500".into()))
    );
    assert_eq!(statements[1], Statement::WaitForDelay(op_var("@d")));
    assert!(matches!(
        statements[2],
        Statement::Print(Expr::Binary { .. })
    ));
}

// Batches

#[test]
fn empty_and_comment_only_batches_have_no_statements() {
    for sql in ["", "  \n", ";;", "-- nothing\n/* at /* all */ */"] {
        assert_eq!(parse(sql), [], "{sql:?}");
    }
}

#[test]
fn statements_split_with_and_without_semicolons() {
    let statements = parse("SET NOCOUNT ON\nUSE msdb;;SELECT 1 KILL 5");
    assert_eq!(statements.len(), 4);
}

#[test]
fn comments_may_sit_between_any_two_tokens() {
    let statements =
        parse("RESTORE/**/LOG--x\n@db/* a /* nested */ b */FROM DISK=@file--\nWITH/*,*/NORECOVERY");
    assert_eq!(
        statements,
        parse("RESTORE LOG @db FROM DISK = @file WITH NORECOVERY")
    );
}

// Errors

#[test]
fn restore_log_without_a_name_is_156_near_from() {
    let error = error("RESTORE LOG FROM DISK = 'x'");
    assert_eq!(error.number, 156);
    assert_eq!(error.message, "Incorrect syntax near the keyword 'FROM'.");
    assert_eq!(error.offset, 12);
}

#[test]
fn unsupported_statements_fail_near_their_first_word() {
    assert_error(
        "DROP DATABASE mgc",
        156,
        "Incorrect syntax near the keyword 'DROP'.",
    );
    assert_error(
        "select 1; update t set a = 1",
        156,
        "Incorrect syntax near the keyword 'update'.",
    );
    assert_error(
        "CREATE TABLE t (a int)",
        156,
        "Incorrect syntax near the keyword 'CREATE'.",
    );
}

#[test]
fn end_of_input_errors_are_near_the_last_token() {
    assert_error(
        "RESTORE LOG @db FROM DISK =",
        102,
        "Incorrect syntax near '='.",
    );
    assert_error(
        "SELECT name FROM",
        156,
        "Incorrect syntax near the keyword 'FROM'.",
    );
    assert_error("EXEC", 156, "Incorrect syntax near the keyword 'EXEC'.");
}

#[test]
fn lexical_errors_surface_where_the_parser_reaches_them() {
    assert_error(
        "SELECT 'abc",
        105,
        "Unclosed quotation mark after the character string 'abc'.",
    );
    assert_error(
        "USE [msdb",
        105,
        "Unclosed quotation mark after the character string 'msdb'.",
    );
    assert_error(
        "DROP x 'unclosed",
        156,
        "Incorrect syntax near the keyword 'DROP'.",
    );
    assert_error("SELECT 1 ?", 102, "Incorrect syntax near '?'.");
}

#[test]
fn deep_nesting_is_191_not_a_stack_overflow() {
    let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(error(&sql).number, 191);
    let sql = format!("SELECT 1 FROM t WHERE {} a = 1", "NOT ".repeat(5000));
    assert_eq!(error(&sql).number, 191);
    let sql = format!("SELECT {}1", "- ".repeat(5000));
    assert_eq!(error(&sql).number, 191);
}

// IF...ELSE, BEGIN...END, RAISERROR and RETURN (Transact-SQL).
#[test]
fn if_runs_a_block_and_begin_tran_is_still_a_transaction() {
    let statements =
        parse("IF @@ERROR <> 0 BEGIN RAISERROR(N'x %d', 16, 1, @rc); RETURN END BEGIN TRAN");
    let [
        Statement::If { condition, then },
        Statement::BeginTransaction(None),
    ] = statements.as_slice()
    else {
        panic!("{statements:?}")
    };
    assert!(matches!(
        condition,
        Condition::Compare {
            op: CompareOp::NotEq,
            ..
        }
    ));
    let Statement::Block(inner) = then.as_ref() else {
        panic!("{then:?}")
    };
    assert!(matches!(
        inner.as_slice(),
        [Statement::RaiseError { args, .. }, Statement::Return] if args.len() == 1
    ));
    assert!(parse_batch("BEGIN END").is_err());
    assert!(parse_batch("RAISERROR(N'x', 16)").is_err());
}
