//! The database plane over TDS, through tiberius.
//!
//! One connection per instance, opened on first use (to `master`, so recovery never
//! runs in the database it recovers) and reused across steps. Every statement is one
//! of [`commands::sql`](crate::commands::sql), sent as `sp_executesql` with named
//! parameters, or as a plain batch when it has none (`KILL`, `ALTER DATABASE`).
//!
//! The run lock has a connection of its own, named after the run, held for the whole
//! run: its session owns the lock, so the lock ends with the connection at the latest
//! (its module, `run_lock`).
//!
//! A dropped connection is reopened before an idempotent read is retried once; a
//! mutating statement is never retried here — the step observes the state again
//! instead.

mod clock;
mod decode;
mod errors;
mod plane;
mod run_lock;

use crate::commands::sql::{self, SqlCommand, SqlValue};
use crate::error::{ConnectFailure, PlaneError, PlaneResult};
use crate::topology::{Encrypt, Login, Secret, SqlAddress, SqlEndpoint, SqlSettings};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use errors::{connect_error, request_error};
use futures_util::TryStreamExt;
use std::time::Duration;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row, SqlBrowser};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Connection = Client<Compat<TcpStream>>;

/// Whether a statement changes anything (and so must not be retried blindly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
}

/// One SQL Server instance, reached through tiberius.
pub struct SqlPlane {
    name: String,
    /// How to connect, or why this build cannot log in as the settings ask.
    config: Result<Config, String>,
    connection: Mutex<Option<Connection>>,
    /// The instance's offset from UTC, read once per connection ([`clock`]).
    utc_offset: std::sync::Mutex<Option<FixedOffset>>,
}

impl SqlPlane {
    /// A plane for `endpoint`; nothing connects until the first call.
    pub fn new(endpoint: &SqlEndpoint, settings: &SqlSettings, password: Option<Secret>) -> Self {
        Self {
            name: endpoint.display_name(),
            config: config(endpoint, settings, password.as_ref()),
            connection: Mutex::new(None),
            utc_offset: std::sync::Mutex::new(None),
        }
    }

    /// A plane named `name` connecting with a ready tiberius configuration (the
    /// conformance suite's connection string to a real server). Its database should be
    /// `master`, as recovery must not run in the database it recovers.
    #[cfg(feature = "conformance")]
    pub fn from_config(name: impl Into<String>, config: Config) -> Self {
        Self {
            name: name.into(),
            config: Ok(config),
            connection: Mutex::new(None),
            utc_offset: std::sync::Mutex::new(None),
        }
    }

    /// Runs a read: on a dropped connection it reconnects and tries once more.
    async fn read(&self, command: &SqlCommand) -> PlaneResult<Vec<Vec<Row>>> {
        match self.run(command, Effect::Read).await {
            Err(PlaneError::ConnectionLost { .. }) => self.run(command, Effect::Read).await,
            other => other,
        }
    }

    /// Runs a statement that changes something: never retried.
    async fn write(&self, command: &SqlCommand) -> PlaneResult<()> {
        self.run(command, Effect::Write).await.map(|_| ())
    }

    async fn run(&self, command: &SqlCommand, effect: Effect) -> PlaneResult<Vec<Vec<Row>>> {
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            *slot = Some(self.connect().await?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(PlaneError::Unexpected("no connection".into()));
        };
        tracing::debug!(server = %self.name, ?effect, statement = %command.text, "sending");
        let result = send(client, command).await;
        if let Err(e) = &result
            && !matches!(e, PlaneError::Sql(_))
        {
            // The connection is in an unknown state: open a fresh one next time, and
            // read the instance's offset again on it.
            *slot = None;
            self.forget_utc_offset();
        }
        result
    }

    /// `local`, a date this instance gave in its local time, in UTC: converted with the
    /// offset the instance gives ([`sql::utc_offset`], read once per connection).
    async fn to_utc(&self, local: NaiveDateTime) -> PlaneResult<DateTime<Utc>> {
        Ok(clock::to_utc(local, self.utc_offset().await?))
    }

