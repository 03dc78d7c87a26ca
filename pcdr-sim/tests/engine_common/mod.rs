//! Shared by the `engine_*` tests: a served world in a temporary folder, tiberius
//! clients for its instances, and running pcdr-core's exact commands (`@name`
//! parameters rewritten to tiberius's `@P1…`, values bound in order).

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcdr_core::commands::sql::{self, SqlCommand, SqlValue};
use pcdr_core::planes::{FileMove, PrimaryLogShipping, SecondaryLogShipping};
use pcdr_core::topology::RestoreMode;
use pcdr_sim::serve::{ServeOptions, ServingWorld, ShellLauncher, serve};
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::server_paths::{self, COPY_FOLDER_ON_BACKUP};
use pcdr_sim::world::{World, WorldOptions};
use tempfile::TempDir;
use tiberius::numeric::Numeric;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Query, Row};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// A tiberius client of the emulator.
pub type TestClient = Client<Compat<TcpStream>>;

/// Upper bound for any single test step.
pub const STEP_LIMIT: Duration = Duration::from_secs(20);

/// A served world that lives as long as the test.
pub struct Sim {
    pub dir: TempDir,
    pub serving: ServingWorld,
}

impl Sim {
    /// The world.
    pub fn world(&self) -> &World {
        self.serving.world()
    }

    /// A client of `instance`, logged in as pcdr to `master`.
    pub async fn connect(&self, instance: InstanceId) -> TestClient {
        within(self.try_connect(instance, None))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", instance.name()))
    }

    /// A client, or the login error (`password` overrides the right one).
    pub async fn try_connect(
        &self,
        instance: InstanceId,
        password: Option<&str>,
    ) -> tiberius::Result<TestClient> {
        let addr = self
            .serving
            .addr(instance)
            .expect("every instance is served");
        let right = self.world().password().expect("password file");
        let mut config = Config::new();
        config.host(addr.ip().to_string());
        config.port(addr.port());
        config.authentication(AuthMethod::sql_server("pcdr", password.unwrap_or(&right)));
        config.encryption(EncryptionLevel::Required);
        config.trust_cert_ca(self.world().ca_file().display());
        let tcp = TcpStream::connect(addr).await?;
        Client::connect(config, tcp.compat_write()).await
    }
}

/// Creates a world with `options` (fast: no latency, instantaneous restores) and
/// serves it.
pub async fn start(options: WorldOptions) -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    World::create(dir.path(), &options).expect("create world");
    let serve_options = ServeOptions {
        shell: ShellLauncher::pcdr("/usr/local/bin/pcdr"),
        minute_every: None,
        force_encryption: true,
    };
    let serving = serve(dir.path(), &serve_options).await.expect("serve");
    Sim { dir, serving }
}

/// A default world, served.
pub async fn start_default() -> Sim {
    start(WorldOptions::default()).await
}

/// Fails the test instead of hanging when a step takes too long.
pub async fn within<F: Future>(step: F) -> F::Output {
    tokio::time::timeout(STEP_LIMIT, step)
        .await
        .expect("test step timed out")
}

