//! Loading whole files: the example, defaults, round trips, unknown keys, TOML errors
//! and the lookups on a loaded topology.

use std::path::Path;

use super::{EXAMPLE, MINIMAL, SQL_LOGIN, assert_refused, example, example_with, refusal};
use crate::topology::{
    Databases, Encrypt, PasswordSource, RestoreMode, ShellSettings, SiteRole, SqlAddress, Topology,
};

/// Each cmdlet's identity, derived from the pool FQDN in the form its type takes.
fn assert_documented_identities(topology: &Topology) {
    assert_eq!(
        topology.pool.state_identity,
        "service:PersistentChatServer:pchat.contoso.com"
    );
    assert_eq!(
        topology.pool.active_servers_identity,
        "PersistentChatServer:pchat.contoso.com"
    );
}

#[test]
fn example_file_loads_from_disk() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/topology.toml");
    let topology = Topology::load(&path).unwrap();
    assert_eq!(topology, example());
    assert_documented_identities(&topology);
    assert_eq!(topology.shell.mirror_timeout_secs, 14_400);
    assert_eq!(
        topology.log_shipping.backup_share,
        r"\\fs01.contoso.com\pchat-logs"
    );
    assert_eq!(
        topology.log_shipping.copy_destination,
        r"D:\LogShipping\mgc"
    );
    assert_eq!(
        topology.log_shipping.copy_destination_from_pcdr,
        r"\\sql-dal.contoso.com\D$\LogShipping\mgc"
    );
    assert_eq!(
        topology.sites.primary.sql.address,
        SqlAddress::Instance("PCHAT".into())
    );
    assert_eq!(topology.sites.backup.sql.address, SqlAddress::Port(1433));
    assert_eq!(topology.sql.user.as_deref(), Some("pcdr"));
    assert_eq!(
        topology.sql.password,
        PasswordSource::Env("PCDR_SQL_PASSWORD".into())
    );
}

#[test]
fn defaults_fill_every_optional_key() {
    let topology = Topology::from_toml_str(&(MINIMAL.to_owned() + SQL_LOGIN), None).unwrap();
    assert_documented_identities(&topology);
    assert_eq!(topology.databases, Databases::default());
    assert_eq!(topology.databases.chat, "mgc");
    assert_eq!(topology.databases.compliance, "mgccomp");
    let log_shipping = &topology.log_shipping;
    assert_eq!(
        log_shipping.backup_share_from_pcdr,
        log_shipping.backup_share
    );
    assert_eq!(
        log_shipping.copy_destination_from_pcdr,
        log_shipping.copy_destination
    );
    assert_eq!(topology.log_shipping.backup_interval_minutes, 15);
    assert_eq!(topology.log_shipping.restore_delay_minutes, 0);
    assert_eq!(topology.log_shipping.restore_mode, RestoreMode::NoRecovery);
    assert_eq!(topology.sites.primary.mirror, None);
    assert_eq!(topology.sites.backup.mirror_file_share, None);
    assert_eq!(topology.sql.encrypt, Encrypt::Required);
    assert!(!topology.sql.trust_server_certificate);
    assert_eq!(topology.sql.trust_ca_file, None);
    assert!(!topology.sql.allow_plaintext);
    assert_eq!(topology.sites.backup.sql.host_in_certificate, None);
    assert_eq!(topology.sites.backup.sql.fqdn, None);
    assert_eq!(
        topology.sites.backup.sql.server_fqdn(),
        "sql-dal.contoso.com"
    );
    assert_eq!(topology.sql.command_timeout_secs, 0);
    assert_eq!(topology.shell, ShellSettings::default());
    if cfg!(windows) {
        let program = Path::new(&topology.shell.program);
        assert!(program.is_absolute(), "{}", program.display());
        assert!(program.ends_with(r"WindowsPowerShell\v1.0\powershell.exe"));
    } else {
        assert_eq!(topology.shell.program, "powershell.exe");
    }
    assert_eq!(topology.shell.args, ["-NoProfile", "-NonInteractive"]);
    assert_eq!(topology.shell.module, "SkypeForBusiness");
    assert_eq!(topology.shell.timeout_secs, 600);
}

