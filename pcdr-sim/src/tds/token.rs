//! Encoders of the session-level tokens (MS-TDS 2.2.7): LOGINACK, ENVCHANGE,
//! DONE / DONEPROC / DONEINPROC, ERROR / INFO, RETURNSTATUS and SSPI, plus the
//! B_VARCHAR / US_VARCHAR string writers they share with `rows`.
//!
//! Owns token byte layouts only; which tokens a response holds is decided in `response`.

use super::engine::ServerMessage;
use super::prelogin::SERVER_VERSION;
use super::types::COLLATION;

/// Token byte of LOGINACK.
const LOGINACK: u8 = 0xAD;
/// Token byte of ENVCHANGE.
const ENVCHANGE: u8 = 0xE3;
/// Token byte of RETURNSTATUS.
const RETURNSTATUS: u8 = 0x79;
/// Token byte of SSPI.
const SSPI: u8 = 0xED;
/// LOGINACK interface: SQL_TSQL.
const INTERFACE_TSQL: u8 = 1;
/// TDS 7.4, big-endian in LOGINACK.
const TDS_VERSION_7_4: [u8; 4] = [0x74, 0x00, 0x00, 0x04];
/// Product name in LOGINACK.
const PROGRAM_NAME: &str = "Microsoft SQL Server";
/// ENVCHANGE type: database.
const ENV_DATABASE: u8 = 1;
/// ENVCHANGE type: packet size.
const ENV_PACKET_SIZE: u8 = 4;
/// ENVCHANGE type: SQL collation.
const ENV_COLLATION: u8 = 7;
/// Longest message text sent in ERROR/INFO, in UTF-16 units (SQL Server's own limit is 2047).
const MAX_MESSAGE_UNITS: usize = 4000;

/// Which DONE token to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoneKind {
    /// DONE: ends a statement of a batch.
    Done = 0xFD,
    /// DONEPROC: ends an RPC.
    Proc = 0xFE,
    /// DONEINPROC: ends a statement inside an RPC.
    InProc = 0xFF,
}

/// DONE status bits.
pub(crate) mod done_status {
    /// More results follow in this response.
    pub(crate) const MORE: u16 = 0x0001;
    /// The statement failed.
    pub(crate) const ERROR: u16 = 0x0002;
    /// The row count is valid.
    pub(crate) const COUNT: u16 = 0x0010;
    /// Acknowledges an ATTENTION.
    pub(crate) const ATTN: u16 = 0x0020;
}

/// DONE CurCmd values (the statement's command code).
pub(crate) mod cur_cmd {
    /// Any statement without a more specific code.
    pub(crate) const NONE: u16 = 0x0000;
    /// SELECT.
    pub(crate) const SELECT: u16 = 0x00C1;
    /// EXECUTE (used on DONEPROC).
    pub(crate) const EXECUTE: u16 = 0x00E0;
}

/// Whether an ERROR or an INFO token is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    /// ERROR (0xAA).
    Error = 0xAA,
    /// INFO (0xAB).
    Info = 0xAB,
}

/// DONE, DONEPROC or DONEINPROC: status, CurCmd, 64-bit row count.
pub(crate) fn put_done(out: &mut Vec<u8>, kind: DoneKind, status: u16, cur_cmd: u16, rows: u64) {
    out.push(kind as u8);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&cur_cmd.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
}

/// ERROR or INFO: number, state, class, text, server name, procedure, line.
pub(crate) fn put_message(
    out: &mut Vec<u8>,
    kind: MessageKind,
    message: &ServerMessage,
    server_name: &str,
) {
    out.push(kind as u8);
    with_length(out, |body| {
        body.extend_from_slice(&message.number.to_le_bytes());
        body.push(message.state);
        body.push(message.class);
        put_us_varchar(body, &message.message);
        put_b_varchar(body, server_name);
        put_b_varchar(body, &message.procedure);
        body.extend_from_slice(&message.line.to_le_bytes());
    });
}

/// LOGINACK: interface, TDS 7.4, program name and the server version.
pub(crate) fn put_login_ack(out: &mut Vec<u8>) {
    out.push(LOGINACK);
    with_length(out, |body| {
        body.push(INTERFACE_TSQL);
        body.extend_from_slice(&TDS_VERSION_7_4);
        put_b_varchar(body, PROGRAM_NAME);
        let build = SERVER_VERSION.build.to_be_bytes();
        body.extend_from_slice(&[
            SERVER_VERSION.major,
            SERVER_VERSION.minor,
            build[0],
            build[1],
        ]);
    });
}

/// SSPI (MS-TDS 2.2.7.22): a security token of the integrated login, here an NTLM
/// CHALLENGE_MESSAGE.
pub(crate) fn put_sspi(out: &mut Vec<u8>, token: &[u8]) {
    out.push(SSPI);
    with_length(out, |body| body.extend_from_slice(token));
}

/// ENVCHANGE type 1: the current database changed from `old` to `new`.
pub(crate) fn put_env_database(out: &mut Vec<u8>, new: &str, old: &str) {
    put_env_strings(out, ENV_DATABASE, new, old);
}

/// ENVCHANGE type 4: the packet size, as decimal strings.
pub(crate) fn put_env_packet_size(out: &mut Vec<u8>, new: usize, old: usize) {
    put_env_strings(out, ENV_PACKET_SIZE, &new.to_string(), &old.to_string());
}

/// ENVCHANGE type 7: the server collation (new value 5 bytes, old value empty).
pub(crate) fn put_env_collation(out: &mut Vec<u8>) {
    out.push(ENVCHANGE);
    with_length(out, |body| {
        body.push(ENV_COLLATION);
        body.push(COLLATION.len() as u8);
        body.extend_from_slice(&COLLATION);
        body.push(0);
    });
}

