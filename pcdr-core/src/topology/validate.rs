//! Turns the file's raw shapes into a checked [`Topology`]: required keys, defaults and
//! the rules on how values fit together (one site per server, at most 8 servers,
//! distinct instances, a password only with a user, one way of trusting certificates,
//! plain text only to loopback hosts unless allowed, an FQDN for the cmdlets that is not
//! an IP address).
//!
//! Single values are checked by `rules.rs`. The first problem found is returned; it
//! names the key path, what is wrong and what is expected. Nothing here reads the
//! environment or a secret (that is `secret.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::TopologyError;
use super::model::{
    Databases, Encrypt, LogShipping, Login, PasswordSource, Pool, RestoreMode, ShellSettings, Site,
    SiteRole, Sites, SqlAddress, SqlEndpoint, SqlSettings, Topology, WINDOWS_AUTHENTICATION,
};
use super::raw::{
    RawDatabases, RawEndpoint, RawLogShipping, RawPool, RawShell, RawSite, RawSites, RawSql,
    RawTopology,
};
use super::rules::{
    Checked, database_name, env_var_name, host_name, instance_name, number, number_or, required,
    text, without_controls,
};

/// Persistent Chat's limit of servers in one pool.
const MAX_POOL_SERVERS: usize = 8;

/// Checks `raw` and fills in defaults; a relative `password_file` is resolved against
/// `base_dir` when given.
pub(super) fn topology(raw: RawTopology, base_dir: Option<&Path>) -> Checked<Topology> {
    let topology = Topology {
        pool: pool(required(raw.pool, "pool", "a [pool] table with fqdn")?)?,
        databases: databases(raw.databases.unwrap_or_default())?,
        log_shipping: log_shipping(required(
            raw.log_shipping,
            "log_shipping",
            "a [log_shipping] table with backup_share and copy_destination",
        )?)?,
        sites: sites(required(
            raw.sites,
            "sites",
            "[sites.primary] and [sites.backup] tables",
        )?)?,
        sql: sql_settings(raw.sql.unwrap_or_default(), base_dir)?,
        shell: shell_settings(raw.shell.unwrap_or_default())?,
    };
    refuse_emulator_against_servers(&topology)?;
    refuse_plaintext_over_the_network(&topology)?;
    refuse_windows_logins_without_support(&topology.sql)?;
    Ok(topology)
}

/// A build without Windows authentication ([`WINDOWS_AUTHENTICATION`]) cannot log in as
/// a Windows account or the Windows user: refused here, before anything connects,
/// rather than sending a login SQL Server would refuse.
fn refuse_windows_logins_without_support(sql: &SqlSettings) -> Checked<()> {
    let what = match sql.login() {
        Login::SqlServer(_) => return Ok(()),
        _ if WINDOWS_AUTHENTICATION => return Ok(()),
        Login::Integrated => "is left out, which means integrated authentication as the \
                              Windows user running pcdr"
            .to_owned(),
        Login::WindowsAccount(user) => format!("is the Windows account {user}"),
    };
    Err(TopologyError::new(
        "sql.user",
        format!(
            "{what}, and this build of pcdr has no Windows authentication (only the Windows \
             builds have it: pcdr-core's winauth feature on Windows); expected a SQL Server \
             login with sql.password_env or sql.password_file, or pcdr for Windows"
        ),
    ))
}

/// The first SQL host of the topology that is not a loopback address.
fn first_remote_sql_host(topology: &Topology) -> Option<&str> {
    let sites = [&topology.sites.primary, &topology.sites.backup];
    sites
        .into_iter()
        .flat_map(|site| std::iter::once(&site.sql).chain(site.mirror.as_ref()))
        .map(|endpoint| endpoint.host.as_str())
        .find(|host| !is_loopback(host))
}

/// A drill's topology, whose Management Shell is the emulator's (`pcdr sim shell`), must
/// never reach a real SQL Server: its SQL hosts must all be loopback addresses.
fn refuse_emulator_against_servers(topology: &Topology) -> Checked<()> {
    let args = &topology.shell.args;
    let emulated = args.windows(2).any(|pair| pair == ["sim", "shell"]);
    match first_remote_sql_host(topology) {
        Some(host) if emulated => Err(TopologyError::new(
            "shell.args",
            format!(
                "run the emulator's Management Shell (sim shell) while {host} is not a loopback \
                 address; expected the real Management Shell for real servers, or loopback \
                 SQL hosts for a drill"
            ),
        )),
        _ => Ok(()),
    }
}

