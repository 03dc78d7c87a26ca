//! The SQL password: reading it from where [`PasswordSource`] says, and holding it so
//! that it is never printed or serialized.
//!
//! This is the only place in the topology module that reads the environment or a
//! secret file; it is done when a connection needs the password, not at load.

use std::fmt;
use std::fs;
use std::path::Path;

use serde::{Serialize, Serializer};

use super::TopologyError;
use super::model::PasswordSource;

const ENV_KEY: &str = "sql.password_env";
const FILE_KEY: &str = "sql.password_file";
const MASK: &str = "***";

/// A password. `Debug`, `Display` and `Serialize` show `***`; [`Secret::expose`] gives
/// the text. The buffer is overwritten with zeros when the secret is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text` as a secret.
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    /// The password itself, for handing to the SQL client and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl Drop for Secret {
    /// Zeroes the whole allocation, spare capacity included. Best effort: copies made
    /// before (the environment, the SQL client's own buffers) are out of reach.
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.clear();
        bytes.resize(bytes.capacity(), 0);
        std::hint::black_box(&bytes);
    }
}

impl PasswordSource {
    /// Reads the password: `None` for integrated authentication, otherwise the
    /// environment variable or the file (one trailing newline trimmed).
    ///
    /// On unix a file that group or others may access is refused, with the `chmod` that
    /// fixes it. A missing variable, a missing file and an empty password are errors
    /// naming the variable or the file.
    pub fn resolve(&self) -> Result<Option<Secret>, TopologyError> {
        match self {
            PasswordSource::None => Ok(None),
            PasswordSource::Env(name) => read_env(name).map(Some),
            PasswordSource::File(path) => read_file(path).map(Some),
        }
    }
}

fn read_env(name: &str) -> Result<Secret, TopologyError> {
    let value = std::env::var(name).map_err(|error| {
        let problem = match error {
            std::env::VarError::NotPresent => "is not set",
            std::env::VarError::NotUnicode(_) => "is not valid Unicode",
        };
        TopologyError::new(
            ENV_KEY,
            format!("environment variable {name} {problem}; expected the SQL password in it"),
        )
    })?;
    non_empty(
        Secret::new(value),
        ENV_KEY,
        &format!("environment variable {name}"),
    )
}

fn read_file(path: &Path) -> Result<Secret, TopologyError> {
    let cannot_read = |error: std::io::Error| {
        TopologyError::new(FILE_KEY, format!("cannot read {}: {error}", path.display()))
    };
    let metadata = fs::metadata(path).map_err(cannot_read)?;
    refuse_shared_file(path, &metadata)?;
    let mut secret = Secret::new(fs::read_to_string(path).map_err(cannot_read)?);
    let length = secret.0.len() - trailing_newline_len(&secret.0);
    secret.0.truncate(length);
    non_empty(secret, FILE_KEY, &path.display().to_string())
}

/// 2 for a final `\r\n`, 1 for a final `\n`, otherwise 0.
fn trailing_newline_len(text: &str) -> usize {
    if text.ends_with("\r\n") {
        2
    } else {
        usize::from(text.ends_with('\n'))
    }
}

fn non_empty(secret: Secret, key: &str, source: &str) -> Result<Secret, TopologyError> {
    if secret.0.is_empty() {
        return Err(TopologyError::new(
            key,
            format!("{source} is empty; expected the SQL password"),
        ));
    }
    Ok(secret)
}

#[cfg(unix)]
fn refuse_shared_file(path: &Path, metadata: &fs::Metadata) -> Result<(), TopologyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TopologyError::new(
            FILE_KEY,
            format!(
                "{} is accessible by group or others (mode {mode:04o}); expected mode 0600, \
                 run: chmod 600 '{}'",
                path.display(),
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Windows protects files with ACLs: only the owner, SYSTEM and Administrators may read.
#[cfg(windows)]
fn refuse_shared_file(path: &Path, _metadata: &fs::Metadata) -> Result<(), TopologyError> {
    crate::windows_acl::check_private(path).map_err(|e| TopologyError::new(FILE_KEY, e.to_string()))
}
