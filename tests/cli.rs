//! The `pcdr` command-line tool, driven as an administrator drives it: the real binary
//! against worlds served by `pcdr sim serve`. Every command, and every exit code:
//! 0 success, 1 failed, 2 refused, 3 bad input, 4 journal, 5 interrupted.

mod cli_support;

use cli_support::{Out, Running, World, interrupt, run, run_with_input};
use pcdr_core::procedure::Procedure;
use serde_json::Value;
use std::path::{Path, PathBuf};

const SUCCESS: i32 = 0;
const FAILED: i32 = 1;
const USAGE: i32 = 2;
const REFUSED: i32 = 3;
const INTERRUPTED: i32 = 4;
const UNOBSERVED: i32 = 5;

/// The failover's steps, in order.
const FAILOVER_STEPS: [&str; 9] = [
    "check_sites",
    "snapshot_log_shipping",
    "remove_log_shipping",
    "copy_log_backups",
    "apply_unapplied_logs",
    "recover_database",
    "set_pool_failed_over",
    "mirror_new_primary",
    "activate_backup_servers",
];

fn example_topology() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/topology.toml")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn step_names(value: &Value) -> Vec<&str> {
    value["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().expect("step name"))
        .collect()
}

/// The instance of `status --json` with this role.
fn instance<'a>(status: &'a Value, role: &str) -> &'a Value {
    status["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .find(|i| i["role"] == role)
        .unwrap_or_else(|| panic!("no {role} instance in {status:#}"))
}

/// The lines of stderr that announce a step starting.
fn started_steps(out: &Out) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.starts_with("> ")).collect()
}

/// Asserts that the pool has not been failed over: the backup database is still
/// restoring and the pool state is Normal.
#[track_caller]
fn assert_not_failed_over(world: &World) {
    let status = world.status();
    assert_eq!(
        instance(&status, "backup")["chat"]["state"],
        "RESTORING",
        "{status:#}"
    );
    assert_eq!(status["pool_state"], "Normal", "{status:#}");
}

// ---------------------------------------------------------------- help and arguments

