//! The TDS wire layer against a real client: tiberius 0.13 (no TLS) talking to
//! a [`Server`] backed by a small canned engine defined here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use futures_util::future::{BoxFuture, FutureExt};
use pcdr_sim::tds::{
    Column, ColumnType, Engine, LoginAccepted, LoginRequest, Request, Response, ResultSet,
    RpcProcedure, RpcRequest, Server, ServerEncryption, ServerHandle, ServerMessage, SessionInfo,
    StatementResult, Value,
};
use tiberius::numeric::Numeric;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

const PASSWORD: &str = "Secret#1";
const LSN: i128 = 35_000_000_012_345_600_001;
const GUID: [u8; 16] = [
    0x6F, 0x9A, 0x1B, 0x2C, 0x3D, 0x4E, 0x45, 0x1F, 0x8A, 0x0B, 0x1C, 0x2D, 0x3E, 0x4F, 0x50, 0x61,
];
/// Upper bound for any single test step.
const STEP_LIMIT: Duration = Duration::from_secs(10);

type TestClient = Client<Compat<TcpStream>>;

/// Answers a few fixed statements (as batches or as `sp_executesql`) and
/// records RPCs, cancelled waits and disconnects.
#[derive(Default)]
struct CannedEngine {
    last_rpc: Mutex<Option<RpcRequest>>,
    cancelled_waits: AtomicUsize,
    disconnected: Mutex<Vec<u16>>,
}

impl Engine for CannedEngine {
    fn login(
        &self,
        _session: &SessionInfo,
        login: &LoginRequest,
    ) -> Result<LoginAccepted, ServerMessage> {
        if login.user == "sa" && login.password == PASSWORD {
            Ok(LoginAccepted {
                database: login.database.clone(),
            })
        } else {
            Err(ServerMessage::new(
                18456,
                14,
                format!("Login failed for user '{}'.", login.user),
            ))
        }
    }

    fn execute<'a>(
        &'a self,
        session: &'a SessionInfo,
        request: Request,
    ) -> BoxFuture<'a, Response> {
        async move {
            match request {
                Request::Batch(text) => Response::new(self.answer(session, &text).await),
                Request::Rpc(rpc) => self.rpc(session, rpc).await,
            }
        }
        .boxed()
    }

    fn disconnected(&self, spid: u16) {
        self.disconnected.lock().unwrap().push(spid);
    }
}

impl CannedEngine {
    /// Records the call and answers its `stmt` like a batch, with return status 0.
    async fn rpc(&self, session: &SessionInfo, rpc: RpcRequest) -> Response {
        let statement = match rpc.params.first().map(|param| &param.value) {
            Some(Value::NVarChar(text)) => text.clone(),
            _ => String::new(),
        };
        *self.last_rpc.lock().unwrap() = Some(rpc);
        Response {
            results: self.answer(session, &statement).await,
            return_status: Some(0),
            close_after: false,
        }
    }

    async fn answer(&self, session: &SessionInfo, text: &str) -> Vec<StatementResult> {
        match text {
            "SELECT ALL TYPES" => vec![StatementResult::Rows(all_types())],
            "SELECT MANY" => vec![StatementResult::Rows(many_rows(2000))],
            "SELECT LONG" => vec![single_value(
                "t",
                ColumnType::NVarChar,
                Value::NVarChar("é".repeat(5000)),
            )],
            "SELECT @@SPID" => vec![single_value(
                "spid",
                ColumnType::Int,
                Value::Int(i32::from(session.spid())),
            )],
            "TWO RESULTS" => vec![
                single_value("a", ColumnType::Int, Value::Int(1)),
                StatementResult::Info(ServerMessage::new(3014, 0, "processed")),
                single_value("b", ColumnType::Int, Value::Int(2)),
            ],
            "UPDATE THREE" => vec![StatementResult::Done { rows: Some(3) }],
            "RESTORE FAIL" => vec![StatementResult::Failed(vec![
                ServerMessage::new(
                    4305,
                    16,
                    "The log in this backup set begins at LSN ..., which is too recent.",
                ),
                ServerMessage::new(3013, 16, "RESTORE LOG is terminating abnormally."),
            ])],
            "WAITFOR" => self.wait().await,
            echo if echo.starts_with("SELECT @P1") => {
                vec![single_value(
                    "ok",
                    ColumnType::NVarChar,
                    Value::NVarChar("ok".into()),
                )]
            }
            kill if kill.starts_with("KILL ") => kill_session(session, &kill[5..]),
            _ => vec![StatementResult::Done { rows: None }],
        }
    }

