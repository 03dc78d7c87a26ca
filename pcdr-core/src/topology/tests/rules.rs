//! One refusal per validation rule, each asserting the key path and the message.

use super::{MINIMAL, SQL_LOGIN, assert_refused, example_with};
use crate::topology::{Login, SqlAddress, Topology};

const HOST_RULE: &str = "is not a valid host name (RFC 1123: letters, digits and hyphens, \
                         labels of at most 63 characters)";

#[test]
fn host_name_with_a_space_is_refused() {
    let text = example_with("\"pc4.contoso.com\"", "\"pc 5\"");
    assert_refused(
        &text,
        "sites.backup.chat_servers[1]",
        &format!("\"pc 5\" {HOST_RULE}"),
    );
}

#[test]
fn host_label_longer_than_63_is_refused() {
    let long_label = "a".repeat(64);
    let text = example_with("fqdn = \"pchat.", &format!("fqdn = \"{long_label}."));
    assert_refused(&text, "pool.fqdn", HOST_RULE);
    let just_fits = example_with(
        "fqdn = \"pchat.",
        &format!("fqdn = \"{}.", &long_label[1..]),
    );
    assert!(Topology::from_toml_str(&just_fits, None).is_ok());
}

#[test]
fn host_name_longer_than_253_is_refused() {
    let long_name = vec!["a".repeat(63); 4].join(".");
    let text = example_with(
        "host = \"sql-dal-m.contoso.com\"",
        &format!("host = \"{long_name}\""),
    );
    assert_refused(&text, "sites.backup.mirror.host", HOST_RULE);
}

#[test]
fn host_labels_must_not_start_or_end_with_a_hyphen_or_be_empty() {
    for bad in [
        "-sql.contoso.com",
        "sql-.contoso.com",
        "sql..contoso.com",
        "sql.contoso.com.",
        "",
    ] {
        let text = example_with(
            "host = \"sql-atl.contoso.com\"",
            &format!("host = \"{bad}\""),
        );
        assert_refused(&text, "sites.primary.sql.host", HOST_RULE);
    }
}

#[test]
fn database_name_longer_than_128_is_refused() {
    let text = example_with("chat = \"mgc\"", &format!("chat = \"{}\"", "m".repeat(129)));
    assert_refused(
        &text,
        "databases.chat",
        "is 129 characters long; expected a database name of at most 128 characters",
    );
}

#[test]
fn database_name_empty_or_with_control_characters_is_refused() {
    let empty = example_with("compliance = \"mgccomp\"", "compliance = \"\"");
    assert_refused(
        &empty,
        "databases.compliance",
        "is empty; expected a database name",
    );
    let tab = example_with("chat = \"mgc\"", "chat = \"mg\\tc\"");
    assert_refused(
        &tab,
        "databases.chat",
        "\"mg\\tc\" contains the control character U+0009; expected a database name",
    );
}

#[test]
fn instance_names_follow_sql_server_rules() {
    let rule = "is not a valid instance name (SQL Server: 1–16 letters, digits, `_`, `$` or `#`, \
                starting with a letter or `_`)";
    for bad in ["PC-HAT", "1PCHAT", "", "ABCDEFGHIJKLMNOPQ"] {
        let text = example_with(
            "instance = \"PCHAT\" }",
            &format!("instance = \"{bad}\" }}"),
        );
        assert_refused(&text, "sites.primary.sql.instance", rule);
    }
    let good = example_with(
        "instance = \"PCHAT\" }",
        "instance = \"_P$C#H1234567890\" }",
    );
    let topology = Topology::from_toml_str(&good, None).unwrap();
    assert_eq!(
        topology.sites.primary.sql.address,
        SqlAddress::Instance("_P$C#H1234567890".into())
    );
}

#[test]
fn port_zero_and_above_65535_are_refused() {
    for bad in ["0", "65536", "-1"] {
        let text = example_with("port = 1433 }", &format!("port = {bad} }}"));
        assert_refused(
            &text,
            "sites.backup.sql.port",
            &format!("{bad} is out of range; expected a TCP port 1–65535"),
        );
    }
}

