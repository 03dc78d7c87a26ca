//! TDS data types (MS-TDS 2.2.5.4): type ids, the collation the server
//! announces, and the value layouts shared by the ROW encoder and the RPC
//! parameter decoder (DATETIME2, DATETIME, DECIMAL/NUMERIC magnitude, GUID byte
//! order).
//!
//! Owns byte layouts of single values; token framing lives in `rows` and `rpc`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::error::ProtocolError;

/// Type ids as they appear in TYPE_INFO.
pub(crate) mod type_id {
    /// NULLTYPE: a typeless NULL, no length and no data.
    pub(crate) const NULL: u8 = 0x1F;
    /// TINYINT, fixed 1 byte.
    pub(crate) const INT1: u8 = 0x30;
    /// BIT, fixed 1 byte.
    pub(crate) const BIT: u8 = 0x32;
    /// SMALLINT, fixed 2 bytes.
    pub(crate) const INT2: u8 = 0x34;
    /// INT, fixed 4 bytes.
    pub(crate) const INT4: u8 = 0x38;
    /// REAL, fixed 4 bytes.
    pub(crate) const FLT4: u8 = 0x3B;
    /// FLOAT, fixed 8 bytes.
    pub(crate) const FLT8: u8 = 0x3E;
    /// BIGINT, fixed 8 bytes.
    pub(crate) const INT8: u8 = 0x7F;
    /// UNIQUEIDENTIFIER.
    pub(crate) const GUID: u8 = 0x24;
    /// Nullable integer of 1, 2, 4 or 8 bytes.
    pub(crate) const INTN: u8 = 0x26;
    /// DATETIME2 with a scale byte.
    pub(crate) const DATETIME2: u8 = 0x2A;
    /// Nullable DATETIME (8 bytes) or SMALLDATETIME (4 bytes).
    pub(crate) const DATETIMN: u8 = 0x6F;
    /// CHAR.
    pub(crate) const BIGCHAR: u8 = 0xAF;
    /// Nullable BIT.
    pub(crate) const BITN: u8 = 0x68;
    /// DECIMAL with precision and scale.
    pub(crate) const DECIMALN: u8 = 0x6A;
    /// NUMERIC with precision and scale.
    pub(crate) const NUMERICN: u8 = 0x6C;
    /// Nullable float of 4 or 8 bytes.
    pub(crate) const FLTN: u8 = 0x6D;
    /// VARBINARY.
    pub(crate) const BIGVARBIN: u8 = 0xA5;
    /// BINARY.
    pub(crate) const BIGBINARY: u8 = 0xAD;
    /// NVARCHAR.
    pub(crate) const NVARCHAR: u8 = 0xE7;
    /// NCHAR.
    pub(crate) const NCHAR: u8 = 0xEF;
}

/// SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, flags 0xD0, version 0, sort id 0x34.
pub(crate) const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];
/// Max-length value meaning "PLP" (a MAX type) in a two-byte max length.
pub(crate) const PLP_MARKER: u16 = 0xFFFF;
/// PLP total length of a NULL value.
pub(crate) const PLP_NULL: u64 = u64::MAX;
/// PLP total length when the sender does not know it in advance.
pub(crate) const PLP_UNKNOWN_LEN: u64 = u64::MAX - 1;
/// Two-byte length meaning NULL for non-PLP variable-length values.
pub(crate) const VARLEN_NULL: u16 = 0xFFFF;
/// The scale the server uses for DATETIME2 columns.
pub(crate) const DATETIME2_SCALE: u8 = 7;
/// The highest precision of DECIMAL and NUMERIC.
pub(crate) const MAX_NUMERIC_PRECISION: u8 = 38;

/// Value length of a DECIMAL/NUMERIC of `precision` (1 to 38): the sign byte plus 4,
/// 8, 12 or 16 bytes of magnitude (MS-TDS 2.2.5.5.1.6).
pub(crate) fn numeric_len(precision: u8) -> u8 {
    match precision {
        0..=9 => 5,
        10..=19 => 9,
        20..=28 => 13,
        _ => 17,
    }
}

/// Whether `magnitude` has at most `precision` digits (precision 1 to 38).
pub(crate) fn fits_precision(magnitude: u128, precision: u8) -> bool {
    magnitude < 10u128.pow(u32::from(precision.min(MAX_NUMERIC_PRECISION)))
}

