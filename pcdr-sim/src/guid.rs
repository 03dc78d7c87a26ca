//! [`Guid`]: the uniqueidentifier values of the emulated world (family GUIDs,
//! mirroring GUIDs, job ids), their SQL Server text form and their generation.
//!
//! Owns no state beyond a process-wide counter that keeps generated GUIDs unique.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A GUID in RFC 4122 byte order, shown as SQL Server shows it
/// (`6F9A1B2C-3D4E-451F-8A0B-1C2D3E4F5061`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(pub [u8; 16]);

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Guid {
    /// A new version-4-shaped GUID, unique within this process and very likely across
    /// processes (it mixes the clock, the process id and a counter).
    pub(crate) fn generate() -> Guid {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let seed = nanos ^ (u64::from(std::process::id()) << 32) ^ count.rotate_left(17);
        let high = splitmix64(seed);
        let low = splitmix64(high ^ count);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high.to_be_bytes());
        bytes[8..].copy_from_slice(&low.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0F) | 0x40;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        Guid(bytes)
    }
}

/// One step of the SplitMix64 generator: a good bit mixer for seeds.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

/// The text is not a GUID of the form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidGuid;

impl FromStr for Guid {
    type Err = InvalidGuid;

    /// Reads `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` in any case, optionally in braces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let groups: Vec<&str> = inner.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(InvalidGuid);
        }
        let hex: String = groups.concat();
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or(InvalidGuid)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| InvalidGuid)?;
        }
        Ok(Guid(bytes))
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a GUID")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_in_sql_server_style() {
        let guid: Guid = "6f9a1b2c-3d4e-451f-8a0b-1c2d3e4f5061".parse().unwrap();
        assert_eq!(guid.to_string(), "6F9A1B2C-3D4E-451F-8A0B-1C2D3E4F5061");
        assert_eq!(guid.0[0], 0x6F);
        assert_eq!("{6F9A1B2C-3D4E-451F-8A0B-1C2D3E4F5061}".parse(), Ok(guid));
    }

    #[test]
    fn malformed_text_is_refused() {
        assert!("6F9A1B2C3D4E451F8A0B1C2D3E4F5061".parse::<Guid>().is_err());
        assert!(
            "6F9A1B2C-3D4E-451F-8A0B-1C2D3E4F50ZZ"
                .parse::<Guid>()
                .is_err()
        );
    }

    #[test]
    fn generated_guids_differ() {
        assert_ne!(Guid::generate(), Guid::generate());
    }
}
