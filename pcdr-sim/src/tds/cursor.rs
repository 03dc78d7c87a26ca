//! A bounds-checked reader over a received message.
//!
//! Every read of a number, a length-prefixed field or a string fails with
//! [`ProtocolError::Truncated`] when the message is too short; nothing here
//! indexes out of bounds or allocates more than the message already holds.

use super::error::ProtocolError;

/// Reads fields front to back from a byte slice.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `len` bytes; `what` names the field for the error.
    pub(crate) fn take(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], ProtocolError> {
        if len > self.bytes.len() {
            return Err(ProtocolError::Truncated { what });
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian u16.
    pub(crate) fn u16_le(&mut self, what: &'static str) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A big-endian u16 (PRELOGIN option table).
    pub(crate) fn u16_be(&mut self, what: &'static str) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A little-endian u32.
    pub(crate) fn u32_le(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian u64.
    pub(crate) fn u64_le(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// `byte_len` bytes of UTF-16LE text.
    pub(crate) fn utf16(
        &mut self,
        byte_len: usize,
        what: &'static str,
    ) -> Result<String, ProtocolError> {
        decode_utf16(self.take(byte_len, what)?, what)
    }

    /// A B_VARCHAR: a one-byte length in characters, then UTF-16LE text.
    pub(crate) fn b_varchar(&mut self, what: &'static str) -> Result<String, ProtocolError> {
        let chars = usize::from(self.u8(what)?);
        self.utf16(chars * 2, what)
    }
}

/// Decodes UTF-16LE bytes; an odd length or an unpaired surrogate is an error.
pub(crate) fn decode_utf16(bytes: &[u8], what: &'static str) -> Result<String, ProtocolError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(ProtocolError::InvalidUtf16 { what });
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| ProtocolError::InvalidUtf16 { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_in_their_byte_order() {
        let mut cursor = Cursor::new(&[0x01, 0x02, 0x01, 0x02, 0x01, 0, 0, 0]);
        assert_eq!(cursor.u16_le("a").unwrap(), 0x0201);
        assert_eq!(cursor.u16_be("b").unwrap(), 0x0102);
        assert_eq!(cursor.u32_le("c").unwrap(), 1);
        assert!(cursor.is_empty());
    }

    #[test]
    fn reading_past_the_end_is_a_truncation_error() {
        let mut cursor = Cursor::new(&[0x01]);
        assert!(matches!(
            cursor.u32_le("field"),
            Err(ProtocolError::Truncated { what: "field" })
        ));
    }

    #[test]
    fn b_varchar_reads_a_character_count_then_utf16() {
        let mut cursor = Cursor::new(&[0x02, b'h', 0, b'i', 0]);
        assert_eq!(cursor.b_varchar("name").unwrap(), "hi");
    }

    #[test]
    fn odd_length_utf16_is_rejected() {
        assert!(decode_utf16(&[b'a', 0, b'b'], "text").is_err());
    }

    #[test]
    fn unpaired_surrogate_is_rejected() {
        assert!(decode_utf16(&[0x00, 0xD8], "text").is_err());
    }
}
