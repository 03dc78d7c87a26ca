//! Expressions and search conditions: literals, variables, `@@` globals, columns of the
//! current row, `DB_ID()` / `DB_NAME()`, `APPLOCK_MODE()`, the instance's clock
//! (`SYSDATETIME()`, the world clock in the instance's local time; `SYSUTCDATETIME()`) and a few scalar functions, `+ - *`, and
//! comparisons with SQL's three-valued logic (`NULL` compares as unknown).
//!
//! Text compares case-insensitively (SQL Server's default collation); a uniqueidentifier
//! compares with text by parsing the text; numbers compare across integer types.

use std::cmp::Ordering;

use crate::engine::applock::{AppLocks, LockMode, Resource};
use chrono::{DateTime, Utc};

use crate::engine::failure::{Failure, invalid_column, unknown_function};
use crate::engine::scope::{Scope, guid_of, integer_of, text_of};
use crate::tds::{Column, Value};
use crate::tsql::ast::{BinaryOp, CompareOp, Condition, Expr, Name};
use crate::world::model::Settings;
use crate::world::model::{Instance, InstanceId};

/// What an expression can see.
pub(crate) struct Env<'a> {
    /// The batch's variables.
    pub scope: &'a Scope,
    /// The instance's state.
    pub instance: &'a Instance,
    /// Which instance.
    pub server: InstanceId,
    /// The session's id.
    pub spid: u16,
    /// The session's current database.
    pub database: &'a str,
    /// `@@TRANCOUNT`.
    pub trancount: u32,
    /// The world clock (UTC); the instance's local clock is it plus the world's offset.
    pub clock: DateTime<Utc>,
    /// The instance's application locks, for `APPLOCK_MODE`.
    pub applocks: &'a AppLocks,
    /// The world's settings: the SQL Server version the instance presents and its
    /// offset from UTC.
    pub settings: &'a Settings,
    /// `@@ERROR`.
    pub error: u32,
}

/// The current row of a query.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    /// Its columns.
    pub columns: &'a [Column],
    /// Its values, one per column.
    pub values: &'a [Value],
}

impl Row<'_> {
    /// The value of the column `name` (the last part of a possibly qualified name).
    fn column(&self, name: &Name) -> Result<Value, Failure> {
        let last = name.0.last().map(String::as_str).unwrap_or_default();
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(last))
            .and_then(|i| self.values.get(i).cloned())
            .ok_or_else(|| invalid_column(last))
    }
}

