//! The contract between the wire layer and the emulated SQL Server engine:
//! the values, results and requests that cross it, and the [`Engine`] trait.
//!
//! Owns no protocol bytes and no state; the wire layer encodes what the engine
//! returns, the engine decides what a statement means.

use futures_util::future::BoxFuture;

use super::ntlm::NtlmProof;
use super::registry::SessionInfo;

/// A value in a row or an RPC parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// NVARCHAR text, also the value of a CHAR column.
    NVarChar(String),
    /// INT, also the value of a TINYINT or SMALLINT column (RPC parameters of TINYINT
    /// and SMALLINT widen to this too).
    Int(i32),
    /// BIGINT.
    BigInt(i64),
    /// BIT.
    Bit(bool),
    /// FLOAT (REAL parameters widen to this too).
    Float(f64),
    /// DATETIME2, also the value of a DATETIME column.
    DateTime2(chrono::NaiveDateTime),
    /// A DECIMAL/NUMERIC with scale 0, e.g. a NUMERIC(25,0) LSN.
    Decimal(i128),
    /// UNIQUEIDENTIFIER, in RFC 4122 byte order (as `uuid::Uuid::as_bytes`).
    Guid([u8; 16]),
    /// VARBINARY.
    Binary(Vec<u8>),
}

/// The SQL type of a result column. Every column is sent as nullable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// NVARCHAR(4000), or NVARCHAR(MAX) when a value is longer than 4000 UTF-16 units.
    NVarChar,
    /// TINYINT (0 to 255).
    TinyInt,
    /// SMALLINT.
    SmallInt,
    /// INT.
    Int,
    /// BIGINT.
    BigInt,
    /// BIT.
    Bit,
    /// FLOAT.
    Float,
    /// DATETIME: 1753 to 9999, to 1/300 of a second.
    DateTime,
    /// DATETIME2(7).
    DateTime2,
    /// NUMERIC(precision, 0), precision 1 to 38: NUMERIC(25,0) is the type of LSN
    /// columns, NUMERIC(20,0) of byte counts in backup headers.
    Numeric(u8),
    /// UNIQUEIDENTIFIER.
    UniqueIdentifier,
    /// CHAR(length) of ASCII text, padded with spaces.
    Char(u16),
    /// VARBINARY(length), length 1 to 8000.
    VarBinary(u16),
}

/// One column of a result set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type; every value in the column must match it or be [`Value::Null`].
    pub ty: ColumnType,
}

impl Column {
    /// A column named `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
        }
    }
}

/// Columns and rows of one SELECT.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// A server message as SQL Server sends it (ERROR or INFO token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    /// Message number, e.g. 4305.
    pub number: u32,
    /// Error state.
    pub state: u8,
    /// Severity (class); 11 and above are errors, 20 and above end the session.
    pub class: u8,
    /// Message text.
    pub message: String,
    /// Name of the procedure that raised it, or empty.
    pub procedure: String,
    /// Line number in the batch or procedure.
    pub line: u32,
}

impl ServerMessage {
    /// A message with state 1, no procedure and line 1.
    pub fn new(number: u32, class: u8, message: impl Into<String>) -> Self {
        Self {
            number,
            state: 1,
            class,
            message: message.into(),
            procedure: String::new(),
            line: 1,
        }
    }
}

/// What one statement produced, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementResult {
    /// A result set: COLMETADATA, ROWs, then DONE (DONEINPROC in an RPC) with its row count.
    Rows(ResultSet),
    /// A statement without rows: DONE (DONEINPROC), with the COUNT bit when `rows` is set.
    Done {
        /// Rows affected, if the statement reports a count.
        rows: Option<u64>,
    },
    /// An INFO token; it ends no statement.
    Info(ServerMessage),
    /// ERROR tokens in order (e.g. 4305 then 3013), then DONE (DONEINPROC) with the ERROR bit.
    Failed(Vec<ServerMessage>),
}

/// A client request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A SQL batch (`simple_query`, `tsql`, pymssql).
    Batch(String),
    /// A remote procedure call (`query`/`execute` arrive as `sp_executesql`).
    Rpc(RpcRequest),
}

/// A decoded RPC request.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcRequest {
    /// The procedure called.
    pub procedure: RpcProcedure,
    /// Its parameters, in order.
    pub params: Vec<RpcParam>,
}

/// How an RPC names its procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcProcedure {
    /// A well-known procedure id, e.g. [`RpcProcedure::SP_EXECUTESQL`].
    Id(u16),
    /// A procedure called by name.
    Name(String),
}

impl RpcProcedure {
    /// `sp_executesql`, which tiberius uses for every `query` and `execute`.
    pub const SP_EXECUTESQL: RpcProcedure = RpcProcedure::Id(10);
}

/// One RPC parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcParam {
    /// Name as sent: `stmt` and `params` for `sp_executesql`, then `@P1`, `@P2`, …
    pub name: String,
    /// The value.
    pub value: Value,
    /// Whether the client passed it as an OUTPUT parameter.
    pub output: bool,
}

/// The engine's answer to one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// What each statement produced, in order.
    pub results: Vec<StatementResult>,
    /// RETURNSTATUS sent before DONEPROC; RPC only, ignored for batches.
    pub return_status: Option<i32>,
    /// Close the session after sending the response (e.g. severity 20 and above).
    pub close_after: bool,
}

impl Response {
    /// A response made of `results`, without return status, keeping the session open.
    pub fn new(results: Vec<StatementResult>) -> Self {
        Self {
            results,
            ..Self::default()
        }
    }
}

/// The credentials and names a client sent in LOGIN7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// SQL login name; for a Windows login the account, `DOMAIN\user`.
    pub user: String,
    /// Password, decoded; empty for a Windows login.
    pub password: String,
    /// A Windows login's NTLM exchange, for the engine to check against the account's
    /// password; `None` for a SQL login.
    pub windows: Option<NtlmProof>,
    /// Initial database, or empty.
    pub database: String,
    /// Client application name.
    pub app_name: String,
    /// Client host name.
    pub host_name: String,
    /// Server name the client connected to.
    pub server_name: String,
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAccepted {
    /// The session's current database, reported with ENVCHANGE.
    pub database: String,
}

/// The emulated SQL Server behind a [`Server`](super::Server).
pub trait Engine: Send + Sync + 'static {
    /// Accepts or refuses a login. `Err` is sent as ERROR (e.g. 18456 class 14)
    /// and DONE with the ERROR bit, then the socket is closed.
    fn login(
        &self,
        session: &SessionInfo,
        login: &LoginRequest,
    ) -> Result<LoginAccepted, ServerMessage>;

    /// Runs one request. It may be slow (it may sleep to model time): the server
    /// keeps reading the socket meanwhile and drops this future on ATTENTION or
    /// when the session is killed, so it must leave state consistent at every
    /// await point.
    fn execute<'a>(&'a self, session: &'a SessionInfo, request: Request)
    -> BoxFuture<'a, Response>;

    /// The session ended (client closed, killed, or error). Called once for every
    /// session whose login was accepted.
    fn disconnected(&self, spid: u16);
}
