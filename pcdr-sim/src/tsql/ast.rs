//! The typed syntax tree [`parse_batch`](super::parse_batch) produces.
//!
//! Every value is owned and unescaped (`[mg]]c]` is `mg]c`, `N'O''Brien'` is `O'Brien`),
//! so the engine never re-lexes. Variable names keep their `@` (`@db`, `@@SPID`), as
//! SQL Server's own messages spell them. Words the parser only matches (keywords, option
//! names) are folded into the types; names and aliases keep the case they were written in.

/// One batch: the statements in order. An empty batch has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The statements, in the order they were written.
    pub statements: Vec<Statement>,
}

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `SELECT …`.
    Select(Select),
    /// `RESTORE DATABASE | LOG | HEADERONLY | FILELISTONLY | VERIFYONLY …`.
    Restore(Restore),
    /// `BACKUP DATABASE | LOG … TO DISK = …`.
    Backup(Backup),
    /// `ALTER DATABASE name SET …`.
    AlterDatabase(AlterDatabase),
    /// `KILL session_id`.
    Kill(i64),
    /// `EXEC[UTE] procedure …`, or a procedure name as the batch's first statement.
    Execute(Execute),
    /// `DECLARE @a type [= value], …`.
    Declare(Vec<Declaration>),
    /// `SET @variable = value`.
    SetVariable {
        /// The variable, with its `@`.
        variable: String,
        /// The value assigned.
        value: Expr,
    },
    /// `SET option[, option …] ON | OFF`, e.g. `SET ANSI_NULLS ON`.
    SetOptions {
        /// The option names, upper case.
        options: Vec<String>,
        /// `true` for `ON`.
        on: bool,
    },
    /// `SET TEXTSIZE n`.
    SetTextSize(i64),
    /// `SET LOCK_TIMEOUT n` (milliseconds; -1 waits forever).
    SetLockTimeout(i64),
    /// `USE database`.
    Use(String),
    /// `BEGIN TRAN[SACTION] [name]`; the name is an identifier or a variable.
    BeginTransaction(Option<Operand>),
    /// `COMMIT [TRAN[SACTION] [name] | WORK]`.
    CommitTransaction(Option<Operand>),
    /// `ROLLBACK [TRAN[SACTION] [name] | WORK]`.
    RollbackTransaction(Option<Operand>),
    /// `WAITFOR DELAY 'hh:mm:ss[.fff]'`; the delay is a string or a variable, unchecked.
    WaitForDelay(Operand),
    /// `PRINT expression`.
    Print(Expr),
    /// `IF condition statement`: the statement (often a `BEGIN … END` block) runs when
    /// the condition is true.
    If {
        /// The condition.
        condition: Condition,
        /// What runs when it holds.
        then: Box<Statement>,
    },
    /// `BEGIN statement … END`.
    Block(Vec<Statement>),
    /// `RAISERROR (message, severity, state [, argument …])`.
    RaiseError {
        /// The message text, with `%s` and `%d` placeholders.
        message: Expr,
        /// The severity.
        severity: Expr,
        /// The state.
        state: Expr,
        /// The placeholders' values, in order.
        args: Vec<Expr>,
    },
    /// `RETURN`: the batch ends here.
    Return,
}

/// A possibly multi-part name: `sys.databases` is `["sys", "databases"]`; an omitted
/// middle part (`master..sp_who`) is an empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(pub Vec<String>);

/// A name or value where T-SQL takes "a name, a string or a variable": the database and
/// devices of `RESTORE`/`BACKUP`, transaction names, the `WAITFOR` delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A plain or delimited identifier, unescaped.
    Identifier(String),
    /// A string literal, unescaped.
    String(String),
    /// A variable, with its `@`.
    Variable(String),
}

/// A whole number where T-SQL takes "a constant or a variable" (`FILE = n`, `STATS = n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOperand {
    /// An integer literal.
    Literal(i64),
    /// A variable, with its `@`.
    Variable(String),
}

/// A scalar expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A column reference, possibly qualified.
    Column(Name),
    /// A string literal (with or without `N`), unescaped.
    String(String),
    /// An integer literal that fits in 64 bits.
    Integer(i64),
    /// A decimal literal, or an integer literal too large for 64 bits, as written.
    Decimal(String),
    /// A float literal such as `1.5E3`, as written.
    Float(String),
    /// A binary constant such as `0x1F`; an odd digit count gets a leading zero
    /// (`0x1` is `[0x01]`), as in SQL Server.
    Bytes(Vec<u8>),
    /// `NULL`.
    Null,
    /// A local variable such as `@db`.
    Variable(String),
    /// A global such as `@@SPID`, as written (case kept).
    Global(String),
    /// A function call such as `DB_ID(@db)`.
    Function {
        /// The function's name.
        name: Name,
        /// The arguments in order.
        args: Vec<Expr>,
    },
    /// `*` as a function argument, as in `COUNT(*)`.
    Wildcard,
    /// Unary minus.
    Negate(Box<Expr>),
    /// `left op right` for `+`, `-` and `*`.
    Binary {
        /// The left operand.
        left: Box<Expr>,
        /// The operator.
        op: BinaryOp,
        /// The right operand.
        right: Box<Expr>,
    },
}

