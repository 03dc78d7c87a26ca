//! Concurrency and repetition, with the real `pcdr` binary against a served world: two
//! runs of the same procedure on one journal at once (the second refuses at once, naming
//! the lock, and the first completes undisturbed), and a procedure started again after it
//! completed (it refuses, saying the pool is already in that state, and changes nothing).
//!
//! `tests/cli.rs` already covers a journal locked by a file handle, a second failover
//! after a completed one, and failback before any failover; this file adds what those do
//! not: two real runs racing, for failover and for failback, and failback repeated.

#[allow(dead_code)] // each test binary uses its own part of the helpers
mod cli_support;

use cli_support::{Running, World};
use std::path::Path;
use std::time::{Duration, Instant};

const SUCCESS: i32 = 0;
const REFUSED: i32 = 3;

/// How long the second run may take to refuse: "at once", with room for a slow machine.
const REFUSES_WITHIN: Duration = Duration::from_secs(10);

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Statements mutating the world, as `statements.log` lines (not reads, nor the run
/// lock).
fn mutating_statements(world: &World) -> usize {
    std::fs::read_to_string(world.dir().join("statements.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| {
            let text = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["text"].as_str().map(str::to_ascii_uppercase))
                .unwrap_or_default();
            // The run lock (taken and given back) changes nothing of the world.
            let run_lock = text.contains("SP_GETAPPLOCK") || text.contains("SP_RELEASEAPPLOCK");
            !text.trim_start().starts_with("SELECT") && !run_lock
        })
        .count()
}

/// Starts `procedure` on `journal` and waits until its first step has started; runs the
/// same procedure on the same journal, new (`--yes`) and resumed (`--resume`), and checks
/// that both refuse at once without starting a step; the first run then completes.
///
/// With `strict`, the new run must also say what the resumed one says: exit 3, "locked".
fn second_run_refuses_at_once(world: &World, procedure: &str, journal: &Path, strict: bool) {
    let topology = world.topology().to_path_buf();
    let mut first = Running::start(&[
        procedure,
        "--topology",
        s(&topology),
        "--journal",
        s(journal),
        "--yes",
    ]);
    first.wait_for_line(|l| l.starts_with("> "));
    for args in [["--yes"], ["--resume"]] {
        let started = Instant::now();
        let second = world.pcdr(procedure, &[args[0], "--journal", s(journal)]);
        let took = started.elapsed();
        assert_ne!(second.code, Some(SUCCESS), "{second:?}");
        assert!(
            !second.stderr.contains("> "),
            "the second run started a step:\n{}",
            second.stderr
        );
        assert!(
            took < REFUSES_WITHIN,
            "the second run took {took:?} to refuse"
        );
        if strict || args[0] == "--resume" {
            second.code(REFUSED).stderr_has("locked");
        }
    }
    first
        .finish()
        .code(SUCCESS)
        .stdout_has(&format!("{procedure} completed"));
}

/// A world failed over (by the CLI) and its primary site rebuilt.
fn ready_for_failback(world: &World) {
    world.disaster();
    world
        .new_run("failover", &world.path("failover.journal"))
        .code(SUCCESS);
    world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
}

#[test]
fn two_failovers_on_one_journal_the_second_refuses_at_once() {
    let world = World::serve_with(&["--statement-latency-ms", "60"]);
    world.disaster();
    second_run_refuses_at_once(&world, "failover", &world.path("failover.journal"), false);
    world.verify("failed-over");
}

#[test]
fn two_failbacks_on_one_journal_the_second_refuses_at_once() {
    let world = World::serve_with(&["--statement-latency-ms", "60"]);
    ready_for_failback(&world);
    second_run_refuses_at_once(&world, "failback", &world.path("failback.journal"), false);
    world.verify("normal");
}

#[test]
fn a_new_run_on_a_held_journal_says_it_is_locked() {
    let world = World::serve_with(&["--statement-latency-ms", "60"]);
    world.disaster();
    second_run_refuses_at_once(&world, "failover", &world.path("failover.journal"), true);
}

/// Runs `procedure` on a new journal to completion, then on another: the second run
/// refuses, saying `refusal`, and changes nothing.
fn a_run_after_a_completed_one_refuses(world: &World, procedure: &str, refusal: &str) {
    world
        .new_run(procedure, &world.path("one.journal"))
        .code(SUCCESS);
    let before = mutating_statements(world);
    world
        .new_run(procedure, &world.path("two.journal"))
        .code(REFUSED)
        .stderr_has(refusal);
    assert_eq!(
        mutating_statements(world),
        before,
        "the refused run changed the world"
    );
}

#[test]
fn a_failover_after_a_completed_one_refuses_and_changes_nothing() {
    let world = World::serve();
    world.disaster();
    a_run_after_a_completed_one_refuses(&world, "failover", "already failed over");
    world.verify("failed-over");
}

#[test]
fn a_failback_after_a_completed_one_refuses_and_changes_nothing() {
    let world = World::serve();
    ready_for_failback(&world);
    a_run_after_a_completed_one_refuses(&world, "failback", "not failed over");
    world.verify("normal");
}
