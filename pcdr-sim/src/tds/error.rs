//! The one error type of the wire layer: what was wrong with the bytes a peer sent.
//!
//! Owns [`ProtocolError`]. It never carries engine errors; those travel as
//! [`ServerMessage`](super::ServerMessage)s inside a response.

/// Why a message from a client could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// The message ended before a field was complete.
    #[error("the message ended inside {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// A packet header announced a length below the header's own 8 bytes.
    #[error("packet length {0} is shorter than the 8-byte packet header")]
    PacketTooShort(u16),
    /// A packet header carried a type byte that is not a TDS packet type.
    #[error("unknown packet type 0x{0:02X}")]
    UnknownPacketType(u8),
    /// The packets of one message did not all carry the same type.
    #[error("packet type changed from 0x{first:02X} to 0x{next:02X} inside one message")]
    MixedPacketTypes {
        /// Type of the message's first packet.
        first: u8,
        /// Type of the packet that differed.
        next: u8,
    },
    /// A message grew beyond the size the server accepts.
    #[error("message exceeds the {limit}-byte limit")]
    MessageTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A message began but did not complete in time.
    #[error("the rest of the message did not arrive within {limit:?}")]
    Stalled {
        /// How long the server waited.
        limit: std::time::Duration,
    },
    /// A string field held invalid UTF-16.
    #[error("{what} is not valid UTF-16")]
    InvalidUtf16 {
        /// The field being read.
        what: &'static str,
    },
    /// A field held a value the server does not accept.
    #[error("{what}: {detail}")]
    Invalid {
        /// The field being read.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A message arrived that the session did not expect in its current state.
    #[error("expected {expected}, got a message of type 0x{got:02X}")]
    UnexpectedMessage {
        /// What the session was waiting for.
        expected: &'static str,
        /// The packet type that arrived.
        got: u8,
    },
    /// The socket failed or closed in the middle of a message.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// Shorthand for [`ProtocolError::Invalid`].
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            detail: detail.into(),
        }
    }
}