/// An arithmetic (or, for strings, concatenation) operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`: addition or string concatenation.
    Add,
    /// `-`.
    Subtract,
    /// `*`.
    Multiply,
}

/// A search condition (`WHERE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `left op right`.
    Compare {
        /// The left operand.
        left: Expr,
        /// The comparison.
        op: CompareOp,
        /// The right operand.
        right: Expr,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// The tested expression.
        expr: Expr,
        /// `true` for `IS NOT NULL`.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern`.
    Like {
        /// The tested expression.
        expr: Expr,
        /// The pattern.
        pattern: Expr,
        /// `true` for `NOT LIKE`.
        negated: bool,
    },
    /// `expr [NOT] IN (list)`.
    In {
        /// The tested expression.
        expr: Expr,
        /// The candidates.
        list: Vec<Expr>,
        /// `true` for `NOT IN`.
        negated: bool,
    },
    /// `NOT condition`.
    Not(Box<Condition>),
    /// `left AND right`.
    And(Box<Condition>, Box<Condition>),
    /// `left OR right`.
    Or(Box<Condition>, Box<Condition>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`.
    Eq,
    /// `<>` or `!=`.
    NotEq,
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `<=`.
    LtEq,
    /// `>=`.
    GtEq,
}

/// `SELECT [TOP …] items [FROM table] [WHERE condition] [ORDER BY …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    /// `TOP (n)` or `TOP n`.
    pub top: Option<Expr>,
    /// The select list.
    pub items: Vec<SelectItem>,
    /// The `FROM` table.
    pub from: Option<TableRef>,
    /// The `WHERE` condition.
    pub filter: Option<Condition>,
    /// The `ORDER BY` list.
    pub order_by: Vec<OrderItem>,
}

/// One entry of a select list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`.
    Wildcard,
    /// `expr [[AS] alias]`.
    Expr {
        /// The value.
        expr: Expr,
        /// The column alias, unescaped.
        alias: Option<String>,
    },
    /// `@variable = expr`.
    Assign {
        /// The variable, with its `@`.
        variable: String,
        /// The value assigned.
        value: Expr,
    },
}

/// The table of a `FROM` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// The table or view.
    pub name: Name,
    /// `[AS] alias`.
    pub alias: Option<String>,
}

/// One `ORDER BY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The sort key.
    pub expr: Expr,
    /// `true` for `DESC`.
    pub descending: bool,
}

/// A `RESTORE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    /// What is restored or read.
    pub target: RestoreTarget,
    /// The `FROM DISK = …` devices; empty for `RESTORE DATABASE db WITH RECOVERY`.
    pub from: Vec<Operand>,
    /// The `WITH` options in order.
    pub options: Vec<RestoreOption>,
}

/// The form of a `RESTORE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// `RESTORE DATABASE db`.
    Database(Operand),
    /// `RESTORE LOG db`.
    Log(Operand),
    /// `RESTORE HEADERONLY`.
    HeaderOnly,
    /// `RESTORE FILELISTONLY`.
    FileListOnly,
    /// `RESTORE VERIFYONLY`.
    VerifyOnly,
}

/// A `RESTORE … WITH` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOption {
    /// `RECOVERY`.
    Recovery,
    /// `NORECOVERY`.
    NoRecovery,
    /// `STANDBY = undo_file`.
    Standby(Operand),
    /// `REPLACE`.
    Replace,
    /// `RESTART`.
    Restart,
    /// `CHECKSUM`.
    Checksum,
    /// `NO_CHECKSUM`.
    NoChecksum,
    /// `STATS [= percent]`.
    Stats(Option<IntOperand>),
    /// `FILE = backup_set_number`.
    File(IntOperand),
    /// `MOVE logical_file TO physical_path`.
    Move {
        /// The logical file name in the backup.
        logical: Operand,
        /// Where the file is restored to.
        physical: Operand,
    },
    /// `STOPAT = point_in_time`.
    StopAt(Operand),
    /// `CONTINUE_AFTER_ERROR`.
    ContinueAfterError,
    /// `STOP_ON_ERROR`.
    StopOnError,
    /// `KEEP_REPLICATION`.
    KeepReplication,
}

/// A `BACKUP` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// `true` for `BACKUP LOG`, `false` for `BACKUP DATABASE`.
    pub log: bool,
    /// The database.
    pub database: Operand,
    /// The `TO DISK = …` devices.
    pub to: Vec<Operand>,
    /// The `WITH` options in order.
    pub options: Vec<BackupOption>,
}

