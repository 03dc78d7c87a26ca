//! Password sources: environment variables, files and their permissions, and that a
//! [`Secret`] never shows its text.

#[cfg(unix)]
use std::fs;
use std::path::Path;

use super::MINIMAL;
use crate::topology::{PasswordSource, Secret, Topology};

fn with_password_file(path: &str, base_dir: Option<&Path>) -> PasswordSource {
    let text = format!("{MINIMAL}[sql]\nuser = \"pcdr\"\npassword_file = \"{path}\"\n");
    Topology::from_toml_str(&text, base_dir)
        .unwrap()
        .sql
        .password
}

#[cfg(unix)]
fn write_secret(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn password_from_environment_variable() {
    let name = "PCDR_TEST_PASSWORD_FROM_ENV";
    // SAFETY: the variable name is used by this test only; std serializes its own
    // environment accesses, and nothing outside std reads the environment here.
    unsafe { std::env::set_var(name, "s3cret") };
    let secret = PasswordSource::Env(name.into()).resolve().unwrap().unwrap();
    assert_eq!(secret.expose(), "s3cret");
}

#[test]
fn missing_environment_variable_is_named() {
    let error = PasswordSource::Env("PCDR_TEST_PASSWORD_NEVER_SET".into())
        .resolve()
        .unwrap_err();
    assert_eq!(error.key, "sql.password_env");
    assert_eq!(
        error.message,
        "environment variable PCDR_TEST_PASSWORD_NEVER_SET is not set; \
         expected the SQL password in it"
    );
}

#[test]
fn no_password_source_resolves_to_none() {
    assert_eq!(PasswordSource::None.resolve().unwrap(), None);
}

#[cfg(unix)]
#[test]
fn password_file_with_mode_0600_is_read_without_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sql-password");
    write_secret(&path, "s3cret\r\n", 0o600);
    let secret = PasswordSource::File(path).resolve().unwrap().unwrap();
    assert_eq!(secret.expose(), "s3cret");
}

#[cfg(unix)]
#[test]
fn password_file_readable_by_others_is_refused_with_the_chmod() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sql-password");
    write_secret(&path, "s3cret\n", 0o644);
    let error = PasswordSource::File(path.clone()).resolve().unwrap_err();
    assert_eq!(error.key, "sql.password_file");
    assert_eq!(
        error.message,
        format!(
            "{0} is accessible by group or others (mode 0644); expected mode 0600, \
             run: chmod 600 '{0}'",
            path.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn empty_password_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sql-password");
    write_secret(&path, "\n", 0o600);
    let error = PasswordSource::File(path.clone()).resolve().unwrap_err();
    assert_eq!(
        error.message,
        format!("{} is empty; expected the SQL password", path.display())
    );
}

#[cfg(unix)]
#[test]
fn relative_password_file_is_resolved_against_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("secrets")).unwrap();
    write_secret(&dir.path().join("secrets/sql-password"), "s3cret\n", 0o600);
    let source = with_password_file("secrets/sql-password", Some(dir.path()));
    assert_eq!(
        source,
        PasswordSource::File(dir.path().join("secrets/sql-password"))
    );
    assert_eq!(source.resolve().unwrap().unwrap().expose(), "s3cret");
}

#[cfg(unix)]
#[test]
fn load_resolves_password_file_against_the_topology_folder() {
    let dir = tempfile::tempdir().unwrap();
    let topology_path = dir.path().join("topology.toml");
    let text = format!("{MINIMAL}[sql]\nuser = \"pcdr\"\npassword_file = \"pw\"\n");
    fs::write(&topology_path, text).unwrap();
    write_secret(&dir.path().join("pw"), "s3cret", 0o600);
    let topology = Topology::load(&topology_path).unwrap();
    let secret = topology.sql.password.resolve().unwrap().unwrap();
    assert_eq!(secret.expose(), "s3cret");
}

#[test]
fn missing_password_file_is_named() {
    let source = with_password_file("/nonexistent/pcdr/sql-password", None);
    let error = source.resolve().unwrap_err();
    assert_eq!(error.key, "sql.password_file");
    assert!(
        error
            .message
            .starts_with("cannot read /nonexistent/pcdr/sql-password: "),
        "{error}"
    );
}

#[test]
fn secret_never_shows_its_text() {
    let secret = Secret::new("s3cret".into());
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
    assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
}

#[test]
fn password_source_serializes_as_the_variable_name_only() {
    let topology = super::example();
    let json = serde_json::to_value(&topology.sql).unwrap();
    assert_eq!(json["password_env"], "PCDR_SQL_PASSWORD");
    assert_eq!(json.get("password_file"), None);
}