#[test]
fn help_for_every_command_exits_0() {
    let commands: [&[&str]; 16] = [
        &[],
        &["plan"],
        &["failover"],
        &["failback"],
        &["status"],
        &["drill"],
        &["sim"],
        &["sim", "serve"],
        &["sim", "shell"],
        &["sim", "disaster"],
        &["sim", "rebuild"],
        &["sim", "traffic"],
        &["sim", "tick"],
        &["sim", "verify"],
        &["sim", "fault"],
        &["help", "failover"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        if command.first() != Some(&"help") {
            args.push("--help");
        }
        run(&args).code(SUCCESS).stdout_has("Usage: pcdr");
    }
    let version = run(&["--version"]);
    version.code(SUCCESS).stdout_has("pcdr ");
    // One command per procedure, described by its summary; every procedure takes the
    // operator's decisions (those that do not apply to it are ignored).
    let help = run(&["--help"]);
    for procedure in Procedure::all() {
        help.stdout_has(&format!("  {procedure} "))
            .stdout_has(procedure.summary());
    }
    for procedure in ["failover", "failback", "switchover", "prepare_failback"] {
        run(&[procedure, "--help"])
            .stdout_has("--accept-data-loss")
            .stdout_has("--allow-primary-reachable")
            .stdout_has("--resume");
    }
    run(&["plan", "-h"])
        .stdout_has("[possible values: failover, failback, prepare_failback, switchover]");
    run(&["plan", "--help"])
        .stdout_has("- failback:")
        .stdout_has("Fail the pool back to the rebuilt primary site");
}

#[test]
fn bad_arguments_exit_2() {
    let topology = example_topology();
    let cases: [&[&str]; 7] = [
        &[],
        &["bogus"],
        &["plan", "sideways", "--topology", s(&topology)],
        &["plan", "failover"],
        &["-q", "-v", "status", "--topology", s(&topology)],
        &[
            "failback",
            "--topology",
            s(&topology),
            "--accept-everything",
        ],
        &["drill", "--logs", "many"],
    ];
    for args in cases {
        let out = run(args);
        out.code(USAGE);
        // clap's message, or the help when nothing was given.
        assert!(
            out.stderr.starts_with("error: ") || out.stderr.contains("Usage: pcdr"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    run(&["plan", "sideways", "--topology", s(&topology)])
        .stderr_has("unknown procedure 'sideways'");
}

// ---------------------------------------------------------------- plan

#[test]
fn plan_offline_shows_the_steps_with_command_templates() {
    let topology = example_topology();
    let out = run(&["plan", "failover", "--topology", s(&topology), "--offline"]);
    out.code(SUCCESS)
        .stdout_has("Plan: failover")
        .stdout_has(" 1. Check that the backup site answers")
        .stdout_has(" 9. ")
        .stdout_has("RESTORE DATABASE @db WITH RECOVERY;")
        .stdout_has("Set-CsPersistentChatState -Identity 'service:PersistentChatServer:pchat.contoso.com' -PoolState 'FailedOver'")
        .stdout_has("Set-CsPersistentChatActiveServer -Identity 'PersistentChatServer:pchat.contoso.com'")
        .stdout_has("'pc3.contoso.com','pc4.contoso.com'")
        .stdout_has("Verdict: nothing blocks the procedure, but");
    for step in FAILOVER_STEPS {
        out.stdout_has(&format!("({step})"));
    }
    run(&["plan", "failback", "--topology", s(&topology), "--offline"])
        .code(SUCCESS)
        .stdout_has("Plan: failback");
}

#[test]
fn plan_offline_json_has_the_nine_failover_steps() {
    let topology = example_topology();
    let plan = run(&[
        "plan",
        "failover",
        "--topology",
        s(&topology),
        "--offline",
        "--json",
    ])
    .code(SUCCESS)
    .json();
    assert_eq!(plan["schema_version"], 2);
    assert_eq!(plan["procedure"], "failover");
    assert_eq!(step_names(&plan), FAILOVER_STEPS);
    for step in plan["steps"].as_array().unwrap() {
        assert_ne!(step["status"], "blocked", "{step:#}");
        assert!(step["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[test]
fn a_journal_from_a_newer_pcdr_is_refused_naming_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("newer.journal");
    let started = r#"{"record":"started","format":99,"procedure":"failover","run_id":"r","options":{},"at":"2026-11-27T13:00:00Z"}"#;
    std::fs::write(&journal, format!("{started}\n")).unwrap();
    let topology = example_topology();
    let args = [
        "failover",
        "--topology",
        s(&topology),
        "--journal",
        s(&journal),
    ];
    run(&[&args[..], &["--resume"]].concat())
        .code(USAGE)
        .stderr_has("written by a newer pcdr (journal format 99; this pcdr reads formats 1 to 2)")
        .stderr_has("resume it with that version");
}

/// A build without Windows authentication (every build but the Windows one, which has
/// winauth) refuses a topology that logs in as the Windows user or a Windows account,
/// before it connects anywhere (issue 14).
#[cfg(not(windows))]
#[test]
fn a_topology_without_user_is_refused_by_a_build_without_integrated_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(example_topology()).unwrap();
    let (user, password) = (
        "user = \"pcdr\"\n",
        "password_env = \"PCDR_SQL_PASSWORD\"\n",
    );
    assert!(example.contains(user) && example.contains(password));
    let integrated = example.replace(user, "").replace(password, "");
    let account = example.replace(user, "user = 'CONTOSO\\pcdr-svc'\n");
    for (name, text, says) in [
        (
            "integrated.toml",
            integrated,
            "is left out, which means integrated authentication",
        ),
        (
            "account.toml",
            account,
            r"is the Windows account CONTOSO\pcdr-svc",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        run(&["plan", "failover", "--topology", s(&path), "--offline"])
            .code(USAGE)
            .stderr_has(&format!("sql.user: {says}"))
            .stderr_has("this build of pcdr has no Windows authentication");
    }
}

#[test]
fn a_bad_topology_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(example_topology()).unwrap();

    let wrong_type = dir.path().join("wrong-type.toml");
    let text = example.replace("timeout_secs = 600", "timeout_secs = \"ten minutes\"");
    assert_ne!(text, example);
    std::fs::write(&wrong_type, text).unwrap();
    let unknown_key = dir.path().join("unknown-key.toml");
    let text = example.replace("chat_servers = [\"pc1", "chat_serverz = [\"pc1");
    assert_ne!(text, example);
    std::fs::write(&unknown_key, text).unwrap();

    run(&[
        "plan",
        "failover",
        "--topology",
        s(&wrong_type),
        "--offline",
    ])
    .code(USAGE)
    .stderr_has("shell.timeout_secs");
    run(&[
        "plan",
        "failover",
        "--topology",
        s(&unknown_key),
        "--offline",
    ])
    .code(USAGE)
    .stderr_has("sites.primary.chat_serverz")
    .stderr_has("unknown field");
    run(&["status", "--topology", s(&wrong_type)])
        .code(USAGE)
        .stderr_has("shell.timeout_secs");
    let journal = dir.path().join("failover.journal");
    for command in ["failover", "failback"] {
        run(&[
            command,
            "--topology",
            s(&wrong_type),
            "--journal",
            s(&journal),
            "--yes",
        ])
        .code(USAGE)
        .stderr_has("shell.timeout_secs");
    }
    assert!(!journal.exists(), "a refused topology left a journal");
    let missing = dir.path().join("missing.toml");
    run(&["plan", "failover", "--topology", s(&missing)])
        .code(USAGE)
        .stderr_has("cannot read the topology file");
}

#[test]
fn plan_is_blocked_while_the_primary_answers_and_runnable_after_the_disaster() {
    let world = World::serve();
    world
        .pcdr("plan", &["failover"])
        .code(REFUSED)
        .stdout_has("BLOCKED: failover step check_sites cannot run")
        .stdout_has("still answers")
        .stdout_has("Verdict: the procedure would refuse to run.");
    let plan = world
        .pcdr("plan", &["failover", "--json"])
        .code(REFUSED)
        .json();
    assert_eq!(step_names(&plan), FAILOVER_STEPS);
    assert_eq!(plan["steps"][0]["status"], "blocked");
    // The operator may accept a reachable primary.
    world
        .pcdr("plan", &["failover", "--allow-primary-reachable"])
        .code(SUCCESS);

    world.disaster();
    let out = world.pcdr("plan", &["failover"]);
    out.code(SUCCESS)
        .stdout_has("copy ")
        .stdout_has("RESTORE LOG @db FROM DISK = @file WITH NORECOVERY;");
    assert!(!out.stdout.contains("BLOCKED"), "{}", out.stdout);
    let plan = world
        .pcdr("plan", &["failover", "--json"])
        .code(SUCCESS)
        .json();
    assert_eq!(step_names(&plan), FAILOVER_STEPS);
    assert_eq!(plan["steps"][0]["status"], "would_run");
    // Planning is read-only.
    assert_not_failed_over(&world);
}

/// A plan that could not observe a step is no green light: with the backup instance
/// down, `pcdr plan` says how many steps it could not observe and exits 5.
#[test]
fn a_plan_that_could_not_observe_every_step_exits_5() {
    let world = World::serve();
    world.disaster();
    world.sim("fault", &["--down", "backup"]).code(SUCCESS);
    let out = world.pcdr("plan", &["failover"]);
    out.code(UNOBSERVED)
        .stdout_has("steps could not be observed");
    assert!(
        !out.stdout.contains("the procedure can run"),
        "{}",
        out.stdout
    );
    let plan = world
        .pcdr("plan", &["failover", "--json"])
        .code(UNOBSERVED)
        .json();
    let unknown = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "unknown")
        .count();
    assert!(unknown > 0, "{plan:#}");
}

// ---------------------------------------------------------------- failover

#[test]
fn failover_without_confirmation_is_refused_and_changes_nothing() {
    let world = World::serve();
    world.disaster();
    let journal = world.path("failover.journal");
    let args = ["--journal", s(&journal)];
    for answer in [Some("pchat.fabrikam.com\n"), Some(""), None] {
        world
            .pcdr_with("failover", world.topology(), &args, answer)
            .code(REFUSED)
            .stderr_has("Type the pool FQDN to continue")
            .stderr_has("not confirmed; nothing was changed");
        assert!(!journal.exists(), "a refused run left a journal");
    }
    assert_not_failed_over(&world);
    // Typing the FQDN (in any case) is the confirmation.
    world
        .pcdr_with(
            "failover",
            world.topology(),
            &args,
            Some("PChat.Contoso.com\n"),
        )
        .code(SUCCESS)
        .stdout_has("failover completed");
}

#[test]
fn failover_succeeds_then_refuses_a_second_run_and_a_used_journal() {
    let world = World::serve();
    world.disaster();
    // No --journal: pcdr-failover-POOL.journal in the current folder.
    let out = world.pcdr("failover", &["--yes"]);
    out.code(SUCCESS)
        .stdout_has("failover completed")
        .stdout_has("recovery time")
        .stdout_has("last applied log backup: ")
        .stdout_has("files copied: 1")
        .stderr_has(
            "> Check that the backup site answers and the primary site does not (check_sites)",
        )
        .stderr_has("  done: ")
        .stderr_has("    copied mgc_")
        .stderr_has("    restored ");
    assert_eq!(
        started_steps(&out).len(),
        FAILOVER_STEPS.len(),
        "{}",
        out.stderr
    );
    let default_journal = world.path("pcdr-failover-pchat.contoso.com.journal");
    assert!(default_journal.exists());
    // The report lands next to the journal, as JSON and as Markdown.
    let json =
        std::fs::read_to_string(world.path("pcdr-failover-pchat.contoso.com.journal.report.json"))
            .unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["completed"], true);
    let markdown =
        std::fs::read_to_string(world.path("pcdr-failover-pchat.contoso.com.journal.report.md"))
            .unwrap();
    assert!(markdown.starts_with("# pcdr failover report"), "{markdown}");
    // Pipelined (the default): the copy step restores what lands, the apply step
    // finds nothing left.
    assert!(
        markdown.contains("| copy_log_backups | done |")
            && markdown.contains("restored as they landed"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| apply_unapplied_logs | skipped |"),
        "{markdown}"
    );
    // The pool served no one from the run's start (the primary was lost) to the end of
    // the activation; the timeline draws that window and the steps.
    let outage = &report["outage"];
    let activation = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "activate_backup_servers")
        .unwrap();
    assert_eq!(outage["fenced_by"], serde_json::Value::Null, "{report:#}");
    assert_eq!(outage["started"], report["started"], "{report:#}");
    assert_eq!(outage["ended"], activation["ended"], "{report:#}");
    // Inside the window every log backup was copied, then restored: more bytes moved
    // than were copied.
    let bytes = |value: &Value| value.as_u64().expect("a byte count");
    let copied = bytes(&report["bytes_copied"]);
    assert!(copied > 0, "{report:#}");
    assert!(bytes(&outage["bytes_moved"]) > copied, "{report:#}");
    assert!(
        markdown.contains("```mermaid\ngantt\n") && markdown.contains("section Outage"),
        "{markdown}"
    );
    out.stdout_has("outage: the pool served no one for ");
    world
        .verify("failed-over")
        .stdout_has("the world is as expected (failed-over)");
    let status = world.status();
    assert_eq!(instance(&status, "backup")["chat"]["state"], "ONLINE");
    assert_eq!(status["pool_state"], "FailedOver");

    // A new run finds the pool failed over already.
    let second = world.path("second.journal");
    world
        .new_run("failover", &second)
        .code(REFUSED)
        .stderr_has("already failed over");
    // The completed journal is not reused for a new run …
    world
        .pcdr("failover", &["--yes"])
        .code(USAGE)
        .stderr_has("holds a completed failover");
    // … nor by the other procedure.
    world
        .new_run("failback", &default_journal)
        .code(USAGE)
        .stderr_has("holds a failover run, not a failback");
    world.verify("failed-over");
}

#[test]
fn failover_json_prints_the_report_and_progress_as_json_lines() {
    let world = World::serve();
    world.disaster();
    let journal = world.path("failover.journal");
    let out = world.pcdr("failover", &["--yes", "--json", "--journal", s(&journal)]);
    let report = out.code(SUCCESS).json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["procedure"], "failover");
    assert_eq!(report["completed"], true);
    assert_eq!(step_names(&report), FAILOVER_STEPS);
    assert_eq!(report["files_copied"], 1);
    assert!(report["logs_restored"].as_u64().unwrap() >= 1, "{report:#}");
    assert!(report["rto_seconds"].as_f64().is_some(), "{report:#}");
    assert!(report["rpo"]["last_applied_file"].is_string(), "{report:#}");
    // Progress goes to stderr, one JSON object per line.
    let events: Vec<Value> = out
        .stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("progress line is not JSON ({e}): {line}"))
        })
        .collect();
    assert!(events.len() >= FAILOVER_STEPS.len(), "{}", out.stderr);
    assert!(
        events.iter().all(|e| e["schema_version"] == 1),
        "{}",
        out.stderr
    );
    world.verify("failed-over");
}

