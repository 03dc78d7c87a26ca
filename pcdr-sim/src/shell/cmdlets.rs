//! The cmdlets the emulated Management Shell runs: their parameters and what
//! each does to the world.
//!
//! This module owns cmdlet semantics and the product's rules (pool
//! membership, at most four active servers); binding lives in `bind.rs`,
//! statement flow and error reporting in `exec.rs`. The world is reached
//! only through [`PoolWorld`].

use super::ast::{Expr, names_equal};
use super::bind::{Bound, Param, display};
use super::json::Json;
use super::pserror::PsError;
use super::world::{PoolState, PoolWorld};

/// The most active servers a Persistent Chat pool may have.
const MAX_ACTIVE_SERVERS: usize = 4;

/// The modules that provide the cmdlets: the Skype for Business Server 2015
/// module and its Lync Server 2013 predecessor.
const MODULES: [&str; 2] = ["SkypeForBusiness", "Lync"];

/// What a cmdlet gets when it runs.
pub(super) struct Invocation<'a> {
    /// The emulated world.
    pub world: &'a dyn PoolWorld,
    /// The objects piped in, or `None` when the cmdlet starts the pipeline.
    pub input: Option<Vec<Json>>,
}

/// One cmdlet: its name, its parameters and its body.
pub(super) struct Cmdlet {
    /// The name, as PowerShell spells it.
    pub name: &'static str,
    /// The declared parameters.
    pub params: &'static [Param],
    /// Whether it accepts pipeline input.
    pub takes_input: bool,
    /// The body: the objects it writes, or its error.
    pub run: fn(&Bound, Invocation<'_>) -> Result<Vec<Json>, PsError>,
}

/// The cmdlet called `name` (ignoring case), if the shell has it.
pub(super) fn find(name: &str) -> Option<&'static Cmdlet> {
    CMDLETS.iter().find(|cmdlet| names_equal(cmdlet.name, name))
}

const CMDLETS: [Cmdlet; 6] = [
    Cmdlet {
        name: "Import-Module",
        params: &[Param::value("Name").mandatory().at(0)],
        takes_input: false,
        run: import_module,
    },
    Cmdlet {
        name: "ConvertTo-Json",
        params: &[
            Param::value("Depth"),
            Param::switch("Compress"),
            Param::unsupported("InputObject"),
        ],
        takes_input: true,
        run: convert_to_json,
    },
    Cmdlet {
        name: "Get-CsPersistentChatState",
        params: &[
            Param::value("Identity").at(0),
            Param::unsupported("Filter"),
            Param::unsupported("LocalStore"),
        ],
        takes_input: false,
        run: get_state,
    },
    Cmdlet {
        name: "Set-CsPersistentChatState",
        params: &[
            Param::value("Identity").mandatory().at(0),
            Param::value("PoolState").mandatory(),
            Param::switch("Force"),
            Param::switch("Confirm"),
            Param::unsupported("Instance"),
            Param::unsupported("WhatIf"),
        ],
        takes_input: false,
        run: set_state,
    },
    Cmdlet {
        name: "Set-CsPersistentChatActiveServer",
        params: &[
            Param::value("Identity").at(0),
            Param::value("ActiveServers").mandatory(),
            Param::switch("Force"),
            Param::switch("Confirm"),
            Param::unsupported("Swap"),
            Param::unsupported("WhatIf"),
        ],
        takes_input: false,
        run: set_active_servers,
    },
    Cmdlet {
        name: "Install-CsMirrorDatabase",
        params: &[
            Param::value("DatabaseType").mandatory(),
            Param::value("SqlServerFqdn").mandatory(),
            Param::value("SqlInstanceName"),
            Param::value("FileShare").mandatory(),
            Param::switch("DropExistingDatabasesOnMirror"),
            Param::switch("Confirm"),
            Param::unsupported("ConfiguredDatabases"),
            Param::unsupported("ForDefaultInstance"),
            Param::unsupported("ForInstance"),
            Param::unsupported("DatabasePathMap"),
            Param::unsupported("ExcludeDatabaseList"),
            Param::unsupported("Report"),
            Param::unsupported("WhatIf"),
        ],
        takes_input: false,
        run: install_mirror,
    },
];

