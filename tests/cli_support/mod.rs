//! Helpers for the CLI tests: run the real `pcdr` binary with a time limit, and serve
//! an emulated world (`pcdr sim serve`) for as long as a test holds it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one `pcdr` command may run before the test gives up on it.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(90);

/// The `pcdr` binary under test.
pub fn pcdr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcdr"))
}

/// What a finished command printed, and how it exited.
#[derive(Debug)]
pub struct Out {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    pub line: String,
}

impl Out {
    /// Asserts the exit code, showing everything the command printed when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "`{}` exited with {:?}, expected {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        self.has("stdout", &self.stdout, text)
    }

    /// Asserts that stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        self.has("stderr", &self.stderr, text)
    }

    /// Asserts that `stream` (this command's output called `name`) contains `text`,
    /// showing everything the command printed when it does not.
    #[track_caller]
    fn has(&self, name: &str, stream: &str, text: &str) -> &Self {
        assert!(
            stream.contains(text),
            "{name} of `{}` lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stdout does not contain `text`.
    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Self {
        self.lacks("stdout", &self.stdout, text)
    }

    /// Asserts that stderr does not contain `text`.
    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Self {
        self.lacks("stderr", &self.stderr, text)
    }

    /// Asserts that `stream` (this command's output called `name`) does not contain
    /// `text`, showing it when it does.
    #[track_caller]
    fn lacks(&self, name: &str, stream: &str, text: &str) -> &Self {
        assert!(
            !stream.contains(text),
            "{name} of `{}` has {text:?}\n--- {name}\n{stream}",
            self.line
        );
        self
    }

    /// Stdout parsed as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of `{}` is not JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.line, self.stdout, self.stderr
            )
        })
    }
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a pipe to the end on its own thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Waits for `child` until `limit`, killing it (and failing the test) past that.
fn wait_bounded(child: &mut Child, line: &str, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{line}` did not finish within {limit:?}");
            }
            Err(e) => panic!("cannot wait for `{line}`: {e}"),
        }
    }
}

/// Runs `command` to the end with `stdin` as its input (empty when `None`).
pub fn run_with_input(mut command: Command, stdin: Option<&str>) -> Out {
    let line = describe(&command);
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The program may exit before reading it all; that is its business.
        let _ = pipe.write_all(text.as_bytes());
    }
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let code = wait_bounded(&mut child, &line, COMMAND_LIMIT);
    Out {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        line,
    }
}

/// Runs `pcdr ARGS` to the end with no input.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let mut command = pcdr();
    command.args(args);
    run_with_input(command, None)
}

/// A `pcdr` process still running, whose stderr is read line by line as it comes.
pub struct Running {
    child: Child,
    line: String,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `pcdr ARGS`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Self {
        let mut command = pcdr();
        command.args(args);
        let line = describe(&command);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let lines = lines_of(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            line,
            lines,
            seen: Vec::new(),
            stdout: Some(stdout),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line for which `wanted` holds, and returns it.
    #[track_caller]
    pub fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "`{}` printed no such line ({e}); stderr so far:\n{}",
                    self.line,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to end and returns what it printed.
    pub fn finish(mut self) -> Out {
        let code = wait_bounded(&mut self.child, &self.line, COMMAND_LIMIT);
        let mut stderr = std::mem::take(&mut self.seen);
        // The reader thread sends the rest, then hangs up once the pipe closes.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stderr.push(line);
        }
        Out {
            code,
            stdout: self
                .stdout
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default(),
            stderr: stderr.join("\n"),
            line: self.line.clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines_of(stderr: ChildStderr) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The first line a server prints on `stdout` (`pcdr sim serve`'s READY line), waited for
/// up to `limit`; the rest is drained on its own thread, so that the server never blocks
/// on a full pipe.
pub fn first_line(stdout: ChildStdout, limit: Duration) -> Result<String, RecvTimeoutError> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = send.send(first);
        // Keep draining so that the server never blocks on a full pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    receive.recv_timeout(limit)
}

/// Sends SIGINT to a process, as Ctrl-C does.
pub fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT {pid} failed");
}

/// An emulated world served by `pcdr sim serve` in a temporary folder; the server is
/// killed when this is dropped.
pub struct World {
    root: tempfile::TempDir,
    dir: PathBuf,
    topology: PathBuf,
    server: Child,
}

impl World {
    /// Serves a new world with the default options.
    pub fn serve() -> Self {
        Self::serve_with(&[])
    }

    /// Serves a new world with extra `pcdr sim serve` options.
    pub fn serve_with(extra: &[&str]) -> Self {
        let root = tempfile::Builder::new()
            .prefix("pcdr-cli-")
            .tempdir()
            .expect("temporary folder");
        let dir = root.path().join("world");
        let log = std::fs::File::create(root.path().join("serve.log")).expect("serve.log");
        let mut command = pcdr();
        command
            .args(["sim", "serve", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let line = describe(&command);
        let mut server = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        let stdout = server.stdout.take().expect("piped stdout");
        let first = match first_line(stdout, COMMAND_LIMIT) {
            Ok(first) => first,
            Err(e) => {
                let _ = server.kill();
                let _ = server.wait();
                panic!("`{line}` printed no READY line ({e})");
            }
        };
        let Some(topology) = first.trim_end().strip_prefix("READY ") else {
            let _ = server.kill();
            let _ = server.wait();
            let log = std::fs::read_to_string(root.path().join("serve.log")).unwrap_or_default();
            panic!("`{line}` printed {first:?} instead of READY; its stderr:\n{log}");
        };
        let topology = PathBuf::from(topology);
        assert_eq!(topology, dir.join("topology.toml"));
        Self {
            root,
            dir,
            topology,
            server,
        }
    }

    /// The world folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The topology file the server wrote.
    pub fn topology(&self) -> &Path {
        &self.topology
    }

    /// A path in the test's temporary folder, outside the world (for journals and
    /// topology copies).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Runs `pcdr sim COMMAND --dir DIR ARGS`.
    pub fn sim(&self, command: &str, args: &[&str]) -> Out {
        let mut all = vec![
            "sim".to_string(),
            command.to_string(),
            "--dir".into(),
            self.dir.display().to_string(),
        ];
        all.extend(args.iter().map(ToString::to_string));
        run(&all)
    }

    /// Runs `pcdr sim verify --expect STATE` and checks that the world is in that state
    /// (exit 0).
    #[track_caller]
    pub fn verify(&self, state: &str) -> Out {
        let out = self.sim("verify", &["--expect", state]);
        out.code(0);
        out
    }

    /// Runs `pcdr PROCEDURE --topology TOPOLOGY --yes --journal JOURNAL`: a new run of
    /// the procedure, confirmed, on that journal.
    pub fn new_run(&self, procedure: &str, journal: &Path) -> Out {
        let journal = journal.to_str().expect("UTF-8 journal path");
        self.pcdr(procedure, &["--yes", "--journal", journal])
    }

    /// Takes the primary site down and checks that it happened.
    pub fn disaster(&self) {
        self.sim("disaster", &["--site", "primary"]).code(0);
    }

    /// Runs `pcdr COMMAND --topology TOPOLOGY ARGS` against this world.
    pub fn pcdr(&self, command: &str, args: &[&str]) -> Out {
        self.pcdr_with(command, self.topology(), args, None)
    }

    /// Runs `pcdr COMMAND --topology TOPOLOGY ARGS` with `stdin` as its input.
    pub fn pcdr_with(
        &self,
        command: &str,
        topology: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Out {
        let mut cmd = pcdr();
        cmd.arg(command)
            .arg("--topology")
            .arg(topology)
            .args(args)
            .current_dir(self.root.path());
        run_with_input(cmd, stdin)
    }

    /// `pcdr status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        self.pcdr("status", &["--json"]).code(0).json()
    }

    /// The log backups in a folder of the world (`share` or `copy`), sorted by name.
    pub fn log_backups(&self, folder: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join(folder))
            .expect("read the folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".trn"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
