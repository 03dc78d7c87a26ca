//! LOGIN7 (MS-TDS 2.2.6.4): the fixed part, the offset/length table of the
//! variable strings, password decoding, and for an integrated login (fIntSecurity)
//! the SSPI data it starts with. A FeatureExt block (FreeTDS sends one) is tolerated
//! and not read.
//!
//! Owns decoding only; accepting the login is the engine's decision.

use super::cursor::{Cursor, decode_utf16};
use super::engine::LoginRequest;
use super::error::ProtocolError;
use super::packet::{DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE};

/// Length of the fixed part of LOGIN7 for TDS 7.2 and later.
const FIXED_LEN: usize = 94;
/// Offset of the requested packet size.
const PACKET_SIZE_OFFSET: usize = 8;
/// Offset of the (offset, length) table of variable fields.
const FIELD_TABLE_OFFSET: usize = 36;
/// Offset of OptionFlags2, whose fIntSecurity bit asks for integrated security.
const OPTION_FLAGS_2_OFFSET: usize = 25;
/// fIntSecurity in OptionFlags2.
const INT_SECURITY: u8 = 0x80;
/// Offset of ibSSPI and cbSSPI (a length in bytes), after ClientID.
const SSPI_OFFSET: usize = 78;

/// Positions of the variable fields in the offset table.
#[derive(Debug, Clone, Copy)]
enum Field {
    HostName = 0,
    UserName = 1,
    Password = 2,
    AppName = 3,
    ServerName = 4,
    Database = 8,
}

/// A decoded LOGIN7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Login7 {
    /// The packet size the session uses from now on, clamped to 512..=32767.
    pub(crate) packet_size: usize,
    /// What the engine sees.
    pub(crate) request: LoginRequest,
    /// The SSPI data of an integrated login (fIntSecurity); `None` for a SQL login.
    pub(crate) sspi: Option<Vec<u8>>,
}

/// Decodes a LOGIN7 message.
pub(crate) fn decode_login7(payload: &[u8]) -> Result<Login7, ProtocolError> {
    if payload.len() < FIXED_LEN {
        return Err(ProtocolError::Truncated {
            what: "LOGIN7 fixed part",
        });
    }
    let mut fixed = Cursor::new(&payload[PACKET_SIZE_OFFSET..]);
    let requested = fixed.u32_le("LOGIN7 packet size")?;
    Ok(Login7 {
        packet_size: negotiate_packet_size(requested),
        request: LoginRequest {
            user: text_field(payload, Field::UserName)?,
            password: decode_password(field_bytes(payload, Field::Password)?)?,
            database: text_field(payload, Field::Database)?,
            app_name: text_field(payload, Field::AppName)?,
            host_name: text_field(payload, Field::HostName)?,
            server_name: text_field(payload, Field::ServerName)?,
            windows: None,
        },
        sspi: sspi_data(payload)?,
    })
}

/// The SSPI data when OptionFlags2 has fIntSecurity.
fn sspi_data(payload: &[u8]) -> Result<Option<Vec<u8>>, ProtocolError> {
    if payload[OPTION_FLAGS_2_OFFSET] & INT_SECURITY == 0 {
        return Ok(None);
    }
    let mut entry = Cursor::new(&payload[SSPI_OFFSET..]);
    let offset = usize::from(entry.u16_le("LOGIN7 ibSSPI")?);
    let len = usize::from(entry.u16_le("LOGIN7 cbSSPI")?);
    payload
        .get(offset..offset + len)
        .map(|bytes| Some(bytes.to_vec()))
        .ok_or(ProtocolError::Truncated {
            what: "LOGIN7 SSPI data",
        })
}

/// The client's packet size clamped to what TDS allows; 0 asks for the server default.
fn negotiate_packet_size(requested: u32) -> usize {
    match usize::try_from(requested) {
        Ok(0) | Err(_) => DEFAULT_PACKET_SIZE,
        Ok(size) => size.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE),
    }
}

fn text_field(payload: &[u8], field: Field) -> Result<String, ProtocolError> {
    decode_utf16(field_bytes(payload, field)?, "LOGIN7 string")
}

/// The bytes of one variable field; its length in the table counts UTF-16 units.
fn field_bytes(payload: &[u8], field: Field) -> Result<&[u8], ProtocolError> {
    let mut entry = Cursor::new(&payload[FIELD_TABLE_OFFSET + 4 * field as usize..]);
    let offset = usize::from(entry.u16_le("LOGIN7 field offset")?);
    let len = usize::from(entry.u16_le("LOGIN7 field length")?) * 2;
    payload
        .get(offset..offset + len)
        .ok_or(ProtocolError::Truncated {
            what: "LOGIN7 string",
        })
}

