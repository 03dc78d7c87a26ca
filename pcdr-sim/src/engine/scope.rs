//! The variables of one batch (`DECLARE`, `SET @x`, `SELECT @x =`, OUTPUT arguments,
//! and `sp_executesql` parameters), with conversion of values to their declared types.
//!
//! As in SQL Server, variables live for one batch; names compare case-insensitively.

use std::collections::BTreeMap;

use crate::engine::failure::{Failure, conversion, undeclared};
use crate::guid::Guid;
use crate::tds::Value;
use crate::tsql::ast::{DataType, Declaration, Length};

/// A declared variable.
#[derive(Debug, Clone, PartialEq)]
struct Variable {
    ty: DataType,
    value: Value,
}

/// The variables of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Scope {
    variables: BTreeMap<String, Variable>,
}

impl Scope {
    /// Declares `declaration` with NULL (or its initial `value`); 134 when the name is
    /// taken.
    pub fn declare(&mut self, declaration: &Declaration, value: Value) -> Result<(), Failure> {
        let key = declaration.variable.to_lowercase();
        if self.variables.contains_key(&key) {
            return Err(Failure::new(
                134,
                15,
                format!(
                    "The variable name '{}' has already been declared. Variable names must be unique within a query batch or stored procedure.",
                    declaration.variable
                ),
            )
            .aborting());
        }
        let value = convert(value, declaration.data_type)?;
        self.variables.insert(
            key,
            Variable {
                ty: declaration.data_type,
                value,
            },
        );
        Ok(())
    }

    /// The value of `name`; 137 when undeclared.
    pub fn get(&self, name: &str) -> Result<Value, Failure> {
        self.variables
            .get(&name.to_lowercase())
            .map(|v| v.value.clone())
            .ok_or_else(|| undeclared(name))
    }

    /// Assigns `value` to `name`, converted to its type; 137 when undeclared.
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), Failure> {
        let variable = self
            .variables
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| undeclared(name))?;
        variable.value = convert(value, variable.ty)?;
        Ok(())
    }
}

/// The text form of a value, as `CONVERT(nvarchar, value)` gives it.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::NVarChar(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::Bit(b) => u8::from(*b).to_string(),
        Value::Float(f) => f.to_string(),
        Value::DateTime2(t) => t.format("%Y-%m-%d %H:%M:%S%.7f").to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Guid(g) => Guid(*g).to_string(),
        Value::Binary(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            format!("0x{hex}")
        }
    })
}

/// The integer in a value, converting text as SQL Server does.
pub(crate) fn integer_of(value: &Value, to: &str) -> Result<Option<i128>, Failure> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Int(n) => i128::from(*n),
        Value::BigInt(n) => i128::from(*n),
        Value::Bit(b) => i128::from(*b),
        Value::Decimal(d) => *d,
        Value::Float(f) => *f as i128,
        other => {
            let text = text_of(other).unwrap_or_default();
            text.trim()
                .parse::<i128>()
                .map_err(|_| conversion(&text, to))?
        }
    }))
}

/// `value` converted to `ty` (245 / 8169 when it does not convert).
pub(crate) fn convert(value: Value, ty: DataType) -> Result<Value, Failure> {
    if value == Value::Null {
        return Ok(Value::Null);
    }
    Ok(match ty {
        DataType::Int => Value::Int(narrow(integer_of(&value, "int")?, &value, "int")?),
        DataType::BigInt => Value::BigInt(narrow(integer_of(&value, "bigint")?, &value, "bigint")?),
        DataType::Bit => Value::Bit(integer_of(&value, "bit")?.unwrap_or(0) != 0),
        DataType::Decimal { .. } => Value::Decimal(integer_of(&value, "decimal")?.unwrap_or(0)),
        DataType::UniqueIdentifier => Value::Guid(guid_of(&value)?.0),
        DataType::NVarChar(length) | DataType::VarChar(length) => {
            Value::NVarChar(truncate(text_of(&value).unwrap_or_default(), length))
        }
        DataType::SysName => Value::NVarChar(truncate(
            text_of(&value).unwrap_or_default(),
            Length::Chars(128),
        )),
        DataType::DateTime | DataType::DateTime2(_) => match value {
            Value::DateTime2(t) => Value::DateTime2(t),
            other => {
                let text = text_of(&other).unwrap_or_default();
                return Err(conversion(&text, "datetime2"));
            }
        },
    })
}

fn narrow<T: TryFrom<i128>>(n: Option<i128>, value: &Value, to: &str) -> Result<T, Failure> {
    n.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
        Failure::error(
            8115,
            format!(
                "Arithmetic overflow error converting {} to data type {to}.",
                text_of(value).unwrap_or_default()
            ),
        )
    })
}

/// The GUID in a value (a uniqueidentifier, or its text).
pub(crate) fn guid_of(value: &Value) -> Result<Guid, Failure> {
    match value {
        Value::Guid(bytes) => Ok(Guid(*bytes)),
        other => {
            let text = text_of(other).unwrap_or_default();
            text.parse()
                .map_err(|_| conversion(&text, "uniqueidentifier"))
        }
    }
}

fn truncate(text: String, length: Length) -> String {
    match length {
        Length::Max => text,
        Length::Chars(n) => text.chars().take(n as usize).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(name: &str, ty: DataType) -> Declaration {
        Declaration {
            variable: name.into(),
            data_type: ty,
            initial: None,
        }
    }

    #[test]
    fn variables_convert_to_their_declared_type() {
        let mut scope = Scope::default();
        scope
            .declare(
                &declaration("@n", DataType::Int),
                Value::NVarChar("42".into()),
            )
            .unwrap();
        assert_eq!(scope.get("@N").unwrap(), Value::Int(42));
        scope
            .declare(&declaration("@name", DataType::SysName), Value::Int(7))
            .unwrap();
        assert_eq!(scope.get("@name").unwrap(), Value::NVarChar("7".into()));
    }

    #[test]
    fn undeclared_and_redeclared_variables_are_errors() {
        let mut scope = Scope::default();
        assert_eq!(scope.get("@x").unwrap_err().messages[0].number, 137);
        scope
            .declare(&declaration("@x", DataType::Int), Value::Null)
            .unwrap();
        let again = scope.declare(&declaration("@X", DataType::Int), Value::Null);
        assert_eq!(again.unwrap_err().messages[0].number, 134);
    }

    #[test]
    fn bad_conversions_are_245_and_8169() {
        let text = Value::NVarChar("abc".into());
        assert_eq!(
            convert(text.clone(), DataType::Int).unwrap_err().messages[0].number,
            245
        );
        let guid = convert(text, DataType::UniqueIdentifier);
        assert_eq!(guid.unwrap_err().messages[0].number, 8169);
    }
}