/// DATETIME value bytes (MS-TDS 2.2.5.5.1.8): days since 1900-01-01 (`i32` LE), then
/// 1/300 seconds since midnight (`u32` LE), rounded to the nearest. `None` outside the
/// years 1753 to 9999, DATETIME's range.
pub(crate) fn encode_datetime(value: &NaiveDateTime) -> Option<[u8; 8]> {
    if !(1753..=9999).contains(&value.year()) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1900, 1, 1)?;
    let days = i32::try_from((value.date() - base).num_days()).ok()?;
    let nanos = u64::from(value.num_seconds_from_midnight()) * NANOS_PER_SECOND
        + u64::from(value.nanosecond().min(999_999_999));
    let ticks = u32::try_from((nanos * 3 + 5_000_000) / 10_000_000)
        .ok()?
        .min(300 * SECONDS_PER_DAY as u32 - 1);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&days.to_le_bytes());
    out[4..].copy_from_slice(&ticks.to_le_bytes());
    Some(out)
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// DATETIME2(7) value bytes: 100 ns ticks since midnight (5 bytes LE), then
/// days since 0001-01-01 (3 bytes LE). `None` outside the years 1 to 9999.
pub(crate) fn encode_datetime2(value: &NaiveDateTime) -> Option<[u8; 8]> {
    if !(1..=9999).contains(&value.year()) {
        return None;
    }
    let nanos = u64::from(value.nanosecond().min(999_999_999));
    let ticks = u64::from(value.num_seconds_from_midnight()) * 10_000_000 + nanos / 100;
    let days = u32::try_from(value.date().num_days_from_ce() - 1).ok()?;
    let mut out = [0u8; 8];
    out[..5].copy_from_slice(&ticks.to_le_bytes()[..5]);
    out[5..].copy_from_slice(&days.to_le_bytes()[..3]);
    Some(out)
}

/// Number of time bytes of a DATETIME2 with `scale` digits of fractional seconds.
pub(crate) fn datetime2_time_len(scale: u8) -> usize {
    match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    }
}

/// Decodes DATETIME2 value bytes (time bytes for `scale`, then 3 date bytes).
pub(crate) fn decode_datetime2(bytes: &[u8], scale: u8) -> Result<NaiveDateTime, ProtocolError> {
    let time_len = datetime2_time_len(scale);
    if scale > 7 || bytes.len() != time_len + 3 {
        return Err(ProtocolError::invalid(
            "DATETIME2 value",
            format!("{} bytes at scale {scale}", bytes.len()),
        ));
    }
    let time = decode_time(little_endian(&bytes[..time_len]), scale)?;
    let days = little_endian(&bytes[time_len..]);
    let date = NaiveDate::from_num_days_from_ce_opt(days as i32 + 1)
        .ok_or_else(|| ProtocolError::invalid("DATETIME2 date", format!("day {days}")))?;
    Ok(date.and_time(time))
}

fn decode_time(units: u64, scale: u8) -> Result<NaiveTime, ProtocolError> {
    let nanos = units.saturating_mul(10u64.pow(9 - u32::from(scale)));
    let out_of_range =
        || ProtocolError::invalid("DATETIME2 time", format!("{units} units at scale {scale}"));
    if nanos >= SECONDS_PER_DAY * NANOS_PER_SECOND {
        return Err(out_of_range());
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (nanos / NANOS_PER_SECOND) as u32,
        (nanos % NANOS_PER_SECOND) as u32,
    )
    .ok_or_else(out_of_range)
}

/// Reads up to 8 little-endian bytes as an unsigned number.
fn little_endian(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
}

/// Decodes a DECIMAL/NUMERIC value: sign byte (1 positive, 0 negative), then
/// up to 16 bytes of little-endian magnitude.
pub(crate) fn decode_decimal(bytes: &[u8]) -> Result<i128, ProtocolError> {
    let Some((&sign, magnitude)) = bytes.split_first() else {
        return Err(ProtocolError::Truncated {
            what: "DECIMAL sign",
        });
    };
    if magnitude.len() > 16 {
        return Err(ProtocolError::invalid(
            "DECIMAL value",
            format!("{} bytes", bytes.len()),
        ));
    }
    let mut wide = [0u8; 16];
    wide[..magnitude.len()].copy_from_slice(magnitude);
    let magnitude = i128::try_from(u128::from_le_bytes(wide))
        .map_err(|_| ProtocolError::invalid("DECIMAL value", "magnitude exceeds 128 bits"))?;
    match sign {
        1 => Ok(magnitude),
        0 => Ok(-magnitude),
        other => Err(ProtocolError::invalid(
            "DECIMAL sign",
            format!("0x{other:02X}"),
        )),
    }
}

