//! Shared helpers of the end-to-end tests: an emulated world built in its own temporary
//! folder and served on loopback, procedures run through the real adapters (tiberius,
//! the file system, the Management Shell — here `pcdr sim shell`) with a journal, the
//! statements the instances received read back from `DIR/statements.log`, the cmdlets
//! the shell ran read back from `DIR/cmdlets.log`, and faults injected when a progress
//! event fires.

#![allow(dead_code)] // each test binary uses its own part of these helpers

pub mod asserts;

use pcdr_core::Error;
use pcdr_core::adapters;
use pcdr_core::procedure::{Context, Event, Observer, Procedure, RunOptions};
use pcdr_core::runbook::{Report, Runbook, new_run_id};
use pcdr_core::topology::{SiteRole, Topology};
use pcdr_sim::serve::{ServeOptions, ServingWorld, ShellLauncher, serve};
use pcdr_sim::world::faults::{StatementFault, StatementKind, StatementMatch};
use pcdr_sim::world::model::{Database, InstanceId, Site};
use pcdr_sim::world::{World, WorldOptions};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tempfile::TempDir;

/// The `pcdr` binary: the Management Shell of the served topology runs
/// `pcdr sim shell --world DIR -- …`.
pub const PCDR: &str = env!("CARGO_BIN_EXE_pcdr");

/// The world most tests start from: six log backups of five messages, the newest two
/// not yet copied to the backup site, the newest three not yet restored there; its SQL
/// Servers run on Central Standard Time (UTC-06:00), so that every date they give is
/// local, as a real server's is, and never passes for UTC.
pub fn backlog() -> WorldOptions {
    WorldOptions {
        logs: 6,
        uncopied: 2,
        unrestored: 3,
        utc_offset_minutes: -360,
        ..WorldOptions::default()
    }
}

/// A world served on loopback, in its own temporary folder.
pub struct Served {
    /// The world folder (removed when the test ends).
    pub dir: TempDir,
    /// The world.
    pub world: Arc<World>,
    /// The topology `serve` wrote, with the shell wrapped to log its cmdlets.
    pub topology: Topology,
    serving: ServingWorld,
}

impl Served {
    /// Builds a world with `options` and serves it.
    pub async fn new(options: &WorldOptions) -> Served {
        let dir = tempfile::Builder::new()
            .prefix("pcdr-e2e-")
            .tempdir()
            .expect("a temporary folder");
        World::create(dir.path(), options).expect("the world is created");
        let serving = serve(
            dir.path(),
            &ServeOptions {
                shell: ShellLauncher::pcdr(PCDR),
                minute_every: None,
                force_encryption: true,
            },
        )
        .await
        .expect("the world is served");
        let mut topology =
            Topology::load(serving.topology_path()).expect("the served topology loads");
        topology.shell.program = logging_shell(serving.world().dir());
        Served {
            world: Arc::clone(serving.world()),
            dir,
            topology,
            serving,
        }
    }

    /// The world folder.
    pub fn path(&self) -> &Path {
        self.world.dir()
    }

    /// A disaster at the primary site (the share survives); returns once its instances
    /// refuse connections.
    pub async fn disaster(&self) {
        self.world
            .disaster(Site::Primary, false)
            .expect("the primary site goes down");
        wait_until_listening(&self.topology, SiteRole::Primary, false).await;
    }

    /// Rebuilds the primary site as Topology Builder does; returns once its instances
    /// accept connections again.
    pub async fn rebuild(&self) {
        self.world
            .rebuild(Site::Primary)
            .expect("the primary site is rebuilt");
        wait_until_listening(&self.topology, SiteRole::Primary, true).await;
    }

    /// A context over the real adapters of the served topology.
    pub fn context(&self, options: RunOptions) -> Context {
        let planes = adapters::connect(&self.topology).expect("the planes of the topology");
        Context::new(
            Arc::new(self.topology.clone()),
            planes,
            options,
            new_run_id(),
        )
    }

    /// The journal of `procedure` in the world folder.
    pub fn journal(&self, procedure: Procedure) -> PathBuf {
        self.path().join(format!("{procedure}.journal"))
    }

    /// Runs `procedure` from its first step, journaled.
    pub async fn run(&self, procedure: Procedure, options: RunOptions) -> Result<Report, Error> {
        let ctx = self.context(options);
        Runbook::new(ctx, self.journal(procedure))
            .execute(procedure)
            .await
    }