/// Without TLS the statements (and with `not-supported` the login and its password)
/// cross the network readable by anyone on the path: only loopback hosts, unless the
/// topology says `allow_plaintext = true`.
fn refuse_plaintext_over_the_network(topology: &Topology) -> Checked<()> {
    let sql = &topology.sql;
    let what = match sql.encrypt {
        Encrypt::Required => return Ok(()),
        Encrypt::Off => "statements and their results",
        Encrypt::NotSupported => "the login with its password, statements and results",
    };
    match first_remote_sql_host(topology) {
        Some(host) if !sql.allow_plaintext => Err(TopologyError::new(
            "sql.encrypt",
            format!(
                "{:?} sends {what} in plain text, and {host} is not a loopback address; \
                 expected \"required\", or sql.allow_plaintext = true to accept plain \
                 text on a network you trust",
                encrypt_name(sql.encrypt)
            ),
        )),
        _ => Ok(()),
    }
}

/// The value as the file spells it.
fn encrypt_name(encrypt: Encrypt) -> &'static str {
    match encrypt {
        Encrypt::Required => "required",
        Encrypt::Off => "off",
        Encrypt::NotSupported => "not-supported",
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

fn pool(raw: RawPool) -> Checked<Pool> {
    let fqdn = required(raw.fqdn, "pool.fqdn", "the pool's FQDN")?;
    let fqdn = host_name("pool.fqdn", fqdn)?;
    if raw.identity.is_some() {
        return Err(TopologyError::new(
            "pool.identity",
            "the cmdlets take different identities: set pool.state_identity \
             (default \"service:PersistentChatServer:<fqdn>\") and \
             pool.active_servers_identity (default \"PersistentChatServer:<fqdn>\") instead",
        ));
    }
    let identity = |key, value: Option<String>, default| match value {
        Some(value) => text(key, value, "a cmdlet identity"),
        None => Ok(default),
    };
    Ok(Pool {
        state_identity: identity(
            "pool.state_identity",
            raw.state_identity,
            format!("service:PersistentChatServer:{fqdn}"),
        )?,
        active_servers_identity: identity(
            "pool.active_servers_identity",
            raw.active_servers_identity,
            format!("PersistentChatServer:{fqdn}"),
        )?,
        fqdn,
    })
}

fn databases(raw: RawDatabases) -> Checked<Databases> {
    let defaults = Databases::default();
    Ok(Databases {
        chat: database_name("databases.chat", raw.chat.unwrap_or(defaults.chat))?,
        compliance: database_name(
            "databases.compliance",
            raw.compliance.unwrap_or(defaults.compliance),
        )?,
    })
}

fn log_shipping(raw: RawLogShipping) -> Checked<LogShipping> {
    let (backup_share, backup_share_from_pcdr) = folder_views(
        "log_shipping.backup_share",
        raw.backup_share,
        raw.backup_share_from_pcdr,
        "a UNC path, as the SQL Servers reach the share",
    )?;
    let (copy_destination, copy_destination_from_pcdr) = folder_views(
        "log_shipping.copy_destination",
        raw.copy_destination,
        raw.copy_destination_from_pcdr,
        "a folder path on the backup site's SQL Server, as that server sees it",
    )?;
    let (primary_copy_destination, primary_copy_destination_from_pcdr) = match raw
        .primary_copy_destination
    {
        None if raw.primary_copy_destination_from_pcdr.is_some() => {
            return Err(TopologyError::new(
                "log_shipping.primary_copy_destination",
                "is missing while primary_copy_destination_from_pcdr is given; expected a folder path on the primary site's SQL Server, as that server sees it",
            ));
        }
        None => (None, None),
        Some(server) => {
            let (server, from_pcdr) = folder_views(
                "log_shipping.primary_copy_destination",
                Some(server),
                raw.primary_copy_destination_from_pcdr,
                "a folder path on the primary site's SQL Server, as that server sees it",
            )?;
            (Some(server), Some(from_pcdr))
        }
    };
    Ok(LogShipping {
        backup_share,
        backup_share_from_pcdr,
        copy_destination,
        copy_destination_from_pcdr,
        primary_copy_destination,
        primary_copy_destination_from_pcdr,
        backup_interval_minutes: number_or(
            "log_shipping.backup_interval_minutes",
            raw.backup_interval_minutes,
            15,
            1..=1440,
            "1–1440 minutes",
        )?,
        restore_delay_minutes: number_or(
            "log_shipping.restore_delay_minutes",
            raw.restore_delay_minutes,
            0,
            0..=i64::from(i32::MAX),
            "0 or more minutes (at most 2147483647)",
        )?,
        restore_mode: raw.restore_mode.unwrap_or(RestoreMode::NoRecovery),
    })
}

/// A folder as the SQL Servers see it (`key`, required) and as pcdr reaches it
/// (`<key>_from_pcdr`, by default the same path).
fn folder_views(
    key: &str,
    server: Option<String>,
    from_pcdr: Option<String>,
    what: &str,
) -> Checked<(String, String)> {
    let server = text(key, required(server, key, what)?, what)?;
    let pcdr_key = format!("{key}_from_pcdr");
    let from_pcdr = match from_pcdr {
        Some(path) => text(&pcdr_key, path, "the same folder as pcdr reaches it")?,
        None => server.clone(),
    };
    Ok((server, from_pcdr))
}

fn sites(raw: RawSites) -> Checked<Sites> {
    let primary = required(raw.primary, "sites.primary", "a [sites.primary] table")?;
    let backup = required(raw.backup, "sites.backup", "a [sites.backup] table")?;
    let sites = Sites {
        primary: site(SiteRole::Primary, primary)?,
        backup: site(SiteRole::Backup, backup)?,
    };
    refuse_shared_instances(&sites)?;
    refuse_shared_servers(&sites)?;
    refuse_too_many_servers(&sites)?;
    Ok(sites)
}

fn site(role: SiteRole, raw: RawSite) -> Checked<Site> {
    let key = format!("sites.{role}");
    let name_key = format!("{key}.name");
    let sql_key = format!("{key}.sql");
    let servers_key = format!("{key}.chat_servers");
    let name = required(raw.name, &name_key, "a name for the data center")?;
    let sql = required(raw.sql, &sql_key, "{ host = \"...\", instance = \"...\" }")?;
    let servers = required(raw.chat_servers, &servers_key, "a list of server FQDNs")?;
    Ok(Site {
        name: text(&name_key, name, "a name for the data center")?,
        sql: endpoint(&sql_key, sql)?,
        mirror: raw
            .mirror
            .map(|mirror| endpoint(&format!("{key}.mirror"), mirror))
            .transpose()?,
        mirror_file_share: raw
            .mirror_file_share
            .map(|share| text(&format!("{key}.mirror_file_share"), share, "a UNC path"))
            .transpose()?,
        chat_servers: chat_servers(&servers_key, servers)?,
    })
}

fn endpoint(key: &str, raw: RawEndpoint) -> Checked<SqlEndpoint> {
    let host_key = format!("{key}.host");
    let host = host_name(&host_key, required(raw.host, &host_key, "a host name")?)?;
    let host_in_certificate = raw
        .host_in_certificate
        .map(|name| host_name(&format!("{key}.host_in_certificate"), name))
        .transpose()?;
    Ok(SqlEndpoint {
        address: sql_address(key, raw.instance, raw.port)?,
        fqdn: server_fqdn(key, &host, raw.fqdn)?,
        host,
        host_in_certificate,
    })
}

/// The instance, the port, or both: at least one of them.
fn sql_address(key: &str, instance: Option<String>, port: Option<i64>) -> Checked<SqlAddress> {
    let instance = instance
        .map(|name| instance_name(&format!("{key}.instance"), name))
        .transpose()?;
    let port = port
        .map(|port| {
            number(
                &format!("{key}.port"),
                port,
                1..=65535,
                "a TCP port 1–65535",
            )
        })
        .transpose()?;
    match (instance, port) {
        (Some(instance), None) => Ok(SqlAddress::Instance(instance)),
        (None, Some(port)) => Ok(SqlAddress::Port(port)),
        (Some(instance), Some(port)) => Ok(SqlAddress::InstanceOnPort { instance, port }),
        (None, None) => Err(TopologyError::new(
            key,
            "has neither instance nor port; expected instance = \"NAME\" or port = 1433",
        )),
    }
}

/// The endpoint's `fqdn`, when given: a host name that is not an IP address. Without
/// one, `host` stands for it and must not be an IP address either (refused at `host`,
/// whose value is the problem): the cmdlets (`Install-CsMirrorDatabase
/// -SqlServerFqdn`) find the SQL Server in the Skype for Business topology by its FQDN.
fn server_fqdn(key: &str, host: &str, fqdn: Option<String>) -> Checked<Option<String>> {
    let fqdn_key = format!("{key}.fqdn");
    let Some(fqdn) = fqdn else {
        return match is_ip_address(host) {
            true => Err(TopologyError::new(
                format!("{key}.host"),
                format!(
                    "{host:?} is an IP address, which the cmdlets cannot take; expected \
                     {fqdn_key} = \"...\" beside it, the SQL Server's FQDN as the Skype for \
                     Business topology knows it"
                ),
            )),
            false => Ok(None),
        };
    };
    let fqdn = host_name(&fqdn_key, fqdn)?;
    if is_ip_address(&fqdn) {
        return Err(TopologyError::new(
            &fqdn_key,
            format!(
                "{fqdn:?} is an IP address; expected the SQL Server's FQDN as the Skype for \
                 Business topology knows it"
            ),
        ));
    }
    Ok(Some(fqdn))
}

fn is_ip_address(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

fn chat_servers(key: &str, servers: Vec<String>) -> Checked<Vec<String>> {
    if servers.is_empty() {
        return Err(TopologyError::new(
            key,
            "is empty; expected at least one server FQDN",
        ));
    }
    servers
        .into_iter()
        .enumerate()
        .map(|(index, server)| host_name(&format!("{key}[{index}]"), server))
        .collect()
}

/// Two entries naming the same SQL Server instance would make failover or mirroring
/// act on the instance it is meant to protect.
fn refuse_shared_instances(sites: &Sites) -> Checked<()> {
    let endpoints = [SiteRole::Primary, SiteRole::Backup]
        .into_iter()
        .flat_map(|role| {
            let site = sites.get(role);
            let sql = Some((format!("sites.{role}.sql"), &site.sql));
            let mirror = site
                .mirror
                .as_ref()
                .map(|mirror| (format!("sites.{role}.mirror"), mirror));
            [sql, mirror].into_iter().flatten()
        })
        .map(|(key, endpoint)| (key, endpoint.display_name()));
    match first_repeat(endpoints) {
        Some(repeat) => Err(TopologyError::new(
            &repeat.key,
            format!(
                "{:?} is the same instance as {}; expected a distinct SQL Server instance",
                repeat.value, repeat.earlier_key
            ),
        )),
        None => Ok(()),
    }
}

fn refuse_shared_servers(sites: &Sites) -> Checked<()> {
    match first_repeat(all_servers(sites)) {
        Some(repeat) => Err(TopologyError::new(
            &repeat.key,
            format!(
                "{:?} is already listed at {}; expected every server in exactly one site",
                repeat.value, repeat.earlier_key
            ),
        )),
        None => Ok(()),
    }
}

fn refuse_too_many_servers(sites: &Sites) -> Checked<()> {
    let count = all_servers(sites).count();
    if count > MAX_POOL_SERVERS {
        return Err(TopologyError::new(
            "sites",
            format!(
                "lists {count} chat servers in all; expected at most {MAX_POOL_SERVERS} \
                 (Persistent Chat's limit per pool)"
            ),
        ));
    }
    Ok(())
}

/// Every chat server with its key path, primary site first.
fn all_servers(sites: &Sites) -> impl Iterator<Item = (String, String)> + '_ {
    [SiteRole::Primary, SiteRole::Backup]
        .into_iter()
        .flat_map(move |role| {
            sites
                .get(role)
                .chat_servers
                .iter()
                .enumerate()
                .map(move |(index, server)| {
                    (
                        format!("sites.{role}.chat_servers[{index}]"),
                        server.clone(),
                    )
                })
        })
}

/// A value met a second time (compared case-insensitively), where, and where first.
struct Repeat {
    key: String,
    value: String,
    earlier_key: String,
}

fn first_repeat(entries: impl Iterator<Item = (String, String)>) -> Option<Repeat> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, value) in entries {
        if let Some(earlier_key) = seen.get(&value.to_lowercase()) {
            return Some(Repeat {
                earlier_key: earlier_key.clone(),
                key,
                value,
            });
        }
        seen.insert(value.to_lowercase(), key);
    }
    None
}