#[test]
fn endpoint_needs_an_instance_a_port_or_both() {
    let both = example_with("port = 1433 }", "port = 50123, instance = \"PCHAT\" }");
    let topology = Topology::from_toml_str(&both, None).unwrap();
    let sql = &topology.sites.backup.sql;
    assert_eq!(
        sql.address,
        SqlAddress::InstanceOnPort {
            instance: "PCHAT".into(),
            port: 50123
        }
    );
    assert_eq!(sql.display_name(), "sql-dal.contoso.com\\PCHAT,50123");
    assert_eq!(
        Topology::from_toml_str(&topology.to_toml_string(), None).unwrap(),
        topology,
        "a named instance on a static port round-trips"
    );
    let neither = example_with(", port = 1433 }", " }");
    assert_refused(
        &neither,
        "sites.backup.sql",
        "has neither instance nor port",
    );
}

#[test]
fn site_without_chat_servers_is_refused() {
    let text = example_with(
        "chat_servers = [\"pc3.contoso.com\", \"pc4.contoso.com\"]",
        "chat_servers = []",
    );
    assert_refused(
        &text,
        "sites.backup.chat_servers",
        "is empty; expected at least one server FQDN",
    );
}

#[test]
fn more_than_eight_servers_in_the_pool_are_refused() {
    let backup: Vec<String> = (3..=9).map(|n| format!("\"pc{n}.contoso.com\"")).collect();
    let text = example_with(
        "[\"pc3.contoso.com\", \"pc4.contoso.com\"]",
        &format!("[{}]", backup.join(", ")),
    );
    assert_refused(
        &text,
        "sites",
        "lists 9 chat servers in all; expected at most 8",
    );
}

#[test]
fn eight_servers_in_the_pool_are_accepted() {
    let backup: Vec<String> = (3..=8).map(|n| format!("\"pc{n}.contoso.com\"")).collect();
    let text = example_with(
        "[\"pc3.contoso.com\", \"pc4.contoso.com\"]",
        &format!("[{}]", backup.join(", ")),
    );
    assert!(Topology::from_toml_str(&text, None).is_ok());
}

#[test]
fn server_listed_twice_in_one_site_is_refused() {
    let text = example_with(
        "\"pc2.contoso.com\"]",
        "\"pc2.contoso.com\", \"PC1.contoso.com\"]",
    );
    assert_refused(
        &text,
        "sites.primary.chat_servers[2]",
        "\"PC1.contoso.com\" is already listed at sites.primary.chat_servers[0]; \
         expected every server in exactly one site",
    );
}

#[test]
fn server_in_both_sites_is_refused_ignoring_case() {
    let text = example_with("\"pc4.contoso.com\"]", "\"PC2.Contoso.COM\"]");
    assert_refused(
        &text,
        "sites.backup.chat_servers[1]",
        "\"PC2.Contoso.COM\" is already listed at sites.primary.chat_servers[1]",
    );
}

#[test]
fn same_sql_instance_twice_is_refused() {
    let text = example_with(
        "host = \"sql-atl-m.contoso.com\"",
        "host = \"SQL-ATL.contoso.com\"",
    );
    assert_refused(
        &text,
        "sites.primary.mirror",
        "\"SQL-ATL.contoso.com\\\\PCHAT\" is the same instance as sites.primary.sql",
    );
}

#[test]
fn pool_identities_empty_or_with_control_characters_are_refused() {
    for (key, value) in [
        (
            "state_identity",
            "\"service:PersistentChatServer:pchat.contoso.com\"",
        ),
        (
            "active_servers_identity",
            "\"PersistentChatServer:pchat.contoso.com\"",
        ),
    ] {
        let line = format!("{key} = {value}");
        let empty = example_with(&line, &format!("{key} = \"\""));
        assert_refused(
            &empty,
            &format!("pool.{key}"),
            "is empty; expected a cmdlet identity",
        );
        let newline = example_with(&line, &format!("{key} = \"a\\nb\""));
        assert_refused(
            &newline,
            &format!("pool.{key}"),
            "contains the control character U+000A",
        );
    }
}

