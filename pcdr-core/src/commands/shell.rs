//! The exact Management Shell commands pcdr runs, one function per cmdlet.
//!
//! Every value is a PowerShell single-quoted literal built by
//! [`quote_powershell`]; nothing is interpolated. The
//! PowerShell adapter wraps a command in [`script`] and the plan prints [`ShellCommand`]s
//! as they will run.

use crate::planes::{MirrorRequest, PoolState};
use crate::quote::quote_powershell;
use serde::Serialize;
use std::fmt;

/// One argument of a cmdlet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ShellArg {
    /// `-Name 'value'`.
    Value(String),
    /// `-Name 'a','b'`.
    List(Vec<String>),
    /// `-Name @{Replace='a','b'}`.
    Replace(Vec<String>),
    /// `-Name $null`.
    Null,
    /// `-Name` alone.
    Switch,
    /// `-Name:$false`.
    False,
}

/// A cmdlet invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellCommand {
    /// The cmdlet, e.g. `Set-CsPersistentChatState`.
    pub cmdlet: &'static str,
    /// Its named arguments, in order.
    pub args: Vec<(&'static str, ShellArg)>,
}

impl ShellCommand {
    fn new(cmdlet: &'static str) -> Self {
        Self {
            cmdlet,
            args: Vec::new(),
        }
    }

    fn arg(mut self, name: &'static str, value: ShellArg) -> Self {
        self.args.push((name, value));
        self
    }

    fn value(self, name: &'static str, value: &str) -> Self {
        self.arg(name, ShellArg::Value(value.to_string()))
    }
}

fn quoted_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| quote_powershell(v)).collect();
    quoted.join(",")
}

impl fmt::Display for ShellCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cmdlet)?;
        for (name, arg) in &self.args {
            match arg {
                ShellArg::Value(v) => write!(f, " -{name} {}", quote_powershell(v))?,
                ShellArg::List(vs) => write!(f, " -{name} {}", quoted_list(vs))?,
                ShellArg::Replace(vs) => write!(f, " -{name} @{{Replace={}}}", quoted_list(vs))?,
                ShellArg::Null => write!(f, " -{name} $null")?,
                ShellArg::Switch => write!(f, " -{name}")?,
                ShellArg::False => write!(f, " -{name}:$false")?,
            }
        }
        Ok(())
    }
}

/// The whole script for one command: load the module, stop on any error, and print the
/// command's output as JSON.
///
/// ```
/// use pcdr_core::commands::shell::{get_pool_state, script};
/// let text = script("SkypeForBusiness", &get_pool_state("service:pchat.contoso.com"));
/// assert_eq!(
///     text,
///     "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; \
///      Get-CsPersistentChatState -Identity 'service:pchat.contoso.com' | ConvertTo-Json -Compress"
/// );
/// ```
pub fn script(module: &str, command: &ShellCommand) -> String {
    format!(
        "Import-Module {}; $ErrorActionPreference = 'Stop'; {command} | ConvertTo-Json -Compress",
        quote_powershell(module)
    )
}

/// `Get-CsPersistentChatState`.
pub fn get_pool_state(identity: &str) -> ShellCommand {
    ShellCommand::new("Get-CsPersistentChatState").value("Identity", identity)
}

/// `Set-CsPersistentChatState -PoolState …`.
pub fn set_pool_state(identity: &str, state: PoolState) -> ShellCommand {
    ShellCommand::new("Set-CsPersistentChatState")
        .value("Identity", identity)
        .value("PoolState", &state.to_string())
        .arg("Confirm", ShellArg::False)
}

/// `Set-CsPersistentChatActiveServer`: replaces the list, or clears it when empty.
pub fn set_active_servers(identity: &str, servers: &[String]) -> ShellCommand {
    let list = if servers.is_empty() {
        ShellArg::Null
    } else {
        ShellArg::Replace(servers.to_vec())
    };
    ShellCommand::new("Set-CsPersistentChatActiveServer")
        .value("Identity", identity)
        .arg("ActiveServers", list)
        .arg("Confirm", ShellArg::False)
}

/// The cmdlet that mirrors a database: it backs the whole database up and restores it,
/// so the shell gives it its own, longer limit.
pub const INSTALL_MIRROR: &str = "Install-CsMirrorDatabase";

/// `Install-CsMirrorDatabase` for one Persistent Chat database.
pub fn install_mirror(request: &MirrorRequest) -> ShellCommand {
    let mut command = ShellCommand::new(INSTALL_MIRROR)
        .value("DatabaseType", &request.database.to_string())
        .value("SqlServerFqdn", &request.sql_server_fqdn);
    if let Some(instance) = &request.sql_instance {
        command = command.value("SqlInstanceName", instance);
    }
    command
        .value("FileShare", &request.file_share)
        .arg("DropExistingDatabasesOnMirror", ShellArg::Switch)
        .arg("Confirm", ShellArg::False)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::ChatDatabase;

    #[test]
    fn active_servers_replace_or_clear() {
        let servers = vec!["pc3.contoso.com".to_string(), "pc'4".to_string()];
        assert_eq!(
            set_active_servers("service:p", &servers).to_string(),
            "Set-CsPersistentChatActiveServer -Identity 'service:p' -ActiveServers @{Replace='pc3.contoso.com','pc''4'} -Confirm:$false"
        );
        assert_eq!(
            set_active_servers("service:p", &[]).to_string(),
            "Set-CsPersistentChatActiveServer -Identity 'service:p' -ActiveServers $null -Confirm:$false"
        );
    }

    #[test]
    fn mirror_installation_names_the_instance_when_there_is_one() {
        let request = MirrorRequest {
            database: ChatDatabase::PersistentChat,
            sql_server_fqdn: "sql-dal.contoso.com".into(),
            sql_instance: Some("PCHAT".into()),
            file_share: r"\\fs01\pchat-logs".into(),
        };
        assert_eq!(
            install_mirror(&request).to_string(),
            "Install-CsMirrorDatabase -DatabaseType 'PersistentChat' -SqlServerFqdn 'sql-dal.contoso.com' -SqlInstanceName 'PCHAT' -FileShare '\\\\fs01\\pchat-logs' -DropExistingDatabasesOnMirror -Confirm:$false"
        );
    }
}
