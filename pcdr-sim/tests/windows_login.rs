//! Windows authentication against the emulator over a real socket: a LOGIN7 with
//! fIntSecurity and an NTLM NEGOTIATE_MESSAGE (MS-TDS 2.2.6.4), the server's SSPI token
//! with its CHALLENGE_MESSAGE (MS-TDS 2.2.7.22), the client's AUTHENTICATE_MESSAGE in an
//! SSPI message (MS-TDS 2.2.6.8), then LOGINACK, or 18456 "Login failed for user
//! 'CONTOSO\pcdr-svc'." for a wrong password
//! (<https://learn.microsoft.com/sql/relational-databases/errors-events/mssqlserver-18456-database-engine-error>).
//!
//! tiberius sends a Windows login only on Windows (`scripts/test-windows` runs that one);
//! here the client side is the `winauth` crate's NTLMv2 client, the one tiberius itself
//! uses for explicit Windows credentials, over a minimal TDS client written below.

use std::sync::Arc;
use std::time::Duration;

mod raw_tds;

use pcdr_sim::engine::InstanceEngine;
use pcdr_sim::tds::{Engine, Server, ServerEncryption, ServerHandle};
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::{WINDOWS_ACCOUNT, World, WorldOptions};
use raw_tds::{LOGIN7, PRELOGIN, login7, packet, prelogin_body, utf16, with_sspi};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use winauth::NextBytes;

const SSPI_MESSAGE: u8 = 0x11;
const SSPI_TOKEN: u8 = 0xED;
const LOGINACK: u8 = 0xAD;
const ERROR: u8 = 0xAA;
const LIMIT: Duration = Duration::from_secs(10);

/// A LOGIN7 with no user or password, made integrated with `sspi` as its SSPI data.
fn integrated_login7(sspi: &[u8]) -> Vec<u8> {
    let fields = [
        (0, utf16("pcdr-host")),
        (3, utf16("pcdr")),
        (8, utf16("master")),
    ];
    with_sspi(login7(&fields), sspi)
}

/// The payload of the server's next message (all its packets).
async fn read_message(stream: &mut TcpStream) -> Vec<u8> {
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; 8];
        stream
            .read_exact(&mut header)
            .await
            .expect("a packet header");
        let len = usize::from(u16::from_be_bytes([header[2], header[3]])) - 8;
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.expect("a packet body");
        payload.extend_from_slice(&body);
        if header[1] & 0x01 != 0 {
            return payload;
        }
    }
}

/// How the login ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    Refused { number: u32, message: String },
}

/// Reads the token stream after the AUTHENTICATE_MESSAGE: LOGINACK, or the first ERROR.
fn outcome(tokens: &[u8]) -> Outcome {
    match tokens.first() {
        Some(&ERROR) => {
            let number = u32::from_le_bytes(tokens[3..7].try_into().unwrap());
            let units = usize::from(u16::from_le_bytes([tokens[9], tokens[10]]));
            let text: Vec<u16> = tokens[11..11 + 2 * units]
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            Outcome::Refused {
                number,
                message: String::from_utf16(&text).unwrap(),
            }
        }
        _ if tokens.contains(&LOGINACK) => Outcome::Accepted,
        other => panic!("neither LOGINACK nor ERROR: {other:?}"),
    }
}

/// Logs in as `CONTOSO\pcdr-svc` with `password`, sending the AUTHENTICATE_MESSAGE in
/// a packet of type `authenticate_type`.
async fn windows_login(server: &ServerHandle, password: &str, authenticate_type: u8) -> Outcome {
    let (domain, user) = WINDOWS_ACCOUNT.split_once('\\').unwrap();
    let mut client = winauth::NtlmV2ClientBuilder::new()
        .target_spn("MSSQLSvc/127.0.0.1:1433")
        .build(Some(domain), user, password);
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(&packet(PRELOGIN, &prelogin_body()))
        .await
        .unwrap();
    read_message(&mut stream).await;
    let negotiate = client.next_bytes(None).unwrap().unwrap();
    let login = packet(LOGIN7, &integrated_login7(&negotiate));
    stream.write_all(&login).await.unwrap();
    let reply = read_message(&mut stream).await;
    assert_eq!(reply[0], SSPI_TOKEN, "{reply:?}");
    let len = usize::from(u16::from_le_bytes([reply[1], reply[2]]));
    let authenticate = client
        .next_bytes(Some(&reply[3..3 + len]))
        .unwrap()
        .unwrap();
    let answer = packet(authenticate_type, &authenticate);
    stream.write_all(&answer).await.unwrap();
    outcome(&read_message(&mut stream).await)
}

async fn start(dir: &std::path::Path) -> (ServerHandle, World) {
    let world = World::create(dir, &WorldOptions::default()).expect("create the world");
    let engine: Arc<dyn Engine> = Arc::new(
        InstanceEngine::new(
            Arc::new(World::open(dir).expect("open the world")),
            InstanceId::Backup,
        )
        .expect("the engine"),
    );
    let server = Server::start(
        "127.0.0.1:0".parse().unwrap(),
        engine,
        "BACKUP".into(),
        ServerEncryption::NotSupported,
    )
    .await
    .expect("listen on loopback");
    (server, world)
}

#[tokio::test]
async fn an_ntlmv2_login_with_the_accounts_password_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (server, world) = start(dir.path()).await;
    let password = world.windows_password().unwrap();
    for packet_type in [SSPI_MESSAGE, LOGIN7] {
        let login = windows_login(&server, &password, packet_type);
        assert_eq!(
            tokio::time::timeout(LIMIT, login).await.unwrap(),
            Outcome::Accepted
        );
    }
}

#[tokio::test]
async fn an_ntlmv2_login_with_a_wrong_password_is_refused_with_18456() {
    let dir = tempfile::tempdir().unwrap();
    let (server, world) = start(dir.path()).await;
    let wrong = world.windows_password().unwrap() + "x";
    let login = windows_login(&server, &wrong, SSPI_MESSAGE);
    assert_eq!(
        tokio::time::timeout(LIMIT, login).await.unwrap(),
        Outcome::Refused {
            number: 18456,
            message: r"Login failed for user 'CONTOSO\pcdr-svc'.".into(),
        }
    );
}

/// The SQL login's password is not the Windows account's.
#[tokio::test]
async fn the_sql_logins_password_does_not_open_the_windows_account() {
    let dir = tempfile::tempdir().unwrap();
    let (server, world) = start(dir.path()).await;
    let sql_password = world.password().unwrap();
    let login = windows_login(&server, &sql_password, SSPI_MESSAGE);
    let outcome = tokio::time::timeout(LIMIT, login).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Refused { number: 18456, .. }),
        "{outcome:?}"
    );
}
