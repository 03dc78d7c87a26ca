//! A malformed TDS peer never crashes or hangs the emulator (issue 9, section 3).
//!
//! One emulated instance (the real engine over a real world) listens on 127.0.0.1. Each
//! case opens its own connection, sends something broken — truncated packets, wrong
//! lengths (too big, too small, zero), garbage, a PRELOGIN then garbage, LOGIN7s whose
//! offsets point out of bounds or that declare huge lengths, integrated logins whose NTLM
//! messages are broken or missing, a message past the size
//! limit, broken requests after a good login, hostile SQL text, broken TLS handshakes
//! inside PRELOGIN packets, and seeded random bytes — then half-closes its side. The
//! server (which offers TLS without forcing it) must end the connection within
//! [`CASE_LIMIT`], no task may panic, and after every case a well-formed client
//! (tiberius, `EncryptionLevel::NotSupported`) must still log in and query; at the end
//! one requiring TLS does too.
//!
//! Bounded: a fixed number of cases (see [`RANDOM_CASES`]), loopback only, a time limit
//! on every step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod raw_tds;

use pcdr_sim::engine::InstanceEngine;
use pcdr_sim::tds::{Engine, Server, ServerEncryption, ServerHandle};
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::{World, WorldOptions};
use raw_tds::{
    EOM, LOGIN7, PRELOGIN, field_entry, login7, packet, packet_with_length, prelogin_body,
    prelogin_with_encryption, utf16, with_sspi,
};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

const PASSWORD: &str = "Malformed#Peer1";
/// How long the server may take to end one broken connection once the peer stopped
/// sending, and how long one well-formed login and query may take.
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// Seeded random cases of each kind (before login, and as requests after login).
const RANDOM_CASES: usize = 150;

const SQL_BATCH: u8 = 0x01;
const RPC: u8 = 0x03;
const ATTENTION: u8 = 0x06;
const SSPI: u8 = 0x11;

/// Counts panics on the emulator's worker threads (a session task that panics would
/// otherwise die quietly inside tokio).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// A small deterministic generator (xorshift64*), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A PRELOGIN asking for TLS (ENCRYPT_ON), then `tail`: what a broken peer sends where
/// the TLS handshake should travel in PRELOGIN packets.
fn tls_then(tail: Vec<u8>) -> Vec<u8> {
    let mut bytes = packet(PRELOGIN, &prelogin_with_encryption(0x01));
    bytes.extend(tail);
    bytes
}

/// LOGIN7's password scrambling: swap nibbles, then XOR 0xA5.
fn scramble(password: &str) -> Vec<u8> {
    utf16(password)
        .into_iter()
        .map(|byte| byte.rotate_left(4) ^ 0xA5)
        .collect()
}

/// A LOGIN7 that the emulator accepts: user `pcdr`, the world's password, `master`.
fn login7_body() -> Vec<u8> {
    login7(&[
        (0, utf16("fuzz-host")),
        (1, utf16("pcdr")),
        (2, scramble(PASSWORD)),
        (3, utf16("malformed_peer")),
        (4, utf16("127.0.0.1")),
        (8, utf16("master")),
    ])
}

/// A NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) asking for Unicode and NTLM.
const NTLM_NEGOTIATE: &[u8] = b"NTLMSSP\0\x01\0\0\0\x01\x02\0\0";

/// `login7_body` as an integrated login with `sspi` as its SSPI data.
fn integrated_login7(sspi: &[u8]) -> Vec<u8> {
    with_sspi(login7_body(), sspi)
}

/// `login7_body` with one variable field pointing elsewhere.
fn login7_with_field(index: usize, offset: u16, chars: u16) -> Vec<u8> {
    let mut body = login7_body();
    let entry = field_entry(index);
    body[entry..entry + 2].copy_from_slice(&offset.to_le_bytes());
    body[entry + 2..entry + 4].copy_from_slice(&chars.to_le_bytes());
    body
}