impl Env<'_> {
    /// The value of `expr` for `row`.
    pub fn eval(&self, expr: &Expr, row: Option<Row<'_>>) -> Result<Value, Failure> {
        Ok(match expr {
            Expr::Column(name) => match row {
                Some(row) => row.column(name)?,
                None => return Err(invalid_column(&name.0.join("."))),
            },
            Expr::String(s) => Value::NVarChar(s.clone()),
            Expr::Integer(n) => i32::try_from(*n).map_or(Value::BigInt(*n), Value::Int),
            Expr::Decimal(text) | Expr::Float(text) => number(text)?,
            Expr::Bytes(bytes) => Value::Binary(bytes.clone()),
            Expr::Null => Value::Null,
            Expr::Variable(name) => self.scope.get(name)?,
            Expr::Global(name) => self.global(name)?,
            Expr::Function { name, args } => self.function(name, args, row)?,
            Expr::Wildcard => return Err(invalid_column("*")),
            Expr::Negate(inner) => negate(self.eval(inner, row)?)?,
            Expr::Binary { left, op, right } => {
                arithmetic(self.eval(left, row)?, *op, self.eval(right, row)?)?
            }
        })
    }

    fn global(&self, name: &str) -> Result<Value, Failure> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "@@SPID" => Value::Int(i32::from(self.spid)),
            "@@VERSION" => Value::NVarChar(self.settings.sql_version.version_text().to_owned()),
            "@@SERVERNAME" => Value::NVarChar(self.server.server_name().to_owned()),
            "@@TRANCOUNT" => Value::Int(i32::try_from(self.trancount).unwrap_or(i32::MAX)),
            // https://learn.microsoft.com/sql/t-sql/functions/error-transact-sql
            "@@ERROR" => Value::Int(i32::try_from(self.error).unwrap_or(i32::MAX)),
            _ => return Err(crate::engine::failure::undeclared(name)),
        })
    }

    fn function(&self, name: &Name, args: &[Expr], row: Option<Row<'_>>) -> Result<Value, Failure> {
        let function = name.0.last().map(String::as_str).unwrap_or_default();
        let values = args
            .iter()
            .map(|a| self.eval(a, row))
            .collect::<Result<Vec<_>, _>>()?;
        let first = values.first();
        Ok(match function.to_ascii_uppercase().as_str() {
            "DB_ID" => self.db_id(first)?,
            "DB_NAME" => self.db_name(first)?,
            "ISNULL" => match values.as_slice() {
                [Value::Null, fallback] => fallback.clone(),
                [value, _] => value.clone(),
                _ => return Err(argument_count(function, 2)),
            },
            "UPPER" => text_map(first, str::to_uppercase),
            "LOWER" => text_map(first, str::to_lowercase),
            "QUOTENAME" => text_map(first, |s| format!("[{}]", s.replace(']', "]]"))),
            // SYSDATETIME and GETDATE: the date and time "of the computer on which the
            // instance of SQL Server is running", its local time; SYSUTCDATETIME and
            // GETUTCDATE: the same instant in UTC
            // (https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql,
            // https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql).
            "SYSDATETIME" | "GETDATE" => Value::DateTime2(self.settings.local(self.clock)),
            "SYSUTCDATETIME" | "GETUTCDATE" => Value::DateTime2(self.clock.naive_utc()),
            "APPLOCK_MODE" => self.applock_mode(function, &values)?,
            "SERVERPROPERTY" => self.server_property(first),
            _ => return Err(unknown_function(function)),
        })
    }

    /// `APPLOCK_MODE(principal, resource, owner)`: the mode this session holds on the
    /// resource in the current database, or `NoLock`. Only session-owned locks are
    /// emulated, so a `Transaction` owner holds none.
    /// <https://learn.microsoft.com/sql/t-sql/functions/applock-mode-transact-sql>
    fn applock_mode(&self, function: &str, values: &[Value]) -> Result<Value, Failure> {
        let [principal, resource, owner] = values else {
            return Err(argument_count(function, 3));
        };
        let text = |v: &Value| text_of(v).unwrap_or_default();
        let resource = Resource {
            database: self.database.to_owned(),
            principal: text(principal),
            name: text(resource),
        };
        let mode = text(owner)
            .eq_ignore_ascii_case("Session")
            .then(|| self.applocks.mode_of(self.spid, &resource))
            .flatten();
        Ok(Value::NVarChar(
            mode.map_or("NoLock", LockMode::name).to_owned(),
        ))
    }

    /// `SERVERPROPERTY(name)`: the version properties; NULL for any other name, as for
    /// a name SQL Server does not know
    /// (<https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql>).
    fn server_property(&self, name: Option<&Value>) -> Value {
        let name = name.and_then(text_of).unwrap_or_default();
        let value = match name.to_ascii_lowercase().as_str() {
            "productversion" => self.settings.sql_version.product_version(),
            "productlevel" => self.settings.sql_version.product_level(),
            "servername" => self.server.server_name(),
            _ => return Value::Null,
        };
        Value::NVarChar(value.to_owned())
    }

    fn db_id(&self, name: Option<&Value>) -> Result<Value, Failure> {
        let name = match name {
            None => Some(self.database.to_owned()),
            Some(value) => text_of(value),
        };
        Ok(name
            .and_then(|n| self.instance.database(&n))
            .map_or(Value::Null, |db| Value::Int(db.id)))
    }

    fn db_name(&self, id: Option<&Value>) -> Result<Value, Failure> {
        let db = match id {
            None => self.instance.database(self.database),
            Some(value) => integer_of(value, "int")?
                .and_then(|id| i32::try_from(id).ok())
                .and_then(|id| self.instance.database_by_id(id)),
        };
        Ok(db.map_or(Value::Null, |db| Value::NVarChar(db.name.clone())))
    }

    /// Whether `condition` holds for `row`: `Some(true)`, `Some(false)`, or `None` for
    /// unknown.
    pub fn test(
        &self,
        condition: &Condition,
        row: Option<Row<'_>>,
    ) -> Result<Option<bool>, Failure> {
        Ok(match condition {
            Condition::Compare { left, op, right } => {
                let ordering = compare(&self.eval(left, row)?, &self.eval(right, row)?)?;
                ordering.map(|o| holds(*op, o))
            }
            Condition::IsNull { expr, negated } => {
                Some((self.eval(expr, row)? == Value::Null) != *negated)
            }
            Condition::Like {
                expr,
                pattern,
                negated,
            } => {
                let text = text_of(&self.eval(expr, row)?);
                let pattern = text_of(&self.eval(pattern, row)?);
                match (text, pattern) {
                    (Some(t), Some(p)) => Some(like(&t, &p) != *negated),
                    _ => None,
                }
            }
            Condition::In {
                expr,
                list,
                negated,
            } => self.test_in(expr, list, *negated, row)?,
            Condition::Not(inner) => self.test(inner, row)?.map(|b| !b),
            Condition::And(a, b) => and(self.test(a, row)?, self.test(b, row)?),
            Condition::Or(a, b) => or(self.test(a, row)?, self.test(b, row)?),
        })
    }

    fn test_in(
        &self,
        expr: &Expr,
        list: &[Expr],
        negated: bool,
        row: Option<Row<'_>>,
    ) -> Result<Option<bool>, Failure> {
        let value = self.eval(expr, row)?;
        let mut result = Some(false);
        for candidate in list {
            match compare(&value, &self.eval(candidate, row)?)? {
                Some(Ordering::Equal) => {
                    result = Some(true);
                    break;
                }
                None => result = None,
                Some(_) => {}
            }
        }
        Ok(result.map(|found| found != negated))
    }
}

