//! `SELECT`: a generic single-table query over the [catalog](super::catalog) (or over
//! no table), with `WHERE`, `ORDER BY`, `TOP`, column aliases, and variable assignment
//! (`SELECT @x = …`).

use std::cmp::Ordering;

use crate::engine::catalog::{self, Source};
use crate::engine::eval::{Env, Row, compare};
use crate::engine::failure::{Failure, invalid_column};
use crate::engine::scope::{Scope, integer_of};
use crate::tds::{Column, ColumnType, ResultSet, Value};
use crate::tsql::ast::{Expr, Select, SelectItem};

/// Runs `select`: a result set, or `None` when it only assigned variables.
pub(crate) fn run(
    env: &Env<'_>,
    source: &Source<'_>,
    select: &Select,
    assign_to: &mut Scope,
) -> Result<Option<ResultSet>, Failure> {
    let table = match &select.from {
        Some(from) => catalog::table(source, &from.name)?,
        None => ResultSet {
            columns: Vec::new(),
            rows: vec![Vec::new()],
        },
    };
    let rows = filtered(env, &table, select)?;
    let assigns = select
        .items
        .iter()
        .filter(|i| matches!(i, SelectItem::Assign { .. }))
        .count();
    if assigns == select.items.len() {
        assign(env, &table.columns, &rows, select, assign_to)?;
        return Ok(None);
    }
    if assigns > 0 {
        return Err(Failure::error(
            141,
            "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.",
        )
        .aborting());
    }
    project(env, &table.columns, &rows, &select.items).map(Some)
}