#[test]
fn a_failed_step_exits_1_and_resumes_once_the_cause_is_fixed() {
    let world = World::serve();
    world.disaster();
    world
        .sim(
            "fault",
            &[
                "--fail-statement",
                "restore-log",
                "--error",
                "3201",
                "--on",
                "backup",
            ],
        )
        .code(SUCCESS);
    let journal = world.path("failover.journal");
    let j = s(&journal);
    // Sequential, the log restores are the apply step's (pipelined, the copy step's).
    world
        .pcdr(
            "failover",
            &["--yes", "--journal", j, "--sequential-restore"],
        )
        .code(FAILED)
        .stderr_has("FAILED: failover step apply_unapplied_logs")
        .stderr_has("SQL Server error 3201")
        .stderr_has("--resume");
    assert!(journal.exists(), "the failed run left no journal");
    // Starting over on it is refused, with the way to continue.
    world
        .pcdr("failover", &["--yes", "--journal", j])
        .code(USAGE)
        .stderr_has("holds an interrupted failover")
        .stderr_has("--resume");
    // The cause is still there.
    let again = world.pcdr("failover", &["--resume", "--journal", j]);
    again.code(FAILED).stderr_has("SQL Server error 3201");
    world.sim("fault", &["--clear"]).code(SUCCESS);
    let out = world.pcdr("failover", &["--resume", "--journal", j]);
    out.code(SUCCESS)
        .stdout_has("failover completed")
        .stderr_has("(apply_unapplied_logs)");
    // The checks run again on every resume; the steps that acted before the failure
    // do not.
    let started = started_steps(&out);
    assert!(
        started.iter().any(|l| l.contains("(check_sites)")),
        "{}",
        out.stderr
    );
    for acted in ["(remove_log_shipping)", "(copy_log_backups)"] {
        assert!(
            !started.iter().any(|l| l.contains(acted)),
            "{acted} ran again: {}",
            out.stderr
        );
    }
    world.verify("failed-over");
}