fn argument_count(function: &str, count: usize) -> Failure {
    Failure::new(
        174,
        15,
        format!("The {function} function requires {count} argument(s)."),
    )
    .aborting()
}

fn text_map(value: Option<&Value>, map: impl Fn(&str) -> String) -> Value {
    value
        .and_then(text_of)
        .map_or(Value::Null, |s| Value::NVarChar(map(&s)))
}

fn number(text: &str) -> Result<Value, Failure> {
    if let Ok(n) = text.parse::<i128>() {
        return Ok(Value::Decimal(n));
    }
    text.parse::<f64>()
        .map(Value::Float)
        .map_err(|_| crate::engine::failure::conversion(text, "numeric"))
}

fn negate(value: Value) -> Result<Value, Failure> {
    Ok(match value {
        Value::Int(n) => Value::Int(n.wrapping_neg()),
        Value::BigInt(n) => Value::BigInt(n.wrapping_neg()),
        Value::Decimal(n) => Value::Decimal(n.checked_neg().ok_or_else(|| {
            Failure::error(
                8115,
                "Arithmetic overflow error converting expression to data type numeric.",
            )
        })?),
        Value::Float(f) => Value::Float(-f),
        Value::Null => Value::Null,
        other => {
            let text = text_of(&other).unwrap_or_default();
            return Err(crate::engine::failure::conversion(&text, "int"));
        }
    })
}

fn arithmetic(left: Value, op: BinaryOp, right: Value) -> Result<Value, Failure> {
    if left == Value::Null || right == Value::Null {
        return Ok(Value::Null);
    }
    if let (BinaryOp::Add, Value::NVarChar(a), Value::NVarChar(b)) = (op, &left, &right) {
        return Ok(Value::NVarChar(format!("{a}{b}")));
    }
    let (a, b) = (
        integer_of(&left, "int")?.unwrap_or(0),
        integer_of(&right, "int")?.unwrap_or(0),
    );
    let result = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Subtract => a.checked_sub(b),
        BinaryOp::Multiply => a.checked_mul(b),
    };
    let overflow = || {
        Failure::error(
            8115,
            "Arithmetic overflow error converting expression to data type int.",
        )
    };
    let result = result.ok_or_else(overflow)?;
    Ok(match (&left, &right) {
        (Value::Int(_), Value::Int(_)) => {
            Value::Int(i32::try_from(result).map_err(|_| overflow())?)
        }
        (Value::Decimal(_), _) | (_, Value::Decimal(_)) => Value::Decimal(result),
        _ => Value::BigInt(i64::try_from(result).map_err(|_| overflow())?),
    })
}

fn holds(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::NotEq => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::LtEq => ordering != Ordering::Greater,
        CompareOp::GtEq => ordering != Ordering::Less,
    }
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn is_numeric(value: &Value) -> bool {
    matches!(
        value,
        Value::Int(_) | Value::BigInt(_) | Value::Bit(_) | Value::Decimal(_)
    )
}

