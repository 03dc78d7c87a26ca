//! One client connection, from PRELOGIN to close: the login handshake, then a
//! request loop that keeps reading the socket while the engine works, so an
//! ATTENTION can cancel the running request.
//!
//! Owns the session state machine and the socket. It never interprets SQL;
//! requests go to the [`Engine`] as decoded.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::batch::decode_batch;
use super::engine::{Engine, Request};
use super::error::ProtocolError;
use super::login7::decode_login7;
use super::packet::{
    DEFAULT_PACKET_SIZE, Incoming, MESSAGE_STALL_LIMIT, Message, PacketType, frame_message,
    read_message,
};
use super::prelogin::{decode_client_prelogin, encode_server_prelogin};
use super::registry::{Registration, SessionInfo};
use super::response::{
    RequestKind, attention_ack, encode_response, error_reply, ignored_ack, login_accepted,
    malformed_request,
};
use super::rpc::decode_rpc;

/// What a session needs from its server.
#[derive(Clone)]
pub(crate) struct ServerContext {
    /// The emulated engine.
    pub(crate) engine: Arc<dyn Engine>,
    /// Server name sent in ERROR and INFO tokens.
    pub(crate) server_name: Arc<str>,
}

/// Why a session ended without a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    ClientClosed,
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
    let mut session = Session::new(stream, registration.info(), server);
    let outcome = tokio::select! {
        outcome = session.run() => outcome,
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

struct Session {
    inbox: Inbox,
    writer: OwnedWriteHalf,
    packet_size: usize,
    info: SessionInfo,
    server: ServerContext,
    logged_in: Option<LoggedIn>,
}

impl Session {
    fn new(stream: TcpStream, info: SessionInfo, server: ServerContext) -> Self {
        let (reader, writer) = stream.into_split();
        Self {
            inbox: Inbox::spawn(reader),
            writer,
            packet_size: DEFAULT_PACKET_SIZE,
            info,
            server,
            logged_in: None,
        }
    }

    async fn run(&mut self) -> Result<Ended, ProtocolError> {
        if !self.prelogin().await? {
            return Ok(Ended::ClientClosed);
        }
        if let Flow::End(ended) = self.login().await? {
            return Ok(ended);
        }
        loop {
            let Some(incoming) = self.inbox.next().await? else {
                return Ok(Ended::ClientClosed);
            };
            if let Flow::End(ended) = self.handle(incoming).await? {
                return Ok(ended);
            }
        }
    }

    /// Answers the client's PRELOGIN; `false` if the client left first.
    async fn prelogin(&mut self) -> Result<bool, ProtocolError> {
        let Some(message) = self.inbox.next_message("PRELOGIN").await? else {
            return Ok(false);
        };
        expect_type(&message, PacketType::PreLogin, "PRELOGIN")?;
        if decode_client_prelogin(&message.payload)?.requires_encryption() {
            warn!(
                spid = self.info.spid(),
                "the client requires TLS, which the emulator does not offer; \
                 configure it with EncryptionLevel::NotSupported or encrypt=DANGER_PLAINTEXT"
            );
        }
        self.send(&encode_server_prelogin()).await?;
        Ok(true)
    }

    async fn login(&mut self) -> Result<Flow, ProtocolError> {
        let Some(message) = self.inbox.next_message("LOGIN7").await? else {
            return Ok(Flow::End(Ended::ClientClosed));
        };
        if message.ty == PacketType::PreLogin {
            return Err(ProtocolError::invalid(
                "login",
                "the client started a TLS handshake, but the emulator has no TLS; \
                 use EncryptionLevel::NotSupported or encrypt=DANGER_PLAINTEXT",
            ));
        }
        expect_type(&message, PacketType::Login7, "LOGIN7")?;
        let login = decode_login7(&message.payload)?;
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

fn expect_type(
    message: &Message,
    ty: PacketType,
    expected: &'static str,
) -> Result<(), ProtocolError> {
    if message.ty == ty {
        Ok(())
    } else {
        Err(ProtocolError::UnexpectedMessage {
            expected,
            got: message.ty as u8,
        })
    }
}

/// Client messages, read by a task of their own so that waiting for one can be
/// cancelled at any time without losing bytes.
struct Inbox {
    messages: mpsc::Receiver<Result<Incoming, ProtocolError>>,
    reader: JoinHandle<()>,
}

impl Inbox {
    fn spawn(mut socket: OwnedReadHalf) -> Self {
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

    /// The next message during login, where IGNORE makes no sense.
    async fn next_message(
        &mut self,
        expected: &'static str,
    ) -> Result<Option<Message>, ProtocolError> {
        match self.next().await? {
            None => Ok(None),
            Some(Incoming::Message(message)) => Ok(Some(message)),
            Some(Incoming::Ignored) => Err(ProtocolError::invalid(
                expected,
                "the client sent an IGNORE message",
            )),
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
