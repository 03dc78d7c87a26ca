//! The failure of one control-plane call: [`PlaneError`], what every plane reports, and
//! [`PlaneErrorKind`], its classification.
//!
//! A leaf module: a plane knows neither which step called it nor why, so nothing here
//! imports the procedure vocabulary. Steps wrap a [`PlaneError`] into
//! [`Error::Step`](crate::error::Error::Step), adding the step, the target and the
//! database or file involved.

use std::fmt;

/// The result type of one control-plane call.
pub type PlaneResult<T> = std::result::Result<T, PlaneError>;

/// An error SQL Server reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SqlServerError {
    /// The error number (e.g. 4305).
    pub number: u32,
    /// The state.
    pub state: u8,
    /// The class (severity).
    pub class: u8,
    /// The message text.
    pub message: String,
}

impl SqlServerError {
    /// Whether this refused login named a Windows account: 18456's message names the
    /// login (`Login failed for user 'DOMAIN\user'.`), and only Windows logins have a
    /// backslash, which a SQL Server login's name cannot contain
    /// (<https://learn.microsoft.com/sql/t-sql/statements/create-login-transact-sql>).
    pub fn is_windows_login(&self) -> bool {
        self.message.split_once("user '").is_some_and(|(_, user)| {
            user.split('\'')
                .next()
                .is_some_and(|name| name.contains('\\'))
        })
    }
}

impl fmt::Display for SqlServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SQL Server error {} (state {}, class {}): {}",
            self.number, self.state, self.class, self.message
        )
    }
}

/// The failure of one control-plane call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    /// SQL Server answered with an error.
    #[error("{0}")]
    Sql(SqlServerError),
    /// The instance, share or shell could not be reached at all.
    #[error("cannot reach {target}: {message}")]
    Unreachable {
        /// What was being reached.
        target: String,
        /// The operating system's or driver's message.
        message: String,
    },
    /// Connecting failed without a refusal or a time-out (TLS, the protocol, SQL Server
    /// Browser, the name not resolving): pcdr cannot tell the server is down.
    #[error("cannot connect to {target}{}: {message}", failure.what())]
    ConnectFailed {
        /// What was being reached.
        target: String,
        /// Why, as far as pcdr can tell.
        failure: ConnectFailure,
        /// The driver's message.
        message: String,
    },
    /// The connection dropped while a statement was running; its effect is unknown.
    #[error("connection lost: {message}")]
    ConnectionLost {
        /// The driver's message.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A Management Shell cmdlet failed.
    #[error("{cmdlet} failed: {message}")]
    Shell {
        /// The cmdlet.
        cmdlet: String,
        /// The shell's message.
        message: String,
    },
    /// A statement or a cmdlet ran past its time limit and was stopped.
    #[error("{what} did not finish within {secs} s and was stopped")]
    Timeout {
        /// What ran.
        what: String,
        /// The limit.
        secs: u64,
    },
    /// The answer had an unexpected shape (a protocol or version mismatch).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Why connecting failed although something answered on the port: the TLS failures an
/// operator fixes each in its own way, and everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The server's certificate was not issued by an authority this machine trusts
    /// (nor by `sql.trust_ca_file`'s).
    UntrustedCertificate,
    /// The server's certificate is trusted but issued for another name than the one
    /// pcdr connected to (or `host_in_certificate`).
    CertificateNameMismatch,
    /// The server does not offer the encryption the topology requires (no certificate
    /// configured on the instance).
    EncryptionRefused,
    /// Another TLS failure: protocol versions or ciphers in common, a damaged or expired
    /// certificate, the handshake cut short.
    Tls,
    /// Anything else: the TDS protocol, SQL Server Browser, a login that did not
    /// complete in time, a name that does not resolve.
    Other,
}

impl ConnectFailure {
    /// What the error message says before the driver's own words.
    fn what(self) -> &'static str {
        match self {
            Self::UntrustedCertificate => {
                ": its TLS certificate was not issued by a certificate authority this machine trusts"
            }
            Self::CertificateNameMismatch => {
                ": its TLS certificate was issued for another name than the one connected to"
            }
            Self::EncryptionRefused => {
                ": it does not offer the encryption sql.encrypt requires (TLS)"
            }
            Self::Tls => ": the TLS handshake failed",
            Self::Other => ", though it did not refuse or time out",
        }
    }

    /// What an operator should do about it.
    fn next_action(self) -> &'static str {
        match self {
            Self::UntrustedCertificate => {
                "set sql.trust_ca_file to the certificate of the authority that issued the server's certificate (or install that authority in this machine's trusted roots), then resume"
            }
            Self::CertificateNameMismatch => {
                "connect by a name the server's certificate holds, or set host_in_certificate on this endpoint to the name it was issued for, then resume"
            }
            Self::EncryptionRefused => {
                "give the instance a certificate (SQL Server Configuration Manager, Protocols for the instance, Certificate) and restart it, then resume; sql.encrypt = \"off\" or \"not-supported\" sends statements in plain text and needs loopback hosts or sql.allow_plaintext"
            }
            Self::Tls => {
                "check the server's certificate (expiry, key usage) and that it offers TLS 1.2, then resume"
            }
            Self::Other => {
                "check the host name, the instance name or port, and the encryption settings and certificate (sql.encrypt, the server's certificate and its name), then resume"
            }
        }
    }
}

