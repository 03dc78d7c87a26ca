//! RPC requests (MS-TDS 2.2.6.6): ALL_HEADERS, the procedure (id or name),
//! option flags, then parameters, each a name, a status byte, a TYPE_INFO and
//! a value.
//!
//! Owns decoding of the parameter types tiberius, FreeTDS and SqlClient send
//! for the [`Value`] variants; any other type is reported, not guessed.

use super::cursor::{Cursor, decode_utf16};
use super::engine::{RpcParam, RpcProcedure, RpcRequest, Value};
use super::error::ProtocolError;
use super::headers::skip_all_headers;
use super::types::{
    PLP_MARKER, PLP_NULL, PLP_UNKNOWN_LEN, VARLEN_NULL, decode_datetime2, decode_decimal,
    swap_guid_bytes, type_id,
};

/// Procedure name length announcing a procedure id instead.
const PROC_ID_SWITCH: u16 = 0xFFFF;
/// Parameter status bit: passed by reference (OUTPUT).
const STATUS_BY_REF: u8 = 0x01;
/// Most parameters one RPC may carry: SQL Server's 2100, plus `stmt` and `params`.
const MAX_PARAMS: usize = 2102;

/// Decodes an RPC message.
pub(crate) fn decode_rpc(payload: &[u8]) -> Result<RpcRequest, ProtocolError> {
    let mut cursor = Cursor::new(payload);
    skip_all_headers(&mut cursor)?;
    let procedure = decode_procedure(&mut cursor)?;
    cursor.u16_le("RPC option flags")?;
    let mut params = Vec::new();
    while !cursor.is_empty() {
        if params.len() == MAX_PARAMS {
            return Err(ProtocolError::invalid(
                "RPC",
                format!("more than {MAX_PARAMS} parameters"),
            ));
        }
        params.push(decode_param(&mut cursor)?);
    }
    Ok(RpcRequest { procedure, params })
}

fn decode_procedure(cursor: &mut Cursor<'_>) -> Result<RpcProcedure, ProtocolError> {
    let name_len = cursor.u16_le("RPC procedure name length")?;
    if name_len == PROC_ID_SWITCH {
        return Ok(RpcProcedure::Id(cursor.u16_le("RPC procedure id")?));
    }
    let name = cursor.utf16(usize::from(name_len) * 2, "RPC procedure name")?;
    Ok(RpcProcedure::Name(name))
}

fn decode_param(cursor: &mut Cursor<'_>) -> Result<RpcParam, ProtocolError> {
    let name = cursor.b_varchar("RPC parameter name")?;
    let status = cursor.u8("RPC parameter status")?;
    let value = decode_typed_value(cursor)?;
    Ok(RpcParam {
        name,
        value,
        output: status & STATUS_BY_REF != 0,
    })
}

/// Reads a TYPE_INFO and the value that follows it.
fn decode_typed_value(cursor: &mut Cursor<'_>) -> Result<Value, ProtocolError> {
    let type_byte = cursor.u8("TYPE_INFO")?;
    match type_byte {
        type_id::NULL => Ok(Value::Null),
        type_id::INT1 | type_id::INT2 | type_id::INT4 | type_id::INT8 => {
            let len = fixed_len(type_byte);
            integer(cursor.take(len, "integer value")?)
        }
        type_id::BIT => Ok(Value::Bit(cursor.u8("BIT value")? != 0)),
        type_id::FLT4 => float(cursor.take(4, "REAL value")?),
        type_id::FLT8 => float(cursor.take(8, "FLOAT value")?),
        type_id::INTN => byte_len_value(cursor, integer),
        type_id::BITN => byte_len_value(cursor, |bytes| {
            Ok(Value::Bit(bytes.iter().any(|b| *b != 0)))
        }),
        type_id::FLTN => byte_len_value(cursor, float),
        type_id::GUID => byte_len_value(cursor, guid),
        type_id::DECIMALN | type_id::NUMERICN => decimal(cursor),
        type_id::DATETIME2 => datetime2(cursor),
        type_id::NVARCHAR | type_id::NCHAR => nvarchar(cursor),
        type_id::BIGVARBIN | type_id::BIGBINARY => binary(cursor),
        other => Err(ProtocolError::invalid(
            "RPC parameter type",
            format!("type 0x{other:02X} is not supported by the emulator"),
        )),
    }
}

/// Byte length of a fixed-length integer type.
fn fixed_len(type_byte: u8) -> usize {
    match type_byte {
        type_id::INT1 => 1,
        type_id::INT2 => 2,
        type_id::INT4 => 4,
        _ => 8,
    }
}

