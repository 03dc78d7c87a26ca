//! Hostile input against pcdr-core alone (issue 9, section 3): any string given as a
//! database name, a path, a host name or a cmdlet identity is either refused by topology
//! validation with an error naming its key, or kept exactly; quoting is reversible and
//! cannot be escaped; parameterised T-SQL never carries a value in its text.
//!
//! Every property runs 10,000 cases. The emulator's own T-SQL and PowerShell parsers
//! are checked against the same strings in `pcdr-sim/tests/hostile_input.rs`.

use pcdr_core::commands::sql;
use pcdr_core::planes::{FileMove, FullRestore};
use pcdr_core::quote::{MAX_SQL_NAME_CHARS, QuoteError, quote_powershell, quote_sql_name};
use pcdr_core::topology::{Topology, TopologyError};
use proptest::prelude::*;

mod support {
    pub mod hostile_strings;
}

use support::hostile_strings::{CASES, NASTY, host_name, hostile_with, toml_string};

/// Strings that favour [`NASTY`] fragments, mixed with arbitrary strings.
fn hostile() -> impl Strategy<Value = String> {
    hostile_with(&[])
}

/// Host-name-like strings (many valid under RFC 1123), sometimes spoilt by a nasty fragment.
fn host_like() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => host_name(),
        1 => (host_name(), proptest::sample::select(NASTY), any::<prop::sample::Index>()).prop_map(
            |(host, nasty, at)| {
                let cut = host.char_indices().map(|(i, _)| i).nth(at.index(host.chars().count())).unwrap_or(0);
                format!("{}{nasty}{}", &host[..cut], &host[cut..])
            }
        ),
        1 => hostile(),
    ]
}

/// The keys a test may put a hostile value under, with the key path errors must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Chat,
    Compliance,
    BackupShare,
    CopyDestination,
    CopyDestinationFromPcdr,
    PoolFqdn,
    StateIdentity,
    ActiveServersIdentity,
    ChatServer,
    SqlHost,
    MirrorHost,
    Instance,
    SiteName,
    Module,
    PasswordFile,
    User,
}

impl Key {
    fn path(self) -> &'static str {
        match self {
            Key::Chat => "databases.chat",
            Key::Compliance => "databases.compliance",
            Key::BackupShare => "log_shipping.backup_share",
            Key::CopyDestination => "log_shipping.copy_destination",
            Key::CopyDestinationFromPcdr => "log_shipping.copy_destination_from_pcdr",
            Key::PoolFqdn => "pool.fqdn",
            Key::StateIdentity => "pool.state_identity",
            Key::ActiveServersIdentity => "pool.active_servers_identity",
            Key::ChatServer => "sites.backup.chat_servers[1]",
            Key::SqlHost => "sites.backup.sql.host",
            Key::MirrorHost => "sites.primary.mirror.host",
            Key::Instance => "sites.primary.sql.instance",
            Key::SiteName => "sites.primary.name",
            Key::Module => "shell.module",
            Key::PasswordFile => "sql.password_file",
            Key::User => "sql.user",
        }
    }

    /// The value the loaded topology holds for this key.
    fn read(self, topology: &Topology) -> String {
        match self {
            Key::Chat => topology.databases.chat.clone(),
            Key::Compliance => topology.databases.compliance.clone(),
            Key::BackupShare => topology.log_shipping.backup_share.clone(),
            Key::CopyDestination => topology.log_shipping.copy_destination.clone(),
            Key::CopyDestinationFromPcdr => {
                topology.log_shipping.copy_destination_from_pcdr.clone()
            }
            Key::PoolFqdn => topology.pool.fqdn.clone(),
            Key::StateIdentity => topology.pool.state_identity.clone(),
            Key::ActiveServersIdentity => topology.pool.active_servers_identity.clone(),
            Key::ChatServer => topology.sites.backup.chat_servers[1].clone(),
            Key::SqlHost => topology.sites.backup.sql.host.clone(),
            Key::MirrorHost => topology.sites.primary.mirror.as_ref().unwrap().host.clone(),
            Key::Instance => match topology.sites.primary.sql.address.instance() {
                Some(name) => name.to_string(),
                None => panic!("expected an instance, got {:?}", topology.sites.primary.sql),
            },
            Key::SiteName => topology.sites.primary.name.clone(),
            Key::Module => topology.shell.module.clone(),
            Key::PasswordFile => match &topology.sql.password {
                pcdr_core::topology::PasswordSource::File(path) => {
                    path.to_str().expect("UTF-8 path").to_owned()
                }
                other => panic!("expected a password file, got {other:?}"),
            },
            Key::User => topology.sql.user.clone().unwrap(),
        }
    }
}

