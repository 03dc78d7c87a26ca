//! One client connection, from PRELOGIN to close: the opening (`handshake.rs`), the
//! login (with a Windows login's NTLM exchange, whose messages are `ntlm.rs`'s), then a
//! request loop that keeps reading the connection while the engine works, so an
//! ATTENTION can cancel the running request.
//!
//! Owns the session state machine and, after the opening, the connection. It never
//! interprets SQL; requests go to the [`Engine`] as decoded.

use std::sync::Arc;

use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::batch::decode_batch;
use super::engine::{Engine, Request};
use super::error::ProtocolError;
use super::handshake::{Opening, Transport, expect_type, open};
use super::login7::decode_login7;
use super::ntlm::{self, NtlmProof};
use super::packet::{
    DEFAULT_PACKET_SIZE, Incoming, MESSAGE_STALL_LIMIT, Message, PacketType, frame_message,
    read_message,
};
use super::registry::{Registration, SessionInfo};
use super::response::{
    RequestKind, attention_ack, encode_response, error_reply, ignored_ack, login_accepted,
    malformed_request,
};
use super::rpc::decode_rpc;
use super::tls::ServerEncryption;
use super::token::put_sspi;

/// What a session needs from its server.
#[derive(Clone)]
pub(crate) struct ServerContext {
    /// The emulated engine.
    pub(crate) engine: Arc<dyn Engine>,
    /// Server name sent in ERROR and INFO tokens.
    pub(crate) server_name: Arc<str>,
    /// What the server offers in PRELOGIN.
    pub(crate) encryption: ServerEncryption,
}

/// Why a session ended without a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    ClientClosed,
    EncryptionRequired,
    LoginRefused,
    Killed,
    ClosedByEngine,
}

/// Whether the request loop goes on.
enum Flow {
    Continue,
    End(Ended),
}

/// Serves one accepted connection until the client leaves, the engine closes
/// it, a protocol error occurs, or the session is killed through the registry.
pub(crate) async fn serve(
    stream: TcpStream,
    registration: Registration,
    killed: oneshot::Receiver<()>,
    server: ServerContext,
) {
    let spid = registration.spid();
    let outcome = tokio::select! {
        outcome = run(stream, registration.info(), server) => outcome,
        _ = killed => Ok(Ended::Killed),
    };
    match outcome {
        Ok(ended) => debug!(spid, ?ended, "session ended"),
        Err(error) => warn!(spid, %error, "session closed after a protocol error"),
    }
}

/// Tells the engine a logged-in session ended, however it ended.
struct LoggedIn {
    engine: Arc<dyn Engine>,
    spid: u16,
}

impl Drop for LoggedIn {
    fn drop(&mut self) {
        self.engine.disconnected(self.spid);
    }
}

/// Opens the connection, then logs the client in and serves its requests.
async fn run(
    stream: TcpStream,
    info: SessionInfo,
    server: ServerContext,
) -> Result<Ended, ProtocolError> {
    let (transport, login) = match open(stream, &server.encryption, info.spid()).await? {
        Opening::Login { transport, login } => (transport, login),
        Opening::ClientClosed => return Ok(Ended::ClientClosed),
        Opening::EncryptionRequired => return Ok(Ended::EncryptionRequired),
    };
    let mut session = Session::new(transport, info, server);
    if let Flow::End(ended) = session.login(login).await? {
        return Ok(ended);
    }
    loop {
        let Some(incoming) = session.inbox.next().await? else {
            return Ok(Ended::ClientClosed);
        };
        if let Flow::End(ended) = session.handle(incoming).await? {
            return Ok(ended);
        }
    }
}

struct Session {
    inbox: Inbox,
    writer: WriteHalf<Box<dyn Transport>>,
    packet_size: usize,
    info: SessionInfo,
    server: ServerContext,
    logged_in: Option<LoggedIn>,
}

impl Session {
    fn new(transport: Box<dyn Transport>, info: SessionInfo, server: ServerContext) -> Self {
        let (reader, writer) = tokio::io::split(transport);
        Self {
            inbox: Inbox::spawn(reader),
            writer,
            packet_size: DEFAULT_PACKET_SIZE,
            info,
            server,
            logged_in: None,
        }
    }

    async fn login(&mut self, message: Message) -> Result<Flow, ProtocolError> {
        expect_type(&message, PacketType::Login7, "LOGIN7")?;
        let mut login = decode_login7(&message.payload)?;
        if let Some(negotiate) = &login.sspi {
            let proof = self.ntlm(negotiate).await?;
            login.request.user = proof.account();
            login.request.windows = Some(proof);
        }
        match self.server.engine.login(&self.info, &login.request) {
            Ok(accepted) => {
                self.logged_in = Some(LoggedIn {
                    engine: Arc::clone(&self.server.engine),
                    spid: self.info.spid(),
                });
                self.send(&login_accepted(&accepted.database, login.packet_size))
                    .await?;
                self.packet_size = login.packet_size;
                Ok(Flow::Continue)
            }
            Err(refusal) => {
                self.send(&error_reply(&refusal, &self.server.server_name))
                    .await?;
                Ok(Flow::End(Ended::LoginRefused))
            }
        }
    }