#[test]
fn explicit_values_replace_defaults() {
    let text = example_with(
        "restore_mode = \"norecovery\"",
        "restore_mode = \"standby\"",
    )
    .replacen("encrypt = \"required\"", "encrypt = \"not-supported\"", 1)
    .replacen("allow_plaintext = false", "allow_plaintext = true", 1)
    .replacen(
        "state_identity = \"service:PersistentChatServer:",
        "state_identity = \"PersistentChatServer:",
        1,
    )
    .replacen(
        "active_servers_identity = \"PersistentChatServer:pchat.contoso.com",
        "active_servers_identity = \"global",
        1,
    )
    .replacen(
        "mirror_timeout_secs = 14400",
        "mirror_timeout_secs = 3600",
        1,
    )
    .replacen("# mirror_file_share = ", "mirror_file_share = ", 1);
    let topology = Topology::from_toml_str(&text, None).unwrap();
    assert_eq!(topology.log_shipping.restore_mode, RestoreMode::Standby);
    assert_eq!(topology.sql.encrypt, Encrypt::NotSupported);
    assert!(topology.sql.allow_plaintext);
    assert_eq!(
        topology.pool.state_identity,
        "PersistentChatServer:pchat.contoso.com"
    );
    assert_eq!(topology.pool.active_servers_identity, "global");
    assert_eq!(topology.shell.mirror_timeout_secs, 3600);
    assert_eq!(
        topology.sites.backup.mirror_file_share.as_deref(),
        Some(r"\\fs-dal.contoso.com\pchat-mirror")
    );
}

#[test]
fn to_toml_string_round_trips_the_example() {
    let topology = example();
    let text = topology.to_toml_string();
    assert_eq!(Topology::from_toml_str(&text, None).unwrap(), topology);
}

#[test]
fn to_toml_string_round_trips_defaults_and_a_password_file() {
    let text = MINIMAL.to_owned() + "[sql]\nuser = \"pcdr\"\npassword_file = \"secret\"\n";
    let topology = Topology::from_toml_str(&text, Some(Path::new("/etc/pcdr"))).unwrap();
    let written = topology.to_toml_string();
    let resolved = Path::new("/etc/pcdr").join("secret");
    let table: toml::Table = written.parse().unwrap();
    assert_eq!(
        table["sql"]["password_file"].as_str(),
        resolved.to_str(),
        "{written}"
    );
    assert_eq!(Topology::from_toml_str(&written, None).unwrap(), topology);
}

#[test]
fn to_toml_string_round_trips_certificate_settings() {
    let text = MINIMAL.replace(
        "port = 1433 }",
        "port = 1433, host_in_certificate = \"sqlpc-dal.contoso.com\" }",
    ) + SQL_LOGIN
        + "trust_ca_file = \"certs/ca.pem\"\n";
    let topology = Topology::from_toml_str(&text, Some(Path::new("/etc/pcdr"))).unwrap();
    assert_eq!(
        topology.sites.backup.sql.host_in_certificate.as_deref(),
        Some("sqlpc-dal.contoso.com")
    );
    assert_eq!(
        topology.sql.trust_ca_file,
        Some(Path::new("/etc/pcdr").join("certs/ca.pem"))
    );
    let written = topology.to_toml_string();
    assert_eq!(Topology::from_toml_str(&written, None).unwrap(), topology);
}

#[test]
fn to_toml_string_round_trips_a_named_instance_on_a_port_with_its_fqdn() {
    let text = MINIMAL.replace(
        "host = \"sql-dal.contoso.com\", port = 1433 }",
        "host = \"10.20.0.11\", instance = \"PCHAT\", port = 50123, fqdn = \"sql-dal.contoso.com\" }",
    ) + SQL_LOGIN;
    let topology = Topology::from_toml_str(&text, None).unwrap();
    let sql = &topology.sites.backup.sql;
    assert_eq!(sql.display_name(), r"10.20.0.11\PCHAT,50123");
    assert_eq!(sql.server_fqdn(), "sql-dal.contoso.com");
    let written = topology.to_toml_string();
    assert_eq!(Topology::from_toml_str(&written, None).unwrap(), topology);
}

#[test]
fn to_toml_string_round_trips_quotes_backslashes_and_empty_lists() {
    let mut topology = example();
    topology.sites.primary.name = "Atlanta \"A\" \\ Süd".into();
    topology.shell.args.clear();
    let text = topology.to_toml_string();
    assert_eq!(Topology::from_toml_str(&text, None).unwrap(), topology);
}

