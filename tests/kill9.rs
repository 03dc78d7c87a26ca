//! kill -9: the real `pcdr failover` / `failback` / `prepare_failback` / `switchover`
//! binary, against a world served by `pcdr sim serve` with every statement slowed down,
//! is killed with SIGKILL at points spread over every procedure — at every step
//! boundary of the online failback's prepare phase, of a switchover and of a switchover
//! back, and between and inside the steps of failover and failback (mid-copy, during and between log restores, during the
//! tail-log backup, during recovery, right after recovery and before the pool state
//! change, in the middle of the log-shipping setup, …). The points are found from
//! the progress lines on stderr or from `statements.log` growing. Then `--resume`
//! converges every time, `pcdr sim verify` passes, and every mutating statement of the
//! killed and the resumed run together was sent once — except at most one, the
//! statement the kill interrupted, sent again by the resumed run after it observed that
//! its effect was missing.
//!
//! `std::process::Child::kill` sends SIGKILL on Unix: the same signal as `kill -9 PID`.

#![cfg(unix)]

#[allow(dead_code)] // each test binary uses its own part of the helpers
mod cli_support;

use cli_support::World;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SUCCESS: i32 = 0;

/// Latency of every statement: time enough to hit a point inside a step.
const LATENCY_MS: &str = "60";

/// The run that is killed, each after what it follows: a failover after a disaster, a
/// failback or an online failback's prepare phase after a failover and a rebuild, a
/// switchover on a healthy world, a switchover back after a first switchover.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Procedure {
    Failover,
    Failback,
    PrepareFailback,
    Switchover,
    SwitchBack,
}

impl Procedure {
    fn name(self) -> &'static str {
        match self {
            Procedure::Failover => "failover",
            Procedure::Failback => "failback",
            Procedure::PrepareFailback => "prepare_failback",
            Procedure::Switchover | Procedure::SwitchBack => "switchover",
        }
    }

    fn expect(self) -> &'static str {
        match self {
            Procedure::Failover => "failed-over",
            Procedure::Failback | Procedure::SwitchBack => "normal",
            // A prepared online failback leaves the world as a switchover to the backup
            // site does: the pool there, the primary its log-shipping secondary.
            Procedure::Switchover | Procedure::PrepareFailback => "switched-over",
        }
    }

    /// Brings the world to where the procedure starts.
    fn prepare(self, world: &World) {
        let run = |procedure: &str, journal: &str| {
            let journal = world.path(journal).display().to_string();
            world
                .pcdr(procedure, &["--yes", "--journal", &journal])
                .code(SUCCESS);
        };
        match self {
            Procedure::Failover => world.disaster(),
            Procedure::Failback | Procedure::PrepareFailback => {
                world.disaster();
                run("failover", "over.journal");
                world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
            }
            Procedure::Switchover => catch_up(world),
            Procedure::SwitchBack => {
                catch_up(world);
                run("switchover", "first.journal");
            }
        }
    }
}

/// Half an hour on the world's clock: its log-shipping jobs copy and restore the
/// backlog the world starts with, as a planned switchover expects (it refuses to start
/// while log shipping is behind).
fn catch_up(world: &World) {
    world.sim("tick", &["--minutes", "30"]).code(SUCCESS);
}