fn put_env_strings(out: &mut Vec<u8>, env_type: u8, new: &str, old: &str) {
    out.push(ENVCHANGE);
    with_length(out, |body| {
        body.push(env_type);
        put_b_varchar(body, new);
        put_b_varchar(body, old);
    });
}

/// RETURNSTATUS: the procedure's return value.
pub(crate) fn put_return_status(out: &mut Vec<u8>, status: i32) {
    out.push(RETURNSTATUS);
    out.extend_from_slice(&status.to_le_bytes());
}

/// B_VARCHAR: a one-byte count of UTF-16 units, then the text; cut at 255 units.
pub(crate) fn put_b_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(usize::from(u8::MAX)).collect();
    out.push(units.len() as u8);
    put_units(out, &units);
}

/// US_VARCHAR: a two-byte count of UTF-16 units, then the text; cut at 4000 units.
fn put_us_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(MAX_MESSAGE_UNITS).collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    put_units(out, &units);
}

/// Appends UTF-16 units little-endian.
pub(crate) fn put_units(out: &mut Vec<u8>, units: &[u16]) {
    for unit in units {
        out.extend_from_slice(&unit.to_le_bytes());
    }
}

/// Writes a two-byte length, then the body `fill` writes. Every caller's body
/// is bounded well below 64 KiB by the string cuts above.
fn with_length(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    fill(&mut body);
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out);
        out
    }

    #[test]
    fn done_carries_status_curcmd_and_64_bit_row_count() {
        let bytes = encoded(|out| {
            put_done(
                out,
                DoneKind::Done,
                done_status::MORE | done_status::COUNT,
                cur_cmd::SELECT,
                3,
            )
        });
        assert_eq!(
            bytes,
            [0xFD, 0x11, 0x00, 0xC1, 0x00, 3, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn doneproc_and_doneinproc_use_their_token_bytes() {
        let proc =
            encoded(|out| put_done(out, DoneKind::Proc, done_status::ERROR, cur_cmd::EXECUTE, 0));
        assert_eq!(proc, [0xFE, 0x02, 0x00, 0xE0, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
        let in_proc =
            encoded(|out| put_done(out, DoneKind::InProc, done_status::ATTN, cur_cmd::NONE, 0));
        assert_eq!(
            in_proc,
            [0xFF, 0x20, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn error_token_layout() {
        let message = ServerMessage {
            number: 4305,
            state: 1,
            class: 16,
            message: "ab".into(),
            procedure: "p".into(),
            line: 2,
        };
        let bytes = encoded(|out| put_message(out, MessageKind::Error, &message, "S"));
        let expected = [
            0xAA, 0x16, 0x00, // token, length 22
            0xD1, 0x10, 0x00, 0x00, // 4305
            0x01, 0x10, // state 1, class 16
            0x02, 0x00, b'a', 0x00, b'b', 0x00, // US_VARCHAR "ab"
            0x01, b'S', 0x00, // server "S"
            0x01, b'p', 0x00, // procedure "p"
            0x02, 0x00, 0x00, 0x00, // line 2
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn info_token_differs_only_in_its_token_byte() {
        let message = ServerMessage::new(3014, 0, "");
        let bytes = encoded(|out| put_message(out, MessageKind::Info, &message, ""));
        assert_eq!(
            bytes,
            [
                0xAB, 0x0E, 0x00, 0xC6, 0x0B, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                0x00, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn sspi_layout() {
        assert_eq!(
            encoded(|out| put_sspi(out, b"NTLMSSP\0")),
            [0xED, 8, 0, b'N', b'T', b'L', b'M', b'S', b'S', b'P', 0]
        );
    }

    #[test]
    fn login_ack_layout() {
        let bytes = encoded(put_login_ack);
        let mut expected = vec![0xAD, 0x32, 0x00, 0x01, 0x74, 0x00, 0x00, 0x04, 20];
        for unit in "Microsoft SQL Server".encode_utf16() {
            expected.extend_from_slice(&unit.to_le_bytes());
        }
        expected.extend_from_slice(&[13, 0, 0x18, 0x9C]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn env_database_layout() {
        let bytes = encoded(|out| put_env_database(out, "db", "m"));
        assert_eq!(
            bytes,
            [
                0xE3, 0x09, 0x00, 0x01, 0x02, b'd', 0, b'b', 0, 0x01, b'm', 0
            ]
        );
    }

    #[test]
    fn env_packet_size_is_decimal_text() {
        let bytes = encoded(|out| put_env_packet_size(out, 512, 4096));
        let expected = [
            0xE3, 0x11, 0x00, 0x04, //
            0x03, b'5', 0, b'1', 0, b'2', 0, //
            0x04, b'4', 0, b'0', 0, b'9', 0, b'6', 0,
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn env_collation_layout() {
        let bytes = encoded(put_env_collation);
        assert_eq!(
            bytes,
            [
                0xE3, 0x08, 0x00, 0x07, 0x05, 0x09, 0x04, 0xD0, 0x00, 0x34, 0x00
            ]
        );
    }

    #[test]
    fn return_status_layout() {
        assert_eq!(
            encoded(|out| put_return_status(out, -6)),
            [0x79, 0xFA, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn b_varchar_is_cut_at_255_units() {
        let bytes = encoded(|out| put_b_varchar(out, &"x".repeat(300)));
        assert_eq!(bytes[0], 255);
        assert_eq!(bytes.len(), 1 + 255 * 2);
    }
}