/// Converts between RFC 4122 byte order and the wire order of UNIQUEIDENTIFIER
/// (first three groups little-endian). The conversion is its own inverse.
pub(crate) fn swap_guid_bytes(bytes: [u8; 16]) -> [u8; 16] {
    let mut out = bytes;
    out[..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datetime(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32, nanos: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_nano_opt(h, min, s, nanos)
            .unwrap()
    }

    #[test]
    fn datetime2_of_day_one_midnight_is_all_zero() {
        assert_eq!(
            encode_datetime2(&datetime(1, 1, 1, 0, 0, 0, 0)),
            Some([0; 8])
        );
    }

    #[test]
    fn datetime2_encodes_ticks_then_days() {
        // 00:00:01.0000001 = 10_000_001 ticks = 0x989681; 0001-01-02 = day 1.
        assert_eq!(
            encode_datetime2(&datetime(1, 1, 2, 0, 0, 1, 100)),
            Some([0x81, 0x96, 0x98, 0x00, 0x00, 0x01, 0x00, 0x00])
        );
    }

    #[test]
    fn datetime2_round_trips_at_scale_7() {
        let value = datetime(2024, 1, 2, 3, 4, 5, 123_456_700);
        assert_eq!(
            decode_datetime2(&encode_datetime2(&value).unwrap(), 7).unwrap(),
            value
        );
    }

    #[test]
    fn datetime2_before_year_one_is_not_encodable() {
        assert_eq!(encode_datetime2(&datetime(0, 12, 31, 0, 0, 0, 0)), None);
    }

    #[test]
    fn datetime2_decodes_at_scale_3() {
        // 00:00:00.005 = 5 ms = 5 units; 4 time bytes at scale 3; day 0.
        let bytes = [0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(
            decode_datetime2(&bytes, 3).unwrap(),
            datetime(1, 1, 1, 0, 0, 0, 5_000_000)
        );
    }

    #[test]
    fn datetime2_time_past_midnight_is_rejected() {
        let bytes = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00];
        assert!(decode_datetime2(&bytes, 7).is_err());
    }

    #[test]
    fn datetime_counts_days_from_1900_and_three_hundredths_of_a_second() {
        // 1900-01-02 00:00:01.005: day 1; 1.005 s = 301.5 ticks, rounded to 302.
        assert_eq!(
            encode_datetime(&datetime(1900, 1, 2, 0, 0, 1, 5_000_000)),
            Some([1, 0, 0, 0, 0x2E, 0x01, 0, 0])
        );
        // 1753-01-01 is day -53690.
        assert_eq!(
            encode_datetime(&datetime(1753, 1, 1, 0, 0, 0, 0)),
            Some([0x46, 0x2E, 0xFF, 0xFF, 0, 0, 0, 0])
        );
        assert_eq!(encode_datetime(&datetime(1752, 12, 31, 0, 0, 0, 0)), None);
    }

    #[test]
    fn numeric_length_and_range_follow_the_precision() {
        assert_eq!(
            [1, 9, 10, 19, 20, 25, 28, 29, 38].map(numeric_len),
            [5, 5, 9, 9, 13, 13, 13, 17, 17]
        );
        assert!(fits_precision(10u128.pow(25) - 1, 25));
        assert!(!fits_precision(10u128.pow(25), 25));
        assert!(!fits_precision(10u128.pow(38), 38));
    }

    #[test]
    fn decimal_reads_sign_and_magnitude() {
        assert_eq!(decode_decimal(&[0x01, 0x05, 0x00, 0x00, 0x00]).unwrap(), 5);
        assert_eq!(decode_decimal(&[0x00, 0x05, 0x00, 0x00, 0x00]).unwrap(), -5);
        assert!(decode_decimal(&[0x02, 0x05]).is_err());
    }

    #[test]
    fn guid_swap_reverses_the_first_three_groups() {
        let rfc: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            swap_guid_bytes(rfc),
            [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        );
    }
}
