//! Opening a connection, up to its LOGIN7 message: the PRELOGIN exchange, the
//! encryption it negotiates (MS-TDS 2.2.6.5), the TLS handshake when one was agreed, and
//! the stream the session runs on afterwards: TLS for a fully encrypted connection, the
//! bare socket for a plain one or one that encrypted its login only.
//!
//! Owns the socket until the login message has been read; the session owns it after.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::warn;

use super::error::ProtocolError;
use super::packet::{
    DEFAULT_PACKET_SIZE, Incoming, MESSAGE_STALL_LIMIT, Message, PacketType, frame_message,
    read_message,
};
use super::prelogin::{Agreed, decode_client_prelogin, encode_server_prelogin, negotiate};
use super::tls::{PreloginFraming, ServerCertificate, ServerEncryption};

/// How long the TLS handshake may take once the PRELOGIN reply is sent.
const HANDSHAKE_LIMIT: Duration = MESSAGE_STALL_LIMIT;

/// The byte stream a session runs on: TLS or the bare socket.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// How opening a connection ended.
pub(crate) enum Opening {
    /// The client logged in far enough to send LOGIN7, read over `transport`.
    Login {
        /// The stream for the rest of the session.
        transport: Box<dyn Transport>,
        /// The client's LOGIN7 message.
        login: Message,
    },
    /// The client closed the connection before sending LOGIN7.
    ClientClosed,
    /// The server requires encryption and the client has none: the server closed the
    /// connection after its PRELOGIN reply.
    EncryptionRequired,
}

/// Answers the client's PRELOGIN as `encryption` allows, runs the TLS handshake when
/// one was agreed, and reads LOGIN7.
pub(crate) async fn open(
    mut socket: TcpStream,
    encryption: &ServerEncryption,
    spid: u16,
) -> Result<Opening, ProtocolError> {
    let Some(prelogin) = next_message(&mut socket, "PRELOGIN").await? else {
        return Ok(Opening::ClientClosed);
    };
    expect_type(&prelogin, PacketType::PreLogin, "PRELOGIN")?;
    let client = decode_client_prelogin(&prelogin.payload)?;
    let (reply, agreed) = negotiate(encryption.offer(), client.encryption)?;
    let packets = frame_message(
        PacketType::TabularResult,
        &encode_server_prelogin(reply),
        DEFAULT_PACKET_SIZE,
        spid,
    );
    socket.write_all(&packets).await?;
    socket.flush().await?;
    match (agreed, encryption.certificate()) {
        (Agreed::Plain, _) => plain(socket).await,
        (Agreed::ClientEnds, _) => {
            warn!(
                spid,
                "the client requires TLS and this server has no certificate; \
                 the client is expected to close the connection"
            );
            plain(socket).await
        }
        (Agreed::ServerEnds, _) => Ok(Opening::EncryptionRequired),
        (Agreed::Full, Some(certificate)) => encrypted(socket, certificate, spid, false).await,
        (Agreed::LoginOnly, Some(certificate)) => encrypted(socket, certificate, spid, true).await,
        (Agreed::Full | Agreed::LoginOnly, None) => Err(ProtocolError::invalid(
            "PRELOGIN",
            "TLS was agreed by a server without a certificate",
        )),
    }
}

/// No encryption: LOGIN7 on the bare socket.
async fn plain(mut socket: TcpStream) -> Result<Opening, ProtocolError> {
    let Some(login) = next_message(&mut socket, "LOGIN7").await? else {
        return Ok(Opening::ClientClosed);
    };
    if login.ty == PacketType::PreLogin {
        return Err(ProtocolError::invalid(
            "login",
            "the client started a TLS handshake, but the server answered ENCRYPT_NOT_SUP",
        ));
    }
    Ok(Opening::Login {
        transport: Box::new(socket),
        login,
    })
}

/// The TLS handshake, then LOGIN7 over TLS. The whole connection stays encrypted, or,
/// with `login_only` (both sides said ENCRYPT_OFF: MS-TDS 2.2.6.5's "encrypt login
/// packet only"), the session goes on on the bare socket. The client sends nothing
/// after LOGIN7 until the server answers, so no plain byte is left in the TLS layer's
/// buffer.
async fn encrypted(
    socket: TcpStream,
    certificate: &ServerCertificate,
    spid: u16,
    login_only: bool,
) -> Result<Opening, ProtocolError> {
    let mut tls = handshake(socket, certificate, spid).await?;
    let Some(login) = next_message(&mut tls, "LOGIN7").await? else {
        return Ok(Opening::ClientClosed);
    };
    let transport: Box<dyn Transport> = if login_only {
        Box::new(tls.into_inner().0.into_inner())
    } else {
        Box::new(tls)
    };
    Ok(Opening::Login { transport, login })
}

async fn handshake(
    socket: TcpStream,
    certificate: &ServerCertificate,
    spid: u16,
) -> Result<TlsStream<PreloginFraming<TcpStream>>, ProtocolError> {
    tokio::time::timeout(HANDSHAKE_LIMIT, certificate.accept(socket, spid))
        .await
        .map_err(|_| ProtocolError::Stalled {
            limit: HANDSHAKE_LIMIT,
        })?
        .map_err(|error| ProtocolError::invalid("TLS handshake", error.to_string()))
}

/// The next message during login, where IGNORE makes no sense; `None` once the client
/// closed the connection.
async fn next_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    expected: &'static str,
) -> Result<Option<Message>, ProtocolError> {
    match read_message(reader, MESSAGE_STALL_LIMIT).await? {
        None => Ok(None),
        Some(Incoming::Message(message)) => Ok(Some(message)),
        Some(Incoming::Ignored) => Err(ProtocolError::invalid(
            expected,
            "the client sent an IGNORE message",
        )),
    }
}

/// Checks a message is of the type the login sequence expects.
pub(crate) fn expect_type(
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
