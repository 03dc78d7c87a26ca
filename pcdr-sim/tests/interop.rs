//! Independent clients against a served world: FreeTDS `tsql` (Debian's freetds-bin)
//! and pymssql (Debian's python3-pymssql, under `/usr/bin/python3`), each run as a
//! subprocess against the backup instance, with encryption required and the world's
//! certificate authority trusted, as against a production instance.
//!
//! The clients are not Rust dependencies: `scripts/install-interop` installs them. When
//! they are missing these tests fail (they never pass silently) and say so.
//!
//! The world is the default shape, spelled out: four log backups of `mgc`, the newest
//! not yet copied and the two newest not yet restored on the backup instance. So the
//! newest `mgc_*.trn` in the share begins where the third ends, after the secondary's
//! restore point (the end of the second): restoring it is deterministically error 4305,
//! and nothing changes the world between the checks (no clock is running).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use pcdr_sim::serve::{ServeOptions, ServingWorld, ShellLauncher, serve};
use pcdr_sim::world::certs::CertificateAuthority;
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::{World, WorldOptions};
use serde_json::Value as Json;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The system Python; `python3` on PATH may be a pyenv shim without Debian's pymssql.
const PYTHON: &str = "/usr/bin/python3";
/// Upper bound for one client run.
const CLIENT_LIMIT: Duration = Duration::from_secs(60);
/// What to do when a client is missing.
const INSTALL_HINT: &str =
    "run scripts/install-interop (as root) to install freetds-bin and python3-pymssql";
/// The databases of the backup instance and the state each is in, as
/// `sys.databases.state_desc` says (mgc is the log-shipping secondary, restoring).
const BACKUP_DATABASES: [(&str, &str); 4] = [
    ("master", "ONLINE"),
    ("msdb", "ONLINE"),
    ("mgc", "RESTORING"),
    ("mgccomp", "ONLINE"),
];

/// A served world that lives as long as the test.
struct Sim {
    dir: TempDir,
    serving: ServingWorld,
    password: String,
}

impl Sim {
    async fn start() -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = WorldOptions {
            logs: 4,
            uncopied: 1,
            unrestored: 2,
            ..WorldOptions::default()
        };
        let world = World::create(dir.path(), &options).expect("create world");
        let password = world.password().expect("password file");
        let serve_options = ServeOptions {
            shell: ShellLauncher::pcdr("/usr/local/bin/pcdr"),
            minute_every: None,
            force_encryption: true,
        };
        let serving = serve(dir.path(), &serve_options).await.expect("serve");
        Sim {
            dir,
            serving,
            password,
        }
    }

    /// Host and port of the backup instance.
    fn backup(&self) -> (String, u16) {
        let addr = self
            .serving
            .addr(InstanceId::Backup)
            .expect("the backup instance is served");
        (addr.ip().to_string(), addr.port())
    }

    /// The backup instance's lines of `statements.log`: (session, text).
    fn backup_statements(&self) -> Vec<(u64, String)> {
        let path = self.serving.world().statements_log();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str::<Json>(line).expect("statements.log is JSON lines"))
            .filter(|line| line["instance"] == InstanceId::Backup.name())
            .map(|line| {
                let session = line["session"].as_u64().expect("session number");
                let text = line["text"].as_str().expect("statement text").to_owned();
                (session, text)
            })
            .collect()
    }

    /// The newest `mgc` log backup in the share (names end in `yyyyMMddHHmmss.trn`).
    fn newest_mgc_log(&self) -> PathBuf {
        let share = self.dir.path().join("share");
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&share)
            .expect("share folder")
            .map(|entry| entry.expect("share entry").path())
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("mgc_") && n.ends_with(".trn"))
            })
            .collect();
        logs.sort();
        logs.pop().expect("the share holds mgc log backups")
    }
}

