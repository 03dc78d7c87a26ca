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

mod decode;
mod errors;
mod plane;
mod run_lock;

use crate::commands::sql::{SqlCommand, SqlValue};
use crate::error::{PlaneError, PlaneResult};
use crate::topology::{Encrypt, Secret, SqlAddress, SqlEndpoint, SqlSettings};
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
    config: Config,
    connection: Mutex<Option<Connection>>,
}

impl SqlPlane {
    /// A plane for `endpoint`; nothing connects until the first call.
    pub fn new(endpoint: &SqlEndpoint, settings: &SqlSettings, password: Option<Secret>) -> Self {
        Self {
            name: endpoint.display_name(),
            config: config(endpoint, settings, password.as_ref()),
            connection: Mutex::new(None),
        }
    }

    /// A plane named `name` connecting with a ready tiberius configuration (the
    /// conformance suite's connection string to a real server). Its database should be
    /// `master`, as recovery must not run in the database it recovers.
    #[cfg(feature = "conformance")]
    pub fn from_config(name: impl Into<String>, config: Config) -> Self {
        Self {
            name: name.into(),
            config,
            connection: Mutex::new(None),
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
            // The connection is in an unknown state: open a fresh one next time.
            *slot = None;
        }
        result
    }

    async fn connect(&self) -> PlaneResult<Connection> {
        self.connect_with(&self.config).await
    }

    /// A connection of its own, with `config` (the plane's, with another application
    /// name say).
    async fn connect_with(&self, config: &Config) -> PlaneResult<Connection> {
        // A lost site drops packets rather than refusing: without a limit the operating
        // system's own (21 s on Windows, minutes on Linux) would run on every probe.
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect_named(config))
            .await
            .map_err(|_| PlaneError::Unreachable {
                target: self.name.clone(),
                message: format!(
                    "no answer within {} s (TCP connection timed out)",
                    CONNECT_TIMEOUT.as_secs()
                ),
            })?
            .map_err(|e| connect_error(&self.name, e))?;
        tcp.set_nodelay(true)
            .map_err(|e| connect_error(&self.name, e.into()))?;
        Client::connect(config.clone(), tcp.compat_write())
            .await
            .map_err(|e| connect_error(&self.name, e))
    }
}

/// How long pcdr waits for a TCP connection to an instance, as SQL Server's own clients
/// do by default (ADO.NET's and SSMS's "Connect Timeout" is 15 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Builds tiberius's configuration from the topology.
fn config(endpoint: &SqlEndpoint, settings: &SqlSettings, password: Option<&Secret>) -> Config {
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
    if settings.trust_server_certificate {
        config.trust_cert();
    }
    let limit = settings.command_timeout_secs;
    config.command_timeout((limit > 0).then(|| Duration::from_secs(limit)));
    match (&settings.user, password) {
        (Some(user), Some(password)) => {
            config.authentication(AuthMethod::sql_server(user, password.expose()))
        }
        (Some(user), None) => config.authentication(AuthMethod::sql_server(user, "")),
        (None, _) => set_integrated(&mut config),
    }
    config
}

#[cfg(all(windows, feature = "winauth"))]
fn set_integrated(config: &mut Config) {
    config.authentication(AuthMethod::Integrated);
}

/// Without the `winauth` feature on Windows there is no integrated authentication: the
/// login then fails with SQL Server's own error, which names the missing login.
#[cfg(not(all(windows, feature = "winauth")))]
fn set_integrated(_: &mut Config) {}

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