/// A valid topology with `value` under `key` (every other value the example's).
fn topology_text(key: Key, value: &str) -> String {
    let v = |k: Key, default: &str| {
        if k == key {
            toml_string(value)
        } else {
            toml_string(default)
        }
    };
    format!(
        "[pool]\nfqdn = {fqdn}\nstate_identity = {state_identity}\n\
         active_servers_identity = {active_servers_identity}\n\n\
         [databases]\nchat = {chat}\ncompliance = {compliance}\n\n\
         [log_shipping]\nbackup_share = {share}\ncopy_destination = {copy}\n\
         copy_destination_from_pcdr = {copy_from_pcdr}\n\n\
         [sites.primary]\nname = {site}\nsql = {{ host = \"sql-atl.contoso.com\", instance = {instance} }}\n\
         mirror = {{ host = {mirror}, instance = \"PCHAT\" }}\n\
         chat_servers = [\"pc1.contoso.com\", \"pc2.contoso.com\"]\n\n\
         [sites.backup]\nname = \"Dallas\"\nsql = {{ host = {sql_host}, port = 1433 }}\n\
         chat_servers = [\"pc3.contoso.com\", {server}]\n\n\
         [sql]\nuser = {user}\npassword_file = {password_file}\n\n\
         [shell]\nmodule = {module}\n",
        fqdn = v(Key::PoolFqdn, "pchat.contoso.com"),
        state_identity = v(
            Key::StateIdentity,
            "service:PersistentChatServer:pchat.contoso.com"
        ),
        active_servers_identity = v(
            Key::ActiveServersIdentity,
            "PersistentChatServer:pchat.contoso.com"
        ),
        chat = v(Key::Chat, "mgc"),
        compliance = v(Key::Compliance, "mgccomp"),
        share = v(Key::BackupShare, r"\\fs01.contoso.com\pchat-logs"),
        copy = v(Key::CopyDestination, r"D:\LogShipping\mgc"),
        copy_from_pcdr = v(
            Key::CopyDestinationFromPcdr,
            r"\\sql-dal.contoso.com\D$\LogShipping\mgc"
        ),
        site = v(Key::SiteName, "Atlanta"),
        instance = v(Key::Instance, "PCHAT"),
        mirror = v(Key::MirrorHost, "sql-atl-m.contoso.com"),
        sql_host = v(Key::SqlHost, "sql-dal.contoso.com"),
        server = v(Key::ChatServer, "pc4.contoso.com"),
        user = v(Key::User, "pcdr"),
        password_file = v(Key::PasswordFile, "/etc/pcdr/sql-password"),
        module = v(Key::Module, "SkypeForBusiness"),
    )
}

/// The property every key shares: refused with an error at exactly that key (and a
/// message that says something), or accepted with the value unchanged, and unchanged
/// again after writing the topology out and reading it back.
fn refused_at_key_or_kept(key: Key, value: &str) -> Result<Option<Topology>, TestCaseError> {
    match Topology::from_toml_str(&topology_text(key, value), None) {
        Err(TopologyError { key: at, message }) => {
            prop_assert_eq!(at.as_str(), key.path(), "message: {}", message);
            prop_assert!(message.len() > 10, "an unhelpful message: {:?}", message);
            Ok(None)
        }
        Ok(topology) => {
            prop_assert_eq!(key.read(&topology), value);
            let again = Topology::from_toml_str(&topology.to_toml_string(), None)
                .map_err(|e| TestCaseError::fail(format!("written topology refused: {e}")))?;
            prop_assert_eq!(&again, &topology);
            Ok(Some(topology))
        }
    }
}

/// Reads a `quote_sql_name` result back by QUOTENAME's rules, refusing anything that
/// does not end exactly where the quoting says: the first lone `]` must be the last
/// character.
fn unquote_sql_name(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('[')?;
    let mut chars = inner.chars().peekable();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == ']' {
            if chars.peek() == Some(&']') {
                chars.next();
                value.push(']');
            } else {
                return chars.next().is_none().then_some(value);
            }
        } else {
            value.push(c);
        }
    }
    None
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

