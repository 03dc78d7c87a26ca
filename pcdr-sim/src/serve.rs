//! Serving a world: one TDS server per instance on its own loopback address, the
//! topology file written once the ports are known, instances marked down closed (their
//! listener stops, so connections are refused) and reopened on the same port when they
//! come back, and optionally a running log-shipping clock.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::engine::InstanceEngine;
use crate::tds::{Server, ServerEncryption, ServerHandle};
use crate::world::model::{InstanceId, Site};
use crate::world::{World, WorldError};

/// How often the serving loop looks at which instances are down.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// The program the world's topology runs as its Management Shell: `program args…
/// --world DIR -- -NoProfile -NonInteractive -EncodedCommand <script>`, which must run the
/// emulated shell ([`crate::shell::run_shell`]) on the world in `DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellLauncher {
    /// The executable (`pcdr`, or a Python interpreter).
    pub program: String,
    /// Its arguments before `--world DIR` (`["sim", "shell"]`, `["-m", "pcdr._simshell"]`).
    pub args: Vec<String>,
}

impl ShellLauncher {
    /// `pcdr sim shell`, with `program` the pcdr executable.
    pub fn pcdr(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: vec!["sim".into(), "shell".into()],
        }
    }
}

/// How to serve a world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// What the topology's `[shell]` runs.
    pub shell: ShellLauncher,
    /// Advance the world clock one minute this often (running the log-shipping jobs);
    /// `None` leaves the clock to `tick` and `traffic`.
    pub minute_every: Option<Duration>,
    /// Every instance forces encryption (SQL Server's Force Encryption), as production
    /// instances are set up; `false` offers TLS without forcing it, so that a client
    /// saying OFF encrypts its login only (MS-TDS 2.2.6.5).
    pub force_encryption: bool,
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world could not be opened or written.
    #[error(transparent)]
    World(#[from] WorldError),
    /// An instance's address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The loopback address the instance was to listen on.
        addr: SocketAddr,
        /// Why binding it failed.
        source: std::io::Error,
    },
}

/// A served world; dropping it stops every server.
#[derive(Debug)]
pub struct ServingWorld {
    world: Arc<World>,
    addrs: BTreeMap<InstanceId, SocketAddr>,
    topology: PathBuf,
    watcher: JoinHandle<()>,
    clock: Option<JoinHandle<()>>,
}

impl ServingWorld {
    /// The world being served.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// Where `instance` listens.
    pub fn addr(&self, instance: InstanceId) -> Option<SocketAddr> {
        self.addrs.get(&instance).copied()
    }

    /// The topology file written for this world.
    pub fn topology_path(&self) -> &Path {
        &self.topology
    }
}

impl Drop for ServingWorld {
    fn drop(&mut self) {
        self.watcher.abort();
        if let Some(clock) = &self.clock {
            clock.abort();
        }
    }
}

/// A served instance: its engine, what it offers in PRELOGIN, and its listener while it
/// is up.
struct Served {
    engine: Arc<InstanceEngine>,
    encryption: ServerEncryption,
    handle: Option<ServerHandle>,
}

type Servers = BTreeMap<InstanceId, Served>;