/// One `pool.identity` used to go to every cmdlet; the cmdlets take different
/// identity types, so the old key is refused naming the two that replace it.
#[test]
fn the_single_pool_identity_is_refused_naming_its_replacements() {
    let text = example_with(
        "active_servers_identity = ",
        "identity = \"service:pchat.contoso.com\"\nactive_servers_identity = ",
    );
    assert_refused(
        &text,
        "pool.identity",
        "set pool.state_identity (default \"service:PersistentChatServer:<fqdn>\") and pool.active_servers_identity",
    );
}

#[test]
fn paths_empty_or_with_control_characters_are_refused() {
    let share = example_with(r"'\\fs01.contoso.com\pchat-logs'", "\"\"");
    assert_refused(
        &share,
        "log_shipping.backup_share",
        "is empty; expected a UNC path",
    );
    let copy = example_with(r"'D:\LogShipping\mgc'", "\"D:\\u0000\"");
    assert_refused(
        &copy,
        "log_shipping.copy_destination",
        "contains the control character U+0000; expected a folder path",
    );
    let reached = example_with(r"'\\sql-dal.contoso.com\D$\LogShipping\mgc'", "\"\"");
    assert_refused(
        &reached,
        "log_shipping.copy_destination_from_pcdr",
        "is empty; expected the same folder as pcdr reaches it",
    );
    let program = example_with("program = \"powershell.exe\"", "program = \"\"");
    assert_refused(
        &program,
        "shell.program",
        "is empty; expected a program path",
    );
    let file = example_with(
        "password_env = \"PCDR_SQL_PASSWORD\"",
        "password_file = \"secret\\r\"",
    );
    assert_refused(
        &file,
        "sql.password_file",
        "contains the control character U+000D",
    );
}

#[test]
fn password_env_and_password_file_are_exclusive() {
    let text = example_with(
        "password_env = \"PCDR_SQL_PASSWORD\"",
        "password_env = \"PCDR_SQL_PASSWORD\"\npassword_file = \"secret\"",
    );
    assert_refused(
        &text,
        "sql.password_file",
        "is given together with sql.password_env; expected one of them",
    );
}

#[test]
fn password_without_user_is_refused() {
    let env = example_with("user = \"pcdr\"\n", "");
    assert_refused(&env, "sql.password_env", "is given without sql.user");
    let file = MINIMAL.to_owned() + "[sql]\npassword_file = \"secret\"\n";
    assert_refused(&file, "sql.password_file", "is given without sql.user");
}

#[test]
fn password_env_must_be_a_variable_name() {
    for bad in ["PCDR-PASSWORD", "1PASSWORD", ""] {
        let text = example_with("\"PCDR_SQL_PASSWORD\"", &format!("\"{bad}\""));
        assert_refused(
            &text,
            "sql.password_env",
            "is not a valid environment variable name (letters, digits and `_`, \
             not starting with a digit)",
        );
    }
}

#[test]
fn shell_timeout_must_be_at_least_one_second() {
    let text = example_with("timeout_secs = 600", "timeout_secs = 0");
    assert_refused(
        &text,
        "shell.timeout_secs",
        "0 is out of range; expected 1 or more seconds",
    );
    let mirror = example_with("mirror_timeout_secs = 14400", "mirror_timeout_secs = 0");
    assert_refused(
        &mirror,
        "shell.mirror_timeout_secs",
        "0 is out of range; expected 1 or more seconds",
    );
}

/// pcdr passes each script as `-EncodedCommand`; a switch in `shell.args` that takes a
/// script (by its name or a prefix, as `powershell.exe` reads switches) would take
/// pcdr's instead.
#[test]
fn a_shell_switch_that_takes_a_script_is_refused() {
    let args = "args = [\"-NoProfile\", \"-NonInteractive\"]";
    for switch in ["-Command", "-c", "-EncodedCommand", "-e", "-File", "-FILE"] {
        let text = example_with(args, &format!("args = [\"-NoProfile\", \"{switch}\"]"));
        assert_refused(
            &text,
            "shell.args[1]",
            &format!("is {switch}, which takes a script; expected only switches such as"),
        );
    }
    let policy = example_with(args, "args = [\"-ExecutionPolicy\", \"Bypass\"]");
    Topology::from_toml_str(&policy, None).expect("a switch that takes no script loads");
}