/// ALL_HEADERS with one transaction descriptor, as a SQL batch or RPC starts.
fn all_headers() -> Vec<u8> {
    vec![
        0x16, 0, 0, 0, 0x12, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0,
    ]
}

fn sql_batch(text: &str) -> Vec<u8> {
    let mut body = all_headers();
    body.extend_from_slice(&utf16(text));
    body
}

/// Splits a message body into final-packet-terminated packets of at most 4096 bytes.
fn message(ty: u8, body: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = body.chunks(4088).collect();
    let mut out = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        let status = if index + 1 == chunks.len() { EOM } else { 0 };
        out.extend(packet_with_length(
            ty,
            status,
            (8 + chunk.len()) as u16,
            chunk,
        ));
    }
    if chunks.is_empty() {
        out.extend(packet(ty, &[]));
    }
    out
}

/// A good PRELOGIN and LOGIN7, for cases that break things after login.
fn logged_in_prefix() -> Vec<u8> {
    let mut out = packet(PRELOGIN, &prelogin_body());
    out.extend(message(LOGIN7, &login7_body()));
    out
}

/// A named case: the bytes a broken peer sends on one connection.
struct Case {
    name: String,
    bytes: Vec<u8>,
}

fn case(name: impl Into<String>, bytes: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        bytes,
    }
}

fn after_login(name: &str, tail: Vec<u8>) -> Case {
    let mut bytes = logged_in_prefix();
    bytes.extend(tail);
    case(format!("after login: {name}"), bytes)
}