/// A failover interrupted before recovery must not complete once the primary site is
/// back: the resumed run checks the sites again and refuses, before anything changes.
#[test]
fn a_failover_resumed_after_the_primary_came_back_is_refused() {
    let world = World::serve();
    world.disaster();
    let fail_recovery = ["--fail-statement", "restore-database", "--on", "backup"];
    world.sim("fault", &fail_recovery).code(SUCCESS);
    let journal = world.path("failover.journal");
    let j = s(&journal);
    world
        .pcdr("failover", &["--yes", "--journal", j])
        .code(FAILED)
        .stderr_has("FAILED: failover step recover_database");
    world.sim("fault", &["--clear"]).code(SUCCESS);
    for instance in ["primary", "primary-mirror"] {
        world.sim("fault", &["--up", instance]).code(SUCCESS);
    }
    world
        .pcdr("failover", &["--resume", "--journal", j])
        .code(REFUSED)
        .stderr_has("failover step check_sites cannot run")
        .stderr_has("still answers")
        .stderr_lacks("(recover_database)");
    assert_not_failed_over(&world);
}

/// A journal is evidence of one run against one deployment: resumed against another
/// world (another topology, with a backlog of log backups of its own never copied), it is
/// refused before anything is observed or changed, and that world then fails over with
/// nothing lost.
#[test]
fn a_journal_resumed_against_another_deployment_is_refused() {
    let first = World::serve();
    first.disaster();
    let fail_recovery = ["--fail-statement", "restore-database", "--on", "backup"];
    first.sim("fault", &fail_recovery).code(SUCCESS);
    let journal = first.path("failover.journal");
    let j = s(&journal);
    first
        .pcdr("failover", &["--yes", "--journal", j])
        .code(FAILED)
        .stderr_has("FAILED: failover step recover_database");

    let other = World::serve_with(&["--uncopied", "2"]);
    other.disaster();
    other
        .pcdr("failover", &["--resume", "--journal", j])
        .code(USAGE)
        .stderr_has("was written for another deployment")
        .stderr_has("instances")
        .stderr_lacks("(check_sites)");
    assert_not_failed_over(&other);
    other
        .new_run("failover", &other.path("failover.journal"))
        .code(SUCCESS);
    other.verify("failed-over");
}

#[test]
fn a_gap_in_the_log_chain_is_refused_until_data_loss_is_accepted() {
    let world = World::serve_with(&["--uncopied", "2"]);
    world.disaster();
    let copied = world.log_backups("copy");
    let uncopied: Vec<String> = world
        .log_backups("share")
        .into_iter()
        .filter(|f| !copied.contains(f))
        .collect();
    assert_eq!(uncopied.len(), 2, "{uncopied:?}");
    std::fs::remove_file(world.dir().join("share").join(&uncopied[0])).unwrap();

    let journal = world.path("failover.journal");
    let j = s(&journal);
    world
        .pcdr("failover", &["--yes", "--journal", j])
        .code(REFUSED)
        .stderr_has("log records from LSN ")
        .stderr_has("are in no available log backup")
        .stderr_has("accepting data loss");
    // Resuming without the decision stops at the same gap.
    world
        .pcdr("failover", &["--resume", "--journal", j])
        .code(REFUSED)
        .stderr_has("are in no available log backup");
    let status = world.status();
    assert_eq!(instance(&status, "backup")["chat"]["state"], "RESTORING");

    world
        .pcdr(
            "failover",
            &["--resume", "--accept-data-loss", "--journal", j],
        )
        .code(SUCCESS)
        .stdout_has("failover completed")
        .stdout_has("DATA LOSS ACCEPTED: log records from LSN ");
    let status = world.status();
    assert_eq!(instance(&status, "backup")["chat"]["state"], "ONLINE");
    assert_eq!(status["pool_state"], "FailedOver");
}

