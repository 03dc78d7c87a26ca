//! `Topology::from_toml_str` on any text: it returns a topology or an error, never
//! panics, and a topology it accepts is written out and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pcdr_core::topology::Topology;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(topology) = Topology::from_toml_str(text, None) {
        let again = Topology::from_toml_str(&topology.to_toml_string(), None)
            .expect("a written topology loads");
        assert_eq!(again, topology);
    }
});
