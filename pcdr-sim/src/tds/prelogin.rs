//! PRELOGIN (MS-TDS 2.2.6.5): decoding the client's option table and encoding
//! the server's reply, which always refuses TLS (ENCRYPT_NOT_SUP).
//!
//! Owns the option table layout only; the session decides what to do with a
//! client that insists on encryption.

use super::cursor::Cursor;
use super::error::ProtocolError;

/// Option token: server or driver version.
const OPTION_VERSION: u8 = 0x00;
/// Option token: encryption negotiation.
const OPTION_ENCRYPTION: u8 = 0x01;
/// Option token: instance name.
const OPTION_INSTOPT: u8 = 0x02;
/// Option token: client thread id.
const OPTION_THREADID: u8 = 0x03;
/// Option token: multiple active result sets.
const OPTION_MARS: u8 = 0x04;
/// Ends the option table.
const OPTION_TERMINATOR: u8 = 0xFF;

/// ENCRYPTION value: the server has no TLS.
pub(crate) const ENCRYPT_NOT_SUP: u8 = 0x02;
/// ENCRYPTION value: the client requires TLS.
const ENCRYPT_REQ: u8 = 0x03;
/// ENCRYPTION value: the client wants TLS.
const ENCRYPT_ON: u8 = 0x01;

/// The version the emulator reports: SQL Server 2016 SP3 (13.0.6300).
pub(crate) const SERVER_VERSION: ServerVersion = ServerVersion {
    major: 13,
    minor: 0,
    build: 6300,
};

/// A SQL Server product version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerVersion {
    /// Major version (13 = SQL Server 2016).
    pub(crate) major: u8,
    /// Minor version.
    pub(crate) minor: u8,
    /// Build number.
    pub(crate) build: u16,
}

/// What the server needs from the client's PRELOGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientPrelogin {
    /// The client's ENCRYPTION byte, if it sent the option.
    pub(crate) encryption: Option<u8>,
}

impl ClientPrelogin {
    /// Whether the client will refuse a server without TLS.
    pub(crate) fn requires_encryption(&self) -> bool {
        matches!(self.encryption, Some(ENCRYPT_ON | ENCRYPT_REQ))
    }
}

/// Decodes the client's option table, checking every option lies inside the message.
pub(crate) fn decode_client_prelogin(payload: &[u8]) -> Result<ClientPrelogin, ProtocolError> {
    let mut table = Cursor::new(payload);
    let mut encryption = None;
    loop {
        let token = table.u8("PRELOGIN option token")?;
        if token == OPTION_TERMINATOR {
            return Ok(ClientPrelogin { encryption });
        }
        let offset = usize::from(table.u16_be("PRELOGIN option offset")?);
        let len = usize::from(table.u16_be("PRELOGIN option length")?);
        let data = payload
            .get(offset..offset + len)
            .ok_or(ProtocolError::Truncated {
                what: "PRELOGIN option data",
            })?;
        if token == OPTION_ENCRYPTION {
            encryption = data.first().copied();
        }
    }
}

/// The server's PRELOGIN reply: VERSION, ENCRYPTION=NOT_SUP, INSTOPT=00,
/// THREADID (empty), MARS=00.
pub(crate) fn encode_server_prelogin() -> Vec<u8> {
    let version = server_version_option();
    let options: [(u8, &[u8]); 5] = [
        (OPTION_VERSION, &version),
        (OPTION_ENCRYPTION, &[ENCRYPT_NOT_SUP]),
        (OPTION_INSTOPT, &[0x00]),
        (OPTION_THREADID, &[]),
        (OPTION_MARS, &[0x00]),
    ];
    let table_len = options.len() * 5 + 1;
    let mut table = Vec::with_capacity(table_len);
    let mut data = Vec::new();
    for (token, value) in options {
        table.push(token);
        table.extend_from_slice(&((table_len + data.len()) as u16).to_be_bytes());
        table.extend_from_slice(&(value.len() as u16).to_be_bytes());
        data.extend_from_slice(value);
    }
    table.push(OPTION_TERMINATOR);
    table.extend_from_slice(&data);
    table
}

/// VERSION option data: major, minor, build (big-endian), sub-build 0.
fn server_version_option() -> [u8; 6] {
    let build = SERVER_VERSION.build.to_be_bytes();
    [
        SERVER_VERSION.major,
        SERVER_VERSION.minor,
        build[0],
        build[1],
        0,
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_reply_matches_the_spec_layout() {
        let expected = [
            0x00, 0x00, 0x1A, 0x00, 0x06, // VERSION at 26, 6 bytes
            0x01, 0x00, 0x20, 0x00, 0x01, // ENCRYPTION at 32, 1 byte
            0x02, 0x00, 0x21, 0x00, 0x01, // INSTOPT at 33, 1 byte
            0x03, 0x00, 0x22, 0x00, 0x00, // THREADID at 34, empty
            0x04, 0x00, 0x22, 0x00, 0x01, // MARS at 34, 1 byte
            0xFF, // terminator
            0x0D, 0x00, 0x18, 0x9C, 0x00, 0x00, // 13.0.6300.0
            0x02, // ENCRYPT_NOT_SUP
            0x00, // INSTOPT
            0x00, // MARS off
        ];
        assert_eq!(encode_server_prelogin(), expected);
    }

    #[test]
    fn client_encryption_option_is_read() {
        let payload = [
            0x00, 0x00, 0x10, 0x00, 0x06, // VERSION at 16
            0x01, 0x00, 0x16, 0x00, 0x01, // ENCRYPTION at 22
            0x02, 0x00, 0x17, 0x00, 0x01, // INSTOPT at 23
            0xFF, //
            0x0D, 0x00, 0x00, 0x00, 0x00, 0x00, // version
            0x02, // NOT_SUP
            0x00,
        ];
        let prelogin = decode_client_prelogin(&payload).unwrap();
        assert_eq!(prelogin.encryption, Some(ENCRYPT_NOT_SUP));
        assert!(!prelogin.requires_encryption());
    }

    #[test]
    fn client_requiring_tls_is_recognised() {
        let payload = [0x01, 0x00, 0x06, 0x00, 0x01, 0xFF, 0x03];
        assert!(
            decode_client_prelogin(&payload)
                .unwrap()
                .requires_encryption()
        );
    }

    #[test]
    fn option_pointing_outside_the_message_is_rejected() {
        let payload = [0x01, 0x00, 0x40, 0x00, 0x01, 0xFF];
        assert!(decode_client_prelogin(&payload).is_err());
    }

    #[test]
    fn missing_terminator_is_rejected() {
        assert!(decode_client_prelogin(&[0x01, 0x00, 0x05, 0x00, 0x00]).is_err());
    }
}