    async fn utc_offset(&self) -> PlaneResult<FixedOffset> {
        if let Some(offset) = *self.cached_utc_offset() {
            return Ok(offset);
        }
        let sets = self.read(&sql::utc_offset()).await?;
        let row = decode::first(&sets)
            .ok_or_else(|| PlaneError::Unexpected("SYSDATETIME() returned no row".into()))?;
        let local = decode::required_local_time(row, "local_time")?;
        let utc = decode::required_local_time(row, "utc_time")?;
        let offset = clock::offset_between(local, utc).ok_or_else(|| {
            PlaneError::Unexpected(format!(
                "the instance's clock reads {local} when UTC is {utc}: no time zone is that far"
            ))
        })?;
        *self.cached_utc_offset() = Some(offset);
        Ok(offset)
    }

    fn forget_utc_offset(&self) {
        *self.cached_utc_offset() = None;
    }

    fn cached_utc_offset(&self) -> std::sync::MutexGuard<'_, Option<FixedOffset>> {
        self.utc_offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connect(&self) -> PlaneResult<Connection> {
        self.connect_with(self.config()?).await
    }

    /// The plane's configuration, or the refusal of a login this build cannot send.
    fn config(&self) -> PlaneResult<&Config> {
        self.config
            .as_ref()
            .map_err(|message| PlaneError::ConnectFailed {
                target: self.name.clone(),
                failure: ConnectFailure::Other,
                message: message.clone(),
            })
    }

    /// A connection of its own, with `config` (the plane's, with another application
    /// name say).
    async fn connect_with(&self, config: &Config) -> PlaneResult<Connection> {
        connect(&self.name, config, CONNECT_TIMEOUT).await
    }
}

/// How long pcdr waits for a TCP connection to an instance, and then for the login to
/// complete, as SQL Server's own clients do by default (ADO.NET's and SSMS's "Connect
/// Timeout" is 15 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Connects to `name` and logs in, waiting at most `limit` for each. A lost site drops
/// packets rather than refusing: without a limit the operating system's own (21 s on
/// Windows, minutes on Linux) would run on every probe. A TCP connection that times out
/// means nobody answered; a login that times out after the connection was accepted means
/// something answers on the port, so it is [`PlaneError::ConnectFailed`], never
/// [`PlaneError::Unreachable`].
async fn connect(name: &str, config: &Config, limit: Duration) -> PlaneResult<Connection> {
    let tcp = tokio::time::timeout(limit, TcpStream::connect_named(config))
        .await
        .map_err(|_| PlaneError::Unreachable {
            target: name.to_string(),
            message: format!(
                "no answer within {} s (TCP connection timed out)",
                limit.as_secs_f32()
            ),
        })?
        .map_err(|e| connect_error(name, e))?;
    tcp.set_nodelay(true)
        .map_err(|e| connect_error(name, e.into()))?;
    tokio::time::timeout(limit, Client::connect(config.clone(), tcp.compat_write()))
        .await
        .map_err(|_| PlaneError::ConnectFailed {
            target: name.to_string(),
            failure: ConnectFailure::Other,
            message: format!(
                "the TCP connection was accepted but the login did not complete within {} s: \
                 something answers on this port",
                limit.as_secs_f32()
            ),
        })?
        .map_err(|e| connect_error(name, e))
}

/// Builds tiberius's configuration from the topology, or says why this build cannot
/// log in as it asks.
fn config(
    endpoint: &SqlEndpoint,
    settings: &SqlSettings,
    password: Option<&Secret>,
) -> Result<Config, String> {
    let mut config = Config::new();
    config.host(&endpoint.host);
    // A static port needs no SQL Server Browser, even for a named instance.
    match &endpoint.address {
        SqlAddress::Instance(name) => config.instance_name(name),
        SqlAddress::Port(port) | SqlAddress::InstanceOnPort { port, .. } => config.port(*port),
    }
    config.database("master");
    config.application_name("pcdr");
    config.encryption(match settings.encrypt {
        Encrypt::Required => EncryptionLevel::Required,
        Encrypt::Off => EncryptionLevel::Off,
        Encrypt::NotSupported => EncryptionLevel::NotSupported,
    });
    set_trust(&mut config, endpoint, settings);
    let limit = settings.command_timeout_secs;
    config.command_timeout((limit > 0).then(|| Duration::from_secs(limit)));
    config.authentication(authentication(settings.login(), password)?);
    Ok(config)
}