/// Compares two values: `None` when either is NULL.
pub(crate) fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, Failure> {
    Ok(Some(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return Ok(None),
        (Value::Guid(_), _) | (_, Value::Guid(_)) => guid_of(a)?.cmp(&guid_of(b)?),
        (Value::Float(x), other) | (other, Value::Float(x)) => {
            let y = integer_of(other, "float")?.unwrap_or(0) as f64;
            let ordering = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if matches!(a, Value::Float(_)) {
                ordering
            } else {
                ordering.reverse()
            }
        }
        (Value::DateTime2(x), Value::DateTime2(y)) => x.cmp(y),
        _ if is_numeric(a) || is_numeric(b) => integer_of(a, "int")?
            .unwrap_or(0)
            .cmp(&integer_of(b, "int")?.unwrap_or(0)),
        _ => {
            let x = text_of(a).unwrap_or_default().to_lowercase();
            let y = text_of(b).unwrap_or_default().to_lowercase();
            x.trim_end().cmp(y.trim_end())
        }
    }))
}

/// One element of a LIKE pattern.
enum Wildcard {
    /// `%`.
    Any,
    /// `_`.
    One,
    /// `[abc]`, `[a-z]`, `[^…]`: the set's text and whether it is negated.
    Set(Vec<char>, bool),
    /// A literal character.
    Char(char),
}

/// `text LIKE pattern`, case-insensitive: `%` any run, `_` one character, `[abc]` and
/// `[a-z]` sets, `[^…]` negated sets. Dynamic programming over text and pattern, so a
/// hostile pattern costs time proportional to their product and no stack.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let pattern = wildcards(&pattern.to_lowercase());
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for element in &pattern {
        let mut next = vec![false; text.len() + 1];
        for i in 0..=text.len() {
            next[i] = match element {
                Wildcard::Any => row[i] || (i > 0 && next[i - 1]),
                _ if i == 0 => false,
                Wildcard::One => row[i - 1],
                Wildcard::Set(set, negated) => row[i - 1] && in_set(text[i - 1], set) != *negated,
                Wildcard::Char(c) => row[i - 1] && text[i - 1] == *c,
            };
        }
        row = next;
    }
    row[text.len()]
}

fn wildcards(pattern: &str) -> Vec<Wildcard> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let close = chars[i + 1..].iter().position(|c| *c == ']');
        match (chars[i], close) {
            ('%', _) => out.push(Wildcard::Any),
            ('_', _) => out.push(Wildcard::One),
            ('[', Some(len)) => {
                let set = &chars[i + 1..i + 1 + len];
                let (negated, set) = match set.split_first() {
                    Some(('^', rest)) => (true, rest),
                    _ => (false, set),
                };
                out.push(Wildcard::Set(set.to_vec(), negated));
                i += len + 1;
            }
            (c, _) => out.push(Wildcard::Char(c)),
        }
        i += 1;
    }
    out
}

fn in_set(c: char, set: &[char]) -> bool {
    let mut found = false;
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            found |= (set[i]..=set[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= set[i] == c;
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_server_wildcards() {
        assert!(like("SQL Server Agent (MSSQLSERVER)", "sql server agent%"));
        assert!(!like("SQL Server (MSSQLSERVER)", "SQL Server Agent%"));
        assert!(like("mgc", "m_c"));
        assert!(like("mgc", "[lm]gc"));
        assert!(!like("mgc", "[^m]gc"));
        assert!(like("50%", "50[%]"));
        let hostile = format!("{}b", "%a".repeat(200));
        assert!(!like(&"a".repeat(40), &hostile), "no backtracking blow-up");
        assert!(like("", "%"));
        assert!(!like("", "_"));
    }

    #[test]
    fn guids_compare_with_their_text() {
        let guid: crate::guid::Guid = "6F9A1B2C-3D4E-451F-8A0B-1C2D3E4F5061".parse().unwrap();
        let text = Value::NVarChar("6f9a1b2c-3d4e-451f-8a0b-1c2d3e4f5061".into());
        assert_eq!(
            compare(&Value::Guid(guid.0), &text).unwrap(),
            Some(Ordering::Equal)
        );
        let bad = compare(&Value::Guid(guid.0), &Value::NVarChar("x".into()));
        assert_eq!(bad.unwrap_err().messages[0].number, 8169);
    }

    #[test]
    fn null_compares_as_unknown_and_text_ignores_case() {
        assert_eq!(compare(&Value::Null, &Value::Int(1)).unwrap(), None);
        let (a, b) = (Value::NVarChar("MGC".into()), Value::NVarChar("mgc".into()));
        assert_eq!(compare(&a, &b).unwrap(), Some(Ordering::Equal));
        assert_eq!(
            compare(&Value::Int(2), &Value::BigInt(10)).unwrap(),
            Some(Ordering::Less)
        );
    }
}
