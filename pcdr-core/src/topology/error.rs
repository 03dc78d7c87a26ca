//! The one error type of the topology module: a key path and what is wrong there.

use serde::Serialize;

/// A topology that cannot be used, and where in the file the problem is.
///
/// `key` is the dotted key path (`sites.backup.chat_servers[2]`), or the file's path
/// when the file itself cannot be read or parsed, or empty when the problem has no place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", render(key, message))]
pub struct TopologyError {
    /// Where the problem is: a key path such as `sql.password_file`.
    pub key: String,
    /// What is wrong and what is expected instead.
    pub message: String,
}

impl TopologyError {
    /// An error at `key`.
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        TopologyError {
            key: key.into(),
            message: message.into(),
        }
    }
}

fn render(key: &str, message: &str) -> String {
    if key.is_empty() {
        message.to_owned()
    } else {
        format!("{key}: {message}")
    }
}
