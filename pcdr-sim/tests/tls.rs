//! TLS between pcdr's database plane (tiberius through pcdr-core's `SqlPlane`) and the
//! emulator, on loopback: what crosses the wire, the negotiation outcomes of MS-TDS
//! 2.2.6.5 (the whole connection, the login only, none), and the connection failures
//! pcdr names (an untrusted certificate, a certificate for another name, a server that
//! refuses encryption), each with its own next action and each counted as an answering
//! server by the liveness rule.
//!
//! Each test serves one instance of a fresh world with a [`ServerEncryption`] of its
//! choosing, behind a small TCP proxy that records every byte in both directions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pcdr_core::adapters::sql::SqlPlane;
use pcdr_core::planes::DatabasePlane;
use pcdr_core::topology::{Encrypt, PasswordSource, Secret, SqlAddress, SqlEndpoint, SqlSettings};
use pcdr_core::{ConnectFailure, PlaneError};
use pcdr_sim::engine::InstanceEngine;
use pcdr_sim::tds::{Engine, Server, ServerEncryption, ServerHandle};
use pcdr_sim::world::certs::{CertificateAuthority, instance_names};
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::{World, WorldOptions};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "Wire-Secret-7f3a";
/// A fragment of the statement behind `database_state`.
const STATEMENT: &str = "FROM sys.databases WHERE name = @db";

/// The certificate the served instance presents.
#[derive(Clone, Copy)]
enum Presents {
    /// The world's own certificate for the primary, which the world's authority issued.
    WorldCertificate,
    /// A certificate for the primary's names from an authority pcdr does not trust.
    FromAnotherAuthority,
    /// A certificate for another host, from an authority pcdr trusts.
    ForAnotherName,
    /// No certificate: the server answers ENCRYPT_NOT_SUP.
    Nothing,
}

/// The name in the certificate [`Presents::ForAnotherName`] serves.
const OTHER_NAME: &str = "sql-elsewhere.contoso.com";

/// The primary instance of a fresh world, served behind a recording proxy.
struct Served {
    dir: TempDir,
    _server: ServerHandle,
    proxy: SocketAddr,
    wire: Wire,
    /// The authority pcdr trusts.
    ca_file: PathBuf,
}

impl Served {
    /// Serves `presents`, forcing encryption, or offering it without forcing when
    /// `forced` is false.
    async fn start(presents: Presents, forced: bool) -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = WorldOptions {
            password: Some(PASSWORD.into()),
            ..WorldOptions::default()
        };
        let world = Arc::new(World::create(dir.path(), &options).expect("create the world"));
        let mut ca_file = world.ca_file();
        let certificate = match presents {
            Presents::WorldCertificate => Some(
                world
                    .server_certificate(InstanceId::Primary)
                    .expect("the world's certificate"),
            ),
            Presents::FromAnotherAuthority => {
                let names = instance_names(InstanceId::Primary);
                Some(
                    another_authority()
                        .issue(&[&names[0], &names[1]])
                        .unwrap()
                        .server_certificate()
                        .expect("a certificate from another authority"),
                )
            }
            Presents::ForAnotherName => {
                let authority = another_authority();
                ca_file = dir.path().join("other-ca.pem");
                std::fs::write(&ca_file, authority.cert_pem()).unwrap();
                let issued = authority.issue(&[OTHER_NAME]).unwrap();
                Some(
                    issued
                        .server_certificate()
                        .expect("a certificate for another name"),
                )
            }
            Presents::Nothing => None,
        };
        let encryption = match (certificate, forced) {
            (Some(certificate), true) => ServerEncryption::Forced(certificate),
            (Some(certificate), false) => ServerEncryption::Available(certificate),
            (None, _) => ServerEncryption::NotSupported,
        };
        let engine: Arc<dyn Engine> =
            Arc::new(InstanceEngine::new(world, InstanceId::Primary).expect("the engine"));
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(addr, engine, "SQLPC-ATL".into(), encryption)
            .await
            .expect("listen on loopback");
        let (proxy, wire) = recording_proxy(server.local_addr()).await;
        Served {
            dir,
            _server: server,
            proxy,
            wire,
            ca_file,
        }
    }

    /// pcdr's plane for the instance, through the proxy, trusting [`Served::ca_file`].
    fn plane(&self, encrypt: Encrypt, host_in_certificate: Option<&str>) -> SqlPlane {
        let endpoint = SqlEndpoint {
            host: "127.0.0.1".into(),
            address: SqlAddress::Port(self.proxy.port()),
            host_in_certificate: host_in_certificate.map(str::to_owned),
            fqdn: Some(InstanceId::Primary.fqdn().to_owned()),
        };
        let settings = SqlSettings {
            user: Some("pcdr".into()),
            password: PasswordSource::File(self.dir.path().join("sql-password")),
            encrypt,
            trust_server_certificate: false,
            trust_ca_file: Some(self.ca_file.clone()),
            allow_plaintext: false,
            command_timeout_secs: 0,
        };
        SqlPlane::new(&endpoint, &settings, Some(Secret::new(PASSWORD.into())))
    }
}

