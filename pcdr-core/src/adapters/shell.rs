//! The chat-pool plane through the Skype for Business Management Shell.
//!
//! Each call runs `shell.program shell.args <script>` where the script (built by
//! [`commands::shell::script`](crate::commands::shell::script)) imports the module, sets
//! `$ErrorActionPreference = 'Stop'` and pipes the cmdlet into `ConvertTo-Json`. Every
//! value in it is a single-quoted literal. A non-zero exit or anything on stderr is an
//! error naming the cmdlet; past `shell.timeout_secs` the whole process tree is killed.
//!
//! The product offers no documented way to read the active servers back, so
//! [`ChatPoolPlane::active_servers`] answers `None` (unknown).

use crate::commands::shell::{self as commands, ShellCommand, script};
use crate::error::{PlaneError, PlaneResult};
use crate::planes::{ChatPoolPlane, MirrorRequest, PoolState};
use crate::topology::{PasswordSource, Topology};
use async_trait::async_trait;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The Management Shell, as the topology's `[shell]` section runs it.
#[derive(Debug, Clone)]
pub struct ManagementShell {
    program: String,
    args: Vec<String>,
    module: String,
    timeout: Duration,
    identity: String,
    /// The environment variable holding the SQL password, kept from the shell's
    /// environment: PowerShell and everything it starts need no SQL password.
    password_env: Option<String>,
}

/// What a finished shell process printed.
struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl ManagementShell {
    /// The shell of `topology`.
    pub fn new(topology: &Topology) -> Self {
        Self {
            program: topology.shell.program.clone(),
            args: topology.shell.args.clone(),
            module: topology.shell.module.clone(),
            timeout: Duration::from_secs(topology.shell.timeout_secs),
            identity: topology.pool.identity.clone(),
            password_env: match &topology.sql.password {
                PasswordSource::Env(name) => Some(name.clone()),
                PasswordSource::None | PasswordSource::File(_) => None,
            },
        }
    }

    /// Runs one cmdlet and returns what it printed on stdout (JSON, or nothing).
    async fn run(&self, command: &ShellCommand) -> PlaneResult<String> {
        let cmdlet = command.cmdlet;
        tracing::debug!(cmdlet, line = %command, "running");
        let mut child = self.spawn(&script(&self.module, command))?;
        let output = match tokio::time::timeout(self.timeout, collect(&mut child)).await {
            Ok(output) => output.map_err(|e| shell_error(cmdlet, &e.to_string()))?,
            Err(_) => {
                kill_tree(&mut child, self.password_env.as_deref()).await;
                return Err(PlaneError::Timeout {
                    what: format!("{cmdlet} (the shell's process tree was killed)"),
                    secs: self.timeout.as_secs(),
                });
            }
        };
        let stderr = output.stderr.trim();
        if !output.status.success() || !stderr.is_empty() {
            let message = if stderr.is_empty() {
                format!("the shell exited with {}", output.status)
            } else {
                stderr.to_string()
            };
            return Err(shell_error(cmdlet, &message));
        }
        Ok(output.stdout)
    }

    fn spawn(&self, script: &str) -> PlaneResult<Child> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        without_password(&mut command, self.password_env.as_deref());
        #[cfg(unix)]
        command.process_group(0);
        command.spawn().map_err(|e| PlaneError::Unreachable {
            target: format!("the Management Shell ({})", self.program),
            message: e.to_string(),
        })
    }
}

fn shell_error(cmdlet: &str, message: &str) -> PlaneError {
    PlaneError::Shell {
        cmdlet: cmdlet.to_string(),
        message: message.to_string(),
    }
}