/// The login tiberius sends: a SQL Server login, or with Windows authentication
/// (tiberius's `winauth` feature, on Windows) NTLMv2 for a Windows account and SSPI for
/// the Windows user running pcdr. Without it a Windows login is refused here, never
/// sent as an anonymous one (the topology refuses it at load already; settings a
/// program builds may still hold one).
fn authentication(login: Login<'_>, password: Option<&Secret>) -> Result<AuthMethod, String> {
    let password = password.map_or("", Secret::expose);
    match login {
        Login::SqlServer(user) => Ok(AuthMethod::sql_server(user, password)),
        #[cfg(all(windows, feature = "winauth"))]
        Login::WindowsAccount(account) => Ok(AuthMethod::windows(account, password)),
        #[cfg(all(windows, feature = "winauth"))]
        Login::Integrated => Ok(AuthMethod::Integrated),
        #[cfg(not(all(windows, feature = "winauth")))]
        Login::WindowsAccount(account) => Err(format!(
            "this build of pcdr has no Windows authentication to log in as {account}"
        )),
        #[cfg(not(all(windows, feature = "winauth")))]
        Login::Integrated => Err(
            "this build of pcdr has no Windows authentication to log in as the Windows user \
             (no sql.user)"
                .to_owned(),
        ),
    }
}

/// How the server's certificate is checked: against the machine's trust store, plus
/// `trust_ca_file` when given, for `host_in_certificate` or else the host; or not at all
/// with `trust_server_certificate` (the topology refuses it together with a CA file; a
/// programmatic setting with both gets the CA, the stricter). Every way that does not
/// protect the traffic is warned about, naming the server.
fn set_trust(config: &mut Config, endpoint: &SqlEndpoint, settings: &SqlSettings) {
    let server = endpoint.display_name();
    if let Some(name) = &endpoint.host_in_certificate {
        config.hostname_in_certificate(name);
    }
    match &settings.trust_ca_file {
        Some(ca) => config.trust_cert_ca(ca.display()),
        None if settings.trust_server_certificate => {
            tracing::warn!(
                %server,
                "sql.trust_server_certificate = true: the server's certificate is not \
                 checked, so anyone on the network path can pose as {server} and read the \
                 login and every statement; set sql.trust_ca_file instead"
            );
            config.trust_cert();
        }
        None => {}
    }
    match settings.encrypt {
        Encrypt::Required => {}
        Encrypt::Off => tracing::warn!(
            %server,
            "sql.encrypt = \"off\": only the login to {server} is encrypted, statements \
             and results travel in plain text"
        ),
        Encrypt::NotSupported => tracing::warn!(
            %server,
            "sql.encrypt = \"not-supported\": the login to {server}, its password, \
             statements and results travel in plain text"
        ),
    }
}

/// Sends one command and collects its result sets.
async fn send(client: &mut Connection, command: &SqlCommand) -> PlaneResult<Vec<Vec<Row>>> {
    if command.params.is_empty() {
        let stream = client
            .simple_query(command.text.as_str())
            .await
            .map_err(request_error)?;
        return stream.into_results().await.map_err(request_error);
    }
    let mut rpc = tiberius::Command::new("sp_executesql");
    rpc.bind_param("@stmt", command.text.as_str());
    rpc.bind_param("@params", command.declarations());
    for param in &command.params {
        match &param.value {
            SqlValue::Text(text) => rpc.bind_param(param.name.as_str(), text.as_str()),
            SqlValue::Int(value) => match i32::try_from(*value) {
                Ok(small) => rpc.bind_param(param.name.as_str(), small),
                Err(_) => rpc.bind_param(param.name.as_str(), *value),
            },
        }
    }
    let rows: Vec<Row> = rpc
        .exec(client)
        .await
        .map_err(request_error)?
        .into_row_stream()
        .try_collect()
        .await
        .map_err(request_error)?;
    Ok(group_by_result_set(rows))
}