/// A failover that accepted a gap lost messages that surviving log backups held, so the
/// world passes `sim verify` only against its report, and only when the report names
/// exactly the messages missing: a report moved by one message fails either way.
#[test]
fn sim_verify_accepts_an_accepted_loss_only_as_the_report_declares_it() {
    let world = World::serve_with(&["--uncopied", "2"]);
    world.disaster();
    let newest_on_share = world.log_backups("share").pop().expect("a log backup");
    let share = world.dir().join("share");
    let uncopied = world
        .log_backups("share")
        .into_iter()
        .find(|f| !world.log_backups("copy").contains(f))
        .expect("an uncopied log backup");
    assert_ne!(uncopied, newest_on_share, "a log backup follows the gap");
    std::fs::remove_file(share.join(&uncopied)).unwrap();
    let journal = world.path("failover.journal");
    world
        .pcdr(
            "failover",
            &["--yes", "--accept-data-loss", "--journal", s(&journal)],
        )
        .code(SUCCESS)
        .stdout_has("DATA LOSS ACCEPTED: ");
    world
        .sim("verify", &["--expect", "failed-over"])
        .code(FAILED)
        .stdout_has("(the newest surviving log backup)");
    let report_path = world.path("failover.journal.report.json");
    let report = s(&report_path);
    world
        .sim("verify", &["--expect", "failed-over", "--report", report])
        .code(SUCCESS)
        .stdout_has("the world is as expected (failed-over)");

    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let lost_from: u128 = json["rpo"]["lost_from"]
        .as_str()
        .expect("the report declares where the loss starts")
        .parse()
        .unwrap();
    // The emulator commits messages 100 LSNs apart and a log backup takes one more LSN,
    // so the last message held is at lost_from - 101 and the first lost at lost_from:
    // these move the declared loss by one message each way.
    for moved in [lost_from - 101, lost_from + 1] {
        json["rpo"]["lost_from"] = Value::String(moved.to_string());
        let doctored = world.path("doctored.report.json");
        std::fs::write(&doctored, json.to_string()).unwrap();
        world
            .sim(
                "verify",
                &["--expect", "failed-over", "--report", s(&doctored)],
            )
            .code(FAILED)
            .stdout_has("messages of backup mgc: expected missing exactly the ");
    }
}

#[test]
fn resuming_a_missing_journal_is_a_usage_error() {
    // The journal is checked before any server is contacted.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("none.journal");
    let topology = example_topology();
    for command in ["failover", "failback"] {
        run(&[
            command,
            "--topology",
            s(&topology),
            "--journal",
            s(&journal),
            "--resume",
        ])
        .code(USAGE)
        .stderr_has("holds no run to resume");
    }
    assert!(!journal.exists());
}

#[test]
fn a_journal_held_by_another_run_is_refused() {
    let world = World::serve();
    world.disaster();
    let journal = world.path("failover.journal");
    let holder = std::fs::File::options()
        .read(true)
        .append(true)
        .create(true)
        .open(&journal)
        .unwrap();
    holder.try_lock().expect("lock the journal");
    let out = world.new_run("failover", &journal);
    out.code(REFUSED)
        .stderr_has("is locked by another pcdr run");
    assert!(started_steps(&out).is_empty(), "{}", out.stderr);
    assert_not_failed_over(&world);
    // Once the other run lets go, the journal is usable.
    drop(holder);
    world.new_run("failover", &journal).code(SUCCESS);
}

#[test]
fn ctrl_c_exits_4_and_the_run_resumes() {
    let world = World::serve_with(&["--statement-latency-ms", "100"]);
    world.disaster();
    let journal = world.path("failover.journal");
    let topology = world.topology().to_path_buf();
    let mut running = Running::start(&[
        "failover",
        "--topology",
        s(&topology),
        "--journal",
        s(&journal),
        "--yes",
    ]);
    running.wait_for_line(|l| l.starts_with("> "));
    interrupt(running.pid());
    let out = running.finish();
    out.code(INTERRUPTED)
        .stderr_has("interrupted; stopping before the next action")
        .stderr_has("resume to continue")
        .stderr_has("--resume");
    assert!(
        started_steps(&out).len() < FAILOVER_STEPS.len(),
        "the run did not stop early:\n{}",
        out.stderr
    );
    world
        .pcdr("failover", &["--resume", "--journal", s(&journal)])
        .code(SUCCESS)
        .stdout_has("failover completed");
    world.verify("failed-over");
}

#[test]
fn a_hung_cmdlet_fails_the_step_after_the_shell_timeout() {
    let world = World::serve();
    world.disaster();
    world
        .sim("fault", &["--hang-cmdlet", "Set-CsPersistentChatState"])
        .code(SUCCESS);
    let original = std::fs::read_to_string(world.topology()).unwrap();
    let text = original.replace("timeout_secs = 600", "timeout_secs = 2");
    assert_ne!(
        text, original,
        "no shell.timeout_secs in the served topology"
    );
    let topology = world.path("topology-2s.toml");
    std::fs::write(&topology, text).unwrap();
    let journal = world.path("failover.journal");
    let args = ["--yes", "--journal", s(&journal)];
    let started = std::time::Instant::now();
    world
        .pcdr_with("failover", &topology, &args, None)
        .code(FAILED)
        .stderr_has("FAILED: failover step set_pool_failed_over")
        .stderr_has("Set-CsPersistentChatState")
        .stderr_has("did not finish within 2 s");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    world.sim("fault", &["--clear"]).code(SUCCESS);
    world
        .pcdr_with(
            "failover",
            &topology,
            &["--resume", "--journal", s(&journal)],
            None,
        )
        .code(SUCCESS);
    world.verify("failed-over");
}

