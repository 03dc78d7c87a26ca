//! The parts of a checked topology: pool, databases, log shipping, sites, SQL and shell
//! settings.
//!
//! These types only hold values that passed validation (`validate.rs` builds them);
//! they know nothing about TOML syntax. Their `Serialize` shape is the file's own shape,
//! so serializing a [`Topology`](super::Topology) writes a loadable topology file.

use crate::system_folder::system_program;
use std::fmt;
use std::path::PathBuf;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// The Persistent Chat pool stretched over both sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// The pool's fully qualified domain name, e.g. `pchat.contoso.com`.
    pub fqdn: String,
    /// The `-Identity` of `Get-CsPersistentChatState` and `Set-CsPersistentChatState`, an
    /// `XdsIdentity`; by default the service scope `service:PersistentChatServer:<fqdn>`.
    pub state_identity: String,
    /// The `-Identity` of `Set-CsPersistentChatActiveServer`, an
    /// `XdsGlobalRelativeIdentity` naming the pool's one collection of active servers; by
    /// default `PersistentChatServer:<fqdn>`, as `Get-CsService -PersistentChatServer`
    /// names the pool.
    pub active_servers_identity: String,
}

/// Names of the Persistent Chat databases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Databases {
    /// The chat database, log-shipped to the backup site (default `mgc`).
    pub chat: String,
    /// The compliance database, neither log-shipped nor failed over (default `mgccomp`).
    pub compliance: String,
}

impl Default for Databases {
    /// The names Topology Builder gives: `mgc` and `mgccomp`.
    fn default() -> Self {
        Databases {
            chat: "mgc".to_owned(),
            compliance: "mgccomp".to_owned(),
        }
    }
}

/// The log-shipping setup from the primary's chat database to the backup site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogShipping {
    /// The share the primary writes its log backups to, as the SQL Servers reach it (a
    /// UNC path): what `BACKUP … TO DISK`, `RESTORE … FROM DISK` and the log-shipping
    /// procedures are given.
    pub backup_share: String,
    /// The same share as pcdr reaches it to list and copy log backups (a UNC path, or a
    /// mount point on pcdr's machine); by default [`LogShipping::backup_share`].
    pub backup_share_from_pcdr: String,
    /// The folder the copy job copies log backups to, as the backup site's SQL Server
    /// sees it (a path on that server, e.g. `D:\LogShipping\mgc`): what `RESTORE LOG
    /// … FROM DISK` and msdb's `backup_destination_directory` name.
    pub copy_destination: String,
    /// The same folder as pcdr reaches it to copy log backups into (often the server's
    /// administrative share, e.g. `\\sql-dal\D$\LogShipping\mgc`); by default
    /// [`LogShipping::copy_destination`], which then must be a path pcdr can reach too.
    pub copy_destination_from_pcdr: String,
    /// The folder the primary site's SQL Server restores log backups from while it is
    /// the log-shipping secondary (after a switchover to the backup site, and while an
    /// online failback prepares it), as that server sees it, with pcdr's path to it.
    /// Log shipping in that direction writes to the same [`LogShipping::backup_share`].
    /// `None` when the topology names none: a switchover back and an online failback
    /// then refuse to start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_copy_destination: Option<String>,
    /// The same folder as pcdr reaches it; set whenever
    /// [`LogShipping::primary_copy_destination`] is (by default the same path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_copy_destination_from_pcdr: Option<String>,
    /// Minutes between log backups when failback sets log shipping up again (1–1440).
    pub backup_interval_minutes: u32,
    /// Minutes the secondary waits before restoring a copied log backup.
    pub restore_delay_minutes: u32,
    /// How the secondary restores log backups.
    pub restore_mode: RestoreMode,
}

/// How a log-shipping secondary restores log backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    /// `WITH NORECOVERY`: the secondary stays in RESTORING and cannot be read.
    NoRecovery,
    /// `WITH STANDBY`: the secondary is read-only between restores.
    Standby,
}

/// Which of the two data centers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteRole {
    /// The data center that runs the pool in normal operation.
    Primary,
    /// The data center the pool fails over to.
    Backup,
}

impl SiteRole {
    /// The other data center: primary for backup and backup for primary.
    pub fn other(self) -> SiteRole {
        match self {
            SiteRole::Primary => SiteRole::Backup,
            SiteRole::Backup => SiteRole::Primary,
        }
    }
}

impl fmt::Display for SiteRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SiteRole::Primary => "primary",
            SiteRole::Backup => "backup",
        })
    }
}

/// Both data centers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sites {
    /// The data center that runs the pool in normal operation.
    pub primary: Site,
    /// The data center the pool fails over to.
    pub backup: Site,
}

impl Sites {
    /// The site playing `role`.
    pub fn get(&self, role: SiteRole) -> &Site {
        match role {
            SiteRole::Primary => &self.primary,
            SiteRole::Backup => &self.backup,
        }
    }
}