#[test]
fn backup_interval_must_be_1_to_1440_minutes() {
    for bad in ["0", "1441"] {
        let text = example_with(
            "backup_interval_minutes = 15",
            &format!("backup_interval_minutes = {bad}"),
        );
        assert_refused(
            &text,
            "log_shipping.backup_interval_minutes",
            &format!("{bad} is out of range; expected 1–1440 minutes"),
        );
    }
}

#[test]
fn negative_durations_are_refused() {
    let delay = example_with("restore_delay_minutes = 0", "restore_delay_minutes = -5");
    assert_refused(
        &delay,
        "log_shipping.restore_delay_minutes",
        "-5 is out of range",
    );
    let command = example_with("command_timeout_secs = 0", "command_timeout_secs = -1");
    assert_refused(&command, "sql.command_timeout_secs", "-1 is out of range");
}

#[test]
fn a_user_without_a_password_source_is_refused() {
    let no_password = example_with("password_env = \"PCDR_SQL_PASSWORD\"\n", "");
    assert_refused(
        &no_password,
        "sql.user",
        "is given without sql.password_env or sql.password_file",
    );
}

#[test]
fn the_emulators_shell_is_refused_for_servers_that_are_not_loopback() {
    let shell =
        "[shell]\nprogram = \"pcdr\"\nargs = [\"sim\", \"shell\", \"--world\", \"w\", \"--\"]\n";
    let drill_on_production = MINIMAL.to_owned() + SQL_LOGIN + shell;
    assert_refused(
        &drill_on_production,
        "shell.args",
        "run the emulator's Management Shell (sim shell) while sql-atl.contoso.com is not a loopback address",
    );
    let drill = drill_on_production
        .replace("\"sql-atl.contoso.com\"", LOOPBACK_ATL)
        .replace("\"sql-dal.contoso.com\"", LOOPBACK_DAL);
    Topology::from_toml_str(&drill, None).expect("a drill on loopback loads");
}

#[test]
fn trusting_any_certificate_and_a_ca_file_together_is_refused() {
    let both = example_with(
        "trust_server_certificate = false",
        "trust_server_certificate = true\ntrust_ca_file = \"ca.pem\"",
    );
    assert_refused(
        &both,
        "sql.trust_server_certificate",
        "is true together with sql.trust_ca_file; expected one of them",
    );
}

#[test]
fn plaintext_is_refused_for_sql_hosts_that_are_not_loopback() {
    for (encrypt, sent) in [
        ("off", "sends statements and their results in plain text"),
        (
            "not-supported",
            "sends the login with its password, statements and results in plain text",
        ),
    ] {
        let plain = MINIMAL.to_owned() + SQL_LOGIN + &format!("encrypt = \"{encrypt}\"\n");
        assert_refused(
            &plain,
            "sql.encrypt",
            &format!("{sent}, and sql-atl.contoso.com is not a loopback address"),
        );
        let mirror_remote = plain
            .replace("\"sql-atl.contoso.com\"", LOOPBACK_ATL)
            .replace("sql-dal.contoso.com", "localhost")
            .replace(
                "chat_servers = [\"pc3.contoso.com\"]",
                "mirror = { host = \"sql-dal-m\", port = 1433 }\nchat_servers = [\"pc3.contoso.com\"]",
            );
        assert_refused(&mirror_remote, "sql.encrypt", "sql-dal-m is not a loopback");
        let loopback = mirror_remote.replace(
            "\"sql-dal-m\"",
            "\"127.0.0.4\", fqdn = \"sql-dal-m.contoso.com\"",
        );
        Topology::from_toml_str(&loopback, None).expect("plain text on loopback loads");
        let allowed = plain + "allow_plaintext = true\n";
        Topology::from_toml_str(&allowed, None).expect("plain text when allowed loads");
    }
}

/// The primary's SQL Server reached at a loopback address, known to the cmdlets by its
/// FQDN (replaces the quoted host name).
const LOOPBACK_ATL: &str = "\"127.0.0.1\", fqdn = \"sql-atl.contoso.com\"";
/// The backup's, likewise.
const LOOPBACK_DAL: &str = "\"127.0.0.3\", fqdn = \"sql-dal.contoso.com\"";

