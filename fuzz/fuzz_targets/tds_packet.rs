//! The emulator's TDS decoders on any bytes: packet framing and reassembly, PRELOGIN,
//! LOGIN7, SQL batch and RPC (through `pcdr_sim::tds::fuzz`, which exists for this).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pcdr_sim::tds::fuzz::decode_client_bytes(data);
});