    /// The NTLM exchange of a Windows login that began with `negotiate` in LOGIN7: the
    /// CHALLENGE_MESSAGE in an SSPI token, then the client's AUTHENTICATE_MESSAGE in an
    /// SSPI message (MS-TDS 2.2.6.8; tiberius sends the one of explicit Windows
    /// credentials with the LOGIN7 packet type, which is accepted too).
    async fn ntlm(&mut self, negotiate: &[u8]) -> Result<NtlmProof, ProtocolError> {
        let flags = ntlm::negotiate_flags(negotiate)?;
        let challenge = ntlm::server_challenge()?;
        let computer = self.server.server_name.split('\\').next();
        let message = ntlm::challenge(flags, computer.unwrap_or_default(), challenge);
        let mut token = Vec::new();
        put_sspi(&mut token, &message);
        self.send(&token).await?;
        match self.inbox.next().await? {
            Some(Incoming::Message(reply))
                if matches!(reply.ty, PacketType::Sspi | PacketType::Login7) =>
            {
                NtlmProof::decode(&reply.payload, challenge)
            }
            Some(Incoming::Message(other)) => Err(ProtocolError::UnexpectedMessage {
                expected: "SSPI",
                got: other.ty as u8,
            }),
            _ => Err(ProtocolError::invalid(
                "SSPI",
                "the client sent no AUTHENTICATE_MESSAGE",
            )),
        }
    }

    async fn handle(&mut self, incoming: Incoming) -> Result<Flow, ProtocolError> {
        let Incoming::Message(message) = incoming else {
            debug!(spid = self.info.spid(), "discarded a message marked IGNORE");
            self.send(&ignored_ack()).await?;
            return Ok(Flow::Continue);
        };
        match message.ty {
            PacketType::Attention => {
                self.send(&attention_ack()).await?;
                Ok(Flow::Continue)
            }
            PacketType::SqlBatch => match decode_batch(&message.payload) {
                Ok(text) => self.execute(Request::Batch(text), RequestKind::Batch).await,
                Err(error) => self.reject(&error.to_string()).await,
            },
            PacketType::Rpc => match decode_rpc(&message.payload) {
                Ok(rpc) => self.execute(Request::Rpc(rpc), RequestKind::Rpc).await,
                Err(error) => self.reject(&error.to_string()).await,
            },
            other => {
                self.reject(&format!(
                    "requests of type {other:?} are not supported by the emulator"
                ))
                .await
            }
        }
    }

    /// Runs a request while watching the socket: ATTENTION drops the engine's
    /// future and is acknowledged; the client leaving ends the session.
    async fn execute(
        &mut self,
        request: Request,
        kind: RequestKind,
    ) -> Result<Flow, ProtocolError> {
        let work = self.server.engine.execute(&self.info, request);
        let response = tokio::select! {
            response = work => response,
            interruption = self.inbox.next() => return self.interrupted(interruption?).await,
        };
        self.send(&encode_response(&response, kind, &self.server.server_name))
            .await?;
        Ok(if response.close_after {
            Flow::End(Ended::ClosedByEngine)
        } else {
            Flow::Continue
        })
    }

    async fn interrupted(&mut self, interruption: Option<Incoming>) -> Result<Flow, ProtocolError> {
        match interruption {
            None => Ok(Flow::End(Ended::ClientClosed)),
            Some(Incoming::Message(Message {
                ty: PacketType::Attention,
                ..
            })) => {
                debug!(spid = self.info.spid(), "request cancelled by ATTENTION");
                self.send(&attention_ack()).await?;
                Ok(Flow::Continue)
            }
            Some(_) => Err(ProtocolError::invalid(
                "request",
                "a new request arrived while the previous one was running (MARS is off)",
            )),
        }
    }

    /// Reports a request the server could not take, keeping the session.
    async fn reject(&mut self, detail: &str) -> Result<Flow, ProtocolError> {
        warn!(spid = self.info.spid(), detail, "request rejected");
        self.send(&error_reply(
            &malformed_request(detail),
            &self.server.server_name,
        ))
        .await?;
        Ok(Flow::Continue)
    }

    /// Sends one reply message, split at the session's packet size.
    async fn send(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        let packets = frame_message(
            PacketType::TabularResult,
            payload,
            self.packet_size,
            self.info.spid(),
        );
        self.writer.write_all(&packets).await?;
        self.writer.flush().await?;
        Ok(())
    }
}

/// Client messages, read by a task of their own so that waiting for one can be
/// cancelled at any time without losing bytes.
struct Inbox {
    messages: mpsc::Receiver<Result<Incoming, ProtocolError>>,
    reader: JoinHandle<()>,
}

impl Inbox {
    fn spawn(mut socket: ReadHalf<Box<dyn Transport>>) -> Self {
        let (sender, messages) = mpsc::channel(1);
        let reader = tokio::spawn(async move {
            loop {
                let read = read_message(&mut socket, MESSAGE_STALL_LIMIT)
                    .await
                    .transpose();
                let Some(read) = read else { break };
                let failed = read.is_err();
                if sender.send(read).await.is_err() || failed {
                    break;
                }
            }
        });
        Self { messages, reader }
    }

    /// The next message; `None` once the client closed the socket.
    async fn next(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        self.messages.recv().await.transpose()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
