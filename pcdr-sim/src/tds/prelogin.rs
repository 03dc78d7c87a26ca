//! PRELOGIN (MS-TDS 2.2.6.5,
//! <https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tds/60f56408-0188-4cd5-8b90-25c6f2423868>):
//! decoding the client's option table, the encryption negotiation of its ENCRYPTION
//! option, and encoding the server's reply.
//!
//! Owns the option table layout and the negotiation table only; `handshake.rs` acts on
//! what was agreed.

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

/// ENCRYPTION value: encryption is available but off (the login alone is encrypted).
const ENCRYPT_OFF: u8 = 0x00;
/// ENCRYPTION value: encryption is available and on.
const ENCRYPT_ON: u8 = 0x01;
/// ENCRYPTION value: encryption is not available.
const ENCRYPT_NOT_SUP: u8 = 0x02;
/// ENCRYPTION value: encryption is required.
const ENCRYPT_REQ: u8 = 0x03;

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

/// What the server offers, as SQL Server's certificate and "Force Encryption" settings
/// decide (Configuration Manager, Protocols for the instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// No certificate: TLS is not available.
    NotSupported,
    /// A certificate, encryption not forced: TLS when the client asks for it.
    Available,
    /// Force Encryption: every connection is encrypted.
    Forced,
}

/// What the PRELOGIN exchange agreed for the rest of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agreed {
    /// No encryption at all.
    Plain,
    /// TLS for the LOGIN7 message only, plain text after it.
    LoginOnly,
    /// TLS for the whole connection.
    Full,
    /// The client wants TLS from a server that has none: the table says the client
    /// ends the connection.
    ClientEnds,
    /// The server requires TLS from a client that has none: the server ends the
    /// connection.
    ServerEnds,
}

/// The negotiation of MS-TDS 2.2.6.5: the ENCRYPTION byte the server answers and what
/// both sides then do. A server with a certificate that does not force encryption
/// answers in kind (ON for ON or REQ, OFF for OFF: the login alone is encrypted); one
/// that forces it answers REQ to every client; one without a certificate answers
/// NOT_SUP. A client byte that is none of the four values is a protocol error.
pub(crate) fn negotiate(offer: Offer, client: Option<u8>) -> Result<(u8, Agreed), ProtocolError> {
    let client = client.unwrap_or(ENCRYPT_NOT_SUP);
    if !matches!(
        client,
        ENCRYPT_OFF | ENCRYPT_ON | ENCRYPT_NOT_SUP | ENCRYPT_REQ
    ) {
        return Err(ProtocolError::invalid(
            "PRELOGIN ENCRYPTION",
            format!("0x{client:02X} is not ENCRYPT_OFF, _ON, _NOT_SUP or _REQ"),
        ));
    }
    let wants_tls = matches!(client, ENCRYPT_ON | ENCRYPT_REQ);
    Ok(match offer {
        Offer::NotSupported if wants_tls => (ENCRYPT_NOT_SUP, Agreed::ClientEnds),
        Offer::NotSupported => (ENCRYPT_NOT_SUP, Agreed::Plain),
        Offer::Available if wants_tls => (ENCRYPT_ON, Agreed::Full),
        Offer::Available if client == ENCRYPT_OFF => (ENCRYPT_OFF, Agreed::LoginOnly),
        Offer::Available => (ENCRYPT_NOT_SUP, Agreed::Plain),
        Offer::Forced if client == ENCRYPT_NOT_SUP => (ENCRYPT_REQ, Agreed::ServerEnds),
        Offer::Forced => (ENCRYPT_REQ, Agreed::Full),
    })
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

/// The server's PRELOGIN reply: VERSION, ENCRYPTION (the negotiated byte),
/// INSTOPT=00, THREADID (empty), MARS=00.
pub(crate) fn encode_server_prelogin(encryption: u8) -> Vec<u8> {
    let version = server_version_option();
    let options: [(u8, &[u8]); 5] = [
        (OPTION_VERSION, &version),
        (OPTION_ENCRYPTION, &[encryption]),
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
        assert_eq!(encode_server_prelogin(ENCRYPT_NOT_SUP), expected);
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
    }

    #[test]
    fn client_requiring_tls_is_recognised() {
        let payload = [0x01, 0x00, 0x06, 0x00, 0x01, 0xFF, 0x03];
        assert_eq!(
            decode_client_prelogin(&payload).unwrap().encryption,
            Some(ENCRYPT_REQ)
        );
    }

    /// MS-TDS 2.2.6.5's table, client setting by server setting: "encrypt login packet
    /// only" for OFF/OFF, "encrypt entire connection" wherever one side has TLS on or
    /// required and the other can do it, "no encryption" where neither wants it, and a
    /// terminated connection where one side requires what the other does not have.
    #[test]
    fn negotiation_follows_the_specification_table() {
        use Agreed::*;
        let table = [
            (Offer::NotSupported, ENCRYPT_OFF, ENCRYPT_NOT_SUP, Plain),
            (Offer::NotSupported, ENCRYPT_NOT_SUP, ENCRYPT_NOT_SUP, Plain),
            (Offer::NotSupported, ENCRYPT_ON, ENCRYPT_NOT_SUP, ClientEnds),
            (
                Offer::NotSupported,
                ENCRYPT_REQ,
                ENCRYPT_NOT_SUP,
                ClientEnds,
            ),
            (Offer::Available, ENCRYPT_OFF, ENCRYPT_OFF, LoginOnly),
            (Offer::Available, ENCRYPT_NOT_SUP, ENCRYPT_NOT_SUP, Plain),
            (Offer::Available, ENCRYPT_ON, ENCRYPT_ON, Full),
            (Offer::Available, ENCRYPT_REQ, ENCRYPT_ON, Full),
            (Offer::Forced, ENCRYPT_OFF, ENCRYPT_REQ, Full),
            (Offer::Forced, ENCRYPT_NOT_SUP, ENCRYPT_REQ, ServerEnds),
            (Offer::Forced, ENCRYPT_ON, ENCRYPT_REQ, Full),
            (Offer::Forced, ENCRYPT_REQ, ENCRYPT_REQ, Full),
        ];
        for (offer, client, reply, agreed) in table {
            assert_eq!(
                negotiate(offer, Some(client)).unwrap(),
                (reply, agreed),
                "{offer:?} with client 0x{client:02X}"
            );
        }
    }

    #[test]
    fn a_client_without_the_option_has_no_encryption() {
        assert_eq!(
            negotiate(Offer::Available, None).unwrap(),
            (ENCRYPT_NOT_SUP, Agreed::Plain)
        );
    }

    #[test]
    fn an_unknown_encryption_value_is_refused() {
        assert!(negotiate(Offer::Forced, Some(0x80)).is_err());
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
