//! Rules on single values: host names (RFC 1123), SQL Server database and instance
//! names, environment variable names, plain text, and integers in a range.
//!
//! Each check takes the key path and the value, and returns the value or an error that
//! names the key, what is wrong and what is expected. How values fit together is
//! `validate.rs`'s business.

use std::ops::RangeInclusive;

use super::TopologyError;

/// The result of a check.
pub(super) type Checked<T> = Result<T, TopologyError>;

/// SQL Server's `sysname` length, the longest database name.
const MAX_DATABASE_NAME_CHARS: usize = 128;
/// SQL Server's longest instance name.
const MAX_INSTANCE_NAME_CHARS: usize = 16;

/// The value of a key that must be present.
pub(super) fn required<T>(value: Option<T>, key: &str, expected: &str) -> Checked<T> {
    value.ok_or_else(|| TopologyError::new(key, format!("is missing; expected {expected}")))
}

/// A non-empty string without control characters (names, identities, paths).
pub(super) fn text(key: &str, value: String, what: &str) -> Checked<String> {
    if value.is_empty() {
        return Err(TopologyError::new(
            key,
            format!("is empty; expected {what}"),
        ));
    }
    without_controls(key, value, what)
}

/// A string, possibly empty, without control characters (arguments).
pub(super) fn without_controls(key: &str, value: String, what: &str) -> Checked<String> {
    match value.chars().find(|c| c.is_control()) {
        Some(control) => Err(TopologyError::new(
            key,
            format!(
                "{value:?} contains the control character U+{:04X}; expected {what} \
                 without control characters",
                u32::from(control)
            ),
        )),
        None => Ok(value),
    }
}

/// RFC 1123: 1–253 characters, dot-separated labels of 1–63 letters, digits and
/// hyphens, no label starting or ending with a hyphen.
pub(super) fn host_name(key: &str, value: String) -> Checked<String> {
    let valid = (1..=253).contains(&value.len()) && value.split('.').all(is_host_label);
    if !valid {
        return Err(TopologyError::new(
            key,
            format!(
                "{value:?} is not a valid host name (RFC 1123: letters, digits and hyphens, \
                 labels of at most 63 characters)"
            ),
        ));
    }
    Ok(value)
}

fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A database name: 1–128 characters, no control characters.
pub(super) fn database_name(key: &str, value: String) -> Checked<String> {
    let value = text(key, value, "a database name")?;
    let length = value.chars().count();
    if length > MAX_DATABASE_NAME_CHARS {
        return Err(TopologyError::new(
            key,
            format!(
                "is {length} characters long; expected a database name of at most \
                 {MAX_DATABASE_NAME_CHARS} characters"
            ),
        ));
    }
    Ok(value)
}

/// SQL Server's rule: 1–16 characters, letters, digits, `_`, `$` and `#`, starting with
/// a letter or `_`.
pub(super) fn instance_name(key: &str, value: String) -> Checked<String> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '#'));
    let length_ok = value.chars().count() <= MAX_INSTANCE_NAME_CHARS;
    if !(first_ok && rest_ok && length_ok) {
        return Err(TopologyError::new(
            key,
            format!(
                "{value:?} is not a valid instance name (SQL Server: 1–16 letters, digits, \
                 `_`, `$` or `#`, starting with a letter or `_`)"
            ),
        ));
    }
    Ok(value)
}

/// Letters, digits and `_`, not starting with a digit (portable across shells).
pub(super) fn env_var_name(key: &str, value: String) -> Checked<String> {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !(first_ok && rest_ok) {
        return Err(TopologyError::new(
            key,
            format!(
                "{value:?} is not a valid environment variable name (letters, digits and \
                 `_`, not starting with a digit)"
            ),
        ));
    }
    Ok(value)
}

/// An integer within `range`, converted to the field's type; `expected` says the range
/// in words.
pub(super) fn number<T: TryFrom<i64>>(
    key: &str,
    value: i64,
    range: RangeInclusive<i64>,
    expected: &str,
) -> Checked<T> {
    let out_of_range =
        || TopologyError::new(key, format!("{value} is out of range; expected {expected}"));
    if !range.contains(&value) {
        return Err(out_of_range());
    }
    T::try_from(value).map_err(|_| out_of_range())
}

/// [`number`] when the key is given, `default` when it is not.
pub(super) fn number_or<T: TryFrom<i64>>(
    key: &str,
    value: Option<i64>,
    default: T,
    range: RangeInclusive<i64>,
    expected: &str,
) -> Checked<T> {
    match value {
        Some(value) => number(key, value, range, expected),
        None => Ok(default),
    }
}