fn import_module(bound: &Bound, _: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    for name in strings("Name", bound.get("Name"))? {
        if !MODULES.iter().any(|module| names_equal(module, &name)) {
            return Err(PsError {
                message: format!(
                    "The specified module '{name}' was not loaded because no valid module file was found in any module directory."
                ),
                category: "ResourceUnavailable",
                target: name,
                reason: "FileNotFoundException",
                id: "Modules_ModuleNotFound",
            });
        }
    }
    Ok(Vec::new())
}

/// `ConvertTo-Json`: one object as itself, several as an array, none as
/// nothing. `-Depth` is checked (1 to 100) but never truncates: the
/// emulated cmdlets write flat objects.
fn convert_to_json(bound: &Bound, invocation: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    if let Some(depth) = bound.get("Depth") {
        check_depth(depth)?;
    }
    let compress = bound.get("Compress") == Some(&Expr::Bool(true));
    let Some(mut input) = invocation.input else {
        return Err(missing_input());
    };
    let value = match input.len() {
        0 => return Ok(Vec::new()),
        1 => input.remove(0),
        _ => Json::Array(input),
    };
    Ok(vec![Json::String(value.render(compress))])
}

fn check_depth(depth: &Expr) -> Result<(), PsError> {
    match depth {
        Expr::Integer(n) if (1..=100).contains(n) => Ok(()),
        other => Err(PsError::binding(
            "ParameterArgumentValidationError",
            format!(
                "Cannot validate argument on parameter 'Depth'. The argument \"{}\" is not a whole number from 1 to 100.",
                display(other)
            ),
        )),
    }
}

fn missing_input() -> PsError {
    PsError::binding(
        "MissingMandatoryParameter",
        "Cannot process command because of one or more missing mandatory parameters: InputObject.",
    )
}

fn get_state(bound: &Bound, invocation: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    let world = invocation.world;
    if let Some(identity) = bound.get("Identity") {
        check_xds_identity(world, identity)?;
    }
    let state = world.pool_state().map_err(|m| world_error(world, m))?;
    Ok(vec![Json::Object(vec![
        (
            "Identity".into(),
            Json::String(format!("service:{}", world.pool_fqdn())),
        ),
        ("PoolState".into(), Json::String(state_name(state).into())),
    ])])
}

fn set_state(bound: &Bound, invocation: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    let world = invocation.world;
    check_confirm(bound)?;
    if let Some(identity) = bound.get("Identity") {
        check_xds_identity(world, identity)?;
    }
    let state = pool_state(bound.get("PoolState"))?;
    world
        .set_pool_state(state)
        .map_err(|m| world_error(world, m))?;
    Ok(Vec::new())
}

fn set_active_servers(bound: &Bound, invocation: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    let world = invocation.world;
    check_confirm(bound)?;
    if let Some(identity) = bound.get("Identity") {
        check_global_relative_identity(world, identity)?;
    }
    let modifier = ListModifier::parse(bound.get("ActiveServers"))?;
    let current = world.active_servers().map_err(|m| world_error(world, m))?;
    let members = world.pool_servers().map_err(|m| world_error(world, m))?;
    let wanted = check_active_servers(world, modifier.apply(current), &members)?;
    world
        .set_active_servers(wanted)
        .map_err(|m| world_error(world, m))?;
    Ok(Vec::new())
}

fn install_mirror(bound: &Bound, invocation: Invocation<'_>) -> Result<Vec<Json>, PsError> {
    let world = invocation.world;
    check_confirm(bound)?;
    let database = database_type(bound.get("DatabaseType"))?;
    let sql_server = string("SqlServerFqdn", bound.get("SqlServerFqdn"))?;
    check_sql_server_fqdn(&sql_server)?;
    let instance = bound
        .get("SqlInstanceName")
        .map(|value| string("SqlInstanceName", Some(value)))
        .transpose()?;
    let file_share = string("FileShare", bound.get("FileShare"))?;
    check_file_share(&file_share)?;
    world
        .install_mirror(database, &sql_server, instance.as_deref(), &file_share)
        .map_err(|m| PsError::operation(database, m))?;
    Ok(Vec::new())
}