/// What kind of failure a [`PlaneError`] is, one kind per variant: the part of
/// [`ErrorKind::Step`](crate::error::ErrorKind::Step) that tells step failures apart.
///
/// Not `#[non_exhaustive]`: front ends match it without a `_` arm, so a new kind does
/// not compile until each of them decides what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaneErrorKind {
    /// [`PlaneError::Sql`]: SQL Server answered with an error.
    Sql,
    /// [`PlaneError::Unreachable`]: the instance, share or shell could not be reached.
    Unreachable,
    /// [`PlaneError::ConnectFailed`]: connecting failed without a refusal or a time-out.
    ConnectFailed,
    /// [`PlaneError::ConnectionLost`]: the connection dropped during a statement.
    ConnectionLost,
    /// [`PlaneError::Io`]: a file or folder could not be read or written.
    Io,
    /// [`PlaneError::Shell`]: a Management Shell cmdlet failed.
    Shell,
    /// [`PlaneError::Timeout`]: a statement or cmdlet ran past its time limit.
    Timeout,
    /// [`PlaneError::Unexpected`]: the answer had an unexpected shape.
    Unexpected,
}

impl PlaneError {
    /// Shorthand for a SQL Server error.
    pub fn sql(number: u32, class: u8, message: impl Into<String>) -> Self {
        Self::Sql(SqlServerError {
            number,
            state: 1,
            class,
            message: message.into(),
        })
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// use pcdr_core::{PlaneError, PlaneErrorKind};
    ///
    /// assert_eq!(PlaneError::sql(4305, 16, "too recent").kind(), PlaneErrorKind::Sql);
    /// ```
    pub fn kind(&self) -> PlaneErrorKind {
        match self {
            Self::Sql(_) => PlaneErrorKind::Sql,
            Self::Unreachable { .. } => PlaneErrorKind::Unreachable,
            Self::ConnectFailed { .. } => PlaneErrorKind::ConnectFailed,
            Self::ConnectionLost { .. } => PlaneErrorKind::ConnectionLost,
            Self::Io { .. } => PlaneErrorKind::Io,
            Self::Shell { .. } => PlaneErrorKind::Shell,
            Self::Timeout { .. } => PlaneErrorKind::Timeout,
            Self::Unexpected(_) => PlaneErrorKind::Unexpected,
        }
    }

    /// The error SQL Server reported, when SQL Server reported it.
    pub fn sql_error(&self) -> Option<&SqlServerError> {
        match self {
            Self::Sql(e) => Some(e),
            _ => None,
        }
    }

    /// SQL Server's error number, when SQL Server reported the error.
    pub fn sql_number(&self) -> Option<u32> {
        self.sql_error().map(|e| e.number)
    }

    /// Whether trying again later, unchanged, may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::ConnectionLost { .. } | Self::Timeout { .. } => true,
            // Deadlock victim; database in use; cannot open database yet.
            Self::Sql(e) => matches!(e.number, 1205 | 3101 | 4060 | 40613),
            _ => false,
        }
    }

    /// Whether nobody answered at all: a TCP connection refused or timed out. Any other
    /// failure, even one that stops a connection, means something answered; a check
    /// that needs a site down counts it as up (fail closed).
    pub fn is_unanswered(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// What an operator should do about this error.
    pub fn next_action(&self) -> &'static str {
        match self {
            Self::Sql(e) if e.number == 18456 && e.is_windows_login() => {
                "check that the Windows account (sql.user as DOMAIN\\user, or the Windows user running pcdr when sql.user is left out) has a login on this instance (CREATE LOGIN [DOMAIN\\user] FROM WINDOWS), and for DOMAIN\\user the password named by sql.password_env or sql.password_file; a domain that accepts only Kerberos refuses NTLM, which is all pcdr sends"
            }
            Self::Sql(e) => sql_next_action(e.number),
            Self::Unreachable { .. } => {
                "check that the server is running and reachable from here (host, port or instance, firewall), then resume"
            }
            Self::ConnectFailed { failure, .. } => failure.next_action(),
            Self::ConnectionLost { .. } => {
                "resume: pcdr observes the state again before repeating anything"
            }
            Self::Io { .. } => {
                "check that the path exists, has free space, and that this account can read and write it, then resume"
            }
            Self::Shell { .. } => {
                "run the cmdlet in the Skype for Business Management Shell to see the full error, fix the cause, then resume"
            }
            Self::Timeout { .. } => {
                "check the server; raise sql.command_timeout_secs or shell.timeout_secs if the work is just slow, then resume"
            }
            Self::Unexpected(_) => {
                "check the server version against pcdr's documentation, then resume"
            }
        }
    }
}

