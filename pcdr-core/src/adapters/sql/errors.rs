//! tiberius errors as plane errors: SQL Server's own errors keep their number, state
//! and class; everything else says whether the instance was reached at all.

use crate::error::{PlaneError, SqlServerError};
use tiberius::error::{Error, IoErrorKind};

/// An error while connecting: the instance was not reached, unless SQL Server itself
/// refused the login (which keeps its number, e.g. 18456).
pub fn connect_error(server: &str, error: Error) -> PlaneError {
    match error {
        Error::Server(e) => sql(e),
        other => PlaneError::Unreachable {
            target: server.to_string(),
            message: other.to_string(),
        },
    }
}

/// An error while a statement ran.
pub fn request_error(error: Error) -> PlaneError {
    match error {
        Error::Server(e) => sql(e),
        Error::Io {
            kind: IoErrorKind::TimedOut,
            message,
        } => PlaneError::Timeout {
            what: format!("the statement ({message})"),
            secs: 0,
        },
        Error::Io { message, .. } => PlaneError::ConnectionLost { message },
        Error::Protocol(message) if message.contains("closed") => PlaneError::ConnectionLost {
            message: message.into_owned(),
        },
        other => PlaneError::Unexpected(other.to_string()),
    }
}

fn sql(e: tiberius::error::TokenError) -> PlaneError {
    PlaneError::Sql(SqlServerError {
        number: e.code(),
        state: e.state(),
        class: e.class(),
        message: e.message().to_string(),
    })
}