fn fixed_cases() -> Vec<Case> {
    let prelogin = packet(PRELOGIN, &prelogin_body());
    let then = |tail: Vec<u8>| {
        let mut bytes = prelogin.clone();
        bytes.extend(tail);
        bytes
    };
    let huge_message: Vec<u8> = {
        // 260 packets of 65535 bytes without END OF MESSAGE: past the 16 MiB limit.
        let body = vec![0x41u8; 65535 - 8];
        (0..260)
            .flat_map(|_| packet_with_length(SQL_BATCH, 0, 65535, &body))
            .collect()
    };
    let mut cases = vec![
        case("nothing at all", vec![]),
        case("one byte", vec![PRELOGIN]),
        case("truncated header", vec![PRELOGIN, EOM, 0x00]),
        case(
            "truncated body",
            packet_with_length(PRELOGIN, EOM, 100, &[0xFF; 20]),
        ),
        case("length zero", packet_with_length(PRELOGIN, EOM, 0, &[])),
        case(
            "length below the header",
            packet_with_length(PRELOGIN, EOM, 7, &[0; 8]),
        ),
        case(
            "length far too big",
            packet_with_length(PRELOGIN, EOM, u16::MAX, &prelogin_body()),
        ),
        case(
            "length too small for the body",
            packet_with_length(PRELOGIN, EOM, 12, &prelogin_body()),
        ),
        case("unknown packet type", packet(0xFF, &[1, 2, 3])),
        case("a reply type from the client", packet(0x04, &[0xFD; 13])),
        case("login before prelogin", message(LOGIN7, &login7_body())),
        case("empty prelogin", packet(PRELOGIN, &[])),
        case(
            "prelogin option out of bounds",
            packet(PRELOGIN, &[0x00, 0xFF, 0xF0, 0xFF, 0xFF, 0xFF]),
        ),
        case(
            "prelogin without terminator",
            packet(PRELOGIN, &[0x00, 0, 5, 0, 0]),
        ),
        case(
            "prelogin then garbage",
            then([0xDE, 0xAD, 0xBE, 0xEF].repeat(50)),
        ),
        case("prelogin then a second prelogin", then(prelogin.clone())),
        case("prelogin then an empty login", then(packet(LOGIN7, &[]))),
        case(
            "prelogin then a short login",
            then(packet(LOGIN7, &login7_body()[..60])),
        ),
        case(
            "login with a huge declared length and packet size",
            then(message(LOGIN7, &{
                let mut body = login7_body();
                body[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
                body[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
                body
            })),
        ),
        case(
            "login with the wrong password",
            then(message(LOGIN7, &{
                let mut body = login7_body();
                let entry = field_entry(2);
                let offset = usize::from(u16::from_le_bytes([body[entry], body[entry + 1]]));
                body[offset] ^= 0x55;
                body
            })),
        ),
        case(
            "login with an odd-length password",
            then(message(LOGIN7, &{
                let mut body = login7_body();
                body.push(0xA5);
                let entry = field_entry(2);
                let len = body.len() as u16 - 1;
                body[entry..entry + 2].copy_from_slice(&len.to_le_bytes());
                body[entry + 2..entry + 4].copy_from_slice(&1u16.to_le_bytes());
                body
            })),
        ),
        case(
            "login with an unpaired surrogate in the user name",
            then(message(LOGIN7, &{
                let mut body = login7_body();
                let entry = field_entry(1);
                let offset = usize::from(u16::from_le_bytes([body[entry], body[entry + 1]]));
                body[offset..offset + 2].copy_from_slice(&0xD800u16.to_le_bytes());
                body
            })),
        ),
        case(
            "integrated login whose SSPI data is no NTLM message",
            then(message(LOGIN7, &integrated_login7(b"not NTLM at all"))),
        ),
        case(
            "integrated login whose SSPI data points past the end",
            then(message(LOGIN7, &{
                let mut body = integrated_login7(NTLM_NEGOTIATE);
                body[80..82].copy_from_slice(&u16::MAX.to_le_bytes());
                body
            })),
        ),
        case(
            "integrated login, then a garbage AUTHENTICATE_MESSAGE",
            then(
                [
                    message(LOGIN7, &integrated_login7(NTLM_NEGOTIATE)),
                    packet(SSPI, b"NTLMSSP\0\x03\0\0\0\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"),
                ]
                .concat(),
            ),
        ),
        case(
            "integrated login, then a SQL batch instead of AUTHENTICATE_MESSAGE",
            then(
                [
                    message(LOGIN7, &integrated_login7(NTLM_NEGOTIATE)),
                    message(SQL_BATCH, &sql_batch("SELECT 1")),
                ]
                .concat(),
            ),
        ),
        case("a message past the size limit", huge_message),
        case(
            "mixed packet types in one message",
            [
                packet_with_length(PRELOGIN, 0, 12, &[0; 4]),
                packet(LOGIN7, &[0; 4]),
            ]
            .concat(),
        ),
        case(
            "prelogin marked IGNORE",
            packet_with_length(PRELOGIN, EOM | 0x02, 19, &prelogin_body()),
        ),
    ];
    // LOGIN7 fields pointing out of bounds, each field in turn.
    for index in [0, 1, 2, 3, 4, 8] {
        for (offset, chars) in [(u16::MAX, 1), (90, u16::MAX), (u16::MAX, u16::MAX), (0, 60)] {
            cases.push(case(
                format!("login field {index} at offset {offset}, {chars} characters"),
                then(message(LOGIN7, &login7_with_field(index, offset, chars))),
            ));
        }
    }
    // Broken requests after a good login.
    let deep = |open: &str, close: &str, n: usize| {
        format!("SELECT {}1{}", open.repeat(n), close.repeat(n))
    };
    cases.extend([
        after_login("empty SQL batch", packet(SQL_BATCH, &[])),
        after_login("ALL_HEADERS below 4", packet(SQL_BATCH, &[1, 0, 0, 0])),
        after_login(
            "ALL_HEADERS past the end",
            packet(SQL_BATCH, &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0]),
        ),
        after_login("odd-length batch text", {
            let mut body = sql_batch("SELECT 1");
            body.push(b'x');
            packet(SQL_BATCH, &body)
        }),
        after_login("unpaired surrogate in batch text", {
            let mut body = all_headers();
            body.extend_from_slice(&0xDC00u16.to_le_bytes());
            packet(SQL_BATCH, &body)
        }),
        after_login("empty RPC", packet(RPC, &[])),
        after_login("RPC with garbage after the headers", {
            let mut body = all_headers();
            body.extend_from_slice(&[0xFF, 0xFF, 0x0A, 0x00, 0x00, 0x00, 0xE7, 0xFF, 0xFF]);
            packet(RPC, &body)
        }),
        after_login("RPC naming a procedure past the end", {
            let mut body = all_headers();
            body.extend_from_slice(&[0x40, 0x00, b's', 0]);
            packet(RPC, &body)
        }),
        after_login("ATTENTION with nothing running", packet(ATTENTION, &[])),
        after_login("LOGIN7 again", message(LOGIN7, &login7_body())),
        after_login("unknown packet type", packet(0x7F, &[0; 16])),
        after_login("bulk load", packet(0x07, &[0; 16])),
        after_login("two requests at once", {
            let mut bytes = message(SQL_BATCH, &sql_batch("WAITFOR DELAY '00:00:01'"));
            bytes.extend(message(SQL_BATCH, &sql_batch("SELECT 1")));
            bytes
        }),
        after_login(
            "nested parentheses 100000 deep",
            message(SQL_BATCH, &sql_batch(&deep("(", ")", 100_000))),
        ),
        after_login(
            "unary minus 100000 deep",
            message(SQL_BATCH, &sql_batch(&deep("- ", "", 100_000))),
        ),
        after_login(
            "NOT 50000 deep",
            message(
                SQL_BATCH,
                &sql_batch(&format!("SELECT 1 WHERE {}1 = 1", "NOT ".repeat(50_000))),
            ),
        ),
        after_login(
            "nested comments 100000 deep",
            message(SQL_BATCH, &sql_batch(&"/*".repeat(100_000))),
        ),
        after_login(
            "unclosed string",
            message(SQL_BATCH, &sql_batch("SELECT N'abc")),
        ),
        after_login(
            "one million plus signs",
            message(SQL_BATCH, &sql_batch(&format!("SELECT 1{}", "+1".repeat(500_000)))),
        ),
        after_login(
            "a million chained AND",
            message(
                SQL_BATCH,
                &sql_batch(&format!("SELECT 1 WHERE 1 = 1{}", " AND 1 = 1".repeat(1_000_000))),
            ),
        ),
        // The longest chains the parser accepts must also evaluate without overflowing
        // a worker thread's stack.
        after_login(
            "128 chained + evaluated",
            message(
                SQL_BATCH,
                &sql_batch(&format!("SELECT 1{}", " + 1".repeat(128))),
            ),
        ),
        after_login(
            "128 chained AND evaluated",
            message(
                SQL_BATCH,
                &sql_batch(&format!(
                    "SELECT name FROM sys.databases WHERE database_id = 1{}",
                    " AND 1 = 1".repeat(128)
                )),
            ),
        ),
        // The deepest trees the parser accepts: 63 levels of parentheses, each with a
        // chained operator, around a chain that brings the total to the limit.
        after_login(
            "deepest accepted expression evaluated",
            message(
                SQL_BATCH,
                &sql_batch(&format!(
                    "SELECT {}1{}{}",
                    "1 + (".repeat(63),
                    " + 1".repeat(65),
                    ")".repeat(63)
                )),
            ),
        ),
        after_login(
            "deepest accepted condition evaluated",
            message(
                SQL_BATCH,
                &sql_batch(&format!(
                    "SELECT name FROM sys.databases WHERE {}database_id = 1{}{}",
                    "1 = 1 AND (".repeat(63),
                    " AND 1 = 1".repeat(65),
                    ")".repeat(63)
                )),
            ),
        ),
        after_login(
            "nested chains evaluated",
            message(
                SQL_BATCH,
                &sql_batch(&format!(
                    "SELECT {}1{}",
                    format!("1{} - (", " * 1".repeat(15)).repeat(60),
                    ")".repeat(60)
                )),
            ),
        ),
        after_login(
            "hostile names",
            message(
                SQL_BATCH,
                &sql_batch("ALTER DATABASE [mgc]]; DROP] SET PARTNER OFF; KILL 99999999999999999999; USE [\0]"),
            ),
        ),
    ]);
    cases.extend(tls_handshake_cases());
    cases
}

/// Broken TLS handshakes, each after a PRELOGIN asking for TLS.
fn tls_handshake_cases() -> Vec<Case> {
    let client_hello_start = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03,
    ];
    vec![
        case("TLS asked for, then nothing", tls_then(vec![])),
        case(
            "TLS asked for, then LOGIN7 instead of the handshake",
            tls_then(message(LOGIN7, &login7_body())),
        ),
        case(
            "TLS asked for, then garbage in a PRELOGIN packet",
            tls_then(packet(PRELOGIN, &[0xAB; 300])),
        ),
        case(
            "TLS asked for, then a truncated PRELOGIN header",
            tls_then(vec![PRELOGIN, EOM, 0x00]),
        ),
        case(
            "TLS asked for, then a handshake packet cut short",
            tls_then(packet_with_length(PRELOGIN, EOM, 100, &client_hello_start)),
        ),
        case(
            "TLS asked for, then a PRELOGIN packet shorter than its header",
            tls_then(packet_with_length(PRELOGIN, EOM, 3, &[])),
        ),
        case(
            "TLS asked for, then a thousand empty PRELOGIN packets",
            tls_then((0..1000).flat_map(|_| packet(PRELOGIN, &[])).collect()),
        ),
        case(
            "TLS asked for, then a ClientHello header announcing 16 MiB",
            tls_then(packet(
                PRELOGIN,
                &[0x16, 0x03, 0x03, 0xFF, 0xFF, 0x01, 0xFF, 0xFF, 0xFF],
            )),
        ),
        case(
            "TLS asked for, then the start of a ClientHello in one-byte packets",
            tls_then(
                client_hello_start
                    .iter()
                    .flat_map(|byte| packet(PRELOGIN, &[*byte]))
                    .collect(),
            ),
        ),
        case(
            "an unknown ENCRYPTION value",
            packet(PRELOGIN, &prelogin_with_encryption(0x7F)),
        ),
    ]
}