/// Groups rows into their result sets; a set with no rows is an empty group.
fn group_by_result_set(rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut sets: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        let index = row.result_index();
        if sets.len() <= index {
            sets.resize_with(index + 1, Vec::new);
        }
        sets[index].push(row);
    }
    sets
}

/// A build without Windows authentication never sends a Windows login, nor an anonymous
/// one in its place: the plane refuses before it connects (issue 14).
#[cfg(test)]
#[cfg(not(all(windows, feature = "winauth")))]
mod login_tests {
    use super::*;
    use crate::topology::PasswordSource;

    fn settings(user: Option<&str>) -> SqlSettings {
        SqlSettings {
            user: user.map(str::to_owned),
            password: PasswordSource::None,
            encrypt: Encrypt::NotSupported,
            trust_server_certificate: false,
            trust_ca_file: None,
            allow_plaintext: false,
            command_timeout_secs: 0,
        }
    }

    /// Port 1 on loopback: connecting would fail as unreachable, not as refused here.
    fn endpoint() -> SqlEndpoint {
        SqlEndpoint {
            host: "127.0.0.1".into(),
            host_in_certificate: None,
            fqdn: None,
            address: SqlAddress::Port(1),
        }
    }

    #[tokio::test]
    async fn a_windows_login_is_refused_before_connecting() {
        for (user, named) in [
            (None, "the Windows user"),
            (Some(r"CONTOSO\pcdr-svc"), r"CONTOSO\pcdr-svc"),
        ] {
            let plane = SqlPlane::new(&endpoint(), &settings(user), None);
            let Err(error) = plane.connect().await else {
                panic!("a Windows login was sent");
            };
            let PlaneError::ConnectFailed { message, .. } = &error else {
                panic!("{error:?}");
            };
            assert!(message.contains("no Windows authentication"), "{message}");
            assert!(message.contains(named), "{message}");
        }
        let sql_login = config(&endpoint(), &settings(Some("pcdr")), None);
        assert!(sql_login.is_ok());
    }
}

/// What a probe of an instance concludes from the wire alone, against real sockets on
/// loopback: only a refused (or unanswered) TCP connection means the instance is down.
#[cfg(test)]
mod liveness_tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    const SHORT: Duration = Duration::from_millis(300);

    fn config_for(port: u16) -> Config {
        let mut config = Config::new();
        config.host("127.0.0.1");
        config.port(port);
        config.encryption(EncryptionLevel::NotSupported);
        config
    }

    /// A port on loopback that something answers on, handled by `peer`.
    async fn answering(
        peer: impl FnOnce(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + 'static,
    ) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            peer(stream).await;
        });
        port
    }

    async fn probe(port: u16) -> PlaneError {
        match connect("sql-atl", &config_for(port), SHORT).await {
            Ok(_) => panic!("logged in to a peer that is no SQL Server"),
            Err(error) => error,
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_unanswered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = probe(port).await;
        assert!(matches!(error, PlaneError::Unreachable { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_peer_that_accepts_then_hangs_up_answered() {
        let port = answering(|stream| Box::pin(async move { drop(stream) })).await;
        let error = probe(port).await;
        assert!(matches!(error, PlaneError::ConnectFailed { .. }), "{error}");
        assert!(!error.is_unanswered());
    }

    #[tokio::test]
    async fn a_peer_that_answers_with_something_other_than_tds_answered() {
        let port = answering(|mut stream| {
            Box::pin(async move {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                tokio::time::sleep(SHORT * 4).await;
            })
        })
        .await;
        let error = probe(port).await;
        assert!(!error.is_unanswered(), "{error}");
    }

    #[tokio::test]
    async fn a_peer_that_accepts_but_never_logs_in_answered_within_the_limit() {
        let port = answering(|stream| {
            Box::pin(async move {
                tokio::time::sleep(SHORT * 10).await;
                drop(stream);
            })
        })
        .await;
        let started = std::time::Instant::now();
        let error = probe(port).await;
        assert!(matches!(error, PlaneError::ConnectFailed { .. }), "{error}");
        assert!(error.to_string().contains("something answers"), "{error}");
        assert!(started.elapsed() < SHORT * 5, "{:?}", started.elapsed());
    }
}
