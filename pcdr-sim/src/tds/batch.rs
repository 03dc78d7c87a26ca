//! SQLBatch (MS-TDS 2.2.6.7): ALL_HEADERS, then the SQL text as UTF-16LE.

use super::cursor::{Cursor, decode_utf16};
use super::error::ProtocolError;
use super::headers::skip_all_headers;

/// Decodes a SQLBatch message into its SQL text.
pub(crate) fn decode_batch(payload: &[u8]) -> Result<String, ProtocolError> {
    let mut cursor = Cursor::new(payload);
    skip_all_headers(&mut cursor)?;
    decode_utf16(cursor.rest(), "SQL batch text")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_HEADERS: [u8; 22] = [
        0x16, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x00, 0x00, 0x00,
    ];

    #[test]
    fn text_after_all_headers_is_decoded() {
        let mut bytes = ALL_HEADERS.to_vec();
        bytes.extend_from_slice(&[b'G', 0, b'O', 0, 0xE9, 0x00]);
        assert_eq!(decode_batch(&bytes).unwrap(), "GOé");
    }

    #[test]
    fn odd_text_length_is_rejected() {
        let mut bytes = ALL_HEADERS.to_vec();
        bytes.push(b'x');
        assert!(decode_batch(&bytes).is_err());
    }
}