fn sql_settings(raw: RawSql, base_dir: Option<&Path>) -> Checked<SqlSettings> {
    let user = raw
        .user
        .map(|user| text("sql.user", user, "a SQL Server login or a Windows account"))
        .transpose()?;
    let password = password_source(raw.password_env, raw.password_file, &user, base_dir)?;
    let trust_server_certificate = raw.trust_server_certificate.unwrap_or(false);
    let trust_ca_file = raw
        .trust_ca_file
        .map(|path| text("sql.trust_ca_file", path, "a file path"))
        .transpose()?
        .map(|path| resolve_path(base_dir, &path));
    if trust_server_certificate && trust_ca_file.is_some() {
        return Err(TopologyError::new(
            "sql.trust_server_certificate",
            "is true together with sql.trust_ca_file; expected one of them: trust_ca_file \
             checks the server's certificate against that authority, \
             trust_server_certificate accepts any certificate without checking it",
        ));
    }
    Ok(SqlSettings {
        user,
        password,
        encrypt: raw.encrypt.unwrap_or(Encrypt::Required),
        trust_server_certificate,
        trust_ca_file,
        allow_plaintext: raw.allow_plaintext.unwrap_or(false),
        command_timeout_secs: number_or(
            "sql.command_timeout_secs",
            raw.command_timeout_secs,
            0,
            0..=i64::MAX,
            "0 (no limit) or more seconds",
        )?,
    })
}