/// Serves the world in `dir`: starts the four instances (port 0 picks free ports), each
/// forcing encryption with its certificate unless `options` say otherwise, as production
/// instances are set up (the
/// topology requires encryption and trusts the world's authority), writes
/// `DIR/topology.toml`, and keeps instances marked down closed.
pub async fn serve(dir: &Path, options: &ServeOptions) -> Result<ServingWorld, ServeError> {
    let world = Arc::new(World::open(dir)?);
    let mut servers = Servers::new();
    let mut addrs = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for id in InstanceId::ALL {
        let engine = Arc::new(InstanceEngine::new(Arc::clone(&world), id)?);
        let certificate = world.server_certificate(id)?;
        let encryption = if options.force_encryption {
            ServerEncryption::Forced(certificate)
        } else {
            ServerEncryption::Available(certificate)
        };
        let handle = start(&engine, &encryption, id, 0).await?;
        addrs.insert(id, handle.local_addr());
        ports.insert(id, handle.local_addr().port());
        let handle = Some(handle);
        servers.insert(
            id,
            Served {
                engine,
                encryption,
                handle,
            },
        );
    }
    let topology = world.write_topology(&ports, &options.shell)?;
    let servers = Arc::new(Mutex::new(servers));
    let watcher = tokio::spawn(watch(Arc::clone(&world), servers, ports));
    let clock = options.minute_every.map(|every| {
        let world = Arc::clone(&world);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = world.tick(1) {
                    tracing::warn!(%error, "the world clock could not advance");
                }
            }
        })
    });
    Ok(ServingWorld {
        world,
        addrs,
        topology,
        watcher,
        clock,
    })
}

async fn start(
    engine: &Arc<InstanceEngine>,
    encryption: &ServerEncryption,
    id: InstanceId,
    port: u16,
) -> Result<ServerHandle, ServeError> {
    let ip: IpAddr = id.host().parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let addr = SocketAddr::new(ip, port);
    let engine: Arc<dyn crate::tds::Engine> = engine.clone();
    Server::start(
        addr,
        engine,
        id.server_name().to_owned(),
        encryption.clone(),
    )
    .await
    .map_err(|source| ServeError::Bind { addr, source })
}

/// Closes instances that are down and reopens those that are back, on their ports.
async fn watch(world: Arc<World>, servers: Arc<Mutex<Servers>>, ports: BTreeMap<InstanceId, u16>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Ok(state) = world.read() else {
            continue;
        };
        let mut servers = servers.lock().await;
        for (id, served) in servers.iter_mut() {
            let down = state.faults.down.contains(id);
            if down && served.handle.is_some() {
                served.handle = None;
            } else if !down && served.handle.is_none() {
                let port = ports.get(id).copied().unwrap_or(0);
                match start(&served.engine, &served.encryption, *id, port).await {
                    Ok(started) => served.handle = Some(started),
                    Err(error) => tracing::warn!(%error, "could not reopen an instance"),
                }
            }
        }
    }
}

/// How long the serving process may take to open or close an instance's listener.
const LISTENER_SETTLE: Duration = Duration::from_secs(5);

/// Waits until the site's instances of a served world accept connections (`up`) or
/// refuse them, so that a change to the world (a disaster, a rebuild) has taken effect
/// when it returns. A world that is not being served (no `DIR/topology.toml`) has
/// nothing to wait for.
pub async fn wait_for_site(dir: &Path, site: Site, up: bool) -> Result<(), String> {
    wait_for_instances(dir, &site.instances(), up).await
}

/// Waits until `instances` of a served world accept connections (`up`) or refuse them.
pub async fn wait_for_instances(
    dir: &Path,
    instances: &[InstanceId],
    up: bool,
) -> Result<(), String> {
    use pcdr_core::topology::Topology;
    let Ok(topology) = Topology::load(&dir.join("topology.toml")) else {
        return Ok(());
    };
    let sites = [&topology.sites.primary, &topology.sites.backup];
    // Addresses collected before awaiting: a borrowing iterator held across the awaits
    // would keep the future from being `Send` for every lifetime.
    let addresses: Vec<String> = sites
        .into_iter()
        .flat_map(|site| std::iter::once(&site.sql).chain(site.mirror.as_ref()))
        .filter(|endpoint| instances.iter().any(|i| i.host() == endpoint.host))
        .filter_map(|endpoint| {
            let port = endpoint.address.port()?;
            Some(format!("{}:{port}", endpoint.host))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + LISTENER_SETTLE;
    for address in addresses {
        while tokio::net::TcpStream::connect(&address).await.is_ok() != up {
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "{address} did not {} in time",
                    if up { "come up" } else { "go down" }
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
