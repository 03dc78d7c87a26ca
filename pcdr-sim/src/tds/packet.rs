//! TDS packet framing (MS-TDS 2.2.3): the 8-byte header, reassembly of a
//! client message from packets up to END OF MESSAGE, and splitting a reply
//! into packets of the negotiated size.
//!
//! Owns the byte layout of packets only; what a message means is decoded by
//! the sibling modules.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::ProtocolError;

/// Length of the packet header.
pub(crate) const HEADER_LEN: usize = 8;
/// Largest client message the server reassembles.
pub(crate) const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
/// How long the rest of a message may take once its first byte has arrived.
pub(crate) const MESSAGE_STALL_LIMIT: Duration = Duration::from_secs(30);
/// Packet size used before LOGIN7 negotiates one.
pub(crate) const DEFAULT_PACKET_SIZE: usize = 4096;
/// Smallest negotiable packet size.
pub(crate) const MIN_PACKET_SIZE: usize = 512;
/// Largest negotiable packet size.
pub(crate) const MAX_PACKET_SIZE: usize = 32767;

/// Status bit: this packet is the last of its message.
const STATUS_END_OF_MESSAGE: u8 = 0x01;
/// Status bit: the client asks the server to discard this message.
const STATUS_IGNORE: u8 = 0x02;

/// The packet types the server understands (MS-TDS 2.2.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PacketType {
    /// SQL batch text.
    SqlBatch = 0x01,
    /// Remote procedure call.
    Rpc = 0x03,
    /// Server reply (tokens).
    TabularResult = 0x04,
    /// Cancel the running request.
    Attention = 0x06,
    /// Bulk load data.
    BulkLoad = 0x07,
    /// Transaction manager request.
    TransactionManager = 0x0E,
    /// Login.
    Login7 = 0x10,
    /// Integrated authentication.
    Sspi = 0x11,
    /// Pre-login handshake.
    PreLogin = 0x12,
}

impl PacketType {
    fn from_byte(byte: u8) -> Result<Self, ProtocolError> {
        Ok(match byte {
            0x01 => Self::SqlBatch,
            0x03 => Self::Rpc,
            0x04 => Self::TabularResult,
            0x06 => Self::Attention,
            0x07 => Self::BulkLoad,
            0x0E => Self::TransactionManager,
            0x10 => Self::Login7,
            0x11 => Self::Sspi,
            0x12 => Self::PreLogin,
            other => return Err(ProtocolError::UnknownPacketType(other)),
        })
    }
}

/// The 8-byte packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PacketHeader {
    /// Packet type.
    pub(crate) ty: PacketType,
    /// Status bits.
    pub(crate) status: u8,
    /// Length of the packet including this header, big-endian on the wire.
    pub(crate) length: u16,
    /// Server process id, big-endian on the wire.
    pub(crate) spid: u16,
    /// Sequence number of the packet within its message, wrapping at 256.
    pub(crate) packet_id: u8,
}

impl PacketHeader {
    /// Decodes a header, checking the type and that the length covers the header.
    pub(crate) fn decode(bytes: [u8; HEADER_LEN]) -> Result<Self, ProtocolError> {
        let length = u16::from_be_bytes([bytes[2], bytes[3]]);
        if usize::from(length) < HEADER_LEN {
            return Err(ProtocolError::PacketTooShort(length));
        }
        Ok(Self {
            ty: PacketType::from_byte(bytes[0])?,
            status: bytes[1],
            length,
            spid: u16::from_be_bytes([bytes[4], bytes[5]]),
            packet_id: bytes[6],
        })
    }

    /// Appends the header's 8 bytes (window byte 0).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.ty as u8);
        out.push(self.status);
        out.extend_from_slice(&self.length.to_be_bytes());
        out.extend_from_slice(&self.spid.to_be_bytes());
        out.push(self.packet_id);
        out.push(0);
    }

    fn body_len(&self) -> usize {
        usize::from(self.length) - HEADER_LEN
    }

    fn is_end_of_message(&self) -> bool {
        self.status & STATUS_END_OF_MESSAGE != 0
    }

    fn is_ignore(&self) -> bool {
        self.status & STATUS_IGNORE != 0
    }
}