/// A `BACKUP … WITH` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOption {
    /// `INIT`.
    Init,
    /// `NOINIT`.
    NoInit,
    /// `FORMAT`.
    Format,
    /// `NOFORMAT`.
    NoFormat,
    /// `CHECKSUM`.
    Checksum,
    /// `NO_CHECKSUM`.
    NoChecksum,
    /// `COPY_ONLY`.
    CopyOnly,
    /// `COMPRESSION`.
    Compression,
    /// `NO_COMPRESSION`.
    NoCompression,
    /// `STATS [= percent]`.
    Stats(Option<IntOperand>),
    /// `NAME = backup_set_name`.
    Name(Operand),
    /// `DESCRIPTION = text`.
    Description(Operand),
    /// `NORECOVERY` (tail-log backup).
    NoRecovery,
    /// `NO_TRUNCATE`.
    NoTruncate,
    /// `SKIP`.
    Skip,
    /// `NOSKIP`.
    NoSkip,
}

/// `ALTER DATABASE name SET …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterDatabase {
    /// The database, unescaped (a literal identifier; T-SQL allows no variable here).
    pub database: String,
    /// What is set.
    pub action: AlterDatabaseAction,
}

/// The `SET` part of `ALTER DATABASE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterDatabaseAction {
    /// `SET PARTNER OFF`: remove database mirroring.
    PartnerOff,
    /// `SET PARTNER FAILOVER`: switch the roles of principal and mirror.
    PartnerFailover,
    /// `SET PARTNER = 'TCP://host:port'`.
    Partner(String),
    /// `SET SINGLE_USER | RESTRICTED_USER | MULTI_USER [termination]`.
    UserAccess {
        /// The access mode.
        access: UserAccess,
        /// How open transactions of other sessions end.
        termination: Option<Termination>,
    },
    /// `SET ONLINE | OFFLINE [termination]`.
    State {
        /// `true` for `ONLINE`.
        online: bool,
        /// How open transactions of other sessions end.
        termination: Option<Termination>,
    },
    /// `SET RECOVERY FULL | BULK_LOGGED | SIMPLE`.
    Recovery(RecoveryModel),
}

/// A database's user access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// `SINGLE_USER`.
    Single,
    /// `RESTRICTED_USER`.
    Restricted,
    /// `MULTI_USER`.
    Multi,
}

/// The termination clause of `ALTER DATABASE … SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// `WITH ROLLBACK IMMEDIATE`.
    RollbackImmediate,
    /// `WITH ROLLBACK AFTER n [SECONDS]`.
    RollbackAfterSeconds(i64),
    /// `WITH NO_WAIT`.
    NoWait,
}

/// A database recovery model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryModel {
    /// `FULL`.
    Full,
    /// `BULK_LOGGED`.
    BulkLogged,
    /// `SIMPLE`.
    Simple,
}

/// `EXEC[UTE] [@status =] procedure [argument, …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute {
    /// The `@status` variable that receives the return code.
    pub return_status: Option<String>,
    /// The procedure, possibly multi-part.
    pub procedure: Name,
    /// The arguments in order.
    pub args: Vec<Argument>,
}

/// One argument of `EXEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// `@parameter` for a named argument, with its `@`.
    pub name: Option<String>,
    /// The value.
    pub value: ArgumentValue,
    /// `true` when marked `OUTPUT` or `OUT`.
    pub output: bool,
}

/// The value of an `EXEC` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgumentValue {
    /// An expression; a bare word such as `master` is an [`Expr::Column`] with one part,
    /// which SQL Server passes as a string.
    Expr(Expr),
    /// `DEFAULT`: use the parameter's default.
    Default,
}

/// One variable of `DECLARE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The variable, with its `@`.
    pub variable: String,
    /// Its type.
    pub data_type: DataType,
    /// `= value`.
    pub initial: Option<Expr>,
}

/// A data type of `DECLARE`, with SQL Server's defaults filled in where the text omits
/// them (`nvarchar` is `nvarchar(1)`, `datetime2` is `datetime2(7)`, `decimal` is
/// `decimal(18, 0)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `int`.
    Int,
    /// `bigint`.
    BigInt,
    /// `bit`.
    Bit,
    /// `nvarchar(n | max)`.
    NVarChar(Length),
    /// `varchar(n | max)`.
    VarChar(Length),
    /// `sysname` (`nvarchar(128) NOT NULL`).
    SysName,
    /// `uniqueidentifier`.
    UniqueIdentifier,
    /// `datetime`.
    DateTime,
    /// `datetime2(fractional_second_precision)`.
    DateTime2(u8),
    /// `decimal(p, s)` or its synonym `numeric(p, s)`.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
}

/// The length of a character type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// A length in characters.
    Chars(u32),
    /// `max`.
    Max,
}