/// Waits for the process, reading both pipes to the end.
async fn collect(child: &mut Child) -> std::io::Result<Output> {
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let read_out = async {
        match out.as_mut() {
            Some(pipe) => pipe.read_to_string(&mut stdout).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let read_err = async {
        match err.as_mut() {
            Some(pipe) => pipe.read_to_string(&mut stderr).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let (a, b) = tokio::join!(read_out, read_err);
    a?;
    b?;
    let status = child.wait().await?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Kills the shell and everything it started (on Windows with `taskkill`, which never
/// sees the SQL password's variable either).
#[cfg_attr(not(windows), allow(unused_variables))]
async fn kill_tree(child: &mut Child, password_env: Option<&str>) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32))
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(windows)]
    if let Some(pid) = child.id() {
        let taskkill = crate::system_folder::system_program("taskkill.exe")
            .unwrap_or_else(|| "taskkill.exe".into());
        let mut command = Command::new(taskkill);
        command.args(["/T", "/F", "/PID", &pid.to_string()]);
        without_password(&mut command, password_env);
        let _ = command.status().await;
    }
    let _ = child.kill().await;
}

/// Keeps the SQL password's environment variable from a process pcdr starts.
fn without_password(command: &mut Command, password_env: Option<&str>) {
    if let Some(name) = password_env {
        command.env_remove(name);
    }
}

/// Reads `PoolState` from `Get-CsPersistentChatState`'s JSON: a name, or the enum's
/// number (Windows PowerShell 5.1 writes enums as numbers).
fn parse_pool_state(json: &str) -> PlaneResult<PoolState> {
    let value: serde_json::Value = serde_json::from_str(json.trim()).map_err(|e| {
        PlaneError::Unexpected(format!(
            "Get-CsPersistentChatState printed no JSON ({e}): {json}"
        ))
    })?;
    let object = match &value {
        serde_json::Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    match object.get("PoolState") {
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("Normal") => {
            Ok(PoolState::Normal)
        }
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("FailedOver") => {
            Ok(PoolState::FailedOver)
        }
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(0) => Ok(PoolState::Normal),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => Ok(PoolState::FailedOver),
        _ => Err(PlaneError::Unexpected(format!(
            "Get-CsPersistentChatState printed no PoolState: {json}"
        ))),
    }
}

#[async_trait]
impl ChatPoolPlane for ManagementShell {
    async fn pool_state(&self) -> PlaneResult<PoolState> {
        parse_pool_state(&self.run(&commands::get_pool_state(&self.identity)).await?)
    }

    async fn set_pool_state(&self, state: PoolState) -> PlaneResult<()> {
        self.run(&commands::set_pool_state(&self.identity, state))
            .await
            .map(|_| ())
    }

    async fn active_servers(&self) -> PlaneResult<Option<Vec<String>>> {
        Ok(None)
    }

    async fn set_active_servers(&self, servers: &[String]) -> PlaneResult<()> {
        self.run(&commands::set_active_servers(&self.identity, servers))
            .await
            .map(|_| ())
    }

    async fn install_mirror(&self, request: &MirrorRequest) -> PlaneResult<()> {
        self.run(&commands::install_mirror(request))
            .await
            .map(|_| ())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn shell(program: &str, args: &[&str], timeout_secs: u64) -> ManagementShell {
        ManagementShell {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            module: "SkypeForBusiness".into(),
            timeout: Duration::from_secs(timeout_secs),
            identity: "service:pchat.contoso.com".into(),
            password_env: None,
        }
    }

    #[tokio::test]
    async fn the_sql_password_variable_is_kept_from_the_shell() {
        const NAME: &str = "PCDR_SHELL_TEST_SQL_PASSWORD";
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var(NAME, "s3cret") };
        let echo = format!("printf '%s' \"${{{NAME}:-absent}}\"");
        let mut shell = shell("sh", &["-c", &echo], 10);
        let script = commands::get_pool_state("service:pchat.contoso.com");
        assert_eq!(
            shell.run(&script).await.unwrap(),
            "s3cret",
            "inherited by default"
        );
        shell.password_env = Some(NAME.into());
        assert_eq!(shell.run(&script).await.unwrap(), "absent");
    }

    #[test]
    fn pool_state_reads_names_and_numbers() {
        assert_eq!(
            parse_pool_state(r#"{"Identity":"x","PoolState":"FailedOver"}"#).unwrap(),
            PoolState::FailedOver
        );
        assert_eq!(
            parse_pool_state(r#"[{"PoolState":0}]"#).unwrap(),
            PoolState::Normal
        );
        assert!(parse_pool_state("").is_err());
        assert!(parse_pool_state(r#"{"PoolState":"Sideways"}"#).is_err());
    }

    #[tokio::test]
    async fn the_script_arrives_as_one_argument_and_stdout_is_read() {
        // `sh -c 'printf ...' <script>`: the script lands in $0 and is echoed back.
        let out = shell("sh", &["-c", "printf '%s' \"$0\""], 10)
            .run(&commands::get_pool_state("service:p'q"))
            .await
            .unwrap();
        assert_eq!(
            out,
            "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Get-CsPersistentChatState -Identity 'service:p''q' | ConvertTo-Json -Compress"
        );
    }

    #[tokio::test]
    async fn stderr_or_a_failing_exit_is_an_error_naming_the_cmdlet() {
        let err = shell("sh", &["-c", "echo 'Cannot find pool' >&2; exit 1"], 10)
            .set_pool_state(PoolState::Normal)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            shell_error("Set-CsPersistentChatState", "Cannot find pool")
        );
        let err = shell("sh", &["-c", "exit 3"], 10)
            .pool_state()
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Get-CsPersistentChatState failed: the shell exited with"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_hanging_shell_is_killed_with_its_children() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let path = marker.path().to_string_lossy().into_owned();
        let script = format!("(sleep 2; echo alive > '{path}') & sleep 30");
        let started = std::time::Instant::now();
        let err = shell("sh", &["-c", &script], 1)
            .pool_state()
            .await
            .unwrap_err();
        assert!(
            matches!(err, PlaneError::Timeout { secs: 1, .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "",
            "the grandchild was killed too"
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_unreachable() {
        let err = shell("/nonexistent/powershell", &[], 10)
            .pool_state()
            .await
            .unwrap_err();
        assert!(matches!(err, PlaneError::Unreachable { .. }), "{err:?}");
    }
}