/// Undoes the LOGIN7 password scrambling: XOR 0xA5, then swap nibbles.
pub(crate) fn decode_password(scrambled: &[u8]) -> Result<String, ProtocolError> {
    let plain: Vec<u8> = scrambled
        .iter()
        .map(|byte| (byte ^ 0xA5).rotate_left(4))
        .collect();
    decode_utf16(&plain, "LOGIN7 password")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A LOGIN7 built by hand: fixed part, then host "h", user "sa",
    /// password "pw" (scrambled), app "app", server "srv", database "msdb".
    fn login7_bytes(packet_size: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; FIXED_LEN];
        bytes[4..8].copy_from_slice(&[0x04, 0x00, 0x00, 0x74]);
        bytes[8..12].copy_from_slice(&packet_size.to_le_bytes());
        let fields: [(usize, &[u8]); 6] = [
            (0, &[b'h', 0]),
            (1, &[b's', 0, b'a', 0]),
            // 'p' = 0x70 -> swap 0x07 -> ^A5 0xA2; 'w' = 0x77 -> 0x77 -> 0xD2; 0x00 -> 0xA5
            (2, &[0xA2, 0xA5, 0xD2, 0xA5]),
            (3, &[b'a', 0, b'p', 0, b'p', 0]),
            (4, &[b's', 0, b'r', 0, b'v', 0]),
            (8, &[b'm', 0, b's', 0, b'd', 0, b'b', 0]),
        ];
        for (index, data) in fields {
            let offset = bytes.len() as u16;
            let entry = FIELD_TABLE_OFFSET + 4 * index;
            bytes[entry..entry + 2].copy_from_slice(&offset.to_le_bytes());
            bytes[entry + 2..entry + 4].copy_from_slice(&((data.len() / 2) as u16).to_le_bytes());
            bytes.extend_from_slice(data);
        }
        // A FeatureExt block as FreeTDS sends it, which the decoder must ignore.
        bytes.extend_from_slice(&[0x0A, 0x01, 0x00, 0x00, 0x00, 0x01, 0xFF]);
        let total = bytes.len() as u32;
        bytes[0..4].copy_from_slice(&total.to_le_bytes());
        bytes
    }

    #[test]
    fn password_bytes_are_xored_then_nibble_swapped() {
        assert_eq!(decode_password(&[0xA2, 0xA5, 0xD2, 0xA5]).unwrap(), "pw");
    }

    #[test]
    fn all_strings_and_packet_size_are_decoded() {
        let login = decode_login7(&login7_bytes(8192)).unwrap();
        assert_eq!(login.packet_size, 8192);
        assert_eq!(
            login.request,
            LoginRequest {
                user: "sa".into(),
                password: "pw".into(),
                database: "msdb".into(),
                app_name: "app".into(),
                host_name: "h".into(),
                server_name: "srv".into(),
                windows: None,
            }
        );
        assert_eq!(login.sspi, None);
    }

    #[test]
    fn an_integrated_login_carries_its_sspi_data() {
        let mut bytes = login7_bytes(4096);
        let offset = bytes.len() as u16;
        bytes.extend_from_slice(b"NTLMSSP\0");
        bytes[OPTION_FLAGS_2_OFFSET] |= INT_SECURITY;
        bytes[SSPI_OFFSET..SSPI_OFFSET + 2].copy_from_slice(&offset.to_le_bytes());
        bytes[SSPI_OFFSET + 2..SSPI_OFFSET + 4].copy_from_slice(&8u16.to_le_bytes());
        let login = decode_login7(&bytes).unwrap();
        assert_eq!(login.sspi.as_deref(), Some(&b"NTLMSSP\0"[..]));
        bytes[SSPI_OFFSET + 2..SSPI_OFFSET + 4].copy_from_slice(&9u16.to_le_bytes());
        assert!(decode_login7(&bytes).is_err(), "SSPI data past the end");
    }

    #[test]
    fn packet_size_is_clamped_and_zero_means_default() {
        assert_eq!(decode_login7(&login7_bytes(100)).unwrap().packet_size, 512);
        assert_eq!(
            decode_login7(&login7_bytes(70000)).unwrap().packet_size,
            32767
        );
        assert_eq!(decode_login7(&login7_bytes(0)).unwrap().packet_size, 4096);
    }

    #[test]
    fn short_fixed_part_is_rejected() {
        assert!(decode_login7(&login7_bytes(4096)[..60]).is_err());
    }

    #[test]
    fn field_pointing_past_the_end_is_rejected() {
        let mut bytes = login7_bytes(4096);
        bytes[FIELD_TABLE_OFFSET + 4..FIELD_TABLE_OFFSET + 6]
            .copy_from_slice(&0xFFF0u16.to_le_bytes());
        assert!(decode_login7(&bytes).is_err());
    }
}
