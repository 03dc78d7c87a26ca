//! The chat-pool plane through the Skype for Business Management Shell.
//!
//! Each call runs `shell.program shell.args -EncodedCommand <script>` where the script
//! (built by [`commands::shell::script`](crate::commands::shell::script)) imports the
//! module, sets `$ErrorActionPreference = 'Stop'` and pipes the cmdlet into
//! `ConvertTo-Json`. Every value in it is a single-quoted literal. The script travels as
//! the Base64 of its UTF-16LE text, as `-EncodedCommand` takes it
//! (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe#-encodedcommand-base64encodedcommand>):
//! no command-line quoting layer (the C runtime's argument rules, then PowerShell's own
//! reading of `-Command` text) stands between the script pcdr built and the one
//! PowerShell runs. Past `shell.timeout_secs` (for
//! `Install-CsMirrorDatabase`, which backs the whole database up and restores it on the
//! mirror, `shell.mirror_timeout_secs`) the whole process tree is killed.
//!
//! # Errors and warnings
//!
//! `$ErrorActionPreference = 'Stop'` turns every error into a terminating one, which
//! ends the script and makes `powershell.exe` exit with 1
//! (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_preference_variables>,
//! <https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe>).
//! So a call failed when the shell exits non-zero, or, to be safe, when stderr holds an
//! error record (its `FullyQualifiedErrorId` line) whatever the exit code; the error
//! names the cmdlet and carries stderr. Anything else on stderr after exit code 0 is a
//! warning (`Write-Warning`, which is not the error stream:
//! <https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_output_streams>),
//! as is a `WARNING: ` line the host wrote among the output. Warnings are logged with
//! `tracing::warn!` and handed to the run through [`ChatPoolPlane::take_warnings`],
//! which reports them as notes. The shell never holds the SQL password (its variable is
//! removed from the shell's environment), so no warning can carry it.
//!
//! The product offers no documented way to read the active servers back, so
//! [`ChatPoolPlane::active_servers`] answers `None` (unknown).

use crate::commands::shell::{self as commands, ShellCommand, script};
use crate::error::{PlaneError, PlaneResult};
use crate::planes::{ChatPoolPlane, MirrorRequest, PoolState};
use crate::topology::{PasswordSource, Topology};
use async_trait::async_trait;
use base64::Engine as _;
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The Management Shell, as the topology's `[shell]` section runs it.
#[derive(Debug)]
pub struct ManagementShell {
    program: String,
    args: Vec<String>,
    module: String,
    timeout: Duration,
    /// The limit of `Install-CsMirrorDatabase`.
    mirror_timeout: Duration,
    /// The `-Identity` of the pool-state cmdlets (an `XdsIdentity`).
    state_identity: String,
    /// The `-Identity` of `Set-CsPersistentChatActiveServer` (an
    /// `XdsGlobalRelativeIdentity`).
    active_servers_identity: String,
    /// The environment variable holding the SQL password, kept from the shell's
    /// environment: PowerShell and everything it starts need no SQL password.
    password_env: Option<String>,
    /// Warnings of successful calls not yet taken by [`ChatPoolPlane::take_warnings`].
    warnings: Mutex<Vec<String>>,
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
            mirror_timeout: Duration::from_secs(topology.shell.mirror_timeout_secs),
            state_identity: topology.pool.state_identity.clone(),
            active_servers_identity: topology.pool.active_servers_identity.clone(),
            password_env: match &topology.sql.password {
                PasswordSource::Env(name) => Some(name.clone()),
                PasswordSource::None | PasswordSource::File(_) => None,
            },
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// How long `command` may run.
    fn limit(&self, command: &ShellCommand) -> Duration {
        if command.cmdlet == commands::INSTALL_MIRROR {
            self.mirror_timeout
        } else {
            self.timeout
        }
    }

    /// Runs one cmdlet and returns what it printed on stdout (JSON, or nothing), without
    /// the warnings, which it keeps for [`ChatPoolPlane::take_warnings`].
    async fn run(&self, command: &ShellCommand) -> PlaneResult<String> {
        let cmdlet = command.cmdlet;
        tracing::debug!(cmdlet, line = %command, "running");
        let limit = self.limit(command);
        let mut child = self.spawn(&script(&self.module, command))?;
        let output = match tokio::time::timeout(limit, collect(&mut child)).await {
            Ok(output) => output.map_err(|e| shell_error(cmdlet, &e.to_string()))?,
            Err(_) => {
                kill_tree(&mut child, self.password_env.as_deref()).await;
                return Err(PlaneError::Timeout {
                    what: format!("{cmdlet} (the shell's process tree was killed)"),
                    secs: limit.as_secs(),
                });
            }
        };
        if let Some(message) = failure(&output) {
            return Err(shell_error(cmdlet, &message));
        }
        let (stdout, warnings) = split_warnings(&output.stdout, &output.stderr);
        self.keep_warnings(cmdlet, warnings);
        Ok(stdout)
    }