    /// Sleeps far longer than any test; counts the times it was dropped unfinished.
    async fn wait(&self) -> Vec<StatementResult> {
        struct CountIfDropped<'a>(&'a AtomicUsize);
        impl Drop for CountIfDropped<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let guard = CountIfDropped(&self.cancelled_waits);
        tokio::time::sleep(Duration::from_secs(30)).await;
        std::mem::forget(guard);
        vec![StatementResult::Done { rows: None }]
    }
}

fn kill_session(session: &SessionInfo, spid: &str) -> Vec<StatementResult> {
    match spid.parse::<u16>() {
        Ok(spid) if session.registry().kill(spid) => vec![StatementResult::Done { rows: None }],
        _ => vec![StatementResult::Failed(vec![ServerMessage::new(
            6106,
            16,
            format!("Process ID {spid} is not an active process ID."),
        )])],
    }
}

fn single_value(name: &str, ty: ColumnType, value: Value) -> StatementResult {
    StatementResult::Rows(ResultSet {
        columns: vec![Column::new(name, ty)],
        rows: vec![vec![value]],
    })
}

fn backup_date() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_nano_opt(3, 4, 5, 123_456_700)
        .unwrap()
}

fn all_types() -> ResultSet {
    let columns = vec![
        Column::new("name", ColumnType::NVarChar),
        Column::new("int", ColumnType::Int),
        Column::new("big", ColumnType::BigInt),
        Column::new("flag", ColumnType::Bit),
        Column::new("ratio", ColumnType::Float),
        Column::new("backup_finish_date", ColumnType::DateTime2),
        Column::new("last_lsn", ColumnType::Numeric(25)),
        Column::new("guid", ColumnType::UniqueIdentifier),
    ];
    let values = vec![
        Value::NVarChar("DRDB".into()),
        Value::Int(5),
        Value::BigInt(1_099_511_627_776),
        Value::Bit(true),
        Value::Float(0.25),
        Value::DateTime2(backup_date()),
        Value::Decimal(LSN),
        Value::Guid(GUID),
    ];
    let nulls = vec![Value::Null; columns.len()];
    ResultSet {
        columns,
        rows: vec![values, nulls],
    }
}

fn many_rows(count: i32) -> ResultSet {
    ResultSet {
        columns: vec![
            Column::new("n", ColumnType::Int),
            Column::new("text", ColumnType::NVarChar),
        ],
        rows: (0..count)
            .map(|n| vec![Value::Int(n), Value::NVarChar(format!("row number {n}"))])
            .collect(),
    }
}

async fn start() -> (ServerHandle, Arc<CannedEngine>) {
    let engine = Arc::new(CannedEngine::default());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let plain = ServerEncryption::NotSupported;
    let server = Server::start(addr, engine.clone(), "SQLPC01".into(), plain)
        .await
        .unwrap();
    (server, engine)
}

async fn connect_with(
    addr: SocketAddr,
    password: &str,
    packet_size: Option<u32>,
) -> tiberius::Result<TestClient> {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(addr.port());
    config.authentication(AuthMethod::sql_server("sa", password));
    config.encryption(EncryptionLevel::NotSupported);
    config.database("msdb");
    if let Some(size) = packet_size {
        config.packet_size(size);
    }
    let tcp = TcpStream::connect(addr).await?;
    Client::connect(config, tcp.compat_write()).await
}

async fn connect(server: &ServerHandle) -> TestClient {
    within(connect_with(server.local_addr(), PASSWORD, None))
        .await
        .unwrap()
}

/// Fails the test instead of hanging when a step takes too long.
async fn within<F: std::future::Future>(step: F) -> F::Output {
    tokio::time::timeout(STEP_LIMIT, step)
        .await
        .expect("step timed out")
}

async fn rows(client: &mut TestClient, sql: &str) -> tiberius::Result<Vec<tiberius::Row>> {
    within(async { client.simple_query(sql).await?.into_first_result().await }).await
}

async fn spid_of(client: &mut TestClient) -> i32 {
    rows(client, "SELECT @@SPID").await.unwrap()[0]
        .get::<i32, _>(0)
        .unwrap()
}

