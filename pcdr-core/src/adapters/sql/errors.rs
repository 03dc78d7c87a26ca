//! tiberius errors as plane errors: SQL Server's own errors keep their number, state
//! and class; everything else says whether the instance was reached at all, and a TLS
//! failure says which one it is.

use crate::error::{ConnectFailure, PlaneError, SqlServerError};
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
            failure: connect_failure(&other),
            message: other.to_string(),
        },
    }
}

/// What the TLS layer says when a certificate's chain ends at no trusted authority:
/// OpenSSL's verify results (native-tls on Linux), Schannel's messages and status codes
/// (native-tls on Windows: `SEC_E_UNTRUSTED_ROOT`, `CERT_E_UNTRUSTEDROOT`), rustls's.
const UNTRUSTED: [&str; 8] = [
    "unable to get local issuer certificate",
    "unable to get issuer certificate",
    "self-signed certificate",
    "self signed certificate",
    "unable to verify the first certificate",
    "issued by an authority that is not trusted",
    "0x80090325",
    "unknownissuer",
];

/// The same for a certificate issued for another name: OpenSSL's "hostname mismatch"
/// and "IP address mismatch", Schannel's `SEC_E_WRONG_PRINCIPAL` and
/// `CERT_E_CN_NO_MATCH`, rustls's `NotValidForName`.
const WRONG_NAME: [&str; 6] = [
    "hostname mismatch",
    "ip address mismatch",
    "target principal name is incorrect",
    "0x80090322",
    "0x800b010f",
    "notvalidforname",
];

/// tiberius's refusal when the server's PRELOGIN answer offers less encryption than
/// the client requires.
const ENCRYPTION_REFUSED: &str = "does not allow the requested encryption level";

/// Which connection failure tiberius reported, from its error's kind and text (the TLS
/// backends report certificate problems as text only).
fn connect_failure(error: &Error) -> ConnectFailure {
    let text = error.to_string().to_ascii_lowercase();
    let says = |markers: &[&str]| markers.iter().any(|m| text.contains(m));
    match error {
        Error::Protocol(_) if text.contains(ENCRYPTION_REFUSED) => {
            ConnectFailure::EncryptionRefused
        }
        Error::Tls(_) if says(&WRONG_NAME) => ConnectFailure::CertificateNameMismatch,
        Error::Tls(_) if says(&UNTRUSTED) => ConnectFailure::UntrustedCertificate,
        Error::Tls(_) => ConnectFailure::Tls,
        _ => ConnectFailure::Other,
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

    fn failure(error: Error) -> ConnectFailure {
        match connect_error("sql-atl", error) {
            PlaneError::ConnectFailed { failure, .. } => failure,
            other => panic!("not a connect failure: {other}"),
        }
    }

    /// The texts the TLS backends give (OpenSSL through native-tls on Linux, Schannel on
    /// Windows, rustls) and tiberius's own refusal each name their failure.
    #[test]
    fn tls_failures_are_told_apart_by_what_the_backend_says() {
        let cases = [
            (
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:1889: (unable to get local issuer \
                 certificate)",
                ConnectFailure::UntrustedCertificate,
            ),
            (
                "The certificate chain was issued by an authority that is not trusted. \
                 (os error -2146893019)",
                ConnectFailure::UntrustedCertificate,
            ),
            (
                "invalid peer certificate: UnknownIssuer",
                ConnectFailure::UntrustedCertificate,
            ),
            (
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:1889: (IP address mismatch)",
                ConnectFailure::CertificateNameMismatch,
            ),
            (
                "certificate verify failed (Hostname mismatch)",
                ConnectFailure::CertificateNameMismatch,
            ),
            (
                "The target principal name is incorrect. (os error -2146893022)",
                ConnectFailure::CertificateNameMismatch,
            ),
            (
                "invalid peer certificate: NotValidForName",
                ConnectFailure::CertificateNameMismatch,
            ),
            (
                "error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version",
                ConnectFailure::Tls,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(failure(Error::Tls(text.into())), expected, "{text}");
        }
        assert_eq!(
            failure(Error::Protocol(
                "Server does not allow the requested encryption level.".into()
            )),
            ConnectFailure::EncryptionRefused
        );
        assert_eq!(
            failure(Error::Protocol("unexpected token".into())),
            ConnectFailure::Other
        );
    }

    #[test]
    fn each_tls_failure_has_its_own_message_and_hint() {
        let untrusted = connect_error("sql-atl", Error::Tls("UnknownIssuer".into()));
        let wrong_name = connect_error("sql-atl", Error::Tls("Hostname mismatch".into()));
        assert!(
            untrusted
                .to_string()
                .contains("not issued by a certificate authority"),
            "{untrusted}"
        );
        assert!(untrusted.next_action().contains("sql.trust_ca_file"));
        assert!(
            wrong_name.to_string().contains("issued for another name"),
            "{wrong_name}"
        );
        assert!(wrong_name.next_action().contains("host_in_certificate"));
        assert_ne!(untrusted.next_action(), wrong_name.next_action());
    }
}