fn password_source(
    env: Option<String>,
    file: Option<String>,
    user: &Option<String>,
    base_dir: Option<&Path>,
) -> Checked<PasswordSource> {
    match (env, file) {
        // A SQL login with no password would sign in with an empty one, and a few
        // attempts can lock the login out.
        (None, None) if user.is_some() => Err(TopologyError::new(
            "sql.user",
            "is given without sql.password_env or sql.password_file; expected one of them \
             (the login's password), or no sql.user for integrated authentication",
        )),
        (None, None) => Ok(PasswordSource::None),
        (Some(_), Some(_)) => Err(TopologyError::new(
            "sql.password_file",
            "is given together with sql.password_env; expected one of them",
        )),
        (Some(name), None) => {
            require_user("sql.password_env", user)?;
            Ok(PasswordSource::Env(env_var_name("sql.password_env", name)?))
        }
        (None, Some(path)) => {
            require_user("sql.password_file", user)?;
            let path = text("sql.password_file", path, "a file path")?;
            Ok(PasswordSource::File(resolve_path(base_dir, &path)))
        }
    }
}

fn require_user(key: &str, user: &Option<String>) -> Checked<()> {
    match user {
        Some(_) => Ok(()),
        None => Err(TopologyError::new(
            key,
            "is given without sql.user; expected sql.user with it, or neither for \
             integrated authentication",
        )),
    }
}