#[test]
fn an_ip_address_host_needs_the_fqdn_the_cmdlets_take() {
    let by_address = MINIMAL.replace("\"sql-dal.contoso.com\"", "\"10.20.0.11\"") + SQL_LOGIN;
    assert_refused(
        &by_address,
        "sites.backup.sql.host",
        "\"10.20.0.11\" is an IP address, which the cmdlets cannot take; expected \
         sites.backup.sql.fqdn = \"...\" beside it",
    );
    let named = by_address.replace(
        "\"10.20.0.11\"",
        "\"10.20.0.11\", fqdn = \"sql-dal.contoso.com\"",
    );
    let topology = Topology::from_toml_str(&named, None).expect("an address with its fqdn loads");
    let sql = &topology.sites.backup.sql;
    assert_eq!(sql.host, "10.20.0.11");
    assert_eq!(sql.server_fqdn(), "sql-dal.contoso.com");
}

#[test]
fn the_fqdn_is_a_host_name_and_not_an_ip_address() {
    let with_fqdn = |fqdn: &str| {
        MINIMAL.replace(
            "port = 1433 }",
            &format!("port = 1433, fqdn = \"{fqdn}\" }}"),
        )
    };
    assert_refused(
        &with_fqdn("10.20.0.11"),
        "sites.backup.sql.fqdn",
        "\"10.20.0.11\" is an IP address; expected the SQL Server's FQDN",
    );
    assert_refused(&with_fqdn("sql dal"), "sites.backup.sql.fqdn", HOST_RULE);
}

#[test]
fn host_in_certificate_must_be_a_host_name() {
    let text = MINIMAL.replace(
        "port = 1433 }",
        "port = 1433, host_in_certificate = \"a b\" }",
    );
    assert_refused(&text, "sites.backup.sql.host_in_certificate", HOST_RULE);
}

/// `sql.user` says how pcdr logs in: a SQL Server login, a Windows account (only Windows
/// logins have a backslash), or, left out, the Windows user running pcdr.
#[test]
fn sql_user_names_the_kind_of_login() {
    let login = |sql: &str| Topology::from_toml_str(&(MINIMAL.to_owned() + sql), None);
    let sql_login = login(SQL_LOGIN).unwrap();
    assert_eq!(sql_login.sql.login(), Login::SqlServer("pcdr"));
    let mut settings = sql_login.sql;
    settings.user = Some(r"CONTOSO\pcdr-svc".into());
    assert_eq!(settings.login(), Login::WindowsAccount(r"CONTOSO\pcdr-svc"));
    settings.user = None;
    assert_eq!(settings.login(), Login::Integrated);
}

/// A build without Windows authentication refuses a topology that needs it at load,
/// instead of sending a login SQL Server would refuse (issue 14).
#[cfg(not(all(windows, feature = "winauth")))]
#[test]
fn a_topology_without_user_is_refused_by_a_build_without_integrated_authentication() {
    assert_refused(
        MINIMAL,
        "sql.user",
        "is left out, which means integrated authentication as the Windows user running \
         pcdr, and this build of pcdr has no Windows authentication",
    );
    let account = SQL_LOGIN.replace("\"pcdr\"", r#"'CONTOSO\pcdr-svc'"#);
    assert_refused(
        &(MINIMAL.to_owned() + &account),
        "sql.user",
        r"is the Windows account CONTOSO\pcdr-svc, and this build of pcdr has no Windows authentication",
    );
}

/// The Windows build logs in as the Windows user when `sql.user` is left out, and as a
/// Windows account with its password.
#[cfg(all(windows, feature = "winauth"))]
#[test]
fn the_windows_build_loads_integrated_and_windows_account_logins() {
    use crate::topology::PasswordSource;
    let integrated = Topology::from_toml_str(MINIMAL, None).unwrap();
    assert_eq!(integrated.sql.login(), Login::Integrated);
    assert_eq!(integrated.sql.password, PasswordSource::None);
    let account = SQL_LOGIN.replace("\"pcdr\"", r#"'CONTOSO\pcdr-svc'"#);
    let windows = Topology::from_toml_str(&(MINIMAL.to_owned() + &account), None).unwrap();
    assert_eq!(
        windows.sql.login(),
        Login::WindowsAccount(r"CONTOSO\pcdr-svc")
    );
}
