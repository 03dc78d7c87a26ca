//! The TCP listener: accepts connections, gives each a SPID from the
//! [`SessionRegistry`] and serves it on a task of its own.
//!
//! Owns the listener's lifetime; [`ServerHandle`] stops it on
//! [`shutdown`](ServerHandle::shutdown) or drop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::engine::Engine;
use super::registry::SessionRegistry;
use super::session::{ServerContext, serve};
use super::tls::ServerEncryption;

/// Pause after a failed accept (e.g. out of file descriptors) before retrying.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// A TDS 7.4 server answering with an [`Engine`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port) and serves every
    /// connection with `engine`; `name` is the server name in ERROR and INFO tokens, and
    /// `encryption` what the server offers in PRELOGIN.
    pub async fn start(
        addr: SocketAddr,
        engine: Arc<dyn Engine>,
        name: String,
        encryption: ServerEncryption,
    ) -> io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let registry = Arc::new(SessionRegistry::new());
        let context = ServerContext {
            engine,
            server_name: name.into(),
            encryption,
        };
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&registry), context));
        debug!(%local_addr, "TDS emulator listening");
        Ok(ServerHandle {
            local_addr,
            registry,
            accept_task,
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    registry: Arc<SessionRegistry>,
    context: ServerContext,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let Some((registration, killed)) = registry.register() else {
            warn!(%peer, "connection refused: every SPID is in use");
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%error, "could not disable Nagle's algorithm");
        }
        debug!(%peer, spid = registration.spid(), "session accepted");
        tokio::spawn(serve(stream, registration, killed, context.clone()));
    }
}

/// A running [`Server`]. Dropping it shuts the server down.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    registry: Arc<SessionRegistry>,
    accept_task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's live sessions.
    pub fn registry(&self) -> &Arc<SessionRegistry> {
        &self.registry
    }

    /// Stops accepting connections and ends every session.
    pub fn shutdown(&self) {
        self.accept_task.abort();
        self.registry.kill_all();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
