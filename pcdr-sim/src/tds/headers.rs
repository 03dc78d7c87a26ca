//! ALL_HEADERS (MS-TDS 2.2.5.3), the prefix of every SQLBatch and RPC request
//! in TDS 7.2 and later. The server reads no header in it (transaction
//! descriptor, trace activity) and only skips it.

use super::cursor::Cursor;
use super::error::ProtocolError;

/// Skips ALL_HEADERS: a u32 total length that counts itself, then the headers.
pub(crate) fn skip_all_headers(cursor: &mut Cursor<'_>) -> Result<(), ProtocolError> {
    let total = cursor.u32_le("ALL_HEADERS length")? as usize;
    let Some(headers_len) = total.checked_sub(4) else {
        return Err(ProtocolError::invalid(
            "ALL_HEADERS length",
            format!("{total} is below 4"),
        ));
    };
    cursor.take(headers_len, "ALL_HEADERS")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_a_transaction_descriptor_header() {
        let bytes = [
            0x16, 0x00, 0x00, 0x00, // total 22
            0x12, 0x00, 0x00, 0x00, 0x02, 0x00, // length 18, type 2
            0, 0, 0, 0, 0, 0, 0, 0, // descriptor
            0x01, 0x00, 0x00, 0x00, // outstanding requests
            0xAB,
        ];
        let mut cursor = Cursor::new(&bytes);
        skip_all_headers(&mut cursor).unwrap();
        assert_eq!(cursor.rest(), &[0xAB]);
    }

    #[test]
    fn total_below_its_own_size_is_rejected() {
        assert!(skip_all_headers(&mut Cursor::new(&[0x02, 0, 0, 0])).is_err());
    }

    #[test]
    fn total_past_the_message_is_rejected() {
        assert!(skip_all_headers(&mut Cursor::new(&[0xFF, 0, 0, 0, 0])).is_err());
    }
}
