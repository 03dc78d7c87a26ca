//! The run lock across processes, with the real `pcdr` binary against a world served by
//! `pcdr sim serve`: two `pcdr failover` runs started at the same moment with different
//! journals (as two operators on two hosts would) — exactly one runs, the other is
//! refused at once naming the holder's run and host; and a run killed with SIGKILL
//! while it holds the lock (another run refused meanwhile) frees it, so that resuming it
//! takes the lock and completes.

#![cfg(unix)]

#[allow(dead_code)] // each test binary uses its own part of the helpers
mod cli_support;

use cli_support::{Running, World};
use std::path::Path;
use std::time::{Duration, Instant};

const SUCCESS: i32 = 0;
const REFUSED: i32 = 3;

/// How long the refused run may take: "at once", with room for a slow machine.
const REFUSES_WITHIN: Duration = Duration::from_secs(10);

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `pcdr failover --yes` on `journal`, started.
fn start_failover(world: &World, journal: &Path) -> Running {
    Running::start(&[
        "failover",
        "--topology",
        s(world.topology()),
        "--journal",
        s(journal),
        "--yes",
    ])
}

/// The run id a journal's first record names.
fn run_id(journal: &Path) -> String {
    let text = std::fs::read_to_string(journal).expect("read the journal");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a first record")).expect("JSON");
    first["run_id"].as_str().expect("a run id").to_owned()
}

/// The name this machine gives itself, which tiberius sends as the session's host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn two_failovers_started_at_once_on_two_journals_exactly_one_runs() {
    let world = World::serve_with(&["--statement-latency-ms", "60"]);
    world.disaster();
    let journals = [world.path("one.journal"), world.path("two.journal")];
    let started = Instant::now();
    let runs = journals.clone().map(|journal| {
        let run = start_failover(&world, &journal);
        // Each run is waited for on its own thread, so that each one's time is its own.
        std::thread::spawn(move || (run.finish(), started.elapsed()))
    });
    let [one, two] = runs.map(|run| run.join().expect("the waiting thread"));
    let (winner, winner_journal, (loser, loser_took)) = match (one.0.code, two.0.code) {
        (Some(SUCCESS), _) => (one.0, &journals[0], two),
        (_, Some(SUCCESS)) => (two.0, &journals[1], one),
        _ => panic!("neither run completed:\n{:?}\n{:?}", one.0, two.0),
    };
    winner.stdout_has("failover completed");
    loser
        .code(REFUSED)
        .stderr_has("another pcdr run holds the run lock pcdr:")
        .stderr_has(&format!("'pcdr failover run {}'", run_id(winner_journal)))
        .stderr_has(&format!("on host {}", host_name()))
        .stderr_lacks("  done: ");
    assert!(
        loser_took < REFUSES_WITHIN,
        "the refused run took {loser_took:?}"
    );
    world.verify("failed-over");
}

#[test]
fn a_run_killed_while_holding_the_lock_frees_it_and_its_resume_completes() {
    let world = World::serve_with(&["--statement-latency-ms", "60"]);
    world.disaster();
    let journal = world.path("failover.journal");
    let mut killed = start_failover(&world, &journal);
    // The lock is taken as the first step starts: once that step is done, it is held.
    killed.wait_for_line(|l| l.starts_with("  done: "));
    // The lock is held: another run is refused while the first one lives.
    world
        .new_run("failover", &world.path("other.journal"))
        .code(REFUSED)
        .stderr_has(&format!("'pcdr failover run {}'", run_id(&journal)));
    let status = std::process::Command::new("kill")
        .args(["-KILL", &killed.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL failed");
    assert_eq!(killed.finish().code, None, "killed by a signal");
    world
        .pcdr("failover", &["--resume", "--journal", s(&journal)])
        .code(SUCCESS)
        .stdout_has("failover completed");
    world.verify("failed-over");
}