// ---------------------------------------------------------------- failback

#[test]
fn failback_after_rebuild_returns_the_world_to_normal() {
    let world = World::serve();
    // Nothing to fail back yet.
    world
        .new_run("failback", &world.path("early.journal"))
        .code(REFUSED)
        .stderr_has("it is not failed over");
    world.disaster();
    world
        .new_run("failover", &world.path("failover.journal"))
        .code(SUCCESS);
    world
        .sim("traffic", &["--messages", "4"])
        .code(SUCCESS)
        .stdout_has("4 messages committed");
    // The primary site is still down: the failback's check cannot reach it.
    world
        .new_run("failback", &world.path("too-soon.journal"))
        .code(FAILED)
        .stderr_has("cannot reach");
    world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
    world
        .pcdr("plan", &["failback"])
        .code(SUCCESS)
        .stdout_has("Plan: failback");
    let journal = world.path("failback.journal");
    let out = world.new_run("failback", &journal);
    out.code(SUCCESS)
        .stdout_has("failback completed")
        .stdout_has("set_pool_normal");
    world
        .verify("normal")
        .stdout_has("the world is as expected (normal)");
    world
        .sim("traffic", &["--messages", "1", "--log-backup"])
        .code(SUCCESS)
        .stdout_has("1 messages committed, 1 log backup jobs ran");
    world.sim("tick", &[]).code(SUCCESS).stdout_has("jobs ran");
    world.verify("normal");
    let status = world.status();
    assert_eq!(status["pool_state"], "Normal");
    assert_eq!(instance(&status, "primary")["chat"]["state"], "ONLINE");
}

/// The log-shipping settings msdb holds for the backup database, as `pcdr status` reads
/// them: what a failback must set up again as they were before the failover.
fn log_shipping_settings(world: &World) -> Value {
    let status = world.status();
    let snapshot = &status["log_shipping"]["snapshot"];
    let keys = [
        "disconnect_users",
        "restore_delay_minutes",
        "restore_mode",
        "file_retention_minutes",
        "thresholds",
    ];
    let settings: serde_json::Map<String, Value> = keys
        .into_iter()
        .map(|key| (key.to_string(), snapshot[key].clone()))
        .collect();
    assert!(settings.values().all(|v| !v.is_null()), "{status:#}");
    Value::Object(settings)
}

/// The note of a failback that keeps the settings of the failover journal `journal`.
fn kept_from(journal: &str) -> String {
    format!(
        "log shipping will be set up again with the settings of the failover's snapshot in {journal}: "
    )
}

/// What a failback says when it has no failover journal to keep the settings of.
const NO_FAILOVER_JOURNAL: &str = "no failover journal was found (--failover-journal";

#[test]
fn failback_keeps_the_log_shipping_settings_the_failover_recorded() {
    let world = World::serve();
    let before = log_shipping_settings(&world);
    // Not what pcdr chooses on its own: restores do not disconnect standby readers (the
    // end-to-end test sets every other setting to a value of its own).
    assert_eq!(before["disconnect_users"], false, "{before:#}");
    world.disaster();
    // No --journal: the failover's default journal, which the failback then finds.
    world.pcdr("failover", &["--yes"]).code(SUCCESS);
    world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
    let default = "pcdr-failover-pchat.contoso.com.journal";
    world
        .pcdr("plan", &["failback"])
        .code(SUCCESS)
        .stdout_has(&kept_from(default))
        .stdout_has("disconnect_users 0");
    world
        .new_run("failback", &world.path("failback.journal"))
        .code(SUCCESS)
        .stderr_has(&kept_from(default))
        .stderr_lacks(NO_FAILOVER_JOURNAL);
    world.verify("normal");
    assert_eq!(log_shipping_settings(&world), before);
}

#[test]
fn a_failback_without_a_failover_journal_says_it_uses_the_topologys_values() {
    let world = World::serve();
    world.disaster();
    let failover = world.path("failover.journal");
    world.new_run("failover", &failover).code(SUCCESS);
    world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
    // Not at the default path: the failback cannot know it unless told.
    world
        .pcdr("plan", &["failback"])
        .code(SUCCESS)
        .stdout_has(NO_FAILOVER_JOURNAL)
        .stdout_has("disconnect_users 1, file retention 4320 minutes");
    world
        .pcdr("plan", &["failback", "--failover-journal", s(&failover)])
        .code(SUCCESS)
        .stdout_has(&kept_from(s(&failover)))
        .stdout_lacks(NO_FAILOVER_JOURNAL);
    let journal = world.path("failback.journal");
    world
        .new_run("failback", &journal)
        .code(SUCCESS)
        .stderr_has(NO_FAILOVER_JOURNAL);
    let json = std::fs::read_to_string(world.path("failback.journal.report.json")).unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    let warned = report["warnings"].as_array().unwrap();
    assert!(
        warned
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(NO_FAILOVER_JOURNAL)),
        "{report:#}"
    );
}

