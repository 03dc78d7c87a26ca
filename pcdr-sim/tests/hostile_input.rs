//! Hostile input through the emulator's parsers (issue 9, section 3): any string given
//! as a database name, a path, a host name or a cmdlet identity either fails topology
//! validation with an error naming its key, or, quoted by pcdr, reads back as exactly
//! itself in the emulator's T-SQL tokenizer and PowerShell parser, inside a statement
//! and a script of exactly the expected shape. No injection.
//!
//! The quoting is checked for every string it accepts, not only for those validation
//! lets through: a later change to validation cannot open a hole. Every property runs
//! 10,000 cases.

use pcdr_core::commands::shell::{
    ShellArg, ShellCommand, get_pool_state, install_mirror, script, set_active_servers,
    set_pool_state,
};
use pcdr_core::commands::sql;
use pcdr_core::planes::{ChatDatabase, MirrorRequest, PoolState};
use pcdr_core::quote::{quote_powershell, quote_sql_name};
use pcdr_core::topology::{Topology, TopologyError};
use pcdr_sim::shell::{Argument, Command, Expr, Statement as PsStatement, parse_script};
use pcdr_sim::tsql::ast::{AlterDatabase, AlterDatabaseAction, Statement};
use pcdr_sim::tsql::{parse_batch, parse_identifier};
use proptest::prelude::*;

#[path = "../../pcdr-core/tests/support/hostile_strings.rs"]
mod hostile_strings;

use hostile_strings::{CASES, host_name, hostile_with, toml_string};

/// Fragments aimed at the emulator's parsers, sampled after [`hostile_strings::NASTY`].
const SHELL_NASTY: &[&str] = &[
    "' ; Remove-Item C:\\ -Recurse #",
    "]; DROP DATABASE mgc; --",
    "@{",
    "-Confirm:$true",
];

/// Strings that favour nasty fragments, mixed with arbitrary strings.
fn hostile() -> impl Strategy<Value = String> {
    hostile_with(SHELL_NASTY)
}

/// Host-name-like strings (many valid under RFC 1123), or hostile ones.
fn host_like() -> impl Strategy<Value = String> {
    prop_oneof![2 => host_name(), 1 => hostile()]
}

/// Where a hostile value goes in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Chat,
    BackupShare,
    StateIdentity,
    ActiveServersIdentity,
    ChatServer,
    SqlHost,
    Module,
}

impl Key {
    fn path(self) -> &'static str {
        match self {
            Key::Chat => "databases.chat",
            Key::BackupShare => "log_shipping.backup_share",
            Key::StateIdentity => "pool.state_identity",
            Key::ActiveServersIdentity => "pool.active_servers_identity",
            Key::ChatServer => "sites.backup.chat_servers[1]",
            Key::SqlHost => "sites.backup.sql.host",
            Key::Module => "shell.module",
        }
    }
}

/// A valid topology with `value` under `key`.
fn topology_text(key: Key, value: &str) -> String {
    let v = |k: Key, default: &str| toml_string(if k == key { value } else { default });
    format!(
        "[pool]\nfqdn = \"pchat.contoso.com\"\nstate_identity = {state_identity}\n\
         active_servers_identity = {active_servers_identity}\n\n\
         [databases]\nchat = {chat}\n\n\
         [log_shipping]\nbackup_share = {share}\ncopy_destination = 'D:\\LogShipping\\mgc'\n\n\
         [sites.primary]\nname = \"Atlanta\"\nsql = {{ host = \"sql-atl.contoso.com\", instance = \"PCHAT\" }}\n\
         chat_servers = [\"pc1.contoso.com\", \"pc2.contoso.com\"]\n\n\
         [sites.backup]\nname = \"Dallas\"\nsql = {{ host = {sql_host}, instance = \"PCHAT\" }}\n\
         chat_servers = [\"pc3.contoso.com\", {server}]\n\n\
         [sql]\nuser = \"pcdr\"\npassword_env = \"PCDR_SQL_PASSWORD\"\n\n\
         [shell]\nmodule = {module}\n",
        state_identity = v(
            Key::StateIdentity,
            "service:PersistentChatServer:pchat.contoso.com"
        ),
        active_servers_identity = v(
            Key::ActiveServersIdentity,
            "PersistentChatServer:pchat.contoso.com"
        ),
        chat = v(Key::Chat, "mgc"),
        share = v(Key::BackupShare, r"\\fs01.contoso.com\pchat-logs"),
        sql_host = v(Key::SqlHost, "sql-dal.contoso.com"),
        server = v(Key::ChatServer, "pc4.contoso.com"),
        module = v(Key::Module, "SkypeForBusiness"),
    )
}