#[test]
fn unknown_key_is_refused_with_its_path() {
    let text = example_with("fqdn = ", "fqdm = ");
    assert_refused(&text, "pool.fqdm", "unknown field `fqdm`");
    let nested = example_with("port = 1433 }", "port = 1433, instnace = \"X\" }");
    assert_refused(
        &nested,
        "sites.backup.sql.instnace",
        "unknown field `instnace`",
    );
}

#[test]
fn unknown_table_is_refused_with_its_path() {
    let text = EXAMPLE.to_owned() + "\n[sites.standby]\nname = \"Houston\"\n";
    assert_refused(&text, "sites.standby", "unknown field `standby`");
}

#[test]
fn wrong_type_names_the_key_and_the_array_index() {
    let text = example_with("\"pc4.contoso.com\"]", "4]");
    assert_refused(
        &text,
        "sites.backup.chat_servers[1]",
        "invalid type: integer `4`, expected a string",
    );
}

#[test]
fn unknown_enum_value_names_the_choices() {
    let text = example_with("encrypt = \"required\"", "encrypt = \"yes\"");
    assert_refused(
        &text,
        "sql.encrypt",
        "expected one of `required`, `off`, `not-supported`",
    );
}

#[test]
fn toml_syntax_error_reports_line_and_column() {
    let text = example_with("fqdn = \"pchat.contoso.com\"", "fqdn = pchat.contoso.com");
    let error = refusal(&text);
    assert_eq!(error.key, "");
    assert!(
        error
            .message
            .starts_with("TOML syntax error at line 6, column 8"),
        "{error}"
    );
    assert_eq!(error.to_string(), error.message);
}

#[test]
fn load_names_the_file_for_syntax_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topology.toml");
    std::fs::write(&path, "[pool\n").unwrap();
    let error = Topology::load(&path).unwrap_err();
    assert_eq!(error.key, path.display().to_string());
    assert!(error.message.contains("line 1"), "{error}");
}

#[test]
fn load_names_a_missing_file() {
    let path = Path::new("/nonexistent/pcdr/topology.toml");
    let error = Topology::load(path).unwrap_err();
    assert_eq!(error.key, "/nonexistent/pcdr/topology.toml");
    assert!(
        error.message.starts_with("cannot read the topology file"),
        "{error}"
    );
}

#[test]
fn missing_required_key_is_named() {
    let text = example_with("fqdn = \"pchat.contoso.com\"\n", "");
    assert_refused(&text, "pool.fqdn", "is missing; expected the pool's FQDN");
    let no_site = MINIMAL.split("[sites.backup]").next().unwrap();
    assert_refused(no_site, "sites.backup", "is missing");
}

#[test]
fn site_of_server_ignores_case() {
    let topology = example();
    assert_eq!(
        topology.site_of_server("PC3.Contoso.com"),
        Some(SiteRole::Backup)
    );
    assert_eq!(
        topology.site_of_server("pc1.contoso.com"),
        Some(SiteRole::Primary)
    );
    assert_eq!(topology.site_of_server("pc9.contoso.com"), None);
}

#[test]
fn site_and_role_lookups_agree() {
    let topology = example();
    assert_eq!(topology.site(SiteRole::Primary).name, "Atlanta");
    assert_eq!(topology.sites.get(SiteRole::Backup).name, "Dallas");
    assert_eq!(SiteRole::Primary.other(), SiteRole::Backup);
    assert_eq!(SiteRole::Backup.other(), SiteRole::Primary);
    assert_eq!(SiteRole::Backup.to_string(), "backup");
}

#[test]
fn display_name_uses_sql_server_notation() {
    let topology = example();
    assert_eq!(
        topology.sites.primary.sql.display_name(),
        r"sql-atl.contoso.com\PCHAT"
    );
    assert_eq!(
        topology.sites.backup.sql.display_name(),
        "sql-dal.contoso.com,1433"
    );
}

#[test]
fn error_display_is_key_then_message() {
    let text = example_with("\"pc4.contoso.com\"", "\"pc 5\"");
    assert_eq!(
        refusal(&text).to_string(),
        "sites.backup.chat_servers[1]: \"pc 5\" is not a valid host name \
         (RFC 1123: letters, digits and hyphens, labels of at most 63 characters)"
    );
}