/// Fails (never skips) when a client is missing.
async fn require_clients() {
    let tsql = Command::new("tsql")
        .arg("-C")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    assert!(
        tsql.is_ok_and(|s| s.success()),
        "FreeTDS tsql is not installed: {INSTALL_HINT}"
    );
    let pymssql = Command::new(PYTHON)
        .args(["-c", "import pymssql"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    assert!(
        pymssql.is_ok_and(|s| s.success()),
        "{PYTHON} cannot import pymssql: {INSTALL_HINT}"
    );
}

/// Runs `command` with `stdin` as its input, within [`CLIENT_LIMIT`].
async fn run(mut command: Command, stdin: &str) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start the client");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    tokio::time::timeout(CLIENT_LIMIT, child.wait_with_output())
        .await
        .expect("the client finished in time")
        .expect("the client ran")
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A `freetds.conf` in the world folder that requires encryption and trusts the world's
/// certificate authority (FreeTDS then checks the instance's certificate and its name);
/// the clients read it through `FREETDSCONF`, so no freetds.conf of the machine or the
/// user's applies.
fn freetds_conf(sim: &Sim) -> PathBuf {
    freetds_conf_trusting(sim, &sim.serving.world().ca_file())
}

/// A `freetds.conf` that requires encryption and trusts the authority in `ca` alone.
fn freetds_conf_trusting(sim: &Sim, ca: &Path) -> PathBuf {
    let path = sim.dir.path().join("freetds.conf");
    let conf = format!(
        "[global]\n\ttds version = 7.4\n\tencryption = require\n\tca file = {}\n",
        ca.display()
    );
    std::fs::write(&path, conf).expect("write freetds.conf");
    path
}

/// `TDSVER=7.4 tsql -H host -p port -U pcdr -P password` with `sql` on stdin, from an
/// empty folder with no locales of the user's, encryption required ([`freetds_conf`]).
async fn tsql(sim: &Sim, password: &str, sql: &str) -> Output {
    tsql_with(sim, &freetds_conf(sim), password, sql).await
}

/// [`tsql`] reading the FreeTDS configuration `conf`.
async fn tsql_with(sim: &Sim, conf: &Path, password: &str, sql: &str) -> Output {
    let (host, port) = sim.backup();
    let mut command = Command::new("tsql");
    command
        .args([
            "-H",
            &host,
            "-p",
            &port.to_string(),
            "-U",
            "pcdr",
            "-P",
            password,
        ])
        .env("TDSVER", "7.4")
        .env_remove("TDSDUMP")
        .env("FREETDSCONF", conf)
        .current_dir(sim.dir.path());
    run(command, sql).await
}

/// Whether `line` of tsql's output is the row `name<TAB>state`.
fn is_row(line: &str, name: &str, state: &str) -> bool {
    let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
    cells == [name, state]
}

#[tokio::test(flavor = "multi_thread")]
async fn freetds_tsql_lists_the_databases_and_refuses_a_wrong_password() {
    require_clients().await;
    let sim = Sim::start().await;

    let output = tsql(
        &sim,
        &sim.password,
        "SELECT name, state_desc FROM sys.databases\ngo\nexit\n",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tsql failed: {}",
        describe(&output)
    );
    for (name, state) in BACKUP_DATABASES {
        assert!(
            stdout.lines().any(|line| is_row(line, name, state)),
            "tsql did not print the row {name} {state}: {}",
            describe(&output)
        );
        println!("ok: tsql SELECT name, state_desc FROM sys.databases -> {name} {state}");
    }
    assert!(
        stdout.contains(&format!("({} rows affected)", BACKUP_DATABASES.len() + 2)),
        "tsql did not print six rows (with model and tempdb): {}",
        describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).trim().is_empty(),
        "tsql printed an error or warning: {}",
        describe(&output)
    );

    // FreeTDS sends `select @@spid` after login only when the packet header's SPID is
    // 0; the session it used is the one the engine logged.
    let statements = sim.backup_statements();
    assert!(!statements.is_empty(), "tsql's batch is in statements.log");
    let sessions: Vec<u64> = statements.iter().map(|(s, _)| *s).collect();
    assert!(
        sessions.iter().all(|s| *s == sessions[0] && *s >= 51),
        "one user session: {statements:?}"
    );
    assert!(
        !statements
            .iter()
            .any(|(_, text)| text.to_ascii_lowercase().contains("@@spid")),
        "FreeTDS asked for @@spid, so it found no SPID in the packet header: {statements:?}"
    );
    println!(
        "ok: tsql used session {} from the packet header (it sent no select @@spid)",
        sessions[0]
    );

    let wrong = tsql(
        &sim,
        "not-the-password",
        "SELECT name FROM sys.databases\ngo\nexit\n",
    )
    .await;
    let text = describe(&wrong);
    assert!(
        !wrong.status.success(),
        "a wrong password logged in: {text}"
    );
    assert!(
        text.contains("Msg 18456") && text.contains("Login failed for user 'pcdr'"),
        "tsql did not report the login failure: {text}"
    );
    assert!(
        !String::from_utf8_lossy(&wrong.stdout).contains("master"),
        "rows after a failed login: {text}"
    );
    println!(
        "ok: tsql with a wrong password -> Msg 18456 Login failed for user 'pcdr', exit failure"
    );
}

/// FreeTDS checks the instance's certificate: trusting another authority than the
/// world's, it does not log in, and nothing reaches the engine.
#[tokio::test(flavor = "multi_thread")]
async fn freetds_tsql_refuses_an_instance_whose_certificate_it_does_not_trust() {
    require_clients().await;
    let sim = Sim::start().await;
    let other = sim.dir.path().join("other-ca.pem");
    let authority = CertificateAuthority::new("another CA").expect("an authority");
    std::fs::write(&other, authority.cert_pem()).expect("write the other CA");
    let conf = freetds_conf_trusting(&sim, &other);
    let output = tsql_with(
        &sim,
        &conf,
        &sim.password,
        "SELECT name FROM sys.databases\ngo\nexit\n",
    )
    .await;
    let text = describe(&output);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("master"),
        "tsql listed databases through an untrusted certificate: {text}"
    );
    assert!(
        text.contains("problem connecting"),
        "tsql did not report the failed connection: {text}"
    );
    assert!(
        sim.backup_statements().is_empty(),
        "a statement ran: {text}"
    );
    println!("ok: tsql trusting another authority -> no connection, no statement");
}