/// `text` with each parameter `@name` of `command` replaced by `@P<n>`, outside string
/// literals and without touching longer names, `@@` globals or the `@name =` of an EXEC
/// argument.
pub fn positional(command: &SqlCommand) -> String {
    let names: Vec<String> = command
        .params
        .iter()
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    let chars: Vec<char> = command.text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_string = !in_string;
        }
        let starts_name = c == '@'
            && !in_string
            && chars.get(i + 1) != Some(&'@')
            && (i == 0 || chars[i - 1] != '@');
        if starts_name {
            let end = (i + 1..chars.len())
                .find(|&j| !(chars[j].is_alphanumeric() || chars[j] == '_'))
                .unwrap_or(chars.len());
            let word: String = chars[i..end]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            let next = chars[end..].iter().find(|c| !c.is_whitespace());
            let is_argument_name = next == Some(&'=');
            if let Some(n) = names
                .iter()
                .position(|p| *p == word)
                .filter(|_| !is_argument_name)
            {
                out.push_str(&format!("@P{}", n + 1));
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Runs `command` exactly as pcdr-core words it, as `sp_executesql` with its parameters.
pub async fn run(client: &mut TestClient, command: &SqlCommand) -> tiberius::Result<Vec<Vec<Row>>> {
    let text = positional(command);
    let mut query = Query::new(text);
    for param in &command.params {
        match &param.value {
            SqlValue::Text(value) => query.bind(value.clone()),
            SqlValue::Int(value) => query.bind(i32::try_from(*value).unwrap_or(i32::MAX)),
        }
    }
    within(async { query.query(client).await?.into_results().await }).await
}

/// Runs a plain batch.
pub async fn batch(client: &mut TestClient, text: &str) -> tiberius::Result<Vec<Vec<Row>>> {
    within(async { client.simple_query(text).await?.into_results().await }).await
}

/// The error number of a failed call.
pub fn number<T: std::fmt::Debug>(result: tiberius::Result<T>) -> u32 {
    match result {
        Err(tiberius::error::Error::Server(token)) => token.code(),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// The single text value of the first row of the first result set.
pub fn first_text(results: &[Vec<Row>]) -> Option<String> {
    results
        .first()?
        .first()?
        .get::<&str, _>(0)
        .map(str::to_owned)
}

/// The `@@SPID` of a client.
pub async fn spid(client: &mut TestClient) -> i32 {
    let rows = batch(client, "select @@spid").await.expect("select @@spid");
    rows[0][0].get::<i32, _>(0).expect("an int spid")
}

/// Log shipping of `mgc` from the primary to the backup instance as pcdr-core sets it up
/// (its exact commands), both jobs every `interval_minutes`.
/// `path` as the backup instance names it: a file of the copy folder by its name on
/// the instance's `D:` drive (`server_paths`), any other path as it is.
pub fn on_backup(world: &World, path: &std::path::Path) -> String {
    match path.strip_prefix(world.copy_dir()) {
        Ok(rest) => server_paths::join(COPY_FOLDER_ON_BACKUP, &rest.display().to_string()),
        Err(_) => path.display().to_string(),
    }
}

/// `name` in `instance`'s data folder (`DIR/data/<instance>`), the one folder of
/// database files the instance has: where a `MOVE` can put a restored file.
pub fn data_file(world: &World, instance: InstanceId, name: &str) -> String {
    let folder = world.dir().join("data").join(instance.name());
    folder.join(name).display().to_string()
}

/// `MOVE` clauses placing `mgc`'s two files onto `instance`'s own `mgc` files, as pcdr
/// computes them from `sys.master_files`.
pub fn onto_own_mgc(world: &World, instance: InstanceId) -> Vec<FileMove> {
    [("mgc", "mgc.mdf"), ("mgc_log", "mgc_log.ldf")]
        .into_iter()
        .map(|(logical, file)| FileMove {
            logical_name: logical.into(),
            physical_name: data_file(world, instance, file),
        })
        .collect()
}

/// The primary side of log shipping `mgc` to the backup instance through the world's
/// share, a backup every `interval_minutes`.
pub fn primary_setup(world: &World, interval_minutes: u32) -> PrimaryLogShipping {
    let share = world.share_dir().display().to_string();
    PrimaryLogShipping {
        database: "mgc".into(),
        backup_directory: share.clone(),
        backup_share: share,
        backup_job_name: "LSBackup_mgc".into(),
        backup_interval_minutes: interval_minutes,
        retention_minutes: 4320,
        secondary_server: "SQLPC-DAL".into(),
        secondary_database: "mgc".into(),
    }
}

pub async fn set_up_log_shipping(
    world: &World,
    primary: &mut TestClient,
    backup: &mut TestClient,
    interval_minutes: u32,
) {
    let share = world.share_dir().display().to_string();
    let primary_setup = primary_setup(world, interval_minutes);
    run(primary, &sql::setup_log_shipping_primary(&primary_setup))
        .await
        .unwrap();
    let secondary_setup = SecondaryLogShipping {
        primary_server: "SQLPC-ATL".into(),
        primary_database: "mgc".into(),
        secondary_database: "mgc".into(),
        backup_source_directory: share,
        backup_destination_directory: COPY_FOLDER_ON_BACKUP.into(),
        copy_job_name: "LSCopy_mgc".into(),
        restore_job_name: "LSRestore_mgc".into(),
        interval_minutes,
        retention_minutes: 4320,
        restore_delay_minutes: 0,
        restore_mode: RestoreMode::NoRecovery,
        disconnect_users: true,
        thresholds: None,
    };
    run(backup, &sql::setup_log_shipping_secondary(&secondary_setup))
        .await
        .unwrap();
}

/// The log backups (`.trn`) in `dir`, in name order.
pub fn trn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trn"))
        .collect();
    files.sort();
    files
}

/// Restores, in order, each of `files` (paths as the instance behind `client` names
/// them) that its `mgc` still needs, from its restore point on; a file that would leave
/// a gap fails the test.
pub async fn restore_needed(client: &mut TestClient, files: impl IntoIterator<Item = String>) {
    let rows = run(client, &sql::redo_start_lsn("mgc")).await.unwrap();
    let mut point = rows[0][0].get::<Numeric, _>(0).unwrap().value();
    for file in files {
        let header = run(client, &sql::backup_header(&file)).await.unwrap();
        let first = header[0][0].get::<Numeric, _>("FirstLSN").unwrap().value();
        let last = header[0][0].get::<Numeric, _>("LastLSN").unwrap().value();
        if last <= point {
            continue;
        }
        assert!(first <= point, "a gap before {file}");
        run(client, &sql::restore_log("mgc", &file)).await.unwrap();
        point = last;
    }
}
