//! Result sets on the wire (MS-TDS 2.2.7.4 COLMETADATA, 2.2.7.19 ROW): one
//! TYPE_INFO per [`ColumnType`] and the value layout of every [`Value`] in a row.
//!
//! Owns the encoding of a [`ResultSet`]; the DONE that follows it is written by
//! `response`. A value that does not fit its column is reported as a
//! [`ValueMismatch`], never sent.

use super::engine::{Column, ColumnType, ResultSet, Value};
use super::token::{put_b_varchar, put_units};
use super::types::{
    COLLATION, DATETIME2_SCALE, PLP_MARKER, PLP_NULL, VARLEN_NULL, encode_datetime,
    encode_datetime2, fits_precision, numeric_len, swap_guid_bytes, type_id,
};

/// Token byte of COLMETADATA.
const COLMETADATA: u8 = 0x81;
/// Token byte of ROW.
const ROW: u8 = 0xD1;
/// Column flag: nullable.
const FLAG_NULLABLE: u16 = 0x0001;
/// Longest NVARCHAR value, in UTF-16 units, sent without PLP.
const NVARCHAR_MAX_UNITS: usize = 4000;
/// Length byte of a NULL value of a one-byte-length type.
const BYTELEN_NULL: u8 = 0;

/// A result set the engine built that cannot be encoded as declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column:?}: {detail}")]
pub(crate) struct ValueMismatch {
    /// The column (or `*` for the result set as a whole).
    pub(crate) column: String,
    /// What is wrong.
    pub(crate) detail: String,
}

/// How a column is encoded: its type, with NVARCHAR split by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireType {
    NVarChar4000,
    NVarCharMax,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Bit,
    Float,
    DateTime,
    DateTime2,
    Numeric(u8),
    Guid,
    Char(u16),
    VarBinary(u16),
}

/// Appends COLMETADATA and one ROW per row.
pub(crate) fn put_result_set(
    out: &mut Vec<u8>,
    result_set: &ResultSet,
) -> Result<(), ValueMismatch> {
    if result_set.columns.len() >= usize::from(u16::MAX) {
        return Err(whole_set(format!("{} columns", result_set.columns.len())));
    }
    let wire_types: Vec<WireType> = (0..result_set.columns.len())
        .map(|index| wire_type(result_set, index))
        .collect();
    put_colmetadata(out, &result_set.columns, &wire_types);
    for row in &result_set.rows {
        put_row(out, &result_set.columns, &wire_types, row)?;
    }
    Ok(())
}

fn whole_set(detail: String) -> ValueMismatch {
    ValueMismatch {
        column: "*".into(),
        detail,
    }
}

/// An NVARCHAR column becomes NVARCHAR(MAX) when any of its values needs it.
fn wire_type(result_set: &ResultSet, index: usize) -> WireType {
    match result_set.columns[index].ty {
        ColumnType::NVarChar if needs_max(result_set, index) => WireType::NVarCharMax,
        ColumnType::NVarChar => WireType::NVarChar4000,
        ColumnType::TinyInt => WireType::TinyInt,
        ColumnType::SmallInt => WireType::SmallInt,
        ColumnType::Int => WireType::Int,
        ColumnType::BigInt => WireType::BigInt,
        ColumnType::Bit => WireType::Bit,
        ColumnType::Float => WireType::Float,
        ColumnType::DateTime => WireType::DateTime,
        ColumnType::DateTime2 => WireType::DateTime2,
        ColumnType::Numeric(precision) => WireType::Numeric(precision),
        ColumnType::UniqueIdentifier => WireType::Guid,
        ColumnType::Char(length) => WireType::Char(length),
        ColumnType::VarBinary(length) => WireType::VarBinary(length),
    }
}

fn needs_max(result_set: &ResultSet, index: usize) -> bool {
    result_set.rows.iter().any(|row| {
        matches!(row.get(index), Some(Value::NVarChar(text)) if text.encode_utf16().count() > NVARCHAR_MAX_UNITS)
    })
}

