//! The TDS 7.4 wire layer of the SQL Server emulator: a TDS server, with TLS as
//! MS-TDS carries it or without, that tiberius, FreeTDS and pymssql can log in to,
//! which hands every SQL batch and RPC to an [`Engine`] and encodes its [`Response`].
//!
//! One file per protocol piece: `packet` (framing), `prelogin` (and its encryption
//! negotiation), `tls` (the handshake inside PRELOGIN packets), `handshake` (a
//! connection's opening, up to LOGIN7), `login7`, `ntlm` (Windows logins, MS-NLMP),
//! `batch`, `rpc`, `headers` (ALL_HEADERS), `token` and `rows` (encoders),
//! `types` (value layouts), `response` (which tokens a reply holds),
//! `session` and `server` (sockets), `registry` (SPIDs and KILL), `engine`
//! (the contract with the emulated engine), and `fuzz` (an entry point for the fuzzer
//! only). This module knows nothing of T-SQL.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use pcdr_sim::tds::{Engine, Server, ServerEncryption};
//! # async fn run(engine: Arc<dyn Engine>) -> std::io::Result<()> {
//! let plain = ServerEncryption::NotSupported;
//! let server = Server::start("127.0.0.1:0".parse().unwrap(), engine, "SQLPC01".into(), plain)
//!     .await?;
//! println!("connect tiberius to {}", server.local_addr());
//! # Ok(())
//! # }
//! ```

mod batch;
mod cursor;
mod engine;
mod error;
pub mod fuzz;
mod handshake;
mod headers;
mod login7;
mod ntlm;
mod packet;
mod prelogin;
mod registry;
mod response;
mod rows;
mod rpc;
mod server;
mod session;
mod tls;
mod token;
mod types;

pub use engine::{
    Column, ColumnType, Engine, LoginAccepted, LoginRequest, Request, Response, ResultSet,
    RpcParam, RpcProcedure, RpcRequest, ServerMessage, StatementResult, Value,
};
pub use ntlm::NtlmProof;
pub use registry::{SessionInfo, SessionRegistry};
pub use server::{Server, ServerHandle};
pub use tls::{ServerCertificate, ServerEncryption};