/// The rows that pass `WHERE`, in `ORDER BY` order, cut to `TOP`.
fn filtered(env: &Env<'_>, table: &ResultSet, select: &Select) -> Result<Vec<Vec<Value>>, Failure> {
    let mut rows = Vec::new();
    for values in &table.rows {
        let row = Row {
            columns: &table.columns,
            values,
        };
        let keep = match &select.filter {
            Some(condition) => env.test(condition, Some(row))? == Some(true),
            None => true,
        };
        if keep {
            rows.push(values.clone());
        }
    }
    if !select.order_by.is_empty() {
        rows = sorted(env, &table.columns, rows, select)?;
    }
    if let Some(top) = &select.top {
        let limit = integer_of(&env.eval(top, None)?, "bigint")?
            .unwrap_or(0)
            .max(0);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(rows)
}

fn sorted(
    env: &Env<'_>,
    columns: &[Column],
    rows: Vec<Vec<Value>>,
    select: &Select,
) -> Result<Vec<Vec<Value>>, Failure> {
    let mut keyed = Vec::with_capacity(rows.len());
    for values in rows {
        let row = Row {
            columns,
            values: &values,
        };
        let mut keys = Vec::new();
        for item in &select.order_by {
            keys.push(order_key(env, row, &item.expr, &select.items)?);
        }
        keyed.push((keys, values));
    }
    let mut failure = None;
    keyed.sort_by(|(a, _), (b, _)| {
        for ((x, y), item) in a.iter().zip(b).zip(&select.order_by) {
            let ordering = match compare(x, y) {
                Ok(Some(o)) => o,
                Ok(None) => nulls_first(x, y),
                Err(e) => {
                    failure.get_or_insert(e);
                    Ordering::Equal
                }
            };
            let ordering = if item.descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(keyed.into_iter().map(|(_, values)| values).collect()),
    }
}

fn nulls_first(x: &Value, y: &Value) -> Ordering {
    match (x == &Value::Null, y == &Value::Null) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// An `ORDER BY` key: a select-list position (`ORDER BY 2`), a select-list alias, or an
/// expression over the row.
fn order_key(
    env: &Env<'_>,
    row: Row<'_>,
    expr: &Expr,
    items: &[SelectItem],
) -> Result<Value, Failure> {
    if let Expr::Integer(position) = expr {
        let item = usize::try_from(*position)
            .ok()
            .and_then(|p| p.checked_sub(1))
            .and_then(|p| items.get(p));
        return match item {
            Some(SelectItem::Expr { expr, .. }) => env.eval(expr, Some(row)),
            _ => Err(Failure::error(
                108,
                format!("The ORDER BY position number {position} is out of range of the number of items in the select list."),
            )
            .aborting()),
        };
    }
    if let Expr::Column(name) = expr {
        let aliased = items.iter().find_map(|item| match item {
            SelectItem::Expr {
                expr,
                alias: Some(alias),
            } if name.0.len() == 1 && name.0[0].eq_ignore_ascii_case(alias) => Some(expr),
            _ => None,
        });
        if let Some(expr) = aliased {
            return env.eval(expr, Some(row));
        }
    }
    env.eval(expr, Some(row))
}

fn assign(
    env: &Env<'_>,
    columns: &[Column],
    rows: &[Vec<Value>],
    select: &Select,
    scope: &mut Scope,
) -> Result<(), Failure> {
    for values in rows {
        let row = Row { columns, values };
        for item in &select.items {
            if let SelectItem::Assign { variable, value } = item {
                let value = env.eval(value, Some(row))?;
                scope.set(variable, value)?;
            }
        }
    }
    Ok(())
}

fn project(
    env: &Env<'_>,
    columns: &[Column],
    rows: &[Vec<Value>],
    items: &[SelectItem],
) -> Result<ResultSet, Failure> {
    let mut out_columns = output_columns(columns, items)?;
    let mut out_rows = Vec::with_capacity(rows.len());
    for values in rows {
        let row = Row { columns, values };
        let mut out = Vec::new();
        for item in items {
            match item {
                SelectItem::Wildcard => out.extend(values.iter().cloned()),
                SelectItem::Expr { expr, .. } => out.push(env.eval(expr, Some(row))?),
                SelectItem::Assign { .. } => {}
            }
        }
        out_rows.push(out);
    }
    infer_types(&mut out_columns, &mut out_rows);
    Ok(ResultSet {
        columns: out_columns,
        rows: out_rows,
    })
}

/// The result columns: a source column keeps its type; an expression's type comes from
/// its values (see [`infer_types`]).
fn output_columns(columns: &[Column], items: &[SelectItem]) -> Result<Vec<Column>, Failure> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard if columns.is_empty() => {
                return Err(Failure::error(263, "Must specify table to select from.").aborting());
            }
            SelectItem::Wildcard => out.extend(columns.iter().cloned()),
            SelectItem::Expr { expr, alias } => {
                let source = match expr {
                    Expr::Column(name) => {
                        let last = name.0.last().map(String::as_str).unwrap_or_default();
                        let column = columns
                            .iter()
                            .find(|c| c.name.eq_ignore_ascii_case(last))
                            .ok_or_else(|| invalid_column(last))?;
                        Some(column.clone())
                    }
                    _ => None,
                };
                let name = alias
                    .clone()
                    .or_else(|| source.as_ref().map(|c| c.name.clone()))
                    .unwrap_or_default();
                let ty = source.map_or(ColumnType::NVarChar, |c| c.ty);
                out.push(Column::new(name, ty));
            }
            SelectItem::Assign { .. } => {}
        }
    }
    Ok(out)
}

/// Gives each computed column the type of its first non-NULL value, and makes every
/// value of a column match the column's type.
fn infer_types(columns: &mut [Column], rows: &mut [Vec<Value>]) {
    for (i, column) in columns.iter_mut().enumerate() {
        let first = rows
            .iter()
            .filter_map(|r| r.get(i))
            .find(|v| **v != Value::Null);
        if let Some(ty) = first.and_then(type_of)
            && (column.ty == ColumnType::NVarChar || ty != ColumnType::NVarChar)
        {
            column.ty = ty;
        }
        for row in rows.iter_mut() {
            if let Some(value) = row.get_mut(i) {
                *value = fit(std::mem::replace(value, Value::Null), column.ty);
            }
        }
    }
}

fn type_of(value: &Value) -> Option<ColumnType> {
    Some(match value {
        Value::Null => return None,
        Value::NVarChar(_) | Value::Binary(_) => ColumnType::NVarChar,
        Value::Int(_) => ColumnType::Int,
        Value::BigInt(_) => ColumnType::BigInt,
        Value::Bit(_) => ColumnType::Bit,
        Value::Float(_) => ColumnType::Float,
        Value::DateTime2(_) => ColumnType::DateTime2,
        Value::Decimal(_) => ColumnType::Numeric(25),
        Value::Guid(_) => ColumnType::UniqueIdentifier,
    })
}

/// `value` in the representation of `ty` (numbers widen; anything else becomes text).
fn fit(value: Value, ty: ColumnType) -> Value {
    if value == Value::Null || type_of(&value) == Some(ty) {
        return value;
    }
    let number = integer_of(&value, "bigint").ok().flatten();
    match (ty, number) {
        (ColumnType::Int, Some(n)) => i32::try_from(n).map_or(Value::Null, Value::Int),
        (ColumnType::BigInt, Some(n)) => i64::try_from(n).map_or(Value::Null, Value::BigInt),
        (ColumnType::Numeric(_), Some(n)) => Value::Decimal(n),
        (ColumnType::Float, Some(n)) => Value::Float(n as f64),
        _ => crate::engine::scope::text_of(&value).map_or(Value::Null, Value::NVarChar),
    }
}
