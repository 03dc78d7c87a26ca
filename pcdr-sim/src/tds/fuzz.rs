//! An entry point for fuzzing the wire decoders, and nothing else: the cargo-fuzz
//! target `fuzz/fuzz_targets/tds_packet.rs` calls it (see `scripts/fuzz`). It is not
//! part of the emulator's API and may change with the decoders.
//!
//! The decoders themselves stay private; this runs every one of them over untrusted
//! bytes exactly as a session would, so that a fuzzer can look for a panic, a hang or
//! an unbounded allocation.

use std::sync::OnceLock;
use std::time::Duration;

use super::batch::decode_batch;
use super::login7::decode_login7;
use super::packet::{Incoming, read_message};
use super::prelogin::decode_client_prelogin;
use super::rpc::decode_rpc;

/// Feeds `bytes` to every client-message decoder (PRELOGIN, LOGIN7, SQL batch, RPC) as
/// one message payload, then reads them as a stream of packets (framing, reassembly,
/// IGNORE, the size limit) and decodes each reassembled message by its type. Results
/// are discarded; only a panic is a finding.
///
/// For fuzzing only.
pub fn decode_client_bytes(bytes: &[u8]) {
    decode_payload(bytes);
    runtime().block_on(async {
        let mut reader = bytes;
        // Each message read consumes at least one byte, so this ends.
        while let Ok(Some(incoming)) = read_message(&mut reader, Duration::from_secs(1)).await {
            if let Incoming::Message(message) = incoming {
                decode_payload(&message.payload);
            }
        }
    });
}

fn decode_payload(payload: &[u8]) {
    let _ = decode_client_prelogin(payload);
    let _ = decode_login7(payload);
    let _ = decode_batch(payload);
    let _ = decode_rpc(payload);
}

/// The packet reader needs a tokio context with a timer; one is built once.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_packets_are_decoded_without_panicking() {
        decode_client_bytes(&[]);
        decode_client_bytes(&[0x12, 0x01, 0x00, 0x0C, 0, 0, 1, 0, 0xFF, 0, 0, 0]);
        decode_client_bytes(&[0x12, 0x01, 0xFF, 0xFF, 0, 0, 1, 0, 0xFF]);
        decode_client_bytes(&[0x10, 0x01, 0x00, 0x00]);
        decode_client_bytes(&[0xFF; 300]);
    }
}
