//! The SQL password never leaks (issue 9, section 5).
//!
//! A world is served with a distinctive password (in `DIR/sql-password`). Then the real
//! `pcdr` binary runs, at `-vv`: `plan` (text, JSON, offline), `status` (text, JSON), a
//! failover that fails on an injected fault, its resume (`--json`), failback (`--json`),
//! a login with a wrong password, and the drill; the drill's pieces also run in-process
//! with a debug-level log captured. Every output (stdout, stderr), every journal and
//! report, the server's log, `DIR/statements.log` and every other file the runs left
//! are searched for the password: as text, as UTF-16 (how TDS carries it), as LOGIN7's
//! scrambled bytes (nibble-swapped, XOR 0xA5), and as hex of each. None may hold it.
//! In-process, `format!("{:?}")` of the topology and its password, and the plan JSON,
//! are searched too.

#[allow(dead_code)] // each test binary uses its own part of the helpers
mod cli_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pcdr_core::procedure::{Event, Observer};
use pcdr_core::topology::Topology;
use pcdr_sim::drill::{DrillOptions, Scenario};
use pcdr_sim::serve::ShellLauncher;
use pcdr_sim::world::{World, WorldOptions};

/// Distinctive, with characters that quoting or escaping might transform.
const PASSWORD: &str = "Pw-9f3kQ'\"x%$Zq!é";
/// A wrong password, which must not leak either when the login fails.
const WRONG_PASSWORD: &str = "Wrong-7yTq'\"b%$Kv!ü";
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// Every form in which a password could appear in text or bytes.
fn encodings(password: &str) -> Vec<(String, Vec<u8>)> {
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let scrambled: Vec<u8> = utf16.iter().map(|b| b.rotate_left(4) ^ 0xA5).collect();
    let hex = |bytes: &[u8], upper: bool| -> Vec<u8> {
        bytes
            .iter()
            .map(|b| {
                if upper {
                    format!("{b:02X}")
                } else {
                    format!("{b:02x}")
                }
            })
            .collect::<String>()
            .into_bytes()
    };
    let spaced_hex: Vec<u8> = scrambled
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes();
    let json_escaped = serde_json::to_string(password).unwrap();
    let debug_escaped = format!("{password:?}");
    vec![
        ("text".into(), password.as_bytes().to_vec()),
        (
            "text, JSON-escaped".into(),
            json_escaped.as_bytes()[1..json_escaped.len() - 1].to_vec(),
        ),
        (
            "text, Debug-escaped".into(),
            debug_escaped.as_bytes()[1..debug_escaped.len() - 1].to_vec(),
        ),
        ("UTF-16LE".into(), utf16.clone()),
        ("LOGIN7-scrambled".into(), scrambled.clone()),
        ("UTF-16LE as hex".into(), hex(&utf16, false)),
        ("UTF-16LE as HEX".into(), hex(&utf16, true)),
        ("LOGIN7-scrambled as hex".into(), hex(&scrambled, false)),
        ("LOGIN7-scrambled as HEX".into(), hex(&scrambled, true)),
        ("LOGIN7-scrambled as spaced hex".into(), spaced_hex),
        (
            "LOGIN7-scrambled as a byte list".into(),
            format!("{scrambled:?}").into_bytes(),
        ),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Collects what was searched and what leaked.
#[derive(Default)]
struct Search {
    searched: Vec<String>,
    leaks: Vec<String>,
}

impl Search {
    fn check(&mut self, what: &str, bytes: &[u8], passwords: &[&str]) {
        self.searched
            .push(format!("{what} ({} bytes)", bytes.len()));
        for password in passwords {
            for (form, needle) in encodings(password) {
                if contains(bytes, &needle) {
                    self.leaks
                        .push(format!("{what} holds the password {password:?} ({form})"));
                }
            }
        }
    }

    /// Every file under `dir`, except the password files themselves.
    fn check_tree(&mut self, dir: &Path, passwords: &[&str]) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                self.check_tree(&path, passwords);
            } else if is_password_file(&path) {
                continue;
            } else if let Ok(bytes) = std::fs::read(&path) {
                self.check(&path.display().to_string(), &bytes, passwords);
            }
        }
    }

    #[track_caller]
    fn assert_clean(&self) {
        assert!(!self.searched.is_empty());
        println!("searched:\n{}", self.searched.join("\n"));
        assert!(
            self.leaks.is_empty(),
            "the password leaked:\n{}\n\nsearched:\n{}",
            self.leaks.join("\n"),
            self.searched.join("\n")
        );
    }
}

/// The files that are meant to hold a password: the world's login and the wrong one.
fn is_password_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == "sql-password" || name == "wrong-password")
}

/// What a finished `pcdr` run printed.
struct Out {
    line: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn pcdr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcdr"))
}