/// Loads the topology with `value` under `key`: `Ok(Some)` when accepted (the caller
/// then gets the topology), `Ok(None)` when refused at exactly that key.
fn validate(key: Key, value: &str) -> Result<Option<Topology>, TestCaseError> {
    match Topology::from_toml_str(&topology_text(key, value), None) {
        Ok(topology) => Ok(Some(topology)),
        Err(TopologyError { key: at, message }) => {
            prop_assert_eq!(at.as_str(), key.path(), "message: {}", message);
            prop_assert!(message.len() > 10, "an unhelpful message: {:?}", message);
            Ok(None)
        }
    }
}

/// `ALTER DATABASE <quoted> SET PARTNER OFF` as pcdr builds it must be one statement
/// whose database is exactly `name`.
fn alter_database_reads_back(name: &str) -> Result<(), TestCaseError> {
    let Ok(command) = sql::remove_mirroring(name) else {
        // Refused by QUOTENAME's rules: empty or longer than a sysname.
        let chars = name.chars().count();
        prop_assert!(chars == 0 || chars > 128, "{:?} refused", name);
        return Ok(());
    };
    prop_assert!(command.params.is_empty());
    let batch = parse_batch(&command.text)
        .map_err(|e| TestCaseError::fail(format!("{:?} did not parse: {e}", command.text)))?;
    prop_assert_eq!(
        batch.statements,
        vec![Statement::AlterDatabase(AlterDatabase {
            database: name.to_owned(),
            action: AlterDatabaseAction::PartnerOff,
        })],
        "text: {:?}",
        command.text
    );
    let quoted = quote_sql_name(name).unwrap();
    prop_assert_eq!(parse_identifier(&quoted).ok(), Some(name.to_owned()));
    Ok(())
}

/// The AST the emulator's parser must produce for one pcdr command's argument list.
fn expected_args(command: &ShellCommand) -> Vec<Argument> {
    let strings = |values: &[String]| -> Expr {
        match values {
            [one] => Expr::String(one.clone()),
            many => Expr::Array(many.iter().cloned().map(Expr::String).collect()),
        }
    };
    command
        .args
        .iter()
        .map(|(name, arg)| {
            let (value, colon) = match arg {
                ShellArg::Value(value) => (Some(Expr::String(value.clone())), false),
                ShellArg::List(values) => (Some(strings(values)), false),
                ShellArg::Replace(values) => (
                    Some(Expr::Hashtable(vec![("Replace".into(), strings(values))])),
                    false,
                ),
                ShellArg::Null => (Some(Expr::Null), false),
                ShellArg::Switch => (None, false),
                ShellArg::False => (Some(Expr::Bool(false)), true),
            };
            Argument::Named {
                name: (*name).to_owned(),
                value,
                colon,
            }
        })
        .collect()
}

/// `shell::script(module, command)` must parse to exactly three statements: the module
/// import, `$ErrorActionPreference = 'Stop'`, and the command piped to `ConvertTo-Json`,
/// with every value arriving as exactly the string pcdr meant.
fn script_reads_back(module: &str, command: &ShellCommand) -> Result<(), TestCaseError> {
    let text = script(module, command);
    let parsed = parse_script(&text)
        .map_err(|e| TestCaseError::fail(format!("{text:?} did not parse: {e}")))?;
    let expected = vec![
        PsStatement::Pipeline(vec![Command {
            name: "Import-Module".into(),
            args: vec![Argument::Positional(Expr::String(module.to_owned()))],
        }]),
        PsStatement::Assign {
            variable: "ErrorActionPreference".into(),
            value: Expr::String("Stop".into()),
        },
        PsStatement::Pipeline(vec![
            Command {
                name: command.cmdlet.to_owned(),
                args: expected_args(command),
            },
            Command {
                name: "ConvertTo-Json".into(),
                args: vec![Argument::Named {
                    name: "Compress".into(),
                    value: None,
                    colon: false,
                }],
            },
        ]),
    ];
    prop_assert_eq!(parsed.statements, expected, "script: {:?}", text);
    Ok(())
}