/// Refuses an IP address for `-SqlServerFqdn`: the cmdlet takes the FQDN of the computer
/// running SQL Server as the Skype for Business topology defines it (the `<Fqdn>` type,
/// <https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>),
/// and finds no SQL Server store by an address. The page does not give the message; the
/// emulated one names the parameter and the value.
fn check_sql_server_fqdn(value: &str) -> Result<(), PsError> {
    if value.parse::<std::net::IpAddr>().is_err() {
        return Ok(());
    }
    Err(PsError {
        message: format!(
            "Cannot find a SQL Server store on \"{value}\" in the topology: -SqlServerFqdn takes the fully qualified domain name of the SQL Server computer, not an IP address."
        ),
        category: "ObjectNotFound",
        target: value.to_owned(),
        reason: "ItemNotFoundException",
        id: "SqlServerNotFound",
    })
}

/// Refuses an explicit `-Confirm` (or `-Confirm:$true`): the shell is
/// non-interactive, so the prompt it asks for cannot be shown.
fn check_confirm(bound: &Bound) -> Result<(), PsError> {
    if bound.get("Confirm") != Some(&Expr::Bool(true)) {
        return Ok(());
    }
    Err(PsError {
        message:
            "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
                .into(),
        category: "InvalidOperation",
        target: String::new(),
        reason: "PSInvalidOperationException",
        id: "HostFunctionNotImplemented",
    })
}

/// Checks an `XdsIdentity` (`Get-CsPersistentChatState`, `Set-CsPersistentChatState`):
/// it names the world's pool, ignoring case, in one of the documented forms:
///
/// * `PersistentChatServer:<fqdn>`, the example on both cmdlets' pages
///   (<https://learn.microsoft.com/powershell/module/skypeforbusiness/set-cspersistentchatstate>,
///   <https://learn.microsoft.com/powershell/module/skypeforbusiness/get-cspersistentchatstate>);
/// * `service:PersistentChatServer:<fqdn>`, an `XdsIdentity` at the service scope
///   (<https://learn.microsoft.com/powershell/module/skypeforbusiness/get-cspersistentchatconfiguration>);
/// * `service:<fqdn>`, as Microsoft's failover procedure writes it
///   (<https://learn.microsoft.com/skypeforbusiness/manage/persistent-chat/high-availability-and-disaster-recovery>).
fn check_xds_identity(world: &dyn PoolWorld, identity: &Expr) -> Result<(), PsError> {
    let identity = string("Identity", Some(identity))?;
    let pool = world.pool_fqdn();
    let fqdn = match scoped(&identity, "service") {
        Some(service) => Some(scoped(service, "PersistentChatServer").unwrap_or(service)),
        None => scoped(&identity, "PersistentChatServer"),
    };
    if fqdn.is_some_and(|fqdn| names_equal(fqdn, &pool)) {
        return Ok(());
    }
    Err(pool_not_found(
        identity,
        &format!("Use \"service:PersistentChatServer:{pool}\" or \"PersistentChatServer:{pool}\"."),
    ))
}