/// A complete client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// Type of the message's packets.
    pub(crate) ty: PacketType,
    /// The bodies of all its packets, concatenated.
    pub(crate) payload: Vec<u8>,
}

/// What one read from the client produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A message to act on.
    Message(Message),
    /// A message the client marked IGNORE; the server discards it.
    Ignored,
}

/// Reads packets up to END OF MESSAGE. `Ok(None)` means the client closed the
/// connection between messages: cleanly, or over TLS without a close_notify alert, as
/// FreeTDS and tiberius do (their closing after a complete message loses nothing). Once
/// a message has begun, all of it must arrive within `stall_limit`.
pub(crate) async fn read_message<R>(
    reader: &mut R,
    stall_limit: Duration,
) -> Result<Option<Incoming>, ProtocolError>
where
    R: AsyncRead + Unpin,
{
    let mut first_byte = [0u8; 1];
    match reader.read(&mut first_byte).await {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    tokio::time::timeout(stall_limit, read_rest_of_message(reader, first_byte[0]))
        .await
        .map_err(|_| ProtocolError::Stalled { limit: stall_limit })?
        .map(Some)
}

async fn read_rest_of_message<R>(reader: &mut R, first_byte: u8) -> Result<Incoming, ProtocolError>
where
    R: AsyncRead + Unpin,
{
    let mut header = read_header(reader, Some(first_byte)).await?;
    let first_type = header.ty;
    let mut payload = Vec::new();
    let mut ignored = false;
    loop {
        if header.ty != first_type {
            return Err(ProtocolError::MixedPacketTypes {
                first: first_type as u8,
                next: header.ty as u8,
            });
        }
        read_body(reader, &header, &mut payload).await?;
        ignored |= header.is_ignore();
        if header.is_end_of_message() {
            break;
        }
        header = read_header(reader, None).await?;
    }
    Ok(if ignored {
        Incoming::Ignored
    } else {
        Incoming::Message(Message {
            ty: first_type,
            payload,
        })
    })
}

/// Reads one header, of which `first_byte` may already have been read.
async fn read_header<R>(
    reader: &mut R,
    first_byte: Option<u8>,
) -> Result<PacketHeader, ProtocolError>
where
    R: AsyncRead + Unpin,
{
    let mut bytes = [0u8; HEADER_LEN];
    let start = match first_byte {
        Some(byte) => {
            bytes[0] = byte;
            1
        }
        None => 0,
    };
    reader
        .read_exact(&mut bytes[start..])
        .await
        .map_err(|error| eof_as_truncation(error, "packet header"))?;
    PacketHeader::decode(bytes)
}

/// The socket closing inside a packet is a truncated message.
fn eof_as_truncation(error: std::io::Error, what: &'static str) -> ProtocolError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        ProtocolError::Truncated { what }
    } else {
        ProtocolError::Io(error)
    }
}

async fn read_body<R>(
    reader: &mut R,
    header: &PacketHeader,
    payload: &mut Vec<u8>,
) -> Result<(), ProtocolError>
where
    R: AsyncRead + Unpin,
{
    let start = payload.len();
    let end = start + header.body_len();
    if end > MAX_MESSAGE_LEN {
        return Err(ProtocolError::MessageTooLarge {
            limit: MAX_MESSAGE_LEN,
        });
    }
    payload.resize(end, 0);
    reader
        .read_exact(&mut payload[start..])
        .await
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                ProtocolError::Truncated {
                    what: "packet body",
                }
            } else {
                ProtocolError::Io(error)
            }
        })?;
    Ok(())
}