/// One data center: its SQL Server instances and its Persistent Chat servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// A name for people, e.g. `Atlanta`.
    pub name: String,
    /// The SQL Server instance holding this site's chat database.
    pub sql: SqlEndpoint,
    /// The instance mirroring [`Site::sql`] inside this site, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<SqlEndpoint>,
    /// The share `Install-CsMirrorDatabase -FileShare` seeds this site's mirror through
    /// (it must be reachable from both instances of the site); `None`: the log-shipping
    /// backup share. A backup site whose mirror is installed after the primary site
    /// (and a backup share there) is lost needs a share of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_file_share: Option<String>,
    /// FQDNs of the Persistent Chat servers in this site (at least one).
    pub chat_servers: Vec<String>,
}

/// Where a SQL Server instance listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlEndpoint {
    /// The server's host name.
    pub host: String,
    /// The named instance, the TCP port, or both, on that host.
    pub address: SqlAddress,
    /// The name the server's certificate must be issued for, when it is not `host`
    /// (an alias, a load balancer, an address); `None` checks the certificate against
    /// `host`.
    pub host_in_certificate: Option<String>,
    /// The FQDN the Skype for Business topology knows the SQL Server by, which the
    /// cmdlets take (`Install-CsMirrorDatabase -SqlServerFqdn`), when it is not `host`
    /// (an address or an alias); `None` means `host`, which validation has checked is a
    /// DNS name and not an IP address.
    pub fqdn: Option<String>,
}

impl SqlEndpoint {
    /// The SQL Server's FQDN as the Skype for Business topology knows it: `fqdn` when
    /// given, `host` otherwise.
    pub fn server_fqdn(&self) -> &str {
        self.fqdn.as_deref().unwrap_or(&self.host)
    }

    /// SQL Server's own notation: `host\INSTANCE`, `host,port` or `host\INSTANCE,port`.
    pub fn display_name(&self) -> String {
        match &self.address {
            SqlAddress::Instance(instance) => format!("{}\\{instance}", self.host),
            SqlAddress::Port(port) => format!("{},{port}", self.host),
            SqlAddress::InstanceOnPort { instance, port } => {
                format!("{}\\{instance},{port}", self.host)
            }
        }
    }
}

/// Written as the file has it: `host`, then `instance` and/or `port`, then the optional
/// names.
impl Serialize for SqlEndpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("host", &self.host)?;
        if let Some(instance) = self.address.instance() {
            map.serialize_entry("instance", instance)?;
        }
        if let Some(port) = self.address.port() {
            map.serialize_entry("port", &port)?;
        }
        if let Some(name) = &self.host_in_certificate {
            map.serialize_entry("host_in_certificate", name)?;
        }
        if let Some(fqdn) = &self.fqdn {
            map.serialize_entry("fqdn", fqdn)?;
        }
        map.end()
    }
}

/// How to reach an instance on its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlAddress {
    /// A named instance, found through the SQL Server Browser service.
    Instance(String),
    /// A fixed TCP port (1–65535): the default instance, or one whose name the cmdlets
    /// need not know.
    Port(u16),
    /// A named instance listening on a static port: pcdr connects to the port (no SQL
    /// Server Browser needed) and names the instance to the cmdlets that take one
    /// (`Install-CsMirrorDatabase -SqlInstanceName`).
    InstanceOnPort {
        /// The instance name.
        instance: String,
        /// The static TCP port (1–65535).
        port: u16,
    },
}

impl SqlAddress {
    /// The instance name, when the topology gives one.
    pub fn instance(&self) -> Option<&str> {
        match self {
            Self::Instance(instance) | Self::InstanceOnPort { instance, .. } => Some(instance),
            Self::Port(_) => None,
        }
    }

    /// The TCP port, when the topology gives one.
    pub fn port(&self) -> Option<u16> {
        match self {
            Self::Port(port) | Self::InstanceOnPort { port, .. } => Some(*port),
            Self::Instance(_) => None,
        }
    }
}

/// How pcdr signs in to SQL Server and how it talks to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlSettings {
    /// Who pcdr logs in as ([`SqlSettings::login`]): a SQL Server login, a Windows
    /// account `DOMAIN\user`, or `None` for the Windows user running pcdr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Where the login's password comes from.
    #[serde(flatten)]
    pub password: PasswordSource,
    /// Whether the connection is encrypted.
    pub encrypt: Encrypt,
    /// Accept the server's certificate without checking it (never together with
    /// `trust_ca_file`).
    pub trust_server_certificate: bool,
    /// A certificate authority (PEM or DER file) trusted besides the machine's own, for
    /// servers whose certificates an internal CA issued; resolved against the topology
    /// file's folder.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_path"
    )]
    pub trust_ca_file: Option<PathBuf>,
    /// Accept `encrypt = "off"` or `"not-supported"` for SQL hosts that are not loopback
    /// addresses: statements (and with `"not-supported"` the password) then cross the
    /// network in plain text.
    pub allow_plaintext: bool,
    /// Seconds a statement may run; 0 means no limit (RESTORE and BACKUP can run for hours).
    pub command_timeout_secs: u64,
}