/// Checks an `XdsGlobalRelativeIdentity` (`Set-CsPersistentChatActiveServer`): the
/// pool's one collection of active servers, `PersistentChatServer:<fqdn>` as
/// `Get-CsService -PersistentChatServer` names it (Skype for Business Server 2015) or
/// `global` (Lync Server 2013), per
/// <https://learn.microsoft.com/powershell/module/skypeforbusiness/set-cspersistentchatactiveserver>.
/// An identity relative to the global scope names no scope: `service:…`, `site:…`
/// or `tag:…` does not convert to the parameter's type.
fn check_global_relative_identity(world: &dyn PoolWorld, identity: &Expr) -> Result<(), PsError> {
    let identity = string("Identity", Some(identity))?;
    if ["service", "site", "tag"]
        .iter()
        .any(|scope| scoped(&identity, scope).is_some())
    {
        return Err(PsError::binding(
            "CannotConvertArgumentNoMessage",
            format!(
                "Cannot bind parameter 'Identity'. Cannot convert value \"{identity}\" to type \"Microsoft.Rtc.Management.Xds.XdsGlobalRelativeIdentity\". Error: \"An identity relative to the global scope cannot name the scope '{}'.\"",
                identity.split(':').next().unwrap_or_default()
            ),
        ));
    }
    let pool = world.pool_fqdn();
    let names_pool = names_equal(&identity, "global")
        || scoped(&identity, "PersistentChatServer").is_some_and(|fqdn| names_equal(fqdn, &pool));
    if names_pool {
        return Ok(());
    }
    Err(pool_not_found(
        identity,
        &format!("Use \"PersistentChatServer:{pool}\"."),
    ))
}

/// What follows `<prefix>:` in `identity` (the prefix ignoring case).
fn scoped<'a>(identity: &'a str, prefix: &str) -> Option<&'a str> {
    identity
        .split_once(':')
        .filter(|(scope, _)| names_equal(scope, prefix))
        .map(|(_, rest)| rest)
}

fn pool_not_found(identity: String, hint: &str) -> PsError {
    PsError {
        message: format!("Cannot find Persistent Chat pool \"{identity}\" in the topology. {hint}"),
        category: "ObjectNotFound",
        target: identity,
        reason: "ItemNotFoundException",
        id: "IdentityNotFound",
    }
}

fn state_name(state: PoolState) -> &'static str {
    match state {
        PoolState::Normal => "Normal",
        PoolState::FailedOver => "FailedOver",
    }
}

fn pool_state(value: Option<&Expr>) -> Result<PoolState, PsError> {
    let name = string("PoolState", value)?;
    [PoolState::Normal, PoolState::FailedOver]
        .into_iter()
        .find(|state| names_equal(state_name(*state), &name))
        .ok_or_else(|| enum_error("PoolState", &name, "Normal, FailedOver"))
}

/// The canonical spelling of the `-DatabaseType` value.
fn database_type(value: Option<&Expr>) -> Result<&'static str, PsError> {
    let name = string("DatabaseType", value)?;
    ["PersistentChat", "PersistentChatCompliance"]
        .into_iter()
        .find(|kind| names_equal(kind, &name))
        .ok_or_else(|| {
            enum_error(
                "DatabaseType",
                &name,
                "PersistentChat, PersistentChatCompliance (the emulated shell mirrors Persistent Chat databases only)",
            )
        })
}

fn enum_error(param: &str, value: &str, names: &str) -> PsError {
    PsError::binding(
        "CannotConvertArgumentNoMessage",
        format!(
            "Cannot bind parameter '{param}'. Cannot convert value \"{value}\" to type \"{param}\". Error: \"Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following enumerator names and try again: {names}\""
        ),
    )
}

/// A UNC path, or an absolute local folder: the emulated world's share is a local
/// folder standing in for `\\server\share`.
fn check_file_share(share: &str) -> Result<(), PsError> {
    if share.starts_with(r"\\") || share.starts_with('/') {
        return Ok(());
    }
    Err(PsError::binding(
        "InvalidFileShare",
        format!(
            "Cannot bind parameter 'FileShare'. \"{share}\" is not a UNC path such as \\\\server\\share."
        ),
    ))
}

/// A world failure, reported against the pool.
fn world_error(world: &dyn PoolWorld, message: String) -> PsError {
    PsError::operation(&world.pool_fqdn(), message)
}