    /// Logs each warning of `cmdlet` and keeps it for the run.
    fn keep_warnings(&self, cmdlet: &str, warnings: Vec<String>) {
        let mut kept = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
        for warning in warnings {
            tracing::warn!(cmdlet, warning = %warning, "the Management Shell warned");
            kept.push(format!("{cmdlet} succeeded with a warning: {warning}"));
        }
    }

    fn spawn(&self, script: &str) -> PlaneResult<Child> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .args([ENCODED_COMMAND, &encoded(script)])
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

/// The switch that takes the script as Base64.
const ENCODED_COMMAND: &str = "-EncodedCommand";

/// `script` as `-EncodedCommand` takes it: the Base64 of its UTF-16LE text.
fn encoded(script: &str) -> String {
    let utf16le: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(utf16le)
}

fn shell_error(cmdlet: &str, message: &str) -> PlaneError {
    PlaneError::Shell {
        cmdlet: cmdlet.to_string(),
        message: message.to_string(),
    }
}

/// Why the script failed, if it did: a non-zero exit, or an error record on stderr.
fn failure(output: &Output) -> Option<String> {
    let stderr = output.stderr.trim();
    if output.status.success() && !stderr.contains(ERROR_RECORD) {
        return None;
    }
    Some(if stderr.is_empty() {
        format!("the shell exited with {}", output.status)
    } else {
        stderr.to_string()
    })
}

/// The line every error record PowerShell writes ends with, and no warning has.
const ERROR_RECORD: &str = "FullyQualifiedErrorId";

/// What `Write-Warning` puts before its message.
const WARNING_PREFIX: &str = "WARNING: ";

/// Splits a successful script's output into stdout without the host's `WARNING: ` lines,
/// and the warnings: those lines, then stderr, one warning per `WARNING: ` line (a line
/// without the prefix continues the warning before it).
fn split_warnings(stdout: &str, stderr: &str) -> (String, Vec<String>) {
    let (warned, output): (Vec<&str>, Vec<&str>) = stdout
        .lines()
        .partition(|line| line.starts_with(WARNING_PREFIX));
    let mut warnings: Vec<String> = warned
        .iter()
        .map(|line| line[WARNING_PREFIX.len()..].trim().to_string())
        .collect();
    let mut from_stderr: Vec<String> = Vec::new();
    for line in stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        match (line.strip_prefix(WARNING_PREFIX), from_stderr.last_mut()) {
            (None, Some(last)) => {
                last.push(' ');
                last.push_str(line);
            }
            (Some(text), _) => from_stderr.push(text.to_string()),
            (None, None) => from_stderr.push(line.to_string()),
        }
    }
    warnings.extend(from_stderr);
    (output.join("\n"), warnings)
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
        let command = commands::get_pool_state(&self.state_identity);
        parse_pool_state(&self.run(&command).await?)
    }

    async fn set_pool_state(&self, state: PoolState) -> PlaneResult<()> {
        self.run(&commands::set_pool_state(&self.state_identity, state))
            .await
            .map(|_| ())
    }

    async fn active_servers(&self) -> PlaneResult<Option<Vec<String>>> {
        Ok(None)
    }

    async fn set_active_servers(&self, servers: &[String]) -> PlaneResult<()> {
        self.run(&commands::set_active_servers(
            &self.active_servers_identity,
            servers,
        ))
        .await
        .map(|_| ())
    }

    async fn install_mirror(&self, request: &MirrorRequest) -> PlaneResult<()> {
        self.run(&commands::install_mirror(request))
            .await
            .map(|_| ())
    }

    fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(PoisonError::into_inner))
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
            mirror_timeout: Duration::from_secs(timeout_secs),
            state_identity: "service:PersistentChatServer:pchat.contoso.com".into(),
            active_servers_identity: "PersistentChatServer:pchat.contoso.com".into(),
            password_env: None,
            warnings: Mutex::new(Vec::new()),
        }
    }

    fn mirror_request() -> MirrorRequest {
        MirrorRequest {
            database: crate::planes::ChatDatabase::PersistentChat,
            sql_server_fqdn: "sql-dal.contoso.com".into(),
            sql_instance: None,
            file_share: r"\\fs01\pchat-logs".into(),
        }
    }

    /// `sh -c '<body>' -EncodedCommand <base64>`: the switch lands in `$0`, the encoded
    /// script in `$1`.
    fn echoing(body: &str) -> ManagementShell {
        shell("sh", &["-c", body], 10)
    }

    /// The script `-EncodedCommand` carries in `base64`.
    fn decoded(base64: &str) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(base64.trim())
            .unwrap();
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    }

    /// `Get-`/`Set-CsPersistentChatState` take an `XdsIdentity`,
    /// `Set-CsPersistentChatActiveServer` an `XdsGlobalRelativeIdentity`: each call sends
    /// its own topology setting.
    #[tokio::test]
    async fn each_cmdlet_gets_the_identity_of_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("scripts");
        let body = format!("printf '%s\\n' \"$1\" >> '{}'", log.display());
        let shell = echoing(&body);
        shell.set_pool_state(PoolState::FailedOver).await.unwrap();
        shell.set_active_servers(&[]).await.unwrap();
        let scripts = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<String> = scripts.lines().map(decoded).collect();
        assert!(
            lines[0].contains("Set-CsPersistentChatState -Identity 'service:PersistentChatServer:pchat.contoso.com'"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com'"),
            "{}",
            lines[1]
        );
    }

    /// `Install-CsMirrorDatabase` copies the whole database, so it runs under
    /// `shell.mirror_timeout_secs`; every other cmdlet under `shell.timeout_secs`.
    #[tokio::test]
    async fn install_mirror_alone_gets_the_longer_limit() {
        let mut slow = shell("sh", &["-c", "sleep 2"], 1);
        slow.mirror_timeout = Duration::from_secs(20);
        slow.install_mirror(&mirror_request()).await.unwrap();
        let err = slow.set_pool_state(PoolState::Normal).await.unwrap_err();
        assert!(
            matches!(err, PlaneError::Timeout { secs: 1, .. }),
            "{err:?}"
        );
        slow.mirror_timeout = Duration::from_secs(1);
        let err = slow.install_mirror(&mirror_request()).await.unwrap_err();
        assert!(
            matches!(&err, PlaneError::Timeout { secs: 1, what } if what.starts_with("Install-CsMirrorDatabase")),
            "{err:?}"
        );
    }

    /// Exit code 0 and no error record: stderr holds warnings (`Write-Warning`), the call
    /// succeeded, and each warning is handed over once.
    #[tokio::test]
    async fn warnings_on_stderr_after_exit_0_are_warnings_not_errors() {
        let warns = echoing(
            "echo 'WARNING: The mirror is slow to' >&2; echo '  catch up.' >&2; echo 'WARNING: Second.' >&2",
        );
        warns.install_mirror(&mirror_request()).await.unwrap();
        assert_eq!(
            warns.take_warnings(),
            [
                "Install-CsMirrorDatabase succeeded with a warning: The mirror is slow to catch up.",
                "Install-CsMirrorDatabase succeeded with a warning: Second.",
            ]
        );
        assert!(
            warns.take_warnings().is_empty(),
            "each warning is taken once"
        );
    }

    /// The console host may write a warning among the output instead: it is taken out
    /// before the JSON is read.
    #[tokio::test]
    async fn a_warning_line_among_the_output_is_a_warning_too() {
        let warns = echoing("printf 'WARNING: Stale replica.\\n{\"PoolState\":\"FailedOver\"}\\n'");
        assert_eq!(warns.pool_state().await.unwrap(), PoolState::FailedOver);
        assert_eq!(
            warns.take_warnings(),
            ["Get-CsPersistentChatState succeeded with a warning: Stale replica."]
        );
    }

    /// An error record on stderr is an error even if the shell exited with 0.
    #[tokio::test]
    async fn an_error_record_is_an_error_whatever_the_exit_code() {
        let record = "Set-CsPersistentChatState : Cannot find pool\n    + FullyQualifiedErrorId : IdentityNotFound";
        let fails = echoing(&format!("printf '{record}' >&2; exit 0"));
        let err = fails.set_pool_state(PoolState::Normal).await.unwrap_err();
        assert!(err.to_string().contains("FullyQualifiedErrorId"), "{err}");
        assert!(fails.take_warnings().is_empty());
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

    /// The script follows the configured switches as `-EncodedCommand` and the Base64 of
    /// its UTF-16LE text, quotes and all; stdout is read back.
    #[tokio::test]
    async fn the_script_arrives_encoded_after_the_configured_args_and_stdout_is_read() {
        let out = echoing("printf '%s %s' \"$0\" \"$1\"")
            .run(&commands::get_pool_state("service:p'q\"r"))
            .await
            .unwrap();
        let (switch, script) = out.split_once(' ').unwrap();
        assert_eq!(switch, "-EncodedCommand");
        assert_eq!(
            decoded(script),
            "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; Get-CsPersistentChatState -Identity 'service:p''q\"r' | ConvertTo-Json -Compress"
        );
    }

    /// The script of the documented `-EncodedCommand` example, `dir "c:\program files" `,
    /// as `[Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($command))` encodes
    /// it there
    /// (<https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe#-encodedcommand-base64encodedcommand>).
    #[test]
    fn the_script_is_encoded_as_powershell_documents() {
        assert_eq!(
            encoded("dir \"c:\\program files\" "),
            "ZABpAHIAIAAiAGMAOgBcAHAAcgBvAGcAcgBhAG0AIABmAGkAbABlAHMAIgAgAA=="
        );
    }

    #[tokio::test]
    async fn a_failing_exit_is_an_error_naming_the_cmdlet() {
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