/// Reads a PowerShell single-quoted string back by PowerShell's rules (any single-quote
/// character followed by another one is one literal quote); `None` unless the string
/// ends exactly at the last character.
fn unquote_powershell(quoted: &str) -> Option<String> {
    let mut chars = quoted.chars().peekable();
    if !chars.next().is_some_and(is_single_quote) {
        return None;
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if is_single_quote(c) {
            match chars.peek() {
                Some(&next) if is_single_quote(next) => {
                    chars.next();
                    value.push(next);
                }
                _ => return chars.next().is_none().then_some(value),
            }
        } else {
            value.push(c);
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn database_names_are_refused_at_their_key_or_kept(
        key in proptest::sample::select(&[Key::Chat, Key::Compliance][..]),
        name in hostile(),
    ) {
        if let Some(topology) = refused_at_key_or_kept(key, &name)? {
            // Every accepted database name can be quoted for ALTER DATABASE.
            prop_assert!(sql::remove_mirroring(&key.read(&topology)).is_ok());
        }
    }

    #[test]
    fn paths_are_refused_at_their_key_or_kept(
        key in proptest::sample::select(&[
            Key::BackupShare,
            Key::CopyDestination,
            Key::CopyDestinationFromPcdr,
            Key::PasswordFile,
        ][..]),
        path in hostile(),
    ) {
        refused_at_key_or_kept(key, &path)?;
    }

    #[test]
    fn host_names_are_refused_at_their_key_or_kept(
        key in proptest::sample::select(&[Key::PoolFqdn, Key::ChatServer, Key::SqlHost, Key::MirrorHost][..]),
        host in host_like(),
    ) {
        if refused_at_key_or_kept(key, &host)?.is_some() {
            // Accepted host names are RFC 1123: nothing any quoting has to deal with.
            prop_assert!(host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        }
    }

    #[test]
    fn identities_and_other_names_are_refused_at_their_key_or_kept(
        key in proptest::sample::select(
            &[
                Key::StateIdentity,
                Key::ActiveServersIdentity,
                Key::SiteName,
                Key::Module,
                Key::Instance,
                Key::User,
            ][..]
        ),
        value in hostile(),
    ) {
        refused_at_key_or_kept(key, &value)?;
    }

    #[test]
    fn quote_sql_name_reads_back_exactly_and_cannot_be_escaped(name in hostile()) {
        match quote_sql_name(&name) {
            Ok(quoted) => prop_assert_eq!(unquote_sql_name(&quoted), Some(name)),
            Err(QuoteError::Empty) => prop_assert!(name.is_empty()),
            Err(QuoteError::TooLong(n)) => {
                prop_assert_eq!(n, name.chars().count());
                prop_assert!(n > MAX_SQL_NAME_CHARS);
            }
        }
    }

    #[test]
    fn quote_powershell_reads_back_exactly_and_cannot_be_escaped(value in hostile()) {
        prop_assert_eq!(unquote_powershell(&quote_powershell(&value)), Some(value));
    }

    #[test]
    fn parameterised_statements_never_carry_a_value_in_their_text(
        db in hostile(),
        file in hostile(),
        logical in hostile(),
        physical in hostile(),
    ) {
        let options = FullRestore {
            replace: true,
            recovery: false,
            moves: vec![FileMove { logical_name: logical.clone(), physical_name: physical.clone() }],
        };
        let reference = FullRestore {
            moves: vec![FileMove { logical_name: "l".into(), physical_name: "p".into() }],
            ..options.clone()
        };
        let pairs = [
            (sql::restore_log(&db, &file), sql::restore_log("d", "f")),
            (sql::recover(&db), sql::recover("d")),
            (sql::database_state(&db), sql::database_state("d")),
            (sql::backup_database(&db, &file, false), sql::backup_database("d", "f", false)),
            (sql::backup_database(&db, &file, true), sql::backup_database("d", "f", true)),
            (sql::backup_header(&file), sql::backup_header("f")),
            (sql::restore_database(&db, &file, &options), sql::restore_database("d", "f", &reference)),
            (sql::sessions(&db), sql::sessions("d")),
            (sql::remove_secondary_log_shipping(&db), sql::remove_secondary_log_shipping("d")),
        ];
        for (hostile_command, plain_command) in pairs {
            // The text is the same whatever the values: they cannot become code.
            prop_assert_eq!(&hostile_command.text, &plain_command.text);
            prop_assert_eq!(hostile_command.declarations(), plain_command.declarations());
            // And each value travels verbatim as a parameter.
            for param in &hostile_command.params {
                if let sql::SqlValue::Text(value) = &param.value {
                    let expected = match param.name.as_str() {
                        "@db" => &db,
                        "@file" => &file,
                        "@logical1" => &logical,
                        "@physical1" => &physical,
                        other => return Err(TestCaseError::fail(format!("unexpected parameter {other}"))),
                    };
                    prop_assert_eq!(value, expected);
                }
            }
        }
    }
}

#[test]
fn the_template_is_a_valid_topology() {
    let topology = Topology::from_toml_str(&topology_text(Key::Chat, "mgc"), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(topology.databases.chat, "mgc");
    assert_eq!(Key::Instance.read(&topology), "PCHAT");
}

#[test]
fn known_hostile_values_get_the_expected_verdict() {
    // Control characters are refused for names and paths, naming the key.
    let error = Topology::from_toml_str(&topology_text(Key::Chat, "mgc\n;DROP"), None).unwrap_err();
    assert_eq!(error.key, "databases.chat");
    assert!(error.message.contains("U+000A"), "{}", error.message);
    // Quotes, brackets and comment markers are legal in names and kept verbatim.
    let name = "m]g'c--/*[\u{2019}$(x)";
    let topology = Topology::from_toml_str(&topology_text(Key::Chat, name), None).unwrap();
    assert_eq!(topology.databases.chat, name);
    assert_eq!(
        sql::remove_mirroring(name).unwrap().text,
        "ALTER DATABASE [m]]g'c--/*[\u{2019}$(x)] SET PARTNER OFF;"
    );
    // A host name with a space or a quote is not RFC 1123.
    let error =
        Topology::from_toml_str(&topology_text(Key::ChatServer, "pc4'.x"), None).unwrap_err();
    assert_eq!(error.key, "sites.backup.chat_servers[1]");
    // 129 characters is one too many for a sysname.
    let error =
        Topology::from_toml_str(&topology_text(Key::Chat, &"é".repeat(129)), None).unwrap_err();
    assert_eq!(error.key, "databases.chat");
}