#[test]
fn a_failover_journal_of_another_deployment_is_refused_naming_what_differs() {
    let other = World::serve();
    other.disaster();
    let failover = other.path("failover.journal");
    other.new_run("failover", &failover).code(SUCCESS);
    let world = World::serve();
    let journal = world.path("failback.journal");
    world
        .pcdr(
            "failback",
            &[
                "--yes",
                "--journal",
                s(&journal),
                "--failover-journal",
                s(&failover),
            ],
        )
        .code(USAGE)
        .stderr_has("holds the failover of another deployment: instances ")
        .stderr_has("--failover-journal");
    assert!(!journal.exists(), "a refused failback writes no journal");
}

// ---------------------------------------------------------------- status

#[test]
fn status_shows_four_instances_and_who_answers() {
    let world = World::serve();
    let status = world.status();
    assert_eq!(status["schema_version"], 1, "{status:#}");
    let instances = status["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 4, "{status:#}");
    for role in ["primary", "primary mirror", "backup", "backup mirror"] {
        assert_eq!(instance(&status, role)["answering"], true, "{status:#}");
    }
    assert_eq!(instance(&status, "primary")["chat"]["state"], "ONLINE");
    assert_eq!(status["pool_state"], "Normal");
    assert!(
        status["log_shipping"]["snapshot"]["last_restored_file"].is_string(),
        "{status:#}"
    );
    world
        .pcdr("status", &[])
        .code(SUCCESS)
        .stdout_has("answering")
        .stdout_has("log shipping into the backup site: ")
        .stdout_has("pool state: Normal");

    world.disaster();
    let status = world.status();
    for role in ["primary", "primary mirror"] {
        let i = instance(&status, role);
        assert_eq!(i["answering"], false, "{status:#}");
        assert!(i["error"].is_string(), "{status:#}");
    }
    for role in ["backup", "backup mirror"] {
        assert_eq!(instance(&status, role)["answering"], true, "{status:#}");
    }
    world
        .pcdr("status", &[])
        .code(SUCCESS)
        .stdout_has("NOT answering");
}

// ---------------------------------------------------------------- drill

#[test]
fn drill_passes_and_prints_the_report() {
    run(&["drill"])
        .code(SUCCESS)
        .stdout_has("== FAILOVER")
        .stdout_has("== FAILBACK")
        .stdout_has("data loss: ")
        .stdout_has("drill PASSED");
}

#[test]
fn drill_json_reports_passed() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let report = run(&["drill", "--json", "--dir", s(&world)])
        .code(SUCCESS)
        .json();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["scenario"], "disaster");
    assert_eq!(report["failover"]["completed"], true);
    assert_eq!(report["failback"]["completed"], true);
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c["passed"] == true), "{report:#}");
    // A folder that already holds a world is not overwritten.
    run(&["drill", "--dir", s(&world)])
        .code(FAILED)
        .stdout_has("a world already exists")
        .stdout_has("drill FAILED");
}

/// The switchover drill moves the pool to the backup site and back, both sites
/// answering, with no full backup and no message lost (the world verifies after each).
#[test]
fn the_switchover_drill_passes_without_a_failover() {
    let report = run(&["drill", "--scenario", "switchover", "--json"])
        .code(SUCCESS)
        .json();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["scenario"], "switchover");
    assert!(report["failover"].is_null(), "{report:#}");
    let switchovers = report["switchovers"].as_array().unwrap();
    assert_eq!(switchovers.len(), 2, "{report:#}");
    for switchover in switchovers {
        assert_eq!(switchover["completed"], true);
        assert_eq!(switchover["outage"]["fenced_by"], "fence_pool");
    }
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "switchover",
            "verify switched over",
            "switchover back",
            "verify back to normal"
        ]
    );
}

/// The online failback drill fails over, prepares the rebuilt primary while the pool
/// serves, and cuts over with a switchover.
#[test]
fn the_online_failback_drill_prepares_then_cuts_over() {
    run(&["drill", "--scenario", "online-failback"])
        .code(SUCCESS)
        .stdout_has("== FAILOVER")
        .stdout_has("== PREPARE_FAILBACK")
        .stdout_has("== SWITCHOVER")
        .stdout_has("cutover")
        .stdout_has("drill PASSED");
}

// ---------------------------------------------------------------- sim

#[test]
fn sim_verify_exit_codes() {
    let world = World::serve();
    world
        .sim("verify", &["--expect", "normal"])
        .code(SUCCESS)
        .stdout_has("the world is as expected (normal)");
    world
        .sim("verify", &["--expect", "failed-over"])
        .code(FAILED)
        .stdout_has("pool state: expected FailedOver, found Normal")
        .stdout_has(" differences");
    world
        .sim("verify", &["--expect", "sideways"])
        .code(USAGE)
        .stderr_has("invalid value 'sideways' for '--expect <EXPECT>'")
        .stderr_has("[possible values: failed-over, normal, switched-over]");
}

#[test]
fn sim_shell_runs_a_management_shell_script() {
    let world = World::serve();
    let shell = |script: &str| {
        run(&[
            "sim",
            "shell",
            "--world",
            s(world.dir()),
            "--",
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            script,
        ])
    };
    let out = shell(
        "Import-Module 'SkypeForBusiness'; $ErrorActionPreference = 'Stop'; \
         Get-CsPersistentChatState -Identity 'service:pchat.contoso.com' | ConvertTo-Json -Compress",
    );
    let state = out.code(SUCCESS).json();
    assert_eq!(state["PoolState"], "Normal", "{state:#}");
    assert_eq!(state["Identity"], "service:pchat.contoso.com");
    shell("Get-CsNothing")
        .code(FAILED)
        .stderr_has("is not recognized");
    let empty = tempfile::tempdir().unwrap();
    run(&[
        "sim",
        "shell",
        "--world",
        s(empty.path()),
        "--",
        "-Command",
        "Get-CsPersistentChatState",
    ])
    .code(FAILED)
    .stderr_has("pcdr sim shell:");
}