fn another_authority() -> CertificateAuthority {
    CertificateAuthority::new("another CA").expect("a certificate authority")
}

/// Every byte a proxy forwarded, per direction.
#[derive(Clone, Default)]
struct Wire {
    to_server: Arc<Mutex<Vec<u8>>>,
    to_client: Arc<Mutex<Vec<u8>>>,
}

impl Wire {
    fn to_server(&self) -> Vec<u8> {
        self.to_server.lock().unwrap().clone()
    }

    fn to_client(&self) -> Vec<u8> {
        self.to_client.lock().unwrap().clone()
    }
}

/// A proxy on loopback forwarding every connection to `target` and recording the bytes.
async fn recording_proxy(target: SocketAddr) -> (SocketAddr, Wire) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = Wire::default();
    let recorded = wire.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(forward(
                client_read,
                server_write,
                Arc::clone(&recorded.to_server),
            ));
            tokio::spawn(forward(
                server_read,
                client_write,
                Arc::clone(&recorded.to_client),
            ));
        }
    });
    (addr, wire)
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = [0; 8192];
    while let Ok(read) = from.read(&mut buf).await {
        if read == 0 || to.write_all(&buf[..read]).await.is_err() {
            break;
        }
        log.lock().unwrap().extend_from_slice(&buf[..read]);
    }
    let _ = to.shutdown().await;
}

