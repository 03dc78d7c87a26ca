//! The deployment pcdr acts on, read from a TOML file and checked before anything runs.
//!
//! A topology names the Persistent Chat pool, its databases, the log-shipping setup, the
//! two sites (SQL Server instances and chat servers of each) and how pcdr reaches SQL
//! Server and PowerShell. [`Topology::load`] refuses unknown keys and every value that
//! breaks a rule, with the key path and what is expected:
//!
//! ```text
//! sites.backup.chat_servers[2]: "pc 5" is not a valid host name (RFC 1123: ...)
//! ```
//!
//! Connections to SQL Server are encrypted: `sql.encrypt` is `"required"` unless the file
//! says otherwise, and `"off"` (the login alone encrypted) or `"not-supported"` (nothing
//! encrypted) are refused unless every SQL host is a loopback address or
//! `sql.allow_plaintext = true`. Certificates are checked against the machine's trusted
//! roots plus `sql.trust_ca_file`, for the endpoint's `host` or its `host_in_certificate`;
//! `sql.trust_server_certificate` skips the check and is refused together with a CA file.
//!
//! `sql.user` says who logs in ([`SqlSettings::login`]): a SQL Server login, a Windows
//! account `DOMAIN\user` (NTLMv2 with its password), or, left out, the Windows user
//! running pcdr (integrated authentication through SSPI). The last two need a build with
//! Windows authentication ([`WINDOWS_AUTHENTICATION`]: the Windows builds); any other
//! build refuses them at load.
//!
//! This module owns the file format and its rules only. It never connects anywhere; the
//! SQL password is read only when [`PasswordSource::resolve`] is called.
//!
//! ```no_run
//! use pcdr_core::topology::{SiteRole, Topology};
//!
//! let topology = Topology::load(std::path::Path::new("topology.toml"))?;
//! let backup = topology.site(SiteRole::Backup);
//! println!("failover target: {}", backup.sql.display_name());
//! # Ok::<(), pcdr_core::topology::TopologyError>(())
//! ```

mod error;
mod model;
mod raw;
mod rules;
mod secret;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::TopologyError;
pub use model::{
    Databases, Encrypt, LogShipping, Login, PasswordSource, Pool, RestoreMode, ShellSettings, Site,
    SiteRole, Sites, SqlAddress, SqlEndpoint, SqlSettings, Topology, WINDOWS_AUTHENTICATION,
};
pub use secret::Secret;

/// Reading and writing the file; the model's own methods are in `model`.
impl Topology {
    /// Reads and checks the topology file at `path`; a relative `sql.password_file` is
    /// resolved against the file's folder.
    ///
    /// An error that has no key path (the file cannot be read, a TOML syntax error) has
    /// the file's path as its key.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let file_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            TopologyError::new(
                &file_name,
                format!("cannot read the topology file: {error}"),
            )
        })?;
        Topology::from_toml_str(&text, path.parent()).map_err(|error| match error.key.as_str() {
            "" => TopologyError::new(file_name, error.message),
            _ => error,
        })
    }

    /// Parses and checks topology text; a relative `sql.password_file` is resolved
    /// against `base_dir` when given, and left relative otherwise.
    pub fn from_toml_str(text: &str, base_dir: Option<&Path>) -> Result<Topology, TopologyError> {
        validate::topology(raw::parse(text)?, base_dir)
    }

    /// The topology as a file that [`Topology::from_toml_str`] reads back unchanged
    /// (every default written out, `password_file` as resolved).
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self)
            .expect("every topology field has a TOML form: strings, integers, booleans, tables")
    }
}