    /// Runs `procedure` from its first step with `observer` receiving its events.
    pub async fn run_observed(
        &self,
        procedure: Procedure,
        options: RunOptions,
        observer: Arc<dyn Observer>,
    ) -> Result<Report, Error> {
        let ctx = self.context(options).with_observer(observer);
        Runbook::new(ctx, self.journal(procedure))
            .execute(procedure)
            .await
    }

    /// Resumes the journaled run of `procedure` with `options`.
    pub async fn resume(&self, procedure: Procedure, options: RunOptions) -> Result<Report, Error> {
        Runbook::new(self.context(options), self.journal(procedure))
            .resume()
            .await
    }

    /// Runs `procedure` and expects it to complete.
    pub async fn completes(&self, procedure: Procedure) -> Report {
        let report = self
            .run(procedure, RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{procedure} failed: {e}"));
        assert!(
            report.completed,
            "{procedure} did not complete: {report:#?}"
        );
        report
    }

    /// The chat database `mgc` of `instance`.
    pub fn mgc(&self, instance: InstanceId) -> Database {
        self.world
            .read()
            .expect("the world reads")
            .instance(instance)
            .and_then(|i| i.database("mgc"))
            .cloned()
            .unwrap_or_else(|| panic!("{} has no mgc", instance.name()))
    }

    /// The ids of the messages `mgc` on `instance` holds.
    pub fn messages(&self, instance: InstanceId) -> Vec<u64> {
        self.world
            .messages(instance, "mgc")
            .expect("the world reads")
    }

    /// Every statement the instances received, in order.
    pub fn statements(&self) -> Vec<Statement> {
        let text = std::fs::read_to_string(self.world.statements_log()).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a statements.log line"))
            .collect()
    }

    /// How many statements on `instance` contain `text` (ignoring case) and satisfy
    /// `also`.
    pub fn count(
        &self,
        instance: InstanceId,
        text: &str,
        also: impl Fn(&Statement) -> bool,
    ) -> usize {
        self.statements()
            .iter()
            .filter(|s| s.on(instance) && s.contains(text) && also(s))
            .count()
    }

    /// Every cmdlet line the Management Shell ran, in order (`cmdlets.log` holds each
    /// script as `-EncodedCommand` took it: Base64 of its UTF-16LE text).
    pub fn cmdlets(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("cmdlets.log"))
            .unwrap_or_default()
            .lines()
            .map(decode_script)
            .collect()
    }

    /// How many times the shell ran `cmdlet`.
    pub fn cmdlet_runs(&self, cmdlet: &str) -> usize {
        let needle = format!("{cmdlet} ");
        self.cmdlets()
            .iter()
            .filter(|c| c.contains(&needle))
            .count()
    }

    /// The log backups of `mgc` in `folder`, oldest first.
    pub fn log_backups(folder: &Path) -> Vec<String> {
        pcdr_sim::world::logship::log_files(folder, "mgc").expect("the folder lists")
    }
}

/// Writes `DIR/shell.sh`, which appends each script it is given (one line, one cmdlet)
/// to `DIR/cmdlets.log` and runs the emulated shell; returns its path.
#[cfg(unix)]
fn logging_shell(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("shell.sh");
    let log = dir.join("cmdlets.log");
    let text = format!(
        "#!/bin/sh\n\
         # The last argument is the script holding the cmdlet (-EncodedCommand's Base64).\n\
         for last in \"$@\"; do :; done\n\
         printf '%s\\n' \"$last\" >> '{log}'\n\
         exec '{pcdr}' \"$@\"\n",
        log = log.display(),
        pcdr = PCDR,
    );
    std::fs::write(&script, text).expect("shell.sh is written");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("shell.sh is executable");
    script.display().to_string()
}

/// The script an `-EncodedCommand` argument carries.
fn decode_script(encoded: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("cmdlets.log holds Base64");
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).expect("the script is UTF-16LE")
}

/// Without a POSIX shell the cmdlets are not logged.
#[cfg(not(unix))]
fn logging_shell(_: &Path) -> String {
    PCDR.into()
}

/// One line of `statements.log`.
#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    /// The instance that received it (`primary`, `backup`, …).
    pub instance: String,
    /// The statement text (of `sp_executesql`, its `@stmt`).
    pub text: String,
    /// Its parameters.
    pub params: Vec<Param>,
}