fn put_colmetadata(out: &mut Vec<u8>, columns: &[Column], wire_types: &[WireType]) {
    out.push(COLMETADATA);
    out.extend_from_slice(&(columns.len() as u16).to_le_bytes());
    for (column, wire_type) in columns.iter().zip(wire_types) {
        out.extend_from_slice(&0u32.to_le_bytes()); // user type
        out.extend_from_slice(&FLAG_NULLABLE.to_le_bytes());
        put_type_info(out, *wire_type);
        put_b_varchar(out, &column.name);
    }
}

fn put_type_info(out: &mut Vec<u8>, wire_type: WireType) {
    match wire_type {
        WireType::NVarChar4000 => put_nvarchar_type_info(out, (NVARCHAR_MAX_UNITS * 2) as u16),
        WireType::NVarCharMax => put_nvarchar_type_info(out, PLP_MARKER),
        WireType::TinyInt => out.extend_from_slice(&[type_id::INTN, 1]),
        WireType::SmallInt => out.extend_from_slice(&[type_id::INTN, 2]),
        WireType::Int => out.extend_from_slice(&[type_id::INTN, 4]),
        WireType::BigInt => out.extend_from_slice(&[type_id::INTN, 8]),
        WireType::Bit => out.extend_from_slice(&[type_id::BITN, 1]),
        WireType::Float => out.extend_from_slice(&[type_id::FLTN, 8]),
        WireType::DateTime => out.extend_from_slice(&[type_id::DATETIMN, 8]),
        WireType::DateTime2 => out.extend_from_slice(&[type_id::DATETIME2, DATETIME2_SCALE]),
        WireType::Numeric(precision) => {
            out.extend_from_slice(&[type_id::NUMERICN, numeric_len(precision), precision, 0])
        }
        WireType::Guid => out.extend_from_slice(&[type_id::GUID, 16]),
        WireType::Char(length) => {
            out.push(type_id::BIGCHAR);
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(&COLLATION);
        }
        WireType::VarBinary(length) => {
            out.push(type_id::BIGVARBIN);
            out.extend_from_slice(&length.to_le_bytes());
        }
    }
}

fn put_nvarchar_type_info(out: &mut Vec<u8>, max_len: u16) {
    out.push(type_id::NVARCHAR);
    out.extend_from_slice(&max_len.to_le_bytes());
    out.extend_from_slice(&COLLATION);
}

fn put_row(
    out: &mut Vec<u8>,
    columns: &[Column],
    wire_types: &[WireType],
    row: &[Value],
) -> Result<(), ValueMismatch> {
    if row.len() != columns.len() {
        return Err(whole_set(format!(
            "a row has {} values for {} columns",
            row.len(),
            columns.len()
        )));
    }
    out.push(ROW);
    for ((column, wire_type), value) in columns.iter().zip(wire_types).zip(row) {
        put_value(out, *wire_type, value).map_err(|detail| ValueMismatch {
            column: column.name.clone(),
            detail,
        })?;
    }
    Ok(())
}

/// Appends one value in its column's layout, or says why it does not fit.
fn put_value(out: &mut Vec<u8>, wire_type: WireType, value: &Value) -> Result<(), String> {
    match (wire_type, value) {
        (WireType::NVarChar4000 | WireType::Char(_) | WireType::VarBinary(_), Value::Null) => {
            out.extend_from_slice(&VARLEN_NULL.to_le_bytes())
        }
        (WireType::NVarCharMax, Value::Null) => out.extend_from_slice(&PLP_NULL.to_le_bytes()),
        (_, Value::Null) => out.push(BYTELEN_NULL),
        (WireType::NVarChar4000, Value::NVarChar(text)) => put_short_nvarchar(out, text),
        (WireType::NVarCharMax, Value::NVarChar(text)) => put_plp_nvarchar(out, text),
        (WireType::TinyInt, Value::Int(number)) => {
            let byte = u8::try_from(*number).map_err(|_| format!("{number} is not a TINYINT"))?;
            put_sized(out, &[byte]);
        }
        (WireType::SmallInt, Value::Int(number)) => {
            let short =
                i16::try_from(*number).map_err(|_| format!("{number} is not a SMALLINT"))?;
            put_sized(out, &short.to_le_bytes());
        }
        (WireType::Int, Value::Int(number)) => put_sized(out, &number.to_le_bytes()),
        (WireType::BigInt, Value::BigInt(number)) => put_sized(out, &number.to_le_bytes()),
        (WireType::BigInt, Value::Int(number)) => put_sized(out, &i64::from(*number).to_le_bytes()),
        (WireType::Bit, Value::Bit(flag)) => put_sized(out, &[u8::from(*flag)]),
        (WireType::Float, Value::Float(number)) => put_sized(out, &number.to_le_bytes()),
        (WireType::DateTime, Value::DateTime2(datetime)) => {
            let bytes = encode_datetime(datetime)
                .ok_or_else(|| format!("{datetime} is outside the years 1753 to 9999"))?;
            put_sized(out, &bytes);
        }
        (WireType::DateTime2, Value::DateTime2(datetime)) => {
            let bytes = encode_datetime2(datetime)
                .ok_or_else(|| format!("{datetime} is outside the years 1 to 9999"))?;
            put_sized(out, &bytes);
        }
        (WireType::Numeric(precision), Value::Decimal(number)) => {
            put_numeric(out, precision, *number)?
        }
        (WireType::Guid, Value::Guid(bytes)) => put_sized(out, &swap_guid_bytes(*bytes)),
        (WireType::Char(length), Value::NVarChar(text)) => put_char(out, length, text)?,
        (WireType::VarBinary(length), Value::Binary(bytes)) => put_binary(out, length, bytes)?,
        (wire_type, value) => {
            return Err(format!(
                "a {} value in a {wire_type:?} column",
                value_kind(value)
            ));
        }
    }
    Ok(())
}