#[tokio::test(flavor = "multi_thread")]
async fn pymssql_lists_the_databases_and_gets_4305_as_operational_error() {
    require_clients().await;
    let sim = Sim::start().await;
    let (host, port) = sim.backup();
    let too_recent = sim.newest_mgc_log();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pymssql_check.py");

    let mut command = Command::new(PYTHON);
    command
        .arg(&script)
        .args([&host, &port.to_string(), &sim.password])
        .arg(&too_recent)
        .env("TDSVER", "7.4")
        .env_remove("TDSDUMP")
        .env("FREETDSCONF", freetds_conf(&sim))
        .current_dir(sim.dir.path());
    let output = run(command, "").await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the pymssql checks failed: {}",
        describe(&output)
    );
    print!("{stdout}");

    for (name, state) in BACKUP_DATABASES {
        assert!(
            stdout.contains(&format!("{name}={state}")),
            "pymssql did not return {name} {state}: {}",
            describe(&output)
        );
    }
    for expected in [
        "ok: RESTORE LOG of the too recent backup -> OperationalError 4305",
        "ok: autocommit off, @@TRANCOUNT 1, RESTORE LOG -> OperationalError 3021",
        "ok: wrong password -> OperationalError 18456 (login failed)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?}: {}",
            describe(&output)
        );
    }

    // `select @@spid` answered the SPID of the session that sent it, which is the one
    // in every packet header the server wrote for that session.
    let spid: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("spid: "))
        .expect("the script prints its spid")
        .trim()
        .parse()
        .expect("a number");
    let statements = sim.backup_statements();
    let asked: Vec<u64> = statements
        .iter()
        .filter(|(_, text)| text == "select @@spid")
        .map(|(session, _)| *session)
        .collect();
    assert_eq!(
        asked,
        [spid],
        "the session that asked @@spid: {statements:?}"
    );
    println!("ok: select @@spid answered {spid}, the session (and header) SPID that asked");

    // What pymssql sends on its own: its SET list and `use [master]` after login, and
    // `BEGIN TRAN` when autocommit is off (as the checks' 3021 shows).
    for sent in ["SET ARITHABORT ON;", "use [master]", "BEGIN TRAN"] {
        assert!(
            statements.iter().any(|(_, text)| text.starts_with(sent)),
            "pymssql's {sent:?} is not in statements.log: {statements:?}"
        );
    }
    println!("ok: pymssql's SET list, use [master] and BEGIN TRAN were accepted");
}
