//! The four emulated SQL Server instances and the two sites they stand in: their names,
//! FQDNs, loopback addresses, `@@SERVERNAME`s and mirroring partners.
//!
//! Plain identities with no state; everything about an instance that changes lives in
//! [`model`](crate::world::model).

use serde::{Deserialize, Serialize};

/// The four emulated SQL Server instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceId {
    /// The primary site's instance, holding the chat database in normal operation.
    Primary,
    /// Its mirror, in the primary site.
    PrimaryMirror,
    /// The backup site's instance, the log-shipping secondary.
    Backup,
    /// Its mirror, in the backup site.
    BackupMirror,
}

impl InstanceId {
    /// All four, in order.
    pub const ALL: [InstanceId; 4] = [
        InstanceId::Primary,
        InstanceId::PrimaryMirror,
        InstanceId::Backup,
        InstanceId::BackupMirror,
    ];

    /// The loopback address the instance listens on (each has its own, so the address
    /// alone names the instance).
    pub fn host(self) -> &'static str {
        match self {
            InstanceId::Primary => "127.0.0.1",
            InstanceId::PrimaryMirror => "127.0.0.2",
            InstanceId::Backup => "127.0.0.3",
            InstanceId::BackupMirror => "127.0.0.4",
        }
    }

    /// The FQDN the Skype for Business topology knows the instance's server by, which
    /// the cmdlets take (`Install-CsMirrorDatabase -SqlServerFqdn`). The `.test` domain
    /// is reserved (RFC 2606), so no name can reach a real server.
    pub fn fqdn(self) -> &'static str {
        match self {
            InstanceId::Primary => "sql-atl.contoso.test",
            InstanceId::PrimaryMirror => "sql-atl-mirror.contoso.test",
            InstanceId::Backup => "sql-dal.contoso.test",
            InstanceId::BackupMirror => "sql-dal-mirror.contoso.test",
        }
    }

    /// The instance whose server has the FQDN `fqdn` (ignoring case).
    pub(crate) fn from_fqdn(fqdn: &str) -> Option<InstanceId> {
        InstanceId::ALL
            .into_iter()
            .find(|i| i.fqdn().eq_ignore_ascii_case(fqdn))
    }

    /// `@@SERVERNAME`.
    pub fn server_name(self) -> &'static str {
        match self {
            InstanceId::Primary => "SQLPC-ATL",
            InstanceId::PrimaryMirror => "SQLPC-ATL-M",
            InstanceId::Backup => "SQLPC-DAL",
            InstanceId::BackupMirror => "SQLPC-DAL-M",
        }
    }

    /// The account SQL Server Agent runs as (`sys.dm_server_services`), which the
    /// sessions of its jobs log in with.
    pub fn agent_account(self) -> String {
        format!("CONTOSO\\sqlagent-{}", self.name())
    }

    /// The name used in folders, the CLI and `statements.log`.
    pub fn name(self) -> &'static str {
        match self {
            InstanceId::Primary => "primary",
            InstanceId::PrimaryMirror => "primary-mirror",
            InstanceId::Backup => "backup",
            InstanceId::BackupMirror => "backup-mirror",
        }
    }

    /// The instance named `name` (see [`InstanceId::name`]).
    pub fn from_name(name: &str) -> Option<InstanceId> {
        InstanceId::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(name))
    }

    /// The instance listening on `host`, or whose server name is `host`.
    pub(crate) fn from_host(host: &str) -> Option<InstanceId> {
        InstanceId::ALL.into_iter().find(|i| {
            i.host() == host
                || i.server_name().eq_ignore_ascii_case(host)
                || i.name().eq_ignore_ascii_case(host)
        })
    }

    /// The site the instance is in.
    pub fn site(self) -> Site {
        match self {
            InstanceId::Primary | InstanceId::PrimaryMirror => Site::Primary,
            InstanceId::Backup | InstanceId::BackupMirror => Site::Backup,
        }
    }

    /// The mirror instance of a site's main instance, and the reverse.
    pub fn mirror_partner(self) -> InstanceId {
        match self {
            InstanceId::Primary => InstanceId::PrimaryMirror,
            InstanceId::PrimaryMirror => InstanceId::Primary,
            InstanceId::Backup => InstanceId::BackupMirror,
            InstanceId::BackupMirror => InstanceId::Backup,
        }
    }

    /// The mirroring endpoint other instances use for it.
    pub fn endpoint(self) -> String {
        format!("TCP://{}:5022", self.host())
    }

    /// The instance behind a `TCP://host:port` endpoint.
    pub(crate) fn from_endpoint(endpoint: &str) -> Option<InstanceId> {
        let rest = endpoint
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("tcp://"))
            .and_then(|_| endpoint.get(6..))?;
        let host = rest.split(':').next()?;
        InstanceId::from_host(host)
    }
}

/// A data center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Site {
    /// Runs the pool in normal operation.
    Primary,
    /// Takes over after a disaster.
    Backup,
}

impl Site {
    /// The site named `primary` or `backup` (any case).
    pub fn from_name(name: &str) -> Option<Site> {
        match name.to_ascii_lowercase().as_str() {
            "primary" => Some(Site::Primary),
            "backup" => Some(Site::Backup),
            _ => None,
        }
    }

    /// The site's two instances: main and mirror.
    pub fn instances(self) -> [InstanceId; 2] {
        match self {
            Site::Primary => [InstanceId::Primary, InstanceId::PrimaryMirror],
            Site::Backup => [InstanceId::Backup, InstanceId::BackupMirror],
        }
    }
}