#[tokio::test]
async fn wrong_password_is_server_error_18456_class_14() {
    let (server, _engine) = start().await;
    let error = within(connect_with(server.local_addr(), "wrong", None))
        .await
        .err()
        .unwrap();
    match error {
        tiberius::error::Error::Server(token) => {
            assert_eq!((token.code(), token.class()), (18456, 14));
            assert_eq!(token.server(), "SQLPC01");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn batch_returns_every_column_type_and_nulls() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    let rows = rows(&mut client, "SELECT ALL TYPES").await.unwrap();
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row.get::<&str, _>("name"), Some("DRDB"));
    assert_eq!(row.get::<i32, _>("int"), Some(5));
    assert_eq!(row.get::<i64, _>("big"), Some(1_099_511_627_776));
    assert_eq!(row.get::<bool, _>("flag"), Some(true));
    assert_eq!(row.get::<f64, _>("ratio"), Some(0.25));
    assert_eq!(
        row.get::<NaiveDateTime, _>("backup_finish_date"),
        Some(backup_date())
    );
    let lsn = row.get::<Numeric, _>("last_lsn").unwrap();
    assert_eq!((lsn.value(), lsn.scale()), (LSN, 0));
    assert_eq!(row.get::<Uuid, _>("guid"), Some(Uuid::from_bytes(GUID)));

    let nulls = &rows[1];
    assert_eq!(nulls.get::<&str, _>("name"), None);
    assert_eq!(nulls.get::<i32, _>("int"), None);
    assert_eq!(nulls.get::<i64, _>("big"), None);
    assert_eq!(nulls.get::<bool, _>("flag"), None);
    assert_eq!(nulls.get::<f64, _>("ratio"), None);
    assert_eq!(nulls.get::<NaiveDateTime, _>("backup_finish_date"), None);
    assert_eq!(nulls.get::<Numeric, _>("last_lsn"), None);
    assert_eq!(nulls.get::<Uuid, _>("guid"), None);
}

#[tokio::test]
async fn long_text_column_arrives_as_nvarchar_max() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    let rows = rows(&mut client, "SELECT LONG").await.unwrap();
    assert_eq!(rows[0].get::<&str, _>(0), Some("é".repeat(5000).as_str()));
}

#[tokio::test]
async fn statements_of_a_batch_arrive_as_separate_results() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    let results = within(async {
        client
            .simple_query("TWO RESULTS")
            .await?
            .into_results()
            .await
    })
    .await
    .unwrap();
    let firsts: Vec<Option<i32>> = results
        .iter()
        .map(|rows| rows[0].get::<i32, _>(0))
        .collect();
    assert_eq!(firsts, vec![Some(1), Some(2)]);
}

#[tokio::test]
async fn rpc_parameters_are_decoded() {
    let (server, engine) = start().await;
    let mut client = connect(&server).await;
    let long = "x".repeat(10_000);
    let lsn = Numeric::new_with_scale(LSN, 0);
    let sql = "SELECT @P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9";
    let params: [&dyn tiberius::ToSql; 9] = [
        &"x",
        &5i32,
        &Option::<&str>::None,
        &true,
        &42i64,
        &long.as_str(),
        &lsn,
        &backup_date(),
        &Uuid::from_bytes(GUID),
    ];
    let rows = within(async { client.query(sql, &params).await?.into_first_result().await })
        .await
        .unwrap();
    assert_eq!(rows[0].get::<&str, _>(0), Some("ok"));

    let rpc = engine.last_rpc.lock().unwrap().clone().unwrap();
    assert_eq!(rpc.procedure, RpcProcedure::SP_EXECUTESQL);
    let names: Vec<&str> = rpc.params.iter().map(|param| param.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stmt", "params", "@P1", "@P2", "@P3", "@P4", "@P5", "@P6", "@P7", "@P8", "@P9"
        ]
    );
    let values: Vec<&Value> = rpc.params.iter().map(|param| &param.value).collect();
    assert_eq!(values[0], &Value::NVarChar(sql.into()));
    assert!(
        matches!(values[1], Value::NVarChar(declaration) if declaration.starts_with("@P1 nvarchar"))
    );
    assert_eq!(
        &values[2..],
        [
            &Value::NVarChar("x".into()),
            &Value::Int(5),
            &Value::Null,
            &Value::Bit(true),
            &Value::BigInt(42),
            &Value::NVarChar(long),
            &Value::Decimal(LSN),
            &Value::DateTime2(backup_date()),
            &Value::Guid(GUID),
        ]
    );
    assert!(rpc.params.iter().all(|param| !param.output));
}

#[tokio::test]
async fn execute_reports_rows_affected() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    let result = within(client.execute("UPDATE THREE", &[])).await;
    assert_eq!(result.unwrap().rows_affected(), &[3]);
    let batch = within(async {
        client
            .simple_query("UPDATE THREE")
            .await?
            .into_results()
            .await
    })
    .await;
    assert!(batch.unwrap().is_empty());
}

#[tokio::test]
async fn failed_rpc_surfaces_the_first_error() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    let result = within(client.execute("RESTORE FAIL", &[])).await;
    assert_eq!(result.err().and_then(|error| error.code()), Some(4305));
    assert!(spid_of(&mut client).await >= 51, "the session stays usable");
}

