//! Client messages built byte by byte, for the tests that speak TDS without a driver
//! (the malformed-peer and Windows-login tests): the packet header (MS-TDS 2.2.3.1),
//! PRELOGIN (2.2.6.5) and LOGIN7 (2.2.6.4), integrated logins included.

/// PRELOGIN's packet type.
pub const PRELOGIN: u8 = 0x12;
/// LOGIN7's packet type.
pub const LOGIN7: u8 = 0x10;
/// The status of a message's last packet.
pub const EOM: u8 = 0x01;

/// `text` as UTF-16LE, as TDS sends strings.
pub fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// One packet: header (type, status, length as given, spid 0, id 1, window 0) and body.
pub fn packet_with_length(ty: u8, status: u8, length: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![ty, status];
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&[0, 0, 1, 0]);
    out.extend_from_slice(body);
    out
}

/// One well-framed, final packet.
pub fn packet(ty: u8, body: &[u8]) -> Vec<u8> {
    packet_with_length(ty, EOM, (8 + body.len()) as u16, body)
}

/// A client PRELOGIN: VERSION and ENCRYPTION = `encryption`.
pub fn prelogin_with_encryption(encryption: u8) -> Vec<u8> {
    let mut body = vec![0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF];
    body.extend_from_slice(&[0x0F, 0x00, 0x07, 0xD0, 0x00, 0x00]); // version
    body.push(encryption);
    body
}

/// A client PRELOGIN: VERSION and ENCRYPTION = NOT_SUP.
pub fn prelogin_body() -> Vec<u8> {
    prelogin_with_encryption(0x02)
}

/// Where the (offset, length) pair of LOGIN7 variable field `index` lives.
pub fn field_entry(index: usize) -> usize {
    36 + 4 * index
}

/// A LOGIN7 (TDS 7.4, 4096-byte packets) with the variable `fields` given as (field
/// index, UTF-16LE data).
pub fn login7(fields: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0u8; 94];
    body[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
    body[8..12].copy_from_slice(&4096u32.to_le_bytes());
    for (index, data) in fields {
        let offset = body.len() as u16;
        let entry = field_entry(*index);
        body[entry..entry + 2].copy_from_slice(&offset.to_le_bytes());
        body[entry + 2..entry + 4].copy_from_slice(&((data.len() / 2) as u16).to_le_bytes());
        body.extend_from_slice(data);
    }
    with_length(body)
}

/// `login7` made an integrated login: fIntSecurity (OptionFlags2 0x80) and `sspi` as
/// its SSPI data (ibSSPI/cbSSPI at offset 78).
pub fn with_sspi(mut body: Vec<u8>, sspi: &[u8]) -> Vec<u8> {
    body[25] |= 0x80;
    let offset = body.len() as u16;
    body[78..80].copy_from_slice(&offset.to_le_bytes());
    body[80..82].copy_from_slice(&(sspi.len() as u16).to_le_bytes());
    body.extend_from_slice(sspi);
    with_length(body)
}

/// `body` with LOGIN7's total length (its first four bytes) set.
fn with_length(mut body: Vec<u8>) -> Vec<u8> {
    let total = body.len() as u32;
    body[0..4].copy_from_slice(&total.to_le_bytes());
    body
}