fn sql_next_action(number: u32) -> &'static str {
    match number {
        4305 => {
            "a log backup is missing: find it (backup share, primary's backup history), put it in the copy folder and resume; or resume accepting data loss"
        }
        4326 => "this log backup is already applied: resume, pcdr skips it",
        3101 | 5064 | 5070 => {
            "end the sessions still using the database (sys.sysprocesses), then resume"
        }
        3104 => "remove database mirroring (ALTER DATABASE … SET PARTNER OFF), then resume",
        3117 | 4330 => {
            "the database is not restoring any more (probably already recovered): check its state, then resume"
        }
        3159 | 3154 => {
            "restore WITH REPLACE over this database, or check the backup file is the right one"
        }
        3201 | 3203 | 3241 => {
            "check that the file exists, is complete and readable by the SQL Server service account; replace it from the backup share, then resume"
        }
        3013 => "read the error before this one in the SQL Server error log, fix it, then resume",
        3021 | 226 => "the statement ran inside a transaction: run it outside a transaction",
        3036 => "the database is in standby: recover it before backing it up",
        1488 => "set the database to MULTI_USER before setting up mirroring",
        1418 => "check the mirroring endpoint of the partner is started and reachable",
        18456 => "check sql.user and the password named by sql.password_env or sql.password_file",
        927 => "the database is still restoring: recover it first",
        6104 | 6106 => "the session is already gone: resume",
        _ => "read SQL Server's message, fix the cause, then resume",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_failed(user: &str) -> PlaneError {
        PlaneError::Sql(SqlServerError {
            number: 18456,
            state: 1,
            class: 14,
            message: format!("Login failed for user '{user}'."),
        })
    }

    /// 18456 names the login; a Windows account's name has a backslash.
    #[test]
    fn a_refused_windows_login_gets_its_own_hint() {
        let windows = login_failed(r"CONTOSO\pcdr-svc").next_action();
        assert!(windows.contains("FROM WINDOWS"), "{windows}");
        assert!(windows.contains("Kerberos"), "{windows}");
        let sql = login_failed("pcdr").next_action();
        assert_eq!(
            sql,
            "check sql.user and the password named by sql.password_env or sql.password_file"
        );
    }

    #[test]
    fn connection_problems_are_transient_and_bad_media_is_not() {
        let lost = PlaneError::ConnectionLost {
            message: "reset".into(),
        };
        assert!(lost.is_transient());
        assert!(PlaneError::sql(1205, 13, "deadlock").is_transient());
        assert!(!PlaneError::sql(3241, 16, "bad media").is_transient());
    }

    #[test]
    fn each_variant_has_its_own_kind() {
        let cases = [
            (PlaneError::sql(4305, 16, "too recent"), PlaneErrorKind::Sql),
            (
                PlaneError::Unreachable {
                    target: "sql-dal".into(),
                    message: "no route".into(),
                },
                PlaneErrorKind::Unreachable,
            ),
            (
                PlaneError::ConnectionLost {
                    message: "reset".into(),
                },
                PlaneErrorKind::ConnectionLost,
            ),
            (
                PlaneError::Io {
                    path: "D:\\ls".into(),
                    message: "denied".into(),
                },
                PlaneErrorKind::Io,
            ),
            (
                PlaneError::Shell {
                    cmdlet: "Set-CsPersistentChatState".into(),
                    message: "denied".into(),
                },
                PlaneErrorKind::Shell,
            ),
            (
                PlaneError::Timeout {
                    what: "RESTORE LOG".into(),
                    secs: 5,
                },
                PlaneErrorKind::Timeout,
            ),
            (
                PlaneError::Unexpected("no rows".into()),
                PlaneErrorKind::Unexpected,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn only_sql_server_errors_carry_a_number() {
        let sql = PlaneError::sql(3101, 16, "in use");
        assert_eq!(sql.sql_number(), Some(3101));
        assert_eq!(sql.sql_error().map(|e| e.class), Some(16));
        let lost = PlaneError::ConnectionLost {
            message: "reset".into(),
        };
        assert_eq!(lost.sql_error(), None);
    }
}
