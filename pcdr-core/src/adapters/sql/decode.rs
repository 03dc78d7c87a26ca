//! Reading typed values out of result rows, by column name, tolerant of the integer
//! widths and date types different SQL Server versions use for the same column.

use crate::error::{PlaneError, PlaneResult};
use crate::log_chain::Lsn;
use chrono::NaiveDateTime;
use tiberius::{ColumnData, FromSql, Row};

/// The first row of the first result set, if any.
pub(super) fn first(sets: &[Vec<Row>]) -> Option<&Row> {
    sets.first().and_then(|rows| rows.first())
}

fn column<'r>(row: &'r Row, name: &str) -> PlaneResult<&'r ColumnData<'static>> {
    row.get_column_data(name)
        .map_err(|_| PlaneError::Unexpected(format!("the answer has no column {name}")))
}

fn wrong_type(name: &str, data: &ColumnData<'_>) -> PlaneError {
    PlaneError::Unexpected(format!("column {name} has an unexpected type ({data:?})"))
}

fn required<T>(name: &str, value: Option<T>) -> PlaneResult<T> {
    value.ok_or_else(|| PlaneError::Unexpected(format!("column {name} is NULL")))
}

/// A text column (NULL is `None`).
pub fn text(row: &Row, name: &str) -> PlaneResult<Option<String>> {
    match column(row, name)? {
        ColumnData::String(value) => Ok(value.as_deref().map(str::to_string)),
        other => Err(wrong_type(name, other)),
    }
}

/// A text column that must not be NULL.
pub fn required_text(row: &Row, name: &str) -> PlaneResult<String> {
    required(name, text(row, name)?)
}

/// An integer column of any width.
pub fn int(row: &Row, name: &str) -> PlaneResult<Option<i64>> {
    match column(row, name)? {
        ColumnData::U8(v) => Ok(v.map(i64::from)),
        ColumnData::I16(v) => Ok(v.map(i64::from)),
        ColumnData::I32(v) => Ok(v.map(i64::from)),
        ColumnData::I64(v) => Ok(*v),
        ColumnData::Numeric(v) => Ok(v.and_then(|n| i64::try_from(n.int_part()).ok())),
        other => Err(wrong_type(name, other)),
    }
}

/// An integer column that must not be NULL.
pub fn required_int(row: &Row, name: &str) -> PlaneResult<i64> {
    required(name, int(row, name)?)
}

/// A bit column (also accepted as an integer 0/1); NULL reads as false.
pub fn bit(row: &Row, name: &str) -> PlaneResult<bool> {
    match column(row, name)? {
        ColumnData::Bit(v) => Ok(v.unwrap_or(false)),
        _ => Ok(int(row, name)?.unwrap_or(0) != 0),
    }
}

/// A `numeric(25,0)` LSN column.
pub fn lsn(row: &Row, name: &str) -> PlaneResult<Option<Lsn>> {
    match column(row, name)? {
        ColumnData::Numeric(None) => Ok(None),
        ColumnData::Numeric(Some(n)) if n.scale() == 0 && n.value() >= 0 => {
            Ok(Some(Lsn(n.value().unsigned_abs())))
        }
        other => Err(wrong_type(name, other)),
    }
}

/// A `numeric(20,0)` byte count (`BackupSize`). NULL is `None`; a negative count or a
/// fraction is a wrong type.
pub fn bytes(row: &Row, name: &str) -> PlaneResult<Option<u64>> {
    bytes_of(name, column(row, name)?)
}

fn bytes_of(name: &str, data: &ColumnData<'_>) -> PlaneResult<Option<u64>> {
    match data {
        ColumnData::Numeric(None) => Ok(None),
        ColumnData::Numeric(Some(n)) if n.scale() == 0 => u64::try_from(n.value())
            .map(Some)
            .map_err(|_| wrong_type(name, data)),
        other => Err(wrong_type(name, other)),
    }
}

/// A `uniqueidentifier` column, as SQL Server prints it (upper case).
pub fn guid(row: &Row, name: &str) -> PlaneResult<Option<String>> {
    match column(row, name)? {
        ColumnData::Guid(v) => Ok(v.map(|g| g.to_string().to_uppercase())),
        ColumnData::String(v) => Ok(v.as_deref().map(str::to_uppercase)),
        other => Err(wrong_type(name, other)),
    }
}

/// A `datetime` or `datetime2` column, as the server gave it: in its local time (the
/// plane converts it to UTC with the server's offset, [`super::clock`]).
pub fn local_time(row: &Row, name: &str) -> PlaneResult<Option<NaiveDateTime>> {
    let data = column(row, name)?;
    NaiveDateTime::from_sql(data).map_err(|_| wrong_type(name, data))
}

/// A date column that must not be NULL, in the server's local time.
pub fn required_local_time(row: &Row, name: &str) -> PlaneResult<NaiveDateTime> {
    required(name, local_time(row, name)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiberius::numeric::Numeric;

    #[test]
    fn a_backup_size_reads_as_numeric_20_0() {
        let size = ColumnData::Numeric(Some(Numeric::new_with_scale(5_368_709_120, 0)));
        assert_eq!(bytes_of("BackupSize", &size).unwrap(), Some(5_368_709_120));
        assert_eq!(
            bytes_of("BackupSize", &ColumnData::Numeric(None)).unwrap(),
            None
        );
    }

    #[test]
    fn a_negative_or_fractional_backup_size_is_refused() {
        let negative = ColumnData::Numeric(Some(Numeric::new_with_scale(-1, 0)));
        let fraction = ColumnData::Numeric(Some(Numeric::new_with_scale(15, 1)));
        assert!(bytes_of("BackupSize", &negative).is_err());
        assert!(bytes_of("BackupSize", &fraction).is_err());
    }
}