/// Text as TDS carries it: UTF-16LE.
fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The password as LOGIN7 carries it: UTF-16LE with each byte's nibbles swapped and
/// XORed with 0xA5 (MS-TDS 2.2.6.4,
/// <https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tds/773a62b6-ee89-4c02-9e5e-344882630aac>).
fn login7_password(password: &str) -> Vec<u8> {
    utf16(password)
        .into_iter()
        .map(|b| b.rotate_left(4) ^ 0xA5)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What of the login and the statement a capture shows in clear text.
#[derive(Debug, PartialEq, Eq)]
struct Readable {
    password: bool,
    statement: bool,
}

fn readable(wire: &Wire) -> Readable {
    let sent = wire.to_server();
    Readable {
        password: contains(&sent, &login7_password(PASSWORD))
            || contains(&sent, &utf16(PASSWORD))
            || contains(&sent, PASSWORD.as_bytes()),
        statement: contains(&sent, &utf16(STATEMENT)) || contains(&sent, STATEMENT.as_bytes()),
    }
}

fn connect_failure(error: &PlaneError) -> ConnectFailure {
    match error {
        PlaneError::ConnectFailed { failure, .. } => *failure,
        other => panic!("expected a connect failure, got {other}"),
    }
}

#[tokio::test]
async fn the_login_and_the_statements_are_not_readable_on_the_wire() {
    let served = Served::start(Presents::WorldCertificate, true).await;
    let state = served
        .plane(Encrypt::Required, None)
        .database_state("mgc")
        .await;
    assert!(state.expect("database_state over TLS").is_some());
    assert_eq!(
        readable(&served.wire),
        Readable {
            password: false,
            statement: false
        }
    );
    println!(
        "ok: {} bytes to the server and {} back, neither the password nor {STATEMENT:?} in them",
        served.wire.to_server().len(),
        served.wire.to_client().len()
    );
}

/// The control for the test above: the same capture of a plain-text connection shows
/// both, so their absence there is the encryption's doing.
#[tokio::test]
async fn without_tls_the_capture_shows_the_login_and_the_statements() {
    let served = Served::start(Presents::Nothing, true).await;
    let state = served
        .plane(Encrypt::NotSupported, None)
        .database_state("mgc")
        .await;
    assert!(state.expect("database_state in plain text").is_some());
    assert_eq!(
        readable(&served.wire),
        Readable {
            password: true,
            statement: true
        }
    );
}

/// MS-TDS 2.2.6.5: a client and a server that both say ENCRYPT_OFF encrypt the login
/// packet only.
#[tokio::test]
async fn encryption_off_hides_the_login_but_not_the_statements() {
    let served = Served::start(Presents::WorldCertificate, false).await;
    let state = served.plane(Encrypt::Off, None).database_state("mgc").await;
    assert!(state.expect("database_state after a TLS login").is_some());
    assert_eq!(
        readable(&served.wire),
        Readable {
            password: false,
            statement: true
        }
    );
}

/// A server that forces encryption encrypts a client that says ENCRYPT_OFF throughout.
#[tokio::test]
async fn a_server_forcing_encryption_encrypts_a_client_that_says_off_throughout() {
    let served = Served::start(Presents::WorldCertificate, true).await;
    let state = served.plane(Encrypt::Off, None).database_state("mgc").await;
    assert!(state.expect("database_state").is_some());
    assert_eq!(
        readable(&served.wire),
        Readable {
            password: false,
            statement: false
        }
    );
}

#[tokio::test]
async fn a_certificate_from_another_authority_is_named_untrusted() {
    let served = Served::start(Presents::FromAnotherAuthority, true).await;
    let error = served
        .plane(Encrypt::Required, None)
        .server_name()
        .await
        .expect_err("a certificate from an authority pcdr does not trust");
    assert_eq!(
        connect_failure(&error),
        ConnectFailure::UntrustedCertificate,
        "{error}"
    );
    assert!(!error.is_unanswered(), "the server answered: {error}");
    assert!(error.next_action().contains("sql.trust_ca_file"), "{error}");
    println!("ok: {error}\n    next: {}", error.next_action());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_mismatch_unless_the_endpoint_expects_that_name() {
    let served = Served::start(Presents::ForAnotherName, true).await;
    let error = served
        .plane(Encrypt::Required, None)
        .server_name()
        .await
        .expect_err("a certificate for another host");
    assert_eq!(
        connect_failure(&error),
        ConnectFailure::CertificateNameMismatch,
        "{error}"
    );
    assert!(!error.is_unanswered(), "the server answered: {error}");
    assert!(
        error.next_action().contains("host_in_certificate"),
        "{error}"
    );
    println!("ok: {error}\n    next: {}", error.next_action());

    let expected = served
        .plane(Encrypt::Required, Some(OTHER_NAME))
        .server_name()
        .await;
    assert_eq!(
        expected.expect("host_in_certificate names the certificate's host"),
        "SQLPC-ATL"
    );
}

#[tokio::test]
async fn a_server_without_a_certificate_is_named_refusing_encryption() {
    let served = Served::start(Presents::Nothing, true).await;
    let error = served
        .plane(Encrypt::Required, None)
        .server_name()
        .await
        .expect_err("a server that cannot encrypt");
    assert_eq!(
        connect_failure(&error),
        ConnectFailure::EncryptionRefused,
        "{error}"
    );
    assert!(!error.is_unanswered(), "the server answered: {error}");
    assert!(error.next_action().contains("certificate"), "{error}");
    println!("ok: {error}\n    next: {}", error.next_action());
}

/// MS-TDS 2.2.6.5: a client without TLS (ENCRYPT_NOT_SUP) and a server that requires it:
/// the server answers ENCRYPT_REQ and ends the connection, and nothing was logged in.
#[tokio::test]
async fn a_server_forcing_encryption_disconnects_a_client_without_tls() {
    let served = Served::start(Presents::WorldCertificate, true).await;
    let mut client = TcpStream::connect(served.proxy).await.unwrap();
    // PRELOGIN: VERSION at 11 (6 bytes), ENCRYPTION at 17 (1 byte), terminator.
    let options = [
        0x00, 0x00, 0x0B, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xFF, 0x0D, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02,
    ];
    let mut packet = vec![0x12, 0x01, 0x00, (8 + options.len()) as u8, 0, 0, 1, 0];
    packet.extend_from_slice(&options);
    client.write_all(&packet).await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.read_to_end(&mut reply),
    )
    .await
    .expect("the server ends the connection");
    read.expect("a clean close after the reply");
    assert_eq!(reply[0], 0x04, "a tabular result: {reply:02X?}");
    // The reply's option table: VERSION, then ENCRYPTION with its offset (big-endian).
    let table = &reply[8..];
    assert_eq!(
        table[5], 0x01,
        "ENCRYPTION is the second option: {table:02X?}"
    );
    let offset = usize::from(u16::from_be_bytes([table[6], table[7]]));
    assert_eq!(table[offset], 0x03, "ENCRYPT_REQ: {table:02X?}");
}