/// A parameter of a logged statement.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// `@name`.
    pub name: String,
    /// Its value.
    pub value: serde_json::Value,
}

impl Statement {
    /// Whether `instance` received it.
    pub fn on(&self, instance: InstanceId) -> bool {
        self.instance == instance.name()
    }

    /// Whether its text contains `text`, ignoring case.
    pub fn contains(&self, text: &str) -> bool {
        self.text
            .to_ascii_uppercase()
            .contains(&text.to_ascii_uppercase())
    }

    /// The text value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.value.as_str())
    }

    /// Whether it takes or gives back the run lock: sent before the first step and after
    /// the last, by no step, and changing nothing of the world.
    pub fn is_run_lock(&self) -> bool {
        use pcdr_core::commands::sql::{release_run_lock, take_run_lock};
        [take_run_lock(""), release_run_lock("")]
            .iter()
            .any(|lock| lock.text == self.text)
    }

    /// The file name (without folder) of its `@file` parameter.
    pub fn file_name(&self) -> Option<&str> {
        self.param("@file")
            .map(|path| path.rsplit(['/', '\\']).next().unwrap_or(path))
    }
}

/// Statements of `kind` on `instance` (every statement when `kind` is `None`).
pub fn on(instance: InstanceId, kind: Option<StatementKind>) -> StatementMatch {
    StatementMatch {
        instance: Some(instance),
        kind,
        nth: None,
    }
}

/// Every statement of `kind` on `instance` fails with error 50000.
pub fn fail(instance: InstanceId, kind: Option<StatementKind>) -> StatementFault {
    StatementFault::Fail {
        on: on(instance, kind),
        error: 50000,
    }
}

/// The connection drops during every statement of `kind` on `instance` (before it runs).
pub fn drop_connection(instance: InstanceId, kind: StatementKind) -> StatementFault {
    StatementFault::Drop(on(instance, Some(kind)))
}

type Trigger = Box<dyn Fn(&Event) -> bool + Send + Sync>;
type Strike = Box<dyn FnOnce(&World) + Send>;

/// An observer that breaks the world once, the first time an event matches: how a run
/// is interrupted at a precise point (a step finished, a step about to act, a log
/// backup restored).
pub struct Interrupt {
    world: Arc<World>,
    trigger: Trigger,
    strike: Mutex<Option<Strike>>,
}

impl Interrupt {
    /// Runs `strike` on the world when `trigger` first matches an event.
    pub fn new(
        world: Arc<World>,
        trigger: impl Fn(&Event) -> bool + Send + Sync + 'static,
        strike: impl FnOnce(&World) + Send + 'static,
    ) -> Arc<Interrupt> {
        Arc::new(Interrupt {
            world,
            trigger: Box::new(trigger),
            strike: Mutex::new(Some(Box::new(strike))),
        })
    }

    /// Whether it struck.
    pub fn struck(&self) -> bool {
        self.strike
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

impl Observer for Interrupt {
    fn event(&self, event: &Event) {
        if !(self.trigger)(event) {
            return;
        }
        let strike = self
            .strike
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(strike) = strike {
            strike(&self.world);
        }
    }
}

/// How long a served instance may take to close or reopen its listener.
const LISTENER_SETTLE: Duration = Duration::from_secs(5);

/// Waits until the site's instances accept connections (`up`) or refuse them, as the
/// serving loop follows the world's faults.
pub async fn wait_until_listening(topology: &Topology, site: SiteRole, up: bool) {
    let site = topology.site(site);
    let endpoints = std::iter::once(&site.sql).chain(site.mirror.as_ref());
    let deadline = tokio::time::Instant::now() + LISTENER_SETTLE;
    for endpoint in endpoints {
        let Some(port) = endpoint.address.port() else {
            continue;
        };
        let address = format!("{}:{port}", endpoint.host);
        while tokio::net::TcpStream::connect(&address).await.is_ok() != up {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{address} did not {} in time",
                if up { "come up" } else { "go down" }
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until one instance refuses connections.
pub async fn wait_until_down(served: &Served, instance: InstanceId) {
    let port = served
        .serving
        .addr(instance)
        .expect("the instance is served")
        .port();
    let address = format!("{}:{port}", instance.host());
    let deadline = tokio::time::Instant::now() + LISTENER_SETTLE;
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{address} did not go down in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