fn random_cases(seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    for n in 0..RANDOM_CASES {
        let len = rng.below(3000);
        let mut bytes = rng.bytes(len);
        // Half of them start like a real packet, so that the header gets past the type check.
        if n % 2 == 0 && bytes.len() >= 8 {
            bytes[0] = [PRELOGIN, LOGIN7, SQL_BATCH, RPC][rng.below(4)];
        }
        cases.push(case(format!("random bytes #{n} (seed {seed:#x})"), bytes));
    }
    for n in 0..RANDOM_CASES {
        let ty = [SQL_BATCH, RPC, ATTENTION, LOGIN7, PRELOGIN][rng.below(5)];
        let len = rng.below(2000);
        let mut body = rng.bytes(len);
        if n % 3 == 0 && body.len() >= 22 {
            body[..22].copy_from_slice(&all_headers());
        }
        cases.push(after_login(
            &format!("random request #{n} of type {ty:#04x} (seed {seed:#x})"),
            message(ty, &body),
        ));
    }
    for n in 0..RANDOM_CASES / 3 {
        // TLS asked for, then random handshake bytes in PRELOGIN packets.
        let len = rng.below(2000);
        let body = rng.bytes(len);
        cases.push(case(
            format!("TLS asked for, then random handshake bytes #{n} (seed {seed:#x})"),
            tls_then(message(PRELOGIN, &body)),
        ));
    }
    for n in 0..RANDOM_CASES / 3 {
        // A good PRELOGIN, then a LOGIN7 with random bytes flipped.
        let mut body = login7_body();
        for _ in 0..=rng.below(8) {
            let at = rng.below(body.len());
            body[at] = rng.next() as u8;
        }
        let mut bytes = packet(PRELOGIN, &prelogin_body());
        bytes.extend(message(LOGIN7, &body));
        cases.push(case(format!("mangled LOGIN7 #{n} (seed {seed:#x})"), bytes));
    }
    cases
}