fn run_in(dir: &Path, args: &[&str]) -> Out {
    let line = format!("pcdr {}", args.join(" "));
    let mut child = pcdr()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + COMMAND_LIMIT;
    let code = loop {
        match child.try_wait().unwrap() {
            Some(status) => break status.code(),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{line}` did not finish within {COMMAND_LIMIT:?}");
            }
        }
    };
    Out {
        line,
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

impl Out {
    #[track_caller]
    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "`{}`\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// `pcdr sim serve --dir DIR` until dropped.
struct Served {
    child: Child,
    topology: PathBuf,
}

impl Served {
    fn start(dir: &Path, log: &Path) -> Self {
        let mut child = pcdr()
            .args(["-vv", "sim", "serve", "--dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .expect("start pcdr sim serve");
        let stdout = child.stdout.take().unwrap();
        let first = cli_support::first_line(stdout, COMMAND_LIMIT).unwrap_or_default();
        let Some(topology) = first.trim_end().strip_prefix("READY ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pcdr sim serve printed {first:?}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        Served {
            topology: PathBuf::from(topology),
            child,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn the_password_appears_in_no_output_log_journal_report_or_statement_log() {
    let root = tempfile::Builder::new()
        .prefix("pcdr-secrets-")
        .tempdir()
        .unwrap();
    let root = root.path();
    let dir = root.join("world");
    let options = WorldOptions {
        password: Some(PASSWORD.into()),
        ..WorldOptions::default()
    };
    drop(World::create(&dir, &options).expect("create the world"));
    assert_eq!(
        std::fs::read_to_string(dir.join("sql-password"))
            .unwrap()
            .trim_end(),
        PASSWORD
    );
    let served = Served::start(&dir, &root.join("serve.log"));
    let topology = served.topology.clone();
    let t = s(&topology);
    let sim = |args: &[&str]| {
        let mut all = vec!["-vv", "sim", args[0], "--dir", s(&dir)];
        all.extend(&args[1..]);
        run_in(root, &all)
    };
    let failover_journal = root.join("failover.journal");
    let failback_journal = root.join("failback.journal");

    let mut outs = vec![
        // Refused while the primary answers, and the refusal is searched too.
        run_in(root, &["-vv", "plan", "failover", "--topology", t]).expect(3),
        run_in(
            root,
            &[
                "-vv",
                "plan",
                "failover",
                "--topology",
                t,
                "--allow-primary-reachable",
            ],
        )
        .expect(0),
        run_in(
            root,
            &["-vv", "plan", "failover", "--topology", t, "--json"],
        )
        .expect(3),
        run_in(
            root,
            &["-vv", "plan", "failback", "--topology", t, "--offline"],
        )
        .expect(0),
        run_in(root, &["-vv", "status", "--topology", t]).expect(0),
        run_in(root, &["-vv", "status", "--topology", t, "--json"]).expect(0),
        sim(&["traffic", "--messages", "3", "--log-backup"]).expect(0),
        sim(&["disaster", "--site", "primary"]).expect(0),
        run_in(
            root,
            &["-vv", "plan", "failover", "--topology", t, "--json"],
        )
        .expect(0),
        sim(&[
            "fault",
            "--fail-statement",
            "restore-log",
            "--error",
            "4305",
            "--on",
            "backup",
        ])
        .expect(0),
    ];
    // A failing run: the error message is searched too.
    let failed = run_in(
        root,
        &[
            "-vv",
            "failover",
            "--topology",
            t,
            "--yes",
            "--journal",
            s(&failover_journal),
        ],
    );
    assert_ne!(
        failed.code,
        Some(0),
        "the injected fault did not stop the run"
    );
    assert!(failed.stderr.contains("4305"), "{}", failed.stderr);
    outs.push(failed);
    outs.extend([
        sim(&["fault", "--clear"]).expect(0),
        run_in(
            root,
            &[
                "-vv",
                "failover",
                "--topology",
                t,
                "--yes",
                "--resume",
                "--json",
                "--journal",
                s(&failover_journal),
            ],
        )
        .expect(0),
        sim(&["verify", "--expect", "failed-over"]).expect(0),
        run_in(root, &["-vv", "status", "--topology", t, "--json"]).expect(0),
        sim(&["rebuild", "--site", "primary"]).expect(0),
        run_in(
            root,
            &[
                "-vv",
                "failback",
                "--topology",
                t,
                "--yes",
                "--json",
                "--journal",
                s(&failback_journal),
            ],
        )
        .expect(0),
        sim(&["verify", "--expect", "normal"]).expect(0),
    ]);

    // A login with the wrong password fails, naming neither password.
    let wrong_file = root.join("wrong-password");
    std::fs::write(&wrong_file, WRONG_PASSWORD).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = std::fs::read_to_string(&topology).unwrap();
    let wrong_topology = root.join("wrong.toml");
    let rewritten: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("password_file") {
                format!("password_file = {:?}", s(&wrong_file))
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        rewritten, text,
        "the topology names no password_file:\n{text}"
    );
    std::fs::write(&wrong_topology, rewritten).unwrap();
    let refused = run_in(root, &["-vv", "status", "--topology", s(&wrong_topology)]);
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("18456"),
        "the wrong password was not refused:\n{}\n{}",
        refused.stdout,
        refused.stderr
    );
    outs.push(refused);
    let refused = run_in(
        root,
        &[
            "-vv",
            "plan",
            "failover",
            "--topology",
            s(&wrong_topology),
            "--json",
        ],
    );
    outs.push(refused);

    // The whole drill through the binary; its world makes up its own password.
    let drill_dir = root.join("drill");
    let drill = run_in(root, &["-vv", "drill", "--dir", s(&drill_dir), "--json"]).expect(0);
    let drill_password = std::fs::read_to_string(drill_dir.join("sql-password"))
        .expect("the drill's password file")
        .trim_end()
        .to_owned();
    assert!(drill_password.len() >= 8, "{drill_password:?}");

    drop(served);
    let passwords = [PASSWORD, WRONG_PASSWORD];
    let mut search = Search::default();
    for out in &outs {
        search.check(
            &format!("stdout of `{}`", out.line),
            out.stdout.as_bytes(),
            &passwords,
        );
        search.check(
            &format!("stderr of `{}`", out.line),
            out.stderr.as_bytes(),
            &passwords,
        );
    }
    let statements = std::fs::read(dir.join("statements.log")).expect("statements.log");
    assert!(
        String::from_utf8_lossy(&statements).contains("RESTORE"),
        "the statement log recorded the runs"
    );
    for journal in [&failover_journal, &failback_journal] {
        assert!(journal.exists(), "{}", journal.display());
    }
    // The journals, their reports, the server's log, statements.log, the world's store.
    search.check_tree(root, &passwords);
    let drill_passwords = [drill_password.as_str()];
    search.check(
        "stdout of the drill",
        drill.stdout.as_bytes(),
        &drill_passwords,
    );
    search.check(
        "stderr of the drill",
        drill.stderr.as_bytes(),
        &drill_passwords,
    );
    search.check_tree(&drill_dir, &drill_passwords);

    // In-process: the topology's Debug, its password source, its TOML, the secret.
    let loaded = Topology::load(&topology).expect("the topology loads");
    search.check(
        "Debug of the topology",
        format!("{loaded:?}").as_bytes(),
        &passwords,
    );
    search.check(
        "the topology as TOML",
        loaded.to_toml_string().as_bytes(),
        &passwords,
    );
    let secret = loaded
        .sql
        .password
        .resolve()
        .expect("the password file reads")
        .expect("a password");
    assert_eq!(secret.expose(), PASSWORD);
    search.check(
        "Debug of the secret",
        format!("{secret:?}").as_bytes(),
        &passwords,
    );
    search.check(
        "Display of the secret",
        secret.to_string().as_bytes(),
        &passwords,
    );
    search.check(
        "the secret as JSON",
        serde_json::to_string(&secret).unwrap().as_bytes(),
        &passwords,
    );
    search.assert_clean();
}

/// Captures every progress event (as `Debug` and as JSON).
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        let mut seen = self.0.lock().unwrap();
        seen.push(format!("{event:?}"));
        seen.push(serde_json::to_string(event).unwrap_or_default());
    }
}

/// Everything `tracing` logs at debug level and above, in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_drill_in_process_leaks_the_password_nowhere() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let root = tempfile::Builder::new()
        .prefix("pcdr-secrets-drill-")
        .tempdir()
        .unwrap();
    let dir = root.path().join("world");
    let options = DrillOptions {
        dir: dir.clone(),
        scenario: Scenario::Disaster,
        world: WorldOptions {
            password: Some(PASSWORD.into()),
            ..WorldOptions::default()
        },
        shell: ShellLauncher::pcdr(env!("CARGO_BIN_EXE_pcdr")),
    };
    let recorder = Arc::new(Recorder::default());
    let report = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(pcdr_sim::drill::run(&options, recorder.clone()))
    });
    assert!(
        report.passed,
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let passwords = [PASSWORD];
    let mut search = Search::default();
    search.check(
        "the drill report as JSON",
        serde_json::to_string(&report).unwrap().as_bytes(),
        &passwords,
    );
    search.check(
        "the drill report's Debug",
        format!("{report:?}").as_bytes(),
        &passwords,
    );
    search.check(
        "every progress event",
        recorder.0.lock().unwrap().join("\n").as_bytes(),
        &passwords,
    );
    let logged = log.0.lock().unwrap().clone();
    assert!(!logged.is_empty(), "nothing was logged at debug level");
    search.check("the debug log", &logged, &passwords);
    search.check_tree(&dir, &passwords);
    search.assert_clean();
}

#[test]
fn the_search_finds_every_encoding_of_a_password() {
    for (form, needle) in encodings(PASSWORD) {
        let mut planted = b"before ".to_vec();
        planted.extend_from_slice(&needle);
        planted.extend_from_slice(b" after");
        let mut search = Search::default();
        search.check("a planted buffer", &planted, &[PASSWORD]);
        assert!(!search.leaks.is_empty(), "{form} went unnoticed");
    }
    let mut search = Search::default();
    search.check("a clean buffer", b"password=***", &[PASSWORD]);
    assert!(search.leaks.is_empty());
}
