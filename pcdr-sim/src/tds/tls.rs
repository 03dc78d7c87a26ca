//! TLS as TDS 7.x carries it: the handshake travels inside PRELOGIN (0x12) packets,
//! then TLS records run directly on the TCP stream, with TDS packets inside them
//! (MS-TDS 2.2.6.5, "this message stream is also used to wrap the SSL handshake
//! payload", <https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tds/60f56408-0188-4cd5-8b90-25c6f2423868>,
//! and the server's "TLS/SSL Negotiation" state of MS-TDS 3.3.5).
//!
//! Owns the server's certificate ([`ServerCertificate`]), what the server offers
//! ([`ServerEncryption`]) and the framing of the handshake ([`PreloginFraming`]). The
//! emulated SQL Server 2016 speaks TLS 1.2 only, as SQL Server 2016 does ("TLS 1.2
//! support for Microsoft SQL Server",
//! <https://learn.microsoft.com/en-us/troubleshoot/sql/database-engine/connect/tls-1-2-support-microsoft-sql-server>);
//! TLS 1.3 is TDS 8.0's, which the emulator does not speak.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::packet::{DEFAULT_PACKET_SIZE, HEADER_LEN, PacketHeader, PacketType, frame_message};
use super::prelogin::Offer;

/// A server certificate with its private key, ready to serve TLS 1.2.
#[derive(Clone)]
pub struct ServerCertificate {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerCertificate")
    }
}

impl ServerCertificate {
    /// A certificate chain (the server's certificate first) and its private key, both
    /// PEM; an error names what could not be read.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> io::Result<Self> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("the certificate chain is not PEM: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| invalid(format!("the private key is not PEM: {e}")))?;
        let config = ServerConfig::builder_with_provider(Arc::new(ring_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .map_err(|e| invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| invalid(format!("the certificate and key do not fit: {e}")))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Runs the server side of the handshake over PRELOGIN packets; on success the
    /// stream carries TLS records directly.
    pub(crate) async fn accept<S>(
        &self,
        stream: S,
        spid: u16,
    ) -> io::Result<TlsStream<PreloginFraming<S>>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.config));
        let mut tls = acceptor.accept(PreloginFraming::new(stream, spid)).await?;
        tls.get_mut().0.handshake_done();
        Ok(tls)
    }
}

/// rustls's *ring* provider. rustls deprecates it for lacking post-quantum key exchange,
/// which only TLS 1.3 uses; the emulator speaks TLS 1.2, and *ring* (unlike aws-lc-rs)
/// builds with a plain C compiler for every target pcdr is built for.
#[expect(
    deprecated,
    reason = "post-quantum key exchange is TLS 1.3's; this server is TLS 1.2"
)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// What a server offers in PRELOGIN: SQL Server's certificate and "Force Encryption"
/// settings (SQL Server Configuration Manager, "Enable encrypted connections to the
/// Database Engine",
/// <https://learn.microsoft.com/en-us/sql/database-engine/configure-windows/enable-encrypted-connections-to-the-database-engine>).
#[derive(Debug, Clone)]
pub enum ServerEncryption {
    /// No certificate: ENCRYPT_NOT_SUP; a client that wants TLS ends the connection.
    NotSupported,
    /// A certificate, encryption not forced: the whole connection is encrypted when
    /// the client asks for it, the login alone when the client says OFF.
    Available(ServerCertificate),
    /// Force Encryption: every connection is encrypted (ENCRYPT_REQ); a client without
    /// TLS is disconnected.
    Forced(ServerCertificate),
}

impl ServerEncryption {
    /// The offer the PRELOGIN negotiation starts from.
    pub(crate) fn offer(&self) -> Offer {
        match self {
            Self::NotSupported => Offer::NotSupported,
            Self::Available(_) => Offer::Available,
            Self::Forced(_) => Offer::Forced,
        }
    }

    /// The certificate, when the server has one.
    pub(crate) fn certificate(&self) -> Option<&ServerCertificate> {
        match self {
            Self::NotSupported => None,
            Self::Available(certificate) | Self::Forced(certificate) => Some(certificate),
        }
    }
}

/// A stream that, while the TLS handshake runs, reads the bodies of the client's
/// PRELOGIN packets and sends what TLS writes as PRELOGIN packets (framed at each
/// flush, at most the pre-login packet size each), and once the handshake is done
/// passes bytes through untouched.
pub(crate) struct PreloginFraming<S> {
    inner: S,
    spid: u16,
    handshaking: bool,
    /// The next incoming packet header, as far as it has arrived.
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// Bytes of the current incoming packet's body not yet handed to TLS.
    body_left: usize,
    /// What TLS wrote since the last flush.
    outgoing: Vec<u8>,
    /// Framed packets not yet written to the socket, from `sent` on.
    framed: Vec<u8>,
    sent: usize,
}