/// Sends a case, half-closes, and waits for the server to end the connection.
async fn play(addr: SocketAddr, case: &Case) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    // The server may close before taking everything (that is a fine answer to garbage),
    // so a failed write is not a failure; reading on until EOF is what matters.
    let reader = async {
        let (mut read, mut write) = stream.split();
        let send = async {
            let _ = write.write_all(&case.bytes).await;
            let _ = write.shutdown().await;
        };
        let drain = async {
            let mut sink = vec![0u8; 64 * 1024];
            loop {
                match read.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        tokio::join!(send, drain);
    };
    tokio::time::timeout(CASE_LIMIT, reader)
        .await
        .map_err(|_| format!("the server kept the connection open past {CASE_LIMIT:?}"))
}

/// A well-formed client logs in and queries.
async fn healthy(addr: SocketAddr) -> Result<(), String> {
    let check = async {
        let mut config = Config::new();
        config.host("127.0.0.1");
        config.port(addr.port());
        config.authentication(AuthMethod::sql_server("pcdr", PASSWORD));
        config.encryption(EncryptionLevel::NotSupported);
        let tcp = TcpStream::connect(addr).await?;
        let mut client = Client::connect(config, tcp.compat_write()).await?;
        let rows = client
            .simple_query("SELECT name FROM sys.databases WHERE name = 'mgc'")
            .await?
            .into_first_result()
            .await?;
        let name = rows
            .first()
            .and_then(|row| row.get::<&str, _>(0).map(str::to_owned));
        Ok::<_, tiberius::error::Error>(name)
    };
    match tokio::time::timeout(CASE_LIMIT, check).await {
        Ok(Ok(Some(name))) if name == "mgc" => Ok(()),
        Ok(Ok(other)) => Err(format!("the query returned {other:?}")),
        Ok(Err(e)) => Err(format!("the client failed: {e}")),
        Err(_) => Err(format!("the client took longer than {CASE_LIMIT:?}")),
    }
}

/// 63 parenthesised levels, each adding 1, around 66 ones added: 128 chained `+`.
fn deepest_expression() -> String {
    format!(
        "SELECT {}1{}{} AS n",
        "1 + (".repeat(63),
        " + 1".repeat(65),
        ")".repeat(63)
    )
}

/// Runs a one-integer query with a well-formed client, in plain text.
async fn query_int(addr: SocketAddr, sql: &str) -> Result<i64, String> {
    let mut config = Config::new();
    config.encryption(EncryptionLevel::NotSupported);
    query_int_with(addr, config, sql).await
}

/// Runs a one-integer query with a well-formed client requiring TLS and trusting `ca`.
async fn query_int_over_tls(addr: SocketAddr, ca: &Path, sql: &str) -> Result<i64, String> {
    let mut config = Config::new();
    config.encryption(EncryptionLevel::Required);
    config.trust_cert_ca(ca.display());
    query_int_with(addr, config, sql).await
}

async fn query_int_with(addr: SocketAddr, mut config: Config, sql: &str) -> Result<i64, String> {
    let check = async {
        config.host("127.0.0.1");
        config.port(addr.port());
        config.authentication(AuthMethod::sql_server("pcdr", PASSWORD));
        let tcp = TcpStream::connect(addr).await?;
        let mut client = Client::connect(config, tcp.compat_write()).await?;
        let rows = client.simple_query(sql).await?.into_first_result().await?;
        let row = rows.first();
        Ok::<_, tiberius::error::Error>(row.and_then(|row| {
            row.try_get::<i64, _>(0)
                .ok()
                .flatten()
                .or_else(|| row.try_get::<i32, _>(0).ok().flatten().map(i64::from))
        }))
    };
    match tokio::time::timeout(CASE_LIMIT, check).await {
        Ok(Ok(Some(n))) => Ok(n),
        Ok(Ok(None)) => Err("no integer came back".into()),
        Ok(Err(e)) => Err(format!("the client failed: {e}")),
        Err(_) => Err(format!("the client took longer than {CASE_LIMIT:?}")),
    }
}

#[test]
fn the_parser_accepts_the_deepest_cases_and_refuses_one_more_link() {
    use pcdr_sim::tsql::parse_batch;
    assert!(parse_batch(&deepest_expression()).is_ok());
    let one_more = deepest_expression().replace(" AS n", " + 1 AS n");
    let error = parse_batch(&one_more).unwrap_err();
    assert!(error.to_string().contains("191"), "{error}");
    // Parentheses do not reset the count: 64 levels of 128 chained operators each
    // would be a tree 8192 deep.
    let left_nested = format!(
        "SELECT {}1{}",
        "(".repeat(60),
        format!("{})", " + 1".repeat(100)).repeat(60)
    );
    assert!(
        parse_batch(&left_nested)
            .unwrap_err()
            .to_string()
            .contains("191")
    );
    let chain = |n: usize| format!("SELECT 1 WHERE 1 = 1{}", " AND 1 = 1".repeat(n));
    assert!(parse_batch(&chain(128)).is_ok());
    assert!(
        parse_batch(&chain(129))
            .unwrap_err()
            .to_string()
            .contains("191")
    );
}

/// The primary of a world in `dir`, offering TLS with the world's certificate without
/// forcing it, so that plain-text cases and well-formed clients still log in and TLS
/// cases reach the handshake. Also returns the world's certificate authority.
async fn start(dir: &std::path::Path) -> (ServerHandle, PathBuf) {
    let options = WorldOptions {
        password: Some(PASSWORD.into()),
        ..WorldOptions::default()
    };
    let world = Arc::new(World::create(dir, &options).expect("create the world"));
    let certificate = world
        .server_certificate(InstanceId::Primary)
        .expect("the world's certificate");
    let ca = world.ca_file();
    let engine: Arc<dyn Engine> =
        Arc::new(InstanceEngine::new(world, InstanceId::Primary).expect("the engine"));
    let server = Server::start(
        "127.0.0.1:0".parse().unwrap(),
        engine,
        "PRIMARY".into(),
        ServerEncryption::Available(certificate),
    )
    .await
    .expect("listen on loopback");
    (server, ca)
}

/// The emulator's worker threads get half of tokio's default 2 MiB stack here, so
/// that the deepest input the parser accepts is shown to fit with a margin.
const WORKER_STACK: usize = 1024 * 1024;
/// The name of those threads, so that only their panics are counted.
const WORKER_NAME: &str = "emulator-worker";

#[test]
fn malformed_peers_neither_crash_nor_hang_the_emulator() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(WORKER_STACK)
        .thread_name(WORKER_NAME)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(every_case());
}