/// Splits `payload` into packets of at most `packet_size` bytes (header
/// included), numbered from 1 and wrapping at 256, END OF MESSAGE on the last.
pub(crate) fn frame_message(
    ty: PacketType,
    payload: &[u8],
    packet_size: usize,
    spid: u16,
) -> Vec<u8> {
    let body_max = packet_size.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE) - HEADER_LEN;
    let chunk_count = payload.len().div_ceil(body_max).max(1);
    let mut out = Vec::with_capacity(payload.len() + chunk_count * HEADER_LEN);
    let mut packet_id: u8 = 1;
    for index in 0..chunk_count {
        let body = &payload[index * body_max..payload.len().min((index + 1) * body_max)];
        let is_last = index + 1 == chunk_count;
        PacketHeader {
            ty,
            status: if is_last { STATUS_END_OF_MESSAGE } else { 0 },
            length: (HEADER_LEN + body.len()) as u16, // at most MAX_PACKET_SIZE
            spid,
            packet_id,
        }
        .encode(&mut out);
        out.extend_from_slice(body);
        packet_id = packet_id.wrapping_add(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    fn read(bytes: &[u8]) -> Result<Option<Incoming>, ProtocolError> {
        let mut reader = bytes;
        runtime().block_on(read_message(&mut reader, MESSAGE_STALL_LIMIT))
    }

    fn message(ty: PacketType, payload: &[u8]) -> Incoming {
        Incoming::Message(Message {
            ty,
            payload: payload.to_vec(),
        })
    }

    #[test]
    fn header_encodes_length_and_spid_big_endian() {
        let mut out = Vec::new();
        PacketHeader {
            ty: PacketType::TabularResult,
            status: 0x01,
            length: 0x0102,
            spid: 0x0033,
            packet_id: 7,
        }
        .encode(&mut out);
        assert_eq!(out, [0x04, 0x01, 0x01, 0x02, 0x00, 0x33, 0x07, 0x00]);
    }

    #[test]
    fn single_packet_message_is_read() {
        let bytes = [0x01, 0x01, 0x00, 0x0A, 0x00, 0x00, 0x01, 0x00, 0xAB, 0xCD];
        assert_eq!(
            read(&bytes).unwrap(),
            Some(message(PacketType::SqlBatch, &[0xAB, 0xCD]))
        );
    }

    #[test]
    fn multi_packet_message_is_reassembled_up_to_end_of_message() {
        let bytes = [
            0x03, 0x00, 0x00, 0x0A, 0x00, 0x00, 0x01, 0x00, 0x01, 0x02, // first, no EOM
            0x03, 0x00, 0x00, 0x09, 0x00, 0x00, 0x02, 0x00, 0x03, // middle
            0x03, 0x01, 0x00, 0x0A, 0x00, 0x00, 0x03, 0x00, 0x04, 0x05, // last, EOM
        ];
        assert_eq!(
            read(&bytes).unwrap(),
            Some(message(PacketType::Rpc, &[1, 2, 3, 4, 5]))
        );
    }

    #[test]
    fn attention_is_a_header_only_message() {
        let bytes = [0x06, 0x01, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00];
        assert_eq!(
            read(&bytes).unwrap(),
            Some(message(PacketType::Attention, &[]))
        );
    }

    #[test]
    fn ignore_bit_discards_the_whole_message() {
        let bytes = [
            0x01, 0x00, 0x00, 0x09, 0x00, 0x00, 0x01, 0x00, 0xAA, //
            0x01, 0x03, 0x00, 0x08, 0x00, 0x00, 0x02, 0x00,
        ];
        assert_eq!(read(&bytes).unwrap(), Some(Incoming::Ignored));
    }

    #[test]
    fn clean_close_between_messages_is_none() {
        assert_eq!(read(&[]).unwrap(), None);
    }

    #[test]
    fn close_inside_a_header_is_truncation() {
        assert!(matches!(
            read(&[0x01, 0x01, 0x00]),
            Err(ProtocolError::Truncated { .. })
        ));
    }

    #[test]
    fn close_inside_a_body_is_truncation() {
        let bytes = [0x01, 0x01, 0x00, 0x20, 0x00, 0x00, 0x01, 0x00, 0xAA];
        assert!(matches!(read(&bytes), Err(ProtocolError::Truncated { .. })));
    }

    #[test]
    fn close_before_end_of_message_is_truncation() {
        let bytes = [0x01, 0x00, 0x00, 0x09, 0x00, 0x00, 0x01, 0x00, 0xAA];
        assert!(matches!(read(&bytes), Err(ProtocolError::Truncated { .. })));
    }

    #[test]
    fn message_that_stalls_midway_times_out() {
        let outcome = runtime().block_on(async {
            let (mut client, mut server) = tokio::io::duplex(64);
            tokio::io::AsyncWriteExt::write_all(&mut client, &[0x01, 0x01, 0x00])
                .await
                .unwrap();
            let outcome = read_message(&mut server, Duration::from_millis(20)).await;
            drop(client);
            outcome
        });
        assert!(matches!(outcome, Err(ProtocolError::Stalled { .. })));
    }

    #[test]
    fn length_below_header_size_is_rejected() {
        let bytes = [0x01, 0x01, 0x00, 0x07, 0x00, 0x00, 0x01, 0x00];
        assert!(matches!(
            read(&bytes),
            Err(ProtocolError::PacketTooShort(7))
        ));
    }

    #[test]
    fn unknown_packet_type_is_rejected() {
        let bytes = [0x47, 0x45, 0x54, 0x20, 0x2F, 0x20, 0x48, 0x54];
        assert!(matches!(
            read(&bytes),
            Err(ProtocolError::UnknownPacketType(0x47))
        ));
    }

    #[test]
    fn packet_type_change_inside_a_message_is_rejected() {
        let bytes = [
            0x01, 0x00, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, //
            0x03, 0x01, 0x00, 0x08, 0x00, 0x00, 0x02, 0x00,
        ];
        assert!(matches!(
            read(&bytes),
            Err(ProtocolError::MixedPacketTypes { .. })
        ));
    }

    #[test]
    fn message_over_the_size_limit_is_rejected_before_allocating() {
        let mut bytes = Vec::new();
        let packet_count = MAX_MESSAGE_LEN / 0xFFF7 + 1;
        for _ in 0..packet_count {
            bytes.extend_from_slice(&[0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00]);
            bytes.resize(bytes.len() + 0xFFF7, 0);
        }
        assert!(matches!(
            read(&bytes),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn empty_reply_is_one_header_only_packet() {
        assert_eq!(
            frame_message(PacketType::TabularResult, &[], 4096, 51),
            [0x04, 0x01, 0x00, 0x08, 0x00, 0x33, 0x01, 0x00]
        );
    }

    #[test]
    fn reply_is_split_at_packet_size_with_end_of_message_only_on_the_last() {
        let payload: Vec<u8> = (0..1100u32).map(|i| i as u8).collect();
        let framed = frame_message(PacketType::TabularResult, &payload, 512, 0x0034);

        let mut expected = vec![0x04, 0x00, 0x02, 0x00, 0x00, 0x34, 0x01, 0x00];
        expected.extend_from_slice(&payload[..504]);
        expected.extend_from_slice(&[0x04, 0x00, 0x02, 0x00, 0x00, 0x34, 0x02, 0x00]);
        expected.extend_from_slice(&payload[504..1008]);
        expected.extend_from_slice(&[0x04, 0x01, 0x00, 0x64, 0x00, 0x34, 0x03, 0x00]);
        expected.extend_from_slice(&payload[1008..]);
        assert_eq!(framed, expected);
    }

    #[test]
    fn packet_ids_wrap_after_255() {
        let payload = vec![0u8; 504 * 257];
        let framed = frame_message(PacketType::TabularResult, &payload, 512, 51);
        let ids: Vec<u8> = framed.chunks(512).map(|packet| packet[6]).collect();
        assert_eq!(ids.len(), 257);
        assert_eq!(&ids[253..], &[254, 255, 0, 1]);
    }

    #[test]
    fn framed_reply_reads_back_as_one_message() {
        let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let framed = frame_message(PacketType::TabularResult, &payload, 1000, 51);
        assert_eq!(
            read(&framed).unwrap(),
            Some(message(PacketType::TabularResult, &payload))
        );
    }
}