/// When to kill.
#[derive(Clone, Copy)]
enum When {
    /// The n-th (1-based) stderr line containing this text has been printed.
    Line(&'static str, usize),
    /// The n-th statement containing this text (ignoring case) has reached an instance.
    Statement(&'static str, usize),
}

/// One line of `statements.log`.
fn statements(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("statements.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn text_of(statement: &serde_json::Value) -> String {
    statement["text"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// Whether a statement changes something (reads, header reads and verifications do not).
fn mutating(text: &str) -> bool {
    let text = text.trim_start();
    let reads = [
        "SELECT",
        "RESTORE HEADERONLY",
        "RESTORE FILELISTONLY",
        "RESTORE VERIFYONLY",
    ];
    !reads.iter().any(|r| text.starts_with(r))
        && [
            "RESTORE ",
            "BACKUP ",
            "ALTER DATABASE",
            "KILL ",
            "SP_DELETE_LOG_SHIPPING",
            "SP_ADD_LOG_SHIPPING",
            "SP_ADD_JOB",
            "SP_UPDATE_JOB",
        ]
        .iter()
        .any(|m| text.contains(m))
}

/// Mutating statements from line `from` on: (instance, text, parameters) → times sent.
fn mutating_counts(dir: &Path, from: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for statement in statements(dir).iter().skip(from) {
        let text = text_of(statement);
        if mutating(&text) {
            let key = format!(
                "{} | {} | {}",
                statement["instance"].as_str().unwrap_or_default(),
                text,
                statement["params"]
            );
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// Runs `procedure`, kills it with SIGKILL when `when` happens, resumes it, and checks
/// that it converges with nothing done twice. Returns what was killed, for messages.
fn kill_and_resume(procedure: Procedure, when: When) {
    let world = World::serve_with(&[
        "--statement-latency-ms",
        LATENCY_MS,
        "--logs",
        "6",
        "--uncopied",
        "3",
        "--unrestored",
        "4",
    ]);
    procedure.prepare(&world);
    let from = statements(world.dir()).len();
    let journal = world.path(&format!("{}.journal", procedure.name()));
    let stderr_path = world.path("killed.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcdr"))
        .arg(procedure.name())
        .arg("--topology")
        .arg(world.topology())
        .arg("--journal")
        .arg(&journal)
        .arg("--yes")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("pcdr starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    let hit = loop {
        let reached = match when {
            When::Line(text, n) => {
                std::fs::read_to_string(&stderr_path)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(text))
                    .count()
                    >= n
            }
            When::Statement(text, n) => {
                let text = text.to_ascii_uppercase();
                statements(world.dir())
                    .iter()
                    .skip(from)
                    .filter(|s| text_of(s).contains(&text))
                    .count()
                    >= n
            }
        };
        if reached {
            child.kill().expect("SIGKILL");
            break true;
        }
        if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
            let _ = child.kill();
            break false;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let status = child.wait().expect("wait");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        hit,
        "the run ended ({status}) before the kill point was reached:\n{stderr}"
    );
    assert_eq!(status.code(), None, "killed by a signal:\n{stderr}");

    let resumed = world.pcdr(
        procedure.name(),
        &["--resume", "--journal", &journal.display().to_string()],
    );
    resumed
        .code(SUCCESS)
        .stdout_has(&format!("{} completed", procedure.name()));
    world
        .sim("verify", &["--expect", procedure.expect()])
        .code(SUCCESS);

    let counts = mutating_counts(world.dir(), from);
    assert!(!counts.is_empty(), "no mutating statement was sent");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{} mutating statements sent by the killed and the resumed run; sent twice: {twice:?}",
        counts.values().sum::<usize>()
    );
    assert!(
        twice.len() <= 1 && twice.iter().all(|(_, n)| **n == 2),
        "mutating statements sent more than once (only the one the kill interrupted may be):\n{twice:#?}\n--- killed run\n{stderr}\n--- resumed run\n{}",
        resumed.stderr
    );
}

macro_rules! kill_points {
    ($($name:ident: $procedure:ident, $when:expr;)*) => {
        $(
            #[test]
            fn $name() {
                kill_and_resume(Procedure::$procedure, $when);
            }
        )*
    };
}

kill_points! {
    // Failover.
    failover_killed_as_it_checks_the_sites: Failover, When::Line("(check_sites)", 1);
    failover_killed_between_check_and_snapshot: Failover, When::Line("  done: ", 1);
    failover_killed_while_snapshotting_log_shipping: Failover, When::Line("(snapshot_log_shipping)", 1);
    failover_killed_while_removing_log_shipping: Failover, When::Statement("sp_delete_log_shipping", 1);
    failover_killed_as_the_copy_starts: Failover, When::Line("(copy_log_backups)", 1);
    failover_killed_mid_copy: Failover, When::Line("    copied ", 1);
    failover_killed_during_the_first_log_restore: Failover, When::Statement("RESTORE LOG", 1);
    failover_killed_between_two_log_restores: Failover, When::Line("    restored ", 1);
    failover_killed_during_a_later_log_restore: Failover, When::Statement("RESTORE LOG", 3);
    failover_killed_as_recovery_starts: Failover, When::Line("(recover_database)", 1);
    failover_killed_during_recovery: Failover, When::Statement("WITH RECOVERY", 1);
    failover_killed_after_recovery_before_the_pool_state: Failover, When::Line("(set_pool_failed_over)", 1);
    failover_killed_as_mirroring_starts: Failover, When::Line("(mirror_new_primary)", 1);
    failover_killed_before_activating_servers: Failover, When::Line("(activate_backup_servers)", 1);
    // Failback.
    failback_killed_as_it_fences_the_pool: Failback, When::Line("(clear_active_servers)", 1);
    failback_killed_while_removing_mirroring: Failback, When::Statement("SET PARTNER OFF", 1);
    failback_killed_during_the_failback_backup: Failback, When::Statement("BACKUP DATABASE", 1);
    failback_killed_as_the_primary_restore_starts: Failback, When::Line("(restore_primary)", 1);
    failback_killed_during_the_primary_restore: Failback, When::Statement("FROM DISK", 1);
    failback_killed_as_the_primary_is_mirrored: Failback, When::Line("(mirror_primary)", 1);
    failback_killed_as_the_backup_is_reseeded: Failback, When::Line("(reinitialize_backup)", 1);
    failback_killed_during_the_reseed_backup: Failback, When::Statement("BACKUP DATABASE", 2);
    failback_killed_as_log_shipping_setup_starts: Failback, When::Line("(setup_log_shipping)", 1);
    failback_killed_in_the_middle_of_log_shipping_setup: Failback, When::Statement("sp_add_log_shipping", 2);
    failback_killed_as_the_primary_mirror_is_made_a_log_shipping_primary: Failback, When::Line("(ship_logs_from_primary_mirror)", 1);
    failback_killed_during_the_failover_to_the_primary_mirror: Failback, When::Statement("SET PARTNER FAILOVER", 1);
    failback_killed_during_the_failover_back_to_the_primary: Failback, When::Statement("SET PARTNER FAILOVER", 2);
    failback_killed_before_the_pool_state_is_normal: Failback, When::Line("(set_pool_normal)", 1);
    // The online failback's prepare phase: every step boundary, and inside the full
    // backup, the seed restore and the log-shipping setup.
    prepare_failback_killed_as_it_checks: PrepareFailback, When::Line("(check_prepare_failback)", 1);
    prepare_failback_killed_as_the_backup_starts: PrepareFailback, When::Line("(back_up_serving_database)", 1);
    prepare_failback_killed_during_the_backup: PrepareFailback, When::Statement("BACKUP DATABASE", 1);
    prepare_failback_killed_as_the_primary_is_seeded: PrepareFailback, When::Line("(seed_primary)", 1);
    prepare_failback_killed_during_the_seed_restore: PrepareFailback, When::Statement("RESTORE DATABASE", 1);
    prepare_failback_killed_as_log_shipping_is_set_up: PrepareFailback, When::Line("(ship_logs_to_primary)", 1);
    prepare_failback_killed_in_the_middle_of_the_setup: PrepareFailback, When::Statement("sp_add_log_shipping", 2);
    // Switchover to the backup site: every step boundary, and inside the steps that
    // change something irreversibly.
    switchover_killed_as_it_checks: Switchover, When::Line("(check_switchover)", 1);
    switchover_killed_as_it_records_log_shipping: Switchover, When::Line("(record_log_shipping)", 1);
    switchover_killed_as_it_removes_log_shipping: Switchover, When::Line("(remove_incoming_log_shipping)", 1);
    switchover_killed_while_removing_log_shipping: Switchover, When::Statement("sp_delete_log_shipping_secondary", 1);
    switchover_killed_as_the_backlog_is_copied: Switchover, When::Line("(copy_backlog)", 1);
    switchover_killed_mid_backlog_copy: Switchover, When::Line("    copied ", 1);
    switchover_killed_as_the_backlog_is_restored: Switchover, When::Line("(restore_backlog)", 1);
    switchover_killed_during_a_backlog_restore: Switchover, When::Statement("RESTORE LOG", 2);
    switchover_killed_as_it_fences: Switchover, When::Line("(fence_pool)", 1);
    switchover_killed_as_it_unmirrors: Switchover, When::Line("(unmirror_serving_database)", 1);
    switchover_killed_as_the_tail_is_backed_up: Switchover, When::Line("(back_up_tail_log)", 1);
    switchover_killed_during_the_tail_log_backup: Switchover, When::Statement("WITH NORECOVERY, INIT", 1);
    switchover_killed_as_the_tail_is_copied: Switchover, When::Line("(copy_tail)", 1);
    switchover_killed_as_the_tail_is_restored: Switchover, When::Line("(restore_tail)", 1);
    switchover_killed_as_recovery_starts: Switchover, When::Line("(recover_new_primary)", 1);
    switchover_killed_during_recovery: Switchover, When::Statement("WITH RECOVERY", 1);
    switchover_killed_before_the_pool_state: Switchover, When::Line("(set_switched_pool_state)", 1);
    switchover_killed_before_activating_servers: Switchover, When::Line("(activate_switched_servers)", 1);
    switchover_killed_as_mirroring_starts: Switchover, When::Line("(mirror_switched_database)", 1);
    switchover_killed_as_log_shipping_is_reversed: Switchover, When::Line("(reverse_log_shipping)", 1);
    switchover_killed_in_the_middle_of_the_reversal: Switchover, When::Statement("sp_add_log_shipping", 2);
    // Switchover back to the primary site: every step boundary.
    switch_back_killed_as_it_checks: SwitchBack, When::Line("(check_switchover)", 1);
    switch_back_killed_as_it_records_log_shipping: SwitchBack, When::Line("(record_log_shipping)", 1);
    switch_back_killed_as_it_removes_log_shipping: SwitchBack, When::Line("(remove_incoming_log_shipping)", 1);
    switch_back_killed_as_the_backlog_is_copied: SwitchBack, When::Line("(copy_backlog)", 1);
    switch_back_killed_as_the_backlog_is_restored: SwitchBack, When::Line("(restore_backlog)", 1);
    switch_back_killed_as_it_fences: SwitchBack, When::Line("(fence_pool)", 1);
    switch_back_killed_as_it_unmirrors: SwitchBack, When::Line("(unmirror_serving_database)", 1);
    switch_back_killed_as_the_tail_is_backed_up: SwitchBack, When::Line("(back_up_tail_log)", 1);
    switch_back_killed_as_the_tail_is_copied: SwitchBack, When::Line("(copy_tail)", 1);
    switch_back_killed_as_the_tail_is_restored: SwitchBack, When::Line("(restore_tail)", 1);
    switch_back_killed_as_recovery_starts: SwitchBack, When::Line("(recover_new_primary)", 1);
    switch_back_killed_before_the_pool_state: SwitchBack, When::Line("(set_switched_pool_state)", 1);
    switch_back_killed_before_activating_servers: SwitchBack, When::Line("(activate_switched_servers)", 1);
    switch_back_killed_as_mirroring_starts: SwitchBack, When::Line("(mirror_switched_database)", 1);
    switch_back_killed_as_log_shipping_is_reversed: SwitchBack, When::Line("(reverse_log_shipping)", 1);
}
