//! The topology file's TOML shapes, exactly as written, and their parsing.
//!
//! Every key is optional here and every table refuses unknown keys; whether a key is
//! required, its default and its rules belong to `validate.rs`. A parse error is turned
//! into a [`TopologyError`] that names the key path, found from the error's position.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::TopologyError;
use super::model::{Encrypt, RestoreMode};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTopology {
    pub pool: Option<RawPool>,
    pub databases: Option<RawDatabases>,
    pub log_shipping: Option<RawLogShipping>,
    pub sites: Option<RawSites>,
    pub sql: Option<RawSql>,
    pub shell: Option<RawShell>,
}

/// `[pool]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub fqdn: Option<String>,
    /// Refused with a hint: it became `state_identity` and `active_servers_identity`.
    pub identity: Option<String>,
    pub state_identity: Option<String>,
    pub active_servers_identity: Option<String>,
}

/// `[databases]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabases {
    pub chat: Option<String>,
    pub compliance: Option<String>,
}

/// `[log_shipping]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogShipping {
    pub backup_share: Option<String>,
    pub backup_share_from_pcdr: Option<String>,
    pub copy_destination: Option<String>,
    pub copy_destination_from_pcdr: Option<String>,
    pub primary_copy_destination: Option<String>,
    pub primary_copy_destination_from_pcdr: Option<String>,
    pub backup_interval_minutes: Option<i64>,
    pub restore_delay_minutes: Option<i64>,
    pub restore_mode: Option<RestoreMode>,
}

/// `[sites]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSites {
    pub primary: Option<RawSite>,
    pub backup: Option<RawSite>,
}

/// `[sites.primary]` or `[sites.backup]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub name: Option<String>,
    pub sql: Option<RawEndpoint>,
    pub mirror: Option<RawEndpoint>,
    pub mirror_file_share: Option<String>,
    pub chat_servers: Option<Vec<String>>,
}

/// `{ host = "...", instance = "..." }`, `{ host = "...", port = 1433 }`, or both
/// `instance` and `port` (a named instance on a static port); optionally
/// `host_in_certificate` and `fqdn`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub host: Option<String>,
    pub instance: Option<String>,
    pub port: Option<i64>,
    pub host_in_certificate: Option<String>,
    pub fqdn: Option<String>,
}

/// `[sql]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSql {
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub encrypt: Option<Encrypt>,
    pub trust_server_certificate: Option<bool>,
    pub trust_ca_file: Option<String>,
    pub allow_plaintext: Option<bool>,
    pub command_timeout_secs: Option<i64>,
}

/// `[shell]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShell {
    pub program: Option<String>,
    pub args: Option<Vec<String>>,
    pub module: Option<String>,
    pub timeout_secs: Option<i64>,
    pub mirror_timeout_secs: Option<i64>,
}

/// Parses `text` into the file's shapes; errors name the key path and the position.
pub(super) fn parse(text: &str) -> Result<RawTopology, TopologyError> {
    let document = DeTable::parse(text).map_err(|error| syntax_error(text, &error))?;
    RawTopology::deserialize(toml::de::Deserializer::from(document.clone()))
        .map_err(|error| shape_error(text, document.get_ref(), &error))
}

fn syntax_error(text: &str, error: &toml::de::Error) -> TopologyError {
    TopologyError::new(
        "",
        format!(
            "TOML syntax error{}: {}",
            position(text, error.span()),
            error.message()
        ),
    )
}

fn shape_error(text: &str, document: &DeTable<'_>, error: &toml::de::Error) -> TopologyError {
    let key = error
        .span()
        .and_then(|span| key_path_in_table(document, span.start))
        .map(|path| path.trim_start_matches('.').to_owned())
        .unwrap_or_default();
    let message = format!("{}{}", error.message(), position(text, error.span()));
    TopologyError::new(key, message)
}

/// ` at line L, column C` (both counted from 1), or nothing without a span.
fn position(text: &str, span: Option<Range<usize>>) -> String {
    let Some(offset) = span.map(|span| span.start) else {
        return String::new();
    };
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!(" at line {line}, column {column}")
}

/// The deepest key path (`.a.b[2]`) whose key or value covers `offset`.
fn key_path_in_table(table: &DeTable<'_>, offset: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        key_path_in_value(value, offset)
            .or_else(|| covers(key.span(), offset).then(String::new))
            .map(|rest| format!(".{}{rest}", key.get_ref()))
    })
}

fn key_path_in_value(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<String> {
    let inner = match value.get_ref() {
        DeValue::Table(table) => key_path_in_table(table, offset),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            key_path_in_value(item, offset).map(|rest| format!("[{index}]{rest}"))
        }),
        _ => None,
    };
    inner.or_else(|| covers(value.span(), offset).then(String::new))
}

fn covers(span: Range<usize>, offset: usize) -> bool {
    span.contains(&offset)
}
