//! Byte sizes on the command line (`--db-size 64MiB`, `2GiB`): a whole number with an
//! optional binary unit. Owns the parsing only; what a size means is the caller's.

/// The units understood, with their factors; no unit means bytes.
const UNITS: [(&str, u64); 5] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("B", 1),
];

/// Parses `64MiB`, `2GiB`, `512KiB`, `4096B` or `4096` into bytes (units are binary
/// and case-insensitive).
pub fn parse(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (number, factor) = UNITS
        .iter()
        .find_map(|(unit, factor)| {
            let cut = trimmed.len().checked_sub(unit.len())?;
            let suffix = trimmed.get(cut..)?;
            suffix
                .eq_ignore_ascii_case(unit)
                .then(|| (&trimmed[..cut], *factor))
        })
        .unwrap_or((trimmed, 1));
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text} is not a size such as 64MiB or 2GiB"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn binary_units_and_plain_bytes_parse() {
        assert_eq!(parse("64MiB"), Ok(64 << 20));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("512kib"), Ok(512 << 10));
        assert_eq!(parse("4096B"), Ok(4096));
        assert_eq!(parse("4096"), Ok(4096));
    }

    #[test]
    fn other_text_is_refused() {
        for text in ["", "MiB", "2.5GiB", "-1MiB", "2GB", "99999999999TiB"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