async fn every_case() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(WORKER_NAME) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        default_hook(info);
    }));
    let root = tempfile::tempdir().unwrap();
    let (server, ca) = start(&root.path().join("world")).await;
    let addr = server.local_addr();
    healthy(addr).await.expect("healthy before any case");

    let mut cases = fixed_cases();
    cases.extend(random_cases(0x9E37_79B9_7F4A_7C15));
    let total = cases.len();
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = play(addr, case).await {
            failures.push(format!("{}: {why}", case.name));
        }
        if let Err(why) = healthy(addr).await {
            failures.push(format!("after {}: {why}", case.name));
        }
        if PANICS.load(Ordering::SeqCst) > 0 {
            failures.push(format!("{}: a task panicked", case.name));
            break;
        }
    }
    println!(
        "{total} malformed connections in {:.1?}, {} failures",
        started.elapsed(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a task panicked");
    // The deepest expression the parser accepts is evaluated, on a half-size stack.
    let deepest = deepest_expression();
    assert_eq!(query_int(addr, &deepest).await, Ok(129), "{deepest}");
    // And a client that requires TLS still gets it.
    assert_eq!(query_int_over_tls(addr, &ca, "SELECT 7").await, Ok(7));
    // Every broken session ends (the last client's may take a moment to be noticed).
    let deadline = std::time::Instant::now() + CASE_LIMIT;
    while !server.registry().spids().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.registry().spids(),
        Vec::<u16>::new(),
        "sessions left open"
    );
}
