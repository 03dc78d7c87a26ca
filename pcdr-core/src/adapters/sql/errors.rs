//! tiberius errors as plane errors: SQL Server's own errors keep their number, state
//! and class; everything else says whether the instance was reached at all.

use crate::error::{PlaneError, SqlServerError};
use tiberius::error::{Error, IoErrorKind};

/// An error while connecting. Only a TCP connection refused or timed out means the
/// instance was not reached; SQL Server refusing the login keeps its number (18456);
/// anything else (TLS, the protocol, SQL Server Browser, a name that does not resolve)
/// leaves pcdr unable to tell the instance is down.
pub fn connect_error(server: &str, error: Error) -> PlaneError {
    match error {
        Error::Server(e) => sql(e),
        Error::Io {
            kind: IoErrorKind::ConnectionRefused | IoErrorKind::TimedOut,
            message,
        } => PlaneError::Unreachable {
            target: server.to_string(),
            message,
        },
        other => PlaneError::ConnectFailed {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: IoErrorKind) -> Error {
        Error::Io {
            kind,
            message: "os error".into(),
        }
    }

    #[test]
    fn only_a_refused_or_timed_out_connection_is_unanswered() {
        for nobody in [
            io(IoErrorKind::ConnectionRefused),
            io(IoErrorKind::TimedOut),
        ] {
            let error = connect_error("sql-atl", nobody);
            assert!(error.is_unanswered(), "{error}");
        }
        // Not known to be down: a TLS failure, a protocol refusal ("Server does not allow
        // the requested encryption level"), a reset after accepting, a name lookup.
        let answered = [
            Error::Tls("invalid peer certificate: UnknownIssuer".into()),
            Error::Protocol("Server does not allow the requested encryption level".into()),
            io(IoErrorKind::ConnectionReset),
            io(IoErrorKind::Other),
        ];
        for something in answered {
            let error = connect_error("sql-atl", something);
            assert!(!error.is_unanswered(), "{error}");
            assert!(matches!(error, PlaneError::ConnectFailed { .. }), "{error}");
        }
    }
}