fn resolve_path(base_dir: Option<&Path>, path: &str) -> PathBuf {
    match base_dir {
        Some(dir) if Path::new(path).is_relative() => dir.join(path),
        _ => PathBuf::from(path),
    }
}

fn shell_settings(raw: RawShell) -> Checked<ShellSettings> {
    let defaults = ShellSettings::default();
    let args = match raw.args {
        Some(args) => shell_args(args)?,
        None => defaults.args,
    };
    Ok(ShellSettings {
        program: text(
            "shell.program",
            raw.program.unwrap_or(defaults.program),
            "a program path",
        )?,
        args,
        module: text(
            "shell.module",
            raw.module.unwrap_or(defaults.module),
            "a PowerShell module name",
        )?,
        timeout_secs: number_or(
            "shell.timeout_secs",
            raw.timeout_secs,
            defaults.timeout_secs,
            1..=i64::MAX,
            "1 or more seconds",
        )?,
        mirror_timeout_secs: number_or(
            "shell.mirror_timeout_secs",
            raw.mirror_timeout_secs,
            defaults.mirror_timeout_secs,
            1..=i64::MAX,
            "1 or more seconds",
        )?,
    })
}

fn shell_args(args: Vec<String>) -> Checked<Vec<String>> {
    args.into_iter()
        .enumerate()
        .map(|(index, arg)| {
            let key = format!("shell.args[{index}]");
            refuse_script_switch(&key, &arg)?;
            without_controls(&key, arg, "an argument")
        })
        .collect()
}

/// The `powershell.exe` switches that take the script
/// (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe>),
/// each also named by any prefix of it.
const SCRIPT_SWITCHES: [&str; 3] = ["command", "encodedcommand", "file"];

/// pcdr passes the script itself (`-EncodedCommand <base64>`, after `shell.args`), so
/// `shell.args` must not name a script of its own: a `-Command` left from an older
/// topology would take pcdr's `-EncodedCommand` as its script.
fn refuse_script_switch(key: &str, arg: &str) -> Checked<()> {
    let name = arg
        .strip_prefix('-')
        .unwrap_or_default()
        .to_ascii_lowercase();
    let names_script = !name.is_empty()
        && SCRIPT_SWITCHES
            .iter()
            .any(|switch| switch.starts_with(&name));
    match names_script {
        true => Err(TopologyError::new(
            key,
            format!(
                "is {arg}, which takes a script; expected only switches such as -NoProfile \
                 and -NonInteractive: pcdr passes each script itself as -EncodedCommand"
            ),
        )),
        false => Ok(()),
    }
}