#[test]
fn sim_commands_change_the_world_and_report_errors_with_1() {
    let world = World::serve();
    world
        .sim("traffic", &["--messages", "3", "--log-backup"])
        .code(SUCCESS)
        .stdout_has("3 messages committed, 1 log backup jobs ran");
    world
        .sim("tick", &["--minutes", "30"])
        .code(SUCCESS)
        .stdout_has("jobs ran");
    world.sim("fault", &["--down", "backup"]).code(SUCCESS);
    assert_eq!(instance(&world.status(), "backup")["answering"], false);
    world.sim("fault", &["--up", "backup"]).code(SUCCESS);
    assert_eq!(instance(&world.status(), "backup")["answering"], true);
    world.sim("fault", &["--clear"]).code(SUCCESS);

    // A value outside a closed set is a usage error, naming the values there are.
    world
        .sim("disaster", &["--site", "middle"])
        .code(USAGE)
        .stderr_has("invalid value 'middle'")
        .stderr_has("[possible values: primary, backup]");
    world
        .sim("fault", &["--down", "nowhere"])
        .code(USAGE)
        .stderr_has("invalid value 'nowhere'")
        .stderr_has("primary-mirror");
    world
        .sim("fault", &["--fail-statement", "dance"])
        .code(USAGE)
        .stderr_has("restore-log");
    let empty = tempfile::tempdir().unwrap();
    run(&["sim", "tick", "--dir", s(empty.path())])
        .code(FAILED)
        .stderr_has("no world here");
    let file = empty.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    run(&["sim", "serve", "--dir", s(&file.join("world"))])
        .code(FAILED)
        .stderr_has("cannot create the world");
    world.verify("normal");
}

// ---------------------------------------------------------------- logging

/// Skipping the certificate check is warned about at the default log level, naming
/// the server; the world's own topology (its CA trusted) warns about nothing.
#[test]
fn a_topology_that_skips_the_certificate_check_warns_at_the_default_level() {
    let world = World::serve();
    let text = std::fs::read_to_string(world.topology()).unwrap();
    let checked = run(&["status", "--topology", s(world.topology())]);
    checked.code(SUCCESS).stderr_lacks("WARN");
    let ca_line = text
        .lines()
        .find(|line| line.starts_with("trust_ca_file = "))
        .expect("the world's topology trusts its CA");
    let bypass = text.replace(&format!("{ca_line}\n"), "").replace(
        "trust_server_certificate = false",
        "trust_server_certificate = true",
    );
    let path = world.path("bypass.toml");
    std::fs::write(&path, bypass).unwrap();
    run(&["status", "--topology", s(&path)])
        .code(SUCCESS)
        .stdout_has("pool state: Normal")
        .stderr_has("WARN")
        .stderr_has("sql.trust_server_certificate = true: the server's certificate is not checked")
        .stderr_has(r"127.0.0.3\PCHAT,");
}

#[test]
fn quiet_and_verbose_are_accepted_and_logs_hold_no_password() {
    let world = World::serve();
    let topology = world.topology().to_path_buf();
    let quiet = run(&["-q", "status", "--topology", s(&topology)]);
    quiet.code(SUCCESS).stdout_has("pool state: Normal");
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    run(&["-v", "status", "--topology", s(&topology)]).code(SUCCESS);
    run(&["status", "--verbose", "--quiet", "--topology", s(&topology)]).code(USAGE);

    world.disaster();
    let password = std::fs::read_to_string(world.dir().join("sql-password")).unwrap();
    let password = password.trim();
    assert!(!password.is_empty());
    let journal = world.path("failover.journal");
    let mut command = cli_support::pcdr();
    command.args([
        "-vv",
        "failover",
        "--topology",
        s(&topology),
        "--journal",
        s(&journal),
        "--yes",
    ]);
    let out = run_with_input(command, None);
    out.code(SUCCESS).stderr_has("DEBUG").stderr_lacks(password);
    assert!(
        !std::fs::read_to_string(&journal)
            .unwrap()
            .contains(password),
        "the journal holds the password"
    );
}

/// `pcdr sim serve` chooses the SQL Server its instances present and their time zone:
/// against SQL Server 2008 R2 on Central Standard Time (UTC-06:00), a failover and a
/// failback from the command line complete, and the report dates the last log backup
/// applied in UTC, not in the servers' local time.
#[test]
fn a_sql_server_2008_r2_world_off_utc_fails_over_and_back_with_utc_dates() {
    let world = World::serve_with(&["--sql-version", "2008r2", "--utc-offset-minutes", "-360"]);
    world.disaster();
    world
        .new_run("failover", &world.path("failover.journal"))
        .code(SUCCESS);
    let json = std::fs::read_to_string(world.path("failover.journal.report.json")).unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    let file = report["rpo"]["last_applied_file"].as_str().unwrap();
    let finish = report["rpo"]["last_applied_finish"].as_str().unwrap();
    // Named as the backup instance names it; the world keeps its copy folder in DIR/copy.
    let name = pcdr_sim::world::server_paths::file_name(file);
    let taken =
        pcdr_sim::backup_file::BackupSet::read(&world.dir().join("copy").join(name)).unwrap();
    let finish = chrono::DateTime::parse_from_rfc3339(finish).unwrap();
    assert_eq!(finish, taken.header.finish, "{file}");
    world.verify("failed-over");
    world.sim("rebuild", &["--site", "primary"]).code(SUCCESS);
    world
        .new_run("failback", &world.path("failback.journal"))
        .code(SUCCESS);
    world.verify("normal");
}