/// A single text value: a string, a bare word or a number.
fn string(param: &str, value: Option<&Expr>) -> Result<String, PsError> {
    match value {
        Some(Expr::String(s) | Expr::BareWord(s)) => Ok(s.clone()),
        Some(Expr::Integer(n)) => Ok(n.to_string()),
        None | Some(Expr::Null) => Err(PsError::binding(
            "ParameterArgumentValidationErrorNullNotAllowed",
            format!("Cannot bind argument to parameter '{param}' because it is null."),
        )),
        Some(other) => Err(PsError::binding(
            "CannotConvertArgument",
            format!(
                "Cannot convert '{}' to the type 'System.String' required by parameter '{param}'. Specified method is not supported.",
                display(other)
            ),
        )),
    }
}

/// One text value or an array of them; `$null` is an empty list.
fn strings(param: &str, value: Option<&Expr>) -> Result<Vec<String>, PsError> {
    match value {
        Some(Expr::Null) => Ok(Vec::new()),
        Some(Expr::Array(items)) => items.iter().map(|item| string(param, Some(item))).collect(),
        single => string(param, single).map(|s| vec![s]),
    }
}

/// The `-ActiveServers` value as a `PSListModifier`: `$null` or a list
/// replaces the whole list; `@{Replace=…; Remove=…; Add=…}` is applied in
/// that order, as PowerShell's `PSListModifier.ApplyTo` does.
#[derive(Debug, Default)]
struct ListModifier {
    replace: Option<Vec<String>>,
    remove: Vec<String>,
    add: Vec<String>,
}

impl ListModifier {
    fn parse(value: Option<&Expr>) -> Result<Self, PsError> {
        match value {
            Some(Expr::Hashtable(entries)) => Self::from_entries(entries),
            other => Ok(Self {
                replace: Some(strings("ActiveServers", other)?),
                ..Self::default()
            }),
        }
    }

    fn from_entries(entries: &[(String, Expr)]) -> Result<Self, PsError> {
        let mut modifier = Self::default();
        for (key, value) in entries {
            let servers = strings("ActiveServers", Some(value))?;
            if names_equal(key, "Replace") {
                modifier.replace = Some(servers);
            } else if names_equal(key, "Remove") {
                modifier.remove = servers;
            } else if names_equal(key, "Add") {
                modifier.add = servers;
            } else {
                return Err(PsError::binding(
                    "ListModifierDisallowedKey",
                    format!(
                        "Cannot bind parameter 'ActiveServers'. The key '{key}' is not valid in a list modifier: use Add, Remove or Replace."
                    ),
                ));
            }
        }
        Ok(modifier)
    }

    /// The list after the modification; names compare ignoring case and
    /// none is listed twice.
    fn apply(self, mut list: Vec<String>) -> Vec<String> {
        if let Some(replacement) = self.replace {
            list.clear();
            push_new(&mut list, replacement);
        }
        list.retain(|server| !self.remove.iter().any(|gone| names_equal(gone, server)));
        push_new(&mut list, self.add);
        list
    }
}

fn push_new(list: &mut Vec<String>, servers: Vec<String>) {
    for server in servers {
        if !list.iter().any(|known| names_equal(known, &server)) {
            list.push(server);
        }
    }
}

/// The product's rules: every active server belongs to the pool, and there
/// are at most [`MAX_ACTIVE_SERVERS`]. Returns the servers as the pool
/// spells them.
fn check_active_servers(
    world: &dyn PoolWorld,
    wanted: Vec<String>,
    members: &[String],
) -> Result<Vec<String>, PsError> {
    let pool = world.pool_fqdn();
    let mut active = Vec::with_capacity(wanted.len());
    for server in wanted {
        let Some(member) = members.iter().find(|member| names_equal(member, &server)) else {
            return Err(PsError::operation(
                &server,
                format!(
                    "Cannot activate \"{server}\": it is not a Persistent Chat Server of pool \"{pool}\"."
                ),
            ));
        };
        active.push(member.clone());
    }
    if active.len() > MAX_ACTIVE_SERVERS {
        return Err(PsError::operation(
            &pool,
            format!(
                "Cannot activate {} servers in pool \"{pool}\": a Persistent Chat pool can have at most {MAX_ACTIVE_SERVERS} active servers.",
                active.len()
            ),
        ));
    }
    Ok(active)
}