#[tokio::test]
async fn failed_batch_surfaces_the_first_error() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    match rows(&mut client, "RESTORE FAIL").await {
        Err(tiberius::error::Error::Server(token)) => {
            assert_eq!((token.code(), token.class()), (4305, 16));
        }
        other => panic!("expected error 4305, got {other:?}"),
    }
    assert!(spid_of(&mut client).await >= 51, "the session stays usable");
}

#[tokio::test]
async fn result_larger_than_a_512_byte_packet_arrives_intact() {
    let (server, _engine) = start().await;
    let mut client = within(connect_with(server.local_addr(), PASSWORD, Some(512)))
        .await
        .unwrap();
    let rows = rows(&mut client, "SELECT MANY").await.unwrap();
    assert_eq!(rows.len(), 2000);
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<i32, _>(0), Some(n as i32));
        assert_eq!(
            row.get::<&str, _>(1),
            Some(format!("row number {n}").as_str())
        );
    }
}

#[tokio::test]
async fn concurrent_clients_get_different_spids() {
    let (server, _engine) = start().await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    let (a, b) = (spid_of(&mut first).await, spid_of(&mut second).await);
    assert_ne!(a, b);
    assert!(a >= 51 && b >= 51);
    let mut live = server.registry().spids();
    live.sort_unstable();
    assert_eq!(live, vec![a.min(b) as u16, a.max(b) as u16]);
}

#[tokio::test]
async fn killed_session_fails_while_the_killer_keeps_working() {
    let (server, engine) = start().await;
    let mut victim = connect(&server).await;
    let mut killer = connect(&server).await;
    let victim_spid = spid_of(&mut victim).await;

    rows(&mut killer, &format!("KILL {victim_spid}"))
        .await
        .unwrap();
    assert!(rows(&mut victim, "SELECT @@SPID").await.is_err());
    assert!(spid_of(&mut killer).await >= 51);
    match rows(&mut killer, &format!("KILL {victim_spid}")).await {
        Err(error) => assert_eq!(error.code(), Some(6106)),
        Ok(_) => panic!("a dead session cannot be killed twice"),
    }
    assert!(
        engine
            .disconnected
            .lock()
            .unwrap()
            .contains(&(victim_spid as u16))
    );
}

#[tokio::test]
async fn cancel_query_stops_a_slow_request_and_keeps_the_connection() {
    let (server, engine) = start().await;
    let mut client = connect(&server).await;
    let timed_out =
        tokio::time::timeout(Duration::from_millis(150), client.simple_query("WAITFOR"))
            .await
            .is_err();
    assert!(timed_out, "the request should still be running");
    within(client.cancel_query()).await.unwrap();
    assert_eq!(engine.cancelled_waits.load(Ordering::SeqCst), 1);
    assert!(spid_of(&mut client).await >= 51);
}

#[tokio::test]
async fn cancel_query_when_idle_is_acknowledged() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    within(client.cancel_query()).await.unwrap();
    assert!(spid_of(&mut client).await >= 51);
}

/// Reads until the server closes the socket; true if it did so in time.
async fn server_closes(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
    false
}

#[tokio::test]
async fn garbage_closes_that_session_only() {
    let (server, _engine) = start().await;
    let mut good = connect(&server).await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(server_closes(&mut raw).await);
    assert!(spid_of(&mut good).await >= 51);
}

#[tokio::test]
async fn truncated_packet_closes_that_session_only() {
    let (server, _engine) = start().await;
    let mut good = connect(&server).await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    // A PRELOGIN header announcing 100 bytes, then only 4, then end of stream.
    raw.write_all(&[
        0x12, 0x01, 0x00, 0x64, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1A, 0x00,
    ])
    .await
    .unwrap();
    raw.shutdown().await.unwrap();
    assert!(server_closes(&mut raw).await);
    assert!(spid_of(&mut good).await >= 51);
}

#[tokio::test]
async fn malformed_prelogin_closes_that_session_only() {
    let (server, _engine) = start().await;
    let mut good = connect(&server).await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    // A well-framed PRELOGIN whose option points past the message.
    raw.write_all(&[
        0x12, 0x01, 0x00, 0x0E, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0xFF,
    ])
    .await
    .unwrap();
    assert!(server_closes(&mut raw).await);
    assert!(spid_of(&mut good).await >= 51);
}

#[tokio::test]
async fn shutdown_ends_live_sessions() {
    let (server, _engine) = start().await;
    let mut client = connect(&server).await;
    server.shutdown();
    assert!(server.registry().spids().is_empty());
    assert!(rows(&mut client, "SELECT @@SPID").await.is_err());
}