/// A one-byte length, then the bytes.
fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_short_nvarchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().collect();
    out.extend_from_slice(&((units.len() * 2) as u16).to_le_bytes());
    put_units(out, &units);
}

/// PLP: total byte length, one chunk holding everything, then the zero terminator.
fn put_plp_nvarchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().collect();
    let byte_len = units.len() * 2;
    out.extend_from_slice(&(byte_len as u64).to_le_bytes());
    if byte_len > 0 {
        out.extend_from_slice(&(byte_len as u32).to_le_bytes());
        put_units(out, &units);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
}

/// The length for `precision`, the sign byte (1 positive, 0 negative), then the
/// magnitude in the rest of the length.
fn put_numeric(out: &mut Vec<u8>, precision: u8, number: i128) -> Result<(), String> {
    let magnitude = number.unsigned_abs();
    if !fits_precision(magnitude, precision) {
        return Err(format!("{number} does not fit NUMERIC({precision},0)"));
    }
    let len = numeric_len(precision);
    out.push(len);
    out.push(u8::from(number >= 0));
    out.extend_from_slice(&magnitude.to_le_bytes()[..usize::from(len - 1)]);
    Ok(())
}

/// A two-byte length, then the ASCII text padded with spaces to the column's length.
fn put_char(out: &mut Vec<u8>, length: u16, text: &str) -> Result<(), String> {
    if !text.is_ascii() || text.len() > usize::from(length) {
        return Err(format!("{text:?} does not fit CHAR({length})"));
    }
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + usize::from(length) - text.len(), b' ');
    Ok(())
}