/// How pcdr logs in to SQL Server, as `sql.user` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login<'a> {
    /// A SQL Server login with its password.
    SqlServer(&'a str),
    /// A Windows account `DOMAIN\user` with its password: NTLMv2 with explicit
    /// credentials. Only Windows logins have a backslash; a SQL Server login's name
    /// cannot contain one
    /// (<https://learn.microsoft.com/sql/t-sql/statements/create-login-transact-sql>).
    WindowsAccount(&'a str),
    /// No `sql.user`: the Windows user running pcdr, through SSPI (integrated
    /// authentication).
    Integrated,
}

impl SqlSettings {
    /// How pcdr logs in.
    pub fn login(&self) -> Login<'_> {
        match self.user.as_deref() {
            None => Login::Integrated,
            Some(user) if user.contains('\\') => Login::WindowsAccount(user),
            Some(user) => Login::SqlServer(user),
        }
    }
}

/// Whether this build can log in with Windows authentication ([`Login::WindowsAccount`]
/// and [`Login::Integrated`]): tiberius offers both only on Windows, with its `winauth`
/// feature, which pcdr-core's `winauth` feature turns on (the Windows builds of the
/// command line, the C library and the Python package have it).
pub const WINDOWS_AUTHENTICATION: bool = cfg!(all(windows, feature = "winauth"));

/// A path as the file has it (one that is not UTF-8 is written lossily).
fn serialize_path<S: Serializer>(path: &Option<PathBuf>, serializer: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => serializer.serialize_str(&path.to_string_lossy()),
        None => serializer.serialize_none(),
    }
}

/// Where the SQL password comes from. Never holds the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password: integrated authentication ([`Login::Integrated`]).
    None,
    /// The named environment variable.
    Env(String),
    /// A file, resolved against the topology file's folder, readable by its owner only.
    File(PathBuf),
}

/// Serializes as the file's keys: nothing, `password_env = "NAME"` or
/// `password_file = "path"` (a path that is not UTF-8 is written lossily).
impl Serialize for PasswordSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            PasswordSource::None => {}
            PasswordSource::Env(name) => map.serialize_entry("password_env", name)?,
            PasswordSource::File(path) => {
                map.serialize_entry("password_file", &path.to_string_lossy())?
            }
        }
        map.end()
    }
}

/// Whether the connection to SQL Server is encrypted (the PRELOGIN ENCRYPTION option,
/// MS-TDS 2.2.6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encrypt {
    /// Encrypt everything; refuse a server that cannot.
    Required,
    /// Encrypt the login only; statements travel in plain text (loopback hosts only,
    /// unless `allow_plaintext`).
    Off,
    /// Plain text throughout, the password included (loopback hosts only, unless
    /// `allow_plaintext`).
    NotSupported,
}

/// How pcdr runs the Skype for Business cmdlets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellSettings {
    /// The PowerShell executable.
    pub program: String,
    /// Switches placed before `-EncodedCommand <script>`; never a switch that takes a
    /// script itself (`-Command`, `-EncodedCommand`, `-File`).
    pub args: Vec<String>,
    /// The module imported before each script.
    pub module: String,
    /// Seconds one script may run (at least 1).
    pub timeout_secs: u64,
    /// Seconds `Install-CsMirrorDatabase` may run (at least 1): it backs the whole
    /// database up and restores it on the mirror.
    pub mirror_timeout_secs: u64,
}

impl Default for ShellSettings {
    /// Windows PowerShell (by its absolute path in the system folder, on Windows), started
    /// with `-NoProfile -NonInteractive`, with the
    /// `SkypeForBusiness` module, a ten-minute limit, and four hours for
    /// `Install-CsMirrorDatabase`.
    fn default() -> Self {
        ShellSettings {
            program: system_program(r"WindowsPowerShell\v1.0\powershell.exe")
                .map_or_else(|| "powershell.exe".to_owned(), |p| p.display().to_string()),
            args: ["-NoProfile", "-NonInteractive"]
                .map(str::to_owned)
                .to_vec(),
            module: "SkypeForBusiness".to_owned(),
            timeout_secs: 600,
            mirror_timeout_secs: 4 * 60 * 60,
        }
    }
}

/// A checked deployment: everything pcdr needs to know before it acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// The Persistent Chat pool.
    pub pool: Pool,
    /// The chat and compliance database names.
    pub databases: Databases,
    /// The log-shipping setup from the primary to the backup site.
    pub log_shipping: LogShipping,
    /// The primary and the backup data center.
    pub sites: Sites,
    /// How pcdr signs in to SQL Server.
    pub sql: SqlSettings,
    /// How pcdr runs the Skype for Business cmdlets.
    pub shell: ShellSettings,
}

impl Topology {
    /// The site playing `role`.
    pub fn site(&self, role: SiteRole) -> &Site {
        self.sites.get(role)
    }

    /// The site whose chat servers include `fqdn` (compared case-insensitively).
    pub fn site_of_server(&self, fqdn: &str) -> Option<SiteRole> {
        [SiteRole::Primary, SiteRole::Backup]
            .into_iter()
            .find(|&role| {
                self.site(role)
                    .chat_servers
                    .iter()
                    .any(|server| server.eq_ignore_ascii_case(fqdn))
            })
    }
}