fn mirror_request(sql_server_fqdn: &str, instance: Option<&str>, share: &str) -> MirrorRequest {
    MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: sql_server_fqdn.to_owned(),
        sql_instance: instance.map(str::to_owned),
        file_share: share.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Database names: validation refuses at `databases.chat`, or `ALTER DATABASE`
    /// reads back exactly; and the quoting holds for every string it accepts.
    #[test]
    fn database_names_cannot_inject_tsql(name in hostile()) {
        if let Some(topology) = validate(Key::Chat, &name)? {
            prop_assert_eq!(&topology.databases.chat, &name);
            prop_assert!(sql::remove_mirroring(&name).is_ok());
        }
        alter_database_reads_back(&name)?;
    }

    /// Paths (the share `Install-CsMirrorDatabase -FileShare` is given).
    #[test]
    fn paths_cannot_inject_powershell(share in hostile(), module in hostile()) {
        if let Some(topology) = validate(Key::BackupShare, &share)? {
            let request = mirror_request(
                &topology.sites.backup.sql.host,
                Some("PCHAT"),
                &topology.log_shipping.backup_share,
            );
            script_reads_back(&topology.shell.module, &install_mirror(&request))?;
        }
        script_reads_back(&module, &install_mirror(&mirror_request("sql.contoso.com", None, &share)))?;
        script_reads_back(&module, &install_mirror(&mirror_request("sql.contoso.com", Some(&share), &share)))?;
    }

    /// Host names (chat servers in `-ActiveServers`, the SQL host in
    /// `-SqlServerFqdn`): refused, or they read back exactly.
    #[test]
    fn host_names_cannot_inject_powershell(
        host in host_like(),
        other in host_like(),
        sql_host_key in any::<bool>(),
    ) {
        let key = if sql_host_key { Key::SqlHost } else { Key::ChatServer };
        if let Some(topology) = validate(key, &host)? {
            let backup = &topology.sites.backup;
            let servers = backup.chat_servers.clone();
            script_reads_back(
                &topology.shell.module,
                &set_active_servers(&topology.pool.active_servers_identity, &servers),
            )?;
            let request = mirror_request(&backup.sql.host, None, &topology.log_shipping.backup_share);
            script_reads_back(&topology.shell.module, &install_mirror(&request))?;
        }
        for servers in [vec![host.clone()], vec![other.clone(), host.clone()]] {
            script_reads_back("SkypeForBusiness", &set_active_servers("service:p", &servers))?;
        }
        script_reads_back("Lync", &install_mirror(&mirror_request(&host, Some(&other), "\\\\fs\\s")))?;
    }

    /// Cmdlet identities (and the module name): refused at `pool.state_identity`,
    /// `pool.active_servers_identity` or `shell.module`, or every cmdlet built from them
    /// reads back exactly.
    #[test]
    fn identities_cannot_inject_powershell(
        identity in hostile(),
        server in hostile(),
        key in proptest::sample::select(
            &[Key::Module, Key::StateIdentity, Key::ActiveServersIdentity][..]
        ),
    ) {
        let module_key = key == Key::Module;
        if let Some(topology) = validate(key, &identity)? {
            let (pool, module) = (&topology.pool, &topology.shell.module);
            let state = &pool.state_identity;
            script_reads_back(module, &set_pool_state(state, PoolState::FailedOver))?;
            script_reads_back(module, &get_pool_state(state))?;
            let servers = [server.clone()];
            script_reads_back(module, &set_active_servers(&pool.active_servers_identity, &servers))?;
        }
        let state = if module_key { PoolState::Normal } else { PoolState::FailedOver };
        script_reads_back(&server, &set_pool_state(&identity, state))?;
        script_reads_back(&identity, &get_pool_state(&server))?;
        script_reads_back(&server, &set_active_servers(&identity, &[server.clone(), identity.clone()]))?;
    }

    /// The bare quoting functions against the emulator's readers.
    #[test]
    fn quoted_values_read_back_in_both_emulated_languages(value in hostile()) {
        if let Ok(quoted) = quote_sql_name(&value) {
            prop_assert_eq!(parse_identifier(&quoted).ok(), Some(value.clone()), "{:?}", quoted);
        }
        let text = format!("$x = {}", quote_powershell(&value));
        let parsed = parse_script(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?} did not parse: {e}")))?;
        prop_assert_eq!(
            parsed.statements,
            vec![PsStatement::Assign { variable: "x".into(), value: Expr::String(value) }]
        );
    }
}

#[test]
fn known_injections_stay_data() {
    let name = "mgc] SET PARTNER OFF; DROP DATABASE [master";
    let command = sql::remove_mirroring(name).unwrap();
    let batch = parse_batch(&command.text).unwrap();
    assert_eq!(batch.statements.len(), 1, "{}", command.text);

    let identity = "service:p' ; Remove-Item C:\\ -Recurse ; '";
    let text = script("SkypeForBusiness", &get_pool_state(identity));
    let parsed = parse_script(&text).unwrap();
    assert_eq!(parsed.statements.len(), 3, "{text}");
    // Typographic quotes close a PowerShell string too; pcdr doubles them.
    let typographic = "a\u{2019}; Remove-Item x; \u{2018}";
    let text = script("SkypeForBusiness", &get_pool_state(typographic));
    assert_eq!(parse_script(&text).unwrap().statements.len(), 3, "{text}");
    // An empty server list clears the active servers with $null.
    let text = script("SkypeForBusiness", &set_active_servers("service:p", &[]));
    assert_eq!(parse_script(&text).unwrap().statements.len(), 3, "{text}");
}