impl<S> PreloginFraming<S> {
    fn new(inner: S, spid: u16) -> Self {
        Self {
            inner,
            spid,
            handshaking: true,
            header: [0; HEADER_LEN],
            header_len: 0,
            body_left: 0,
            outgoing: Vec::new(),
            framed: Vec::new(),
            sent: 0,
        }
    }

    /// From now on bytes pass through unframed.
    fn handshake_done(&mut self) {
        debug_assert!(self.outgoing.is_empty() && self.framed.is_empty());
        self.handshaking = false;
    }

    /// The socket, for a connection that drops TLS after the login.
    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> PreloginFraming<S> {
    /// Reads the next packet header; `false` when the client closed the connection
    /// between packets.
    fn poll_header(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        while self.header_len < HEADER_LEN {
            let mut rest = ReadBuf::new(&mut self.header[self.header_len..]);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rest))?;
            let read = rest.filled().len();
            if read == 0 && self.header_len == 0 {
                return Poll::Ready(Ok(false));
            }
            if read == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            self.header_len += read;
        }
        self.header_len = 0;
        let header = PacketHeader::decode(self.header).map_err(|e| invalid(e.to_string()))?;
        if header.ty != PacketType::PreLogin {
            return Poll::Ready(Err(invalid(format!(
                "expected a PRELOGIN packet carrying the TLS handshake, got type 0x{:02X}",
                header.ty as u8
            ))));
        }
        self.body_left = usize::from(header.length) - HEADER_LEN;
        Poll::Ready(Ok(true))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PreloginFraming<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.handshaking {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        while this.body_left == 0 {
            if !ready!(this.poll_header(cx))? {
                return Poll::Ready(Ok(()));
            }
        }
        let limit = this.body_left.min(buf.remaining());
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(limit));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut part))?;
        let read = part.filled().len();
        if read == 0 {
            return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
        }
        this.body_left -= read;
        buf.advance(read);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PreloginFraming<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.handshaking {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.outgoing.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.outgoing.is_empty() {
            let packets = frame_message(
                PacketType::PreLogin,
                &this.outgoing,
                DEFAULT_PACKET_SIZE,
                this.spid,
            );
            this.framed.extend_from_slice(&packets);
            this.outgoing.clear();
        }
        while this.sent < this.framed.len() {
            let written =
                ready!(Pin::new(&mut this.inner).poll_write(cx, &this.framed[this.sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.sent += written;
        }
        this.framed.clear();
        this.sent = 0;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn packet(ty: PacketType, body: &[u8]) -> Vec<u8> {
        frame_message(ty, body, DEFAULT_PACKET_SIZE, 0)
    }

    #[tokio::test]
    async fn handshake_bytes_are_read_from_prelogin_packet_bodies() {
        let (client, server) = tokio::io::duplex(1024);
        let mut framing = PreloginFraming::new(server, 51);
        let mut client = client;
        let mut wire = packet(PacketType::PreLogin, b"hello ");
        wire.extend(packet(PacketType::PreLogin, b"world"));
        client.write_all(&wire).await.unwrap();
        drop(client);
        let mut read = Vec::new();
        framing.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"hello world");
    }

    #[tokio::test]
    async fn another_packet_type_during_the_handshake_is_refused() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut framing = PreloginFraming::new(server, 51);
        client
            .write_all(&packet(PacketType::Login7, b"x"))
            .await
            .unwrap();
        let error = framing.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn handshake_writes_go_out_as_one_prelogin_message_per_flush() {
        let (mut client, server) = tokio::io::duplex(16 * 1024);
        let mut framing = PreloginFraming::new(server, 51);
        framing.write_all(&[7; 3000]).await.unwrap();
        framing.write_all(&[8; 3000]).await.unwrap();
        framing.flush().await.unwrap();
        let mut expected = vec![7; 3000];
        expected.extend([8; 3000]);
        let expected = frame_message(PacketType::PreLogin, &expected, DEFAULT_PACKET_SIZE, 51);
        let mut wire = vec![0; expected.len()];
        client.read_exact(&mut wire).await.unwrap();
        assert_eq!(wire, expected);
        assert_eq!(wire[0], PacketType::PreLogin as u8);
    }

    #[tokio::test]
    async fn after_the_handshake_bytes_pass_through() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut framing = PreloginFraming::new(server, 51);
        framing.handshake_done();
        framing.write_all(b"record").await.unwrap();
        framing.flush().await.unwrap();
        let mut wire = [0; 6];
        client.read_exact(&mut wire).await.unwrap();
        assert_eq!(&wire, b"record");
    }
}