/// A type with a one-byte max length in TYPE_INFO and a one-byte length
/// before the value (0 = NULL).
fn byte_len_value(
    cursor: &mut Cursor<'_>,
    decode: impl FnOnce(&[u8]) -> Result<Value, ProtocolError>,
) -> Result<Value, ProtocolError> {
    cursor.u8("TYPE_INFO max length")?;
    let len = usize::from(cursor.u8("value length")?);
    if len == 0 {
        return Ok(Value::Null);
    }
    decode(cursor.take(len, "value")?)
}

/// TINYINT (unsigned), SMALLINT and INT become [`Value::Int`]; BIGINT [`Value::BigInt`].
fn integer(bytes: &[u8]) -> Result<Value, ProtocolError> {
    Ok(match *bytes {
        [byte] => Value::Int(i32::from(byte)),
        [a, b] => Value::Int(i32::from(i16::from_le_bytes([a, b]))),
        [a, b, c, d] => Value::Int(i32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => Value::BigInt(i64::from_le_bytes([a, b, c, d, e, f, g, h])),
        _ => {
            return Err(ProtocolError::invalid(
                "integer value",
                format!("{} bytes", bytes.len()),
            ));
        }
    })
}

fn float(bytes: &[u8]) -> Result<Value, ProtocolError> {
    Ok(match *bytes {
        [a, b, c, d] => Value::Float(f64::from(f32::from_le_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Value::Float(f64::from_le_bytes([a, b, c, d, e, f, g, h])),
        _ => {
            return Err(ProtocolError::invalid(
                "float value",
                format!("{} bytes", bytes.len()),
            ));
        }
    })
}

fn guid(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let wire: [u8; 16] = bytes
        .try_into()
        .map_err(|_| ProtocolError::invalid("GUID value", format!("{} bytes", bytes.len())))?;
    Ok(Value::Guid(swap_guid_bytes(wire)))
}

/// DECIMALN/NUMERICN: max length, precision, scale; only scale 0 maps to [`Value::Decimal`].
fn decimal(cursor: &mut Cursor<'_>) -> Result<Value, ProtocolError> {
    let [_max_len, precision, scale] = cursor.array::<3>("DECIMAL TYPE_INFO")?;
    if scale != 0 || precision > 38 {
        return Err(ProtocolError::invalid(
            "DECIMAL parameter",
            format!(
                "DECIMAL({precision},{scale}) is not supported; the emulator takes scale 0 only"
            ),
        ));
    }
    let len = usize::from(cursor.u8("DECIMAL length")?);
    if len == 0 {
        return Ok(Value::Null);
    }
    Ok(Value::Decimal(decode_decimal(
        cursor.take(len, "DECIMAL value")?,
    )?))
}

/// DATETIME2: a scale byte, then a one-byte value length (0 = NULL).
fn datetime2(cursor: &mut Cursor<'_>) -> Result<Value, ProtocolError> {
    let scale = cursor.u8("DATETIME2 scale")?;
    let len = usize::from(cursor.u8("DATETIME2 length")?);
    if len == 0 {
        return Ok(Value::Null);
    }
    Ok(Value::DateTime2(decode_datetime2(
        cursor.take(len, "DATETIME2 value")?,
        scale,
    )?))
}

/// NVARCHAR/NCHAR: max length, collation (not checked), then a short or PLP value.
fn nvarchar(cursor: &mut Cursor<'_>) -> Result<Value, ProtocolError> {
    let max_len = cursor.u16_le("NVARCHAR max length")?;
    cursor.take(5, "NVARCHAR collation")?;
    match variable_bytes(cursor, max_len)? {
        None => Ok(Value::Null),
        Some(bytes) => Ok(Value::NVarChar(decode_utf16(&bytes, "NVARCHAR value")?)),
    }
}

/// VARBINARY/BINARY: max length, then a short or PLP value.
fn binary(cursor: &mut Cursor<'_>) -> Result<Value, ProtocolError> {
    let max_len = cursor.u16_le("VARBINARY max length")?;
    Ok(variable_bytes(cursor, max_len)?.map_or(Value::Null, Value::Binary))
}

/// A two-byte-length value (0xFFFF = NULL), or a PLP value when the type is MAX.
fn variable_bytes(cursor: &mut Cursor<'_>, max_len: u16) -> Result<Option<Vec<u8>>, ProtocolError> {
    if max_len == PLP_MARKER {
        return plp_bytes(cursor);
    }
    let len = cursor.u16_le("value length")?;
    if len == VARLEN_NULL {
        return Ok(None);
    }
    Ok(Some(cursor.take(usize::from(len), "value")?.to_vec()))
}

/// PLP (MS-TDS 2.2.5.2.3): u64 total length (all ones = NULL, all ones but the
/// last bit = unknown), then chunks of u32 length + data, ended by a zero length.
fn plp_bytes(cursor: &mut Cursor<'_>) -> Result<Option<Vec<u8>>, ProtocolError> {
    let total = cursor.u64_le("PLP total length")?;
    if total == PLP_NULL {
        return Ok(None);
    }
    let mut data = Vec::new();
    loop {
        let chunk_len = cursor.u32_le("PLP chunk length")? as usize;
        if chunk_len == 0 {
            break;
        }
        data.extend_from_slice(cursor.take(chunk_len, "PLP chunk")?);
    }
    if total != PLP_UNKNOWN_LEN && total != data.len() as u64 {
        return Err(ProtocolError::invalid(
            "PLP value",
            format!("announced {total} bytes, chunks held {}", data.len()),
        ));
    }
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_HEADERS: [u8; 22] = [
        0x16, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x00, 0x00, 0x00,
    ];

    /// An sp_executesql RPC (by id) with the given parameter bytes.
    fn rpc(params: &[u8]) -> Vec<u8> {
        let mut bytes = ALL_HEADERS.to_vec();
        bytes.extend_from_slice(&[0xFF, 0xFF, 0x0A, 0x00, 0x00, 0x00]);
        bytes.extend_from_slice(params);
        bytes
    }

    /// Decodes one parameter named "@p" with status 0 and the given TYPE_INFO + value.
    fn param_value(typed: &[u8]) -> Result<Value, ProtocolError> {
        let mut params = vec![0x02, b'@', 0, b'p', 0, 0x00];
        params.extend_from_slice(typed);
        let request = decode_rpc(&rpc(&params))?;
        Ok(request.params.into_iter().next().unwrap().value)
    }

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn procedure_id_and_parameter_names() {
        let params = [
            0x04, b's', 0, b't', 0, b'm', 0, b't', 0,    // "stmt"
            0x00, // status
            0xE7, 0x40, 0x1F, 0, 0, 0, 0, 0, // NVARCHAR(4000), zero collation
            0x02, 0x00, b'x', 0x00, // "x"
            0x03, b'@', 0, b'o', 0, b'k', 0,    // "@ok"
            0x01, // OUTPUT
            0x26, 0x04, 0x04, 0x05, 0x00, 0x00, 0x00, // INTN 5
        ];
        let request = decode_rpc(&rpc(&params)).unwrap();
        assert_eq!(request.procedure, RpcProcedure::SP_EXECUTESQL);
        assert_eq!(
            request.params,
            vec![
                RpcParam {
                    name: "stmt".into(),
                    value: Value::NVarChar("x".into()),
                    output: false
                },
                RpcParam {
                    name: "@ok".into(),
                    value: Value::Int(5),
                    output: true
                },
            ]
        );
    }

    #[test]
    fn procedure_by_name() {
        let mut bytes = ALL_HEADERS.to_vec();
        bytes.extend_from_slice(&[0x02, 0x00, b's', 0, b'p', 0, 0x00, 0x00]);
        let request = decode_rpc(&bytes).unwrap();
        assert_eq!(request.procedure, RpcProcedure::Name("sp".into()));
        assert!(request.params.is_empty());
    }

    #[test]
    fn nulltype_carries_no_value() {
        assert_eq!(param_value(&[0x1F]).unwrap(), Value::Null);
    }

    #[test]
    fn intn_of_every_width_and_null() {
        assert_eq!(
            param_value(&[0x26, 0x01, 0x01, 0xFF]).unwrap(),
            Value::Int(255)
        );
        assert_eq!(
            param_value(&[0x26, 0x02, 0x02, 0xFE, 0xFF]).unwrap(),
            Value::Int(-2)
        );
        assert_eq!(
            param_value(&[0x26, 0x08, 0x08, 0, 0, 0, 0, 0, 0x01, 0, 0]).unwrap(),
            Value::BigInt(1 << 40)
        );
        assert_eq!(param_value(&[0x26, 0x04, 0x00]).unwrap(), Value::Null);
    }

    #[test]
    fn intn_of_odd_width_is_rejected() {
        assert!(param_value(&[0x26, 0x04, 0x03, 1, 2, 3]).is_err());
    }

    #[test]
    fn fixed_int_and_bit_types() {
        assert_eq!(
            param_value(&[0x38, 0x07, 0x00, 0x00, 0x00]).unwrap(),
            Value::Int(7)
        );
        assert_eq!(param_value(&[0x32, 0x01]).unwrap(), Value::Bit(true));
    }

    #[test]
    fn bitn_and_fltn() {
        assert_eq!(
            param_value(&[0x68, 0x01, 0x01, 0x01]).unwrap(),
            Value::Bit(true)
        );
        assert_eq!(param_value(&[0x68, 0x01, 0x00]).unwrap(), Value::Null);
        assert_eq!(
            param_value(&[0x6D, 0x08, 0x08, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F]).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            param_value(&[0x6D, 0x04, 0x04, 0x00, 0x00, 0xC0, 0x3F]).unwrap(),
            Value::Float(1.5)
        );
    }

    #[test]
    fn numericn_scale_zero() {
        assert_eq!(
            param_value(&[0x6C, 0x11, 0x26, 0x00, 0x05, 0x01, 0x2A, 0x00, 0x00, 0x00]).unwrap(),
            Value::Decimal(42)
        );
        assert_eq!(
            param_value(&[0x6A, 0x11, 0x26, 0x00, 0x00]).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn numericn_with_scale_is_rejected() {
        assert!(
            param_value(&[0x6C, 0x11, 0x26, 0x02, 0x05, 0x01, 0x2A, 0x00, 0x00, 0x00]).is_err()
        );
    }

    #[test]
    fn datetime2_with_scale_byte() {
        let expected = chrono::NaiveDate::from_ymd_opt(1, 1, 2)
            .unwrap()
            .and_hms_nano_opt(0, 0, 1, 100)
            .unwrap();
        assert_eq!(
            param_value(&[
                0x2A, 0x07, 0x08, 0x81, 0x96, 0x98, 0x00, 0x00, 0x01, 0x00, 0x00
            ])
            .unwrap(),
            Value::DateTime2(expected)
        );
        assert_eq!(param_value(&[0x2A, 0x07, 0x00]).unwrap(), Value::Null);
    }

    #[test]
    fn guid_is_returned_in_rfc_order() {
        let mut typed = vec![0x24, 0x10, 0x10, 3, 2, 1, 0, 5, 4, 7, 6];
        typed.extend(8..16u8);
        let rfc: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(param_value(&typed).unwrap(), Value::Guid(rfc));
    }

    #[test]
    fn nvarchar_null() {
        assert_eq!(
            param_value(&[0xE7, 0x40, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF]).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn plp_nvarchar_with_unknown_length_and_several_chunks() {
        let mut typed = vec![0xE7, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        typed.extend_from_slice(&[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // unknown
        typed.extend_from_slice(&[0x04, 0, 0, 0]);
        typed.extend_from_slice(&utf16("ab"));
        typed.extend_from_slice(&[0x02, 0, 0, 0]);
        typed.extend_from_slice(&utf16("c"));
        typed.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(param_value(&typed).unwrap(), Value::NVarChar("abc".into()));
    }

    #[test]
    fn plp_nvarchar_with_known_length() {
        let mut typed = vec![0xE7, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        typed.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0]);
        typed.extend_from_slice(&[0x02, 0, 0, 0, b'z', 0]);
        typed.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(param_value(&typed).unwrap(), Value::NVarChar("z".into()));
    }

    #[test]
    fn plp_null_and_wrong_total_length() {
        let mut null = vec![0xE7, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        null.extend_from_slice(&[0xFF; 8]);
        assert_eq!(param_value(&null).unwrap(), Value::Null);

        let mut wrong = vec![0xE7, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        wrong.extend_from_slice(&[
            0x08, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, b'z', 0, 0, 0, 0, 0,
        ]);
        assert!(param_value(&wrong).is_err());
    }

    #[test]
    fn plp_chunk_past_the_end_is_rejected() {
        let mut typed = vec![0xE7, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        typed.extend_from_slice(&[
            0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ]);
        assert!(param_value(&typed).is_err());
    }

    #[test]
    fn varbinary_short_and_plp() {
        assert_eq!(
            param_value(&[0xA5, 0x40, 0x1F, 0x02, 0x00, 0xDE, 0xAD]).unwrap(),
            Value::Binary(vec![0xDE, 0xAD])
        );
        let mut plp = vec![0xA5, 0xFF, 0xFF, 0x01, 0, 0, 0, 0, 0, 0, 0];
        plp.extend_from_slice(&[0x01, 0, 0, 0, 0x42, 0, 0, 0, 0]);
        assert_eq!(param_value(&plp).unwrap(), Value::Binary(vec![0x42]));
    }

    #[test]
    fn unsupported_type_is_named_in_the_error() {
        let error = param_value(&[0xA7, 0x40, 0x1F]).unwrap_err();
        assert!(error.to_string().contains("0xA7"), "{error}");
    }

    #[test]
    fn truncated_parameter_is_rejected() {
        assert!(param_value(&[0x26, 0x04, 0x04, 0x01]).is_err());
    }
}