/// A two-byte length, then the bytes.
fn put_binary(out: &mut Vec<u8>, length: u16, bytes: &[u8]) -> Result<(), String> {
    let len = u16::try_from(bytes.len())
        .ok()
        .filter(|len| *len <= length)
        .ok_or_else(|| format!("{} bytes do not fit VARBINARY({length})", bytes.len()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::NVarChar(_) => "NVarChar",
        Value::Int(_) => "Int",
        Value::BigInt(_) => "BigInt",
        Value::Bit(_) => "Bit",
        Value::Float(_) => "Float",
        Value::DateTime2(_) => "DateTime2",
        Value::Decimal(_) => "Decimal",
        Value::Guid(_) => "Guid",
        Value::Binary(_) => "Binary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(columns: Vec<Column>, rows: Vec<Vec<Value>>) -> Result<Vec<u8>, ValueMismatch> {
        let mut out = Vec::new();
        put_result_set(&mut out, &ResultSet { columns, rows })?;
        Ok(out)
    }

    /// COLMETADATA header and one column's user type, flags, TYPE_INFO and name "c".
    fn metadata(type_info: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x81, 0x01, 0x00, 0, 0, 0, 0, 0x01, 0x00];
        bytes.extend_from_slice(type_info);
        bytes.extend_from_slice(&[0x01, b'c', 0x00]);
        bytes
    }

    fn single(ty: ColumnType, value: Value) -> Vec<u8> {
        encode(vec![Column::new("c", ty)], vec![vec![value]]).unwrap()
    }

    fn expect(type_info: &[u8], row_value: &[u8]) -> Vec<u8> {
        let mut bytes = metadata(type_info);
        bytes.push(0xD1);
        bytes.extend_from_slice(row_value);
        bytes
    }

    const NVARCHAR_4000: [u8; 8] = [0xE7, 0x40, 0x1F, 0x09, 0x04, 0xD0, 0x00, 0x34];

    #[test]
    fn nvarchar_value_and_null() {
        assert_eq!(
            single(ColumnType::NVarChar, Value::NVarChar("hi".into())),
            expect(&NVARCHAR_4000, &[0x04, 0x00, b'h', 0, b'i', 0])
        );
        assert_eq!(
            single(ColumnType::NVarChar, Value::Null),
            expect(&NVARCHAR_4000, &[0xFF, 0xFF])
        );
    }

    #[test]
    fn long_nvarchar_switches_the_column_to_plp() {
        let text = "a".repeat(4001);
        let bytes = single(ColumnType::NVarChar, Value::NVarChar(text));
        let mut expected = metadata(&[0xE7, 0xFF, 0xFF, 0x09, 0x04, 0xD0, 0x00, 0x34]);
        expected.push(0xD1);
        expected.extend_from_slice(&[0x42, 0x1F, 0, 0, 0, 0, 0, 0]); // total 8002
        expected.extend_from_slice(&[0x42, 0x1F, 0, 0]); // chunk 8002
        for _ in 0..4001 {
            expected.extend_from_slice(&[b'a', 0]);
        }
        expected.extend_from_slice(&[0, 0, 0, 0]); // terminator
        assert_eq!(bytes, expected);
    }

    #[test]
    fn plp_null_is_all_ones() {
        let columns = vec![Column::new("c", ColumnType::NVarChar)];
        let rows = vec![vec![Value::NVarChar("b".repeat(4001))], vec![Value::Null]];
        let bytes = encode(columns, rows).unwrap();
        assert_eq!(
            &bytes[bytes.len() - 9..],
            &[0xD1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn int_and_bigint_are_intn() {
        assert_eq!(
            single(ColumnType::Int, Value::Int(-2)),
            expect(&[0x26, 0x04], &[0x04, 0xFE, 0xFF, 0xFF, 0xFF])
        );
        assert_eq!(
            single(ColumnType::BigInt, Value::BigInt(1 << 40)),
            expect(&[0x26, 0x08], &[0x08, 0, 0, 0, 0, 0, 0x01, 0, 0])
        );
        assert_eq!(
            single(ColumnType::Int, Value::Null),
            expect(&[0x26, 0x04], &[0x00])
        );
    }

    #[test]
    fn bit_float_and_guid() {
        assert_eq!(
            single(ColumnType::Bit, Value::Bit(true)),
            expect(&[0x68, 0x01], &[0x01, 0x01])
        );
        assert_eq!(
            single(ColumnType::Float, Value::Float(1.5)),
            expect(&[0x6D, 0x08], &[0x08, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F])
        );
        let rfc: [u8; 16] = core::array::from_fn(|i| i as u8);
        let mut wire = vec![0x10, 3, 2, 1, 0, 5, 4, 7, 6];
        wire.extend(8..16u8);
        assert_eq!(
            single(ColumnType::UniqueIdentifier, Value::Guid(rfc)),
            expect(&[0x24, 0x10], &wire)
        );
    }

    #[test]
    fn datetime2_is_scale_7_with_8_value_bytes() {
        let value = chrono::NaiveDate::from_ymd_opt(1, 1, 2)
            .unwrap()
            .and_hms_nano_opt(0, 0, 1, 100)
            .unwrap();
        assert_eq!(
            single(ColumnType::DateTime2, Value::DateTime2(value)),
            expect(
                &[0x2A, 0x07],
                &[0x08, 0x81, 0x96, 0x98, 0x00, 0x00, 0x01, 0x00, 0x00]
            )
        );
    }

    #[test]
    fn numeric25_lsn_is_sign_and_12_byte_magnitude() {
        // 35000000012345600001 = 0x1_E5B8_FA92_C286_E801
        let bytes = single(
            ColumnType::Numeric(25),
            Value::Decimal(35_000_000_012_345_600_001),
        );
        let value = [
            0x0D, 0x01, 0x01, 0xE8, 0x86, 0xC2, 0x92, 0xFA, 0xB8, 0xE5, 0x01, 0x00, 0x00, 0x00,
        ];
        assert_eq!(bytes, expect(&[0x6C, 0x0D, 0x19, 0x00], &value));
    }

    #[test]
    fn numeric20_byte_count_has_the_same_13_byte_layout() {
        let bytes = single(ColumnType::Numeric(20), Value::Decimal(256));
        let mut value = vec![0x0D, 0x01, 0x00, 0x01];
        value.resize(14, 0);
        assert_eq!(bytes, expect(&[0x6C, 0x0D, 0x14, 0x00], &value));
    }

    #[test]
    fn negative_numeric_has_sign_zero() {
        let bytes = single(ColumnType::Numeric(25), Value::Decimal(-1));
        assert_eq!(&bytes[bytes.len() - 13..bytes.len() - 11], &[0x00, 0x01]);
    }

    #[test]
    fn numeric_beyond_its_precision_is_a_mismatch() {
        let result = encode(
            vec![Column::new("c", ColumnType::Numeric(25))],
            vec![vec![Value::Decimal(10i128.pow(25))]],
        );
        assert!(result.is_err());
    }

    #[test]
    fn tinyint_and_smallint_are_intn_of_one_and_two_bytes() {
        assert_eq!(
            single(ColumnType::TinyInt, Value::Int(130)),
            expect(&[0x26, 0x01], &[0x01, 0x82])
        );
        assert_eq!(
            single(ColumnType::SmallInt, Value::Int(-2)),
            expect(&[0x26, 0x02], &[0x02, 0xFE, 0xFF])
        );
        let too_big = encode(
            vec![Column::new("c", ColumnType::TinyInt)],
            vec![vec![Value::Int(256)]],
        );
        assert!(too_big.is_err());
    }

    #[test]
    fn datetime_is_datetimn_of_8_bytes() {
        let value = chrono::NaiveDate::from_ymd_opt(1900, 1, 2)
            .unwrap()
            .and_hms_opt(0, 0, 1)
            .unwrap();
        assert_eq!(
            single(ColumnType::DateTime, Value::DateTime2(value)),
            expect(&[0x6F, 0x08], &[0x08, 1, 0, 0, 0, 0x2C, 0x01, 0, 0])
        );
    }

    #[test]
    fn char_is_padded_and_varbinary_null_is_all_ones() {
        assert_eq!(
            single(ColumnType::Char(2), Value::NVarChar("D".into())),
            expect(
                &[0xAF, 0x02, 0x00, 0x09, 0x04, 0xD0, 0x00, 0x34],
                &[0x02, 0x00, b'D', b' ']
            )
        );
        assert_eq!(
            single(ColumnType::VarBinary(20), Value::Null),
            expect(&[0xA5, 0x14, 0x00], &[0xFF, 0xFF])
        );
        assert_eq!(
            single(ColumnType::VarBinary(20), Value::Binary(vec![7])),
            expect(&[0xA5, 0x14, 0x00], &[0x01, 0x00, 0x07])
        );
    }

    #[test]
    fn value_of_the_wrong_type_is_a_mismatch() {
        let result = encode(
            vec![Column::new("c", ColumnType::Int)],
            vec![vec![Value::NVarChar("x".into())]],
        );
        assert_eq!(
            result,
            Err(ValueMismatch {
                column: "c".into(),
                detail: "a NVarChar value in a Int column".into()
            })
        );
    }

    #[test]
    fn row_of_the_wrong_width_is_a_mismatch() {
        let result = encode(vec![Column::new("c", ColumnType::Int)], vec![vec![]]);
        assert!(result.is_err());
    }

    #[test]
    fn empty_result_set_is_metadata_only() {
        assert_eq!(
            encode(vec![Column::new("c", ColumnType::Bit)], vec![]).unwrap(),
            metadata(&[0x68, 0x01])
        );
    }
}
