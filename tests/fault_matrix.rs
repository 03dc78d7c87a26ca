//! The fault matrix: every step of failover, failback and switchover × every fault the emulated
//! infrastructure can suffer — instance unreachable, connection dropped during the step's
//! statement, that statement failing with a realistic error number, a shell cmdlet
//! failing, the shell hanging past its time limit, the share unreachable, the copy folder
//! full. Each applicable cell builds its own world, injects the fault when the step
//! starts, and checks that the run stops in that step with an error naming the cause;
//! that after the fault is cleared the resumed run completes; that the world verifies;
//! and that no log backup was restored twice (beyond a restore the fault itself stopped)
//! or skipped.
//!
//! Which faults apply to which step is not written by hand: a clean failover, failback
//! and switchover run first, and the statements and cmdlets each step sent (read from
//! `statements.log` and `cmdlets.log`) say what each step talks to. A step that sends no
//! statement has no statement to drop or fail and no instance to lose; a step that runs
//! no cmdlet has no cmdlet to fail or hang; the share and the copy folder apply to the
//! steps that read or write them. The matrix is printed (`--nocapture`), with why each
//! cell is not applicable.

mod common;

use common::{Interrupt, Served, Statement, backlog, wait_until_down, wait_until_listening};
use pcdr_core::procedure::{Event, Observer, Procedure, RunOptions, StepId};
use pcdr_core::procedure::{failback, failover, switchover};
use pcdr_core::topology::SiteRole;
use pcdr_sim::world::faults::{StatementFault, StatementKind, StatementMatch, StoredCmdletFault};
use pcdr_sim::world::model::{InstanceId, Site};
use pcdr_sim::world::{Expect, World};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The procedures whose steps the matrix covers.
const PROCEDURES: [Procedure; 3] = [
    failover::PROCEDURE,
    failback::PROCEDURE,
    switchover::PROCEDURE,
];

/// How many cells run at once.
const PARALLEL_CELLS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    InstanceUnreachable,
    ConnectionDropped,
    StatementFails,
    CmdletFails,
    ShellHangs,
    ShareUnreachable,
    CopyFolderFull,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::InstanceUnreachable,
        Fault::ConnectionDropped,
        Fault::StatementFails,
        Fault::CmdletFails,
        Fault::ShellHangs,
        Fault::ShareUnreachable,
        Fault::CopyFolderFull,
    ];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::InstanceUnreachable => "instance unreachable",
            Fault::ConnectionDropped => "connection dropped",
            Fault::StatementFails => "statement fails",
            Fault::CmdletFails => "cmdlet fails",
            Fault::ShellHangs => "shell hangs",
            Fault::ShareUnreachable => "share unreachable",
            Fault::CopyFolderFull => "copy folder full",
        })
    }
}

/// What one step sent in the clean run.
#[derive(Debug, Clone, Default)]
struct StepProfile {
    /// The folder of the world the clean run ran in (to recognise its share and copy
    /// folder in the statements).
    world_dir: PathBuf,
    statements: Vec<Statement>,
    cmdlets: Vec<String>,
}

/// The statement kind of a logged statement (the engine's own classification, from the
/// text: the first keyword that names a kind).
fn kind_of(statement: &Statement) -> StatementKind {
    let text = statement.text.trim_start().to_ascii_uppercase();
    let text = text.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    let starts = |p: &str| text.starts_with(p);
    if starts("SELECT") {
        StatementKind::Select
    } else if starts("RESTORE LOG") {
        StatementKind::RestoreLog
    } else if starts("RESTORE HEADERONLY") {
        StatementKind::RestoreHeaderOnly
    } else if starts("RESTORE FILELISTONLY") {
        StatementKind::RestoreFileListOnly
    } else if starts("RESTORE VERIFYONLY") {
        StatementKind::RestoreVerifyOnly
    } else if starts("RESTORE DATABASE") {
        StatementKind::RestoreDatabase
    } else if starts("BACKUP LOG") {
        StatementKind::BackupLog
    } else if starts("BACKUP DATABASE") {
        StatementKind::BackupDatabase
    } else if starts("ALTER DATABASE") {
        StatementKind::AlterDatabase
    } else if starts("KILL") {
        StatementKind::Kill
    } else if starts("EXEC") {
        StatementKind::Execute
    } else {
        StatementKind::Other
    }
}

/// The error SQL Server gives when a statement of `kind` fails for a real reason.
fn realistic_error(kind: StatementKind, statement: &Statement) -> u32 {
    match kind {
        // Cannot open backup device.
        StatementKind::RestoreLog
        | StatementKind::RestoreHeaderOnly
        | StatementKind::RestoreFileListOnly
        | StatementKind::RestoreVerifyOnly
        | StatementKind::BackupDatabase
        | StatementKind::BackupLog => 3201,
        StatementKind::RestoreDatabase if statement.contains("DISK") => 3201,
        // The database cannot be recovered because the log was not restored.
        StatementKind::RestoreDatabase => 4333,
        // ALTER DATABASE failed because a lock could not be placed.
        StatementKind::AlterDatabase => 5061,
        // Only user processes can be killed.
        StatementKind::Kill => 6107,
        // A log-shipping procedure: the database is not configured for it.
        StatementKind::Execute => 14262,
        // The SELECT permission was denied.
        StatementKind::Select => 229,
        StatementKind::Other => 50000,
    }
}

fn instance_named(name: &str) -> InstanceId {
    InstanceId::ALL
        .into_iter()
        .find(|i| i.name() == name)
        .unwrap_or_else(|| panic!("no instance {name}"))
}

/// The statement a step's faults aim at: its first statement that changes something,
/// else its first read of a backup file, else its first statement.
fn target_statement(profile: &StepProfile) -> Option<&Statement> {
    let reads = |k| {
        matches!(
            k,
            StatementKind::Select
                | StatementKind::RestoreHeaderOnly
                | StatementKind::RestoreFileListOnly
                | StatementKind::RestoreVerifyOnly
        )
    };
    let statements = &profile.statements;
    statements
        .iter()
        .find(|s| !reads(kind_of(s)))
        .or_else(|| {
            statements
                .iter()
                .find(|s| kind_of(s) != StatementKind::Select)
        })
        .or_else(|| statements.first())
}

/// The Skype for Business cmdlet a script line runs (`Set-CsPersistentChatState`).
fn cmdlet_name(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == '|')
        .find(|w| {
            // The Skype for Business cmdlet (`Verb-CsNoun`), not the `Import-Module`
            // that precedes it in every script.
            w.split_once('-').is_some_and(|(verb, noun)| {
                verb.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && noun.starts_with("Cs")
            })
        })
        .map(str::to_owned)
}

/// Cells that do not apply although the clean run suggests they do, and why.
fn not_applicable_by_design(step: StepId, fault: Fault) -> Option<&'static str> {
    let sql = matches!(
        fault,
        Fault::InstanceUnreachable | Fault::ConnectionDropped | Fault::StatementFails
    );
    (step == failback::CLEAR_ACTIVE_SERVERS && sql).then_some(
        "its only SQL statement reads the Agent's service account for a note, and a failure \
         of that read is tolerated by design (fencing needs no SQL)",
    )
}

/// The steps that copy log backups, each with the step that restores what it left.
const COPIES: [(StepId, StepId); 3] = [
    (failover::COPY_LOG_BACKUPS, failover::APPLY_UNAPPLIED_LOGS),
    (switchover::COPY_BACKLOG, switchover::RESTORE_BACKLOG),
    (switchover::COPY_TAIL, switchover::RESTORE_TAIL),
];

/// Whether `step` copies log backups from the share to the copy folder.
fn copies(step: StepId) -> bool {
    COPIES.iter().any(|(copy, _)| *copy == step)
}

/// The steps a cell's run may stop in: the step the fault hit, or by design another.
fn stops_in(step: StepId, fault: Fault) -> Vec<StepId> {
    let sql = matches!(
        fault,
        Fault::InstanceUnreachable | Fault::ConnectionDropped | Fault::StatementFails
    );
    match COPIES.iter().find(|(copy, _)| *copy == step) {
        // A copy step restores log backups as they land; a restore it cannot make is
        // either reported by it or left to the restore step after it, which observes
        // the restore point and reports it.
        Some((_, restore)) if sql => vec![step, *restore],
        _ => vec![step],
    }
}

/// What a cell injects, or why it does not apply.
#[derive(Debug, Clone)]
enum Plan {
    Down(InstanceId),
    Statement(StatementFault, StatementKind),
    Cmdlet(String, StoredCmdletFault),
    Share,
    CopyFull,
    NotApplicable(String),
}

fn plan(step: StepId, fault: Fault, profile: &StepProfile) -> Plan {
    if let Some(why) = not_applicable_by_design(step, fault) {
        return Plan::NotApplicable(why.into());
    }
    let world_dir = &profile.world_dir;
    let target = target_statement(profile);
    // The step's first cmdlet that changes something, else its first.
    let names: Vec<String> = profile
        .cmdlets
        .iter()
        .filter_map(|c| cmdlet_name(c))
        .collect();
    let cmdlet = names
        .iter()
        .find(|c| !c.starts_with("Get-"))
        .or_else(|| names.first())
        .cloned();
    let share = world_dir.join("share").display().to_string();
    let copy = world_dir.join("copy").display().to_string();
    let mentions = |folder: &str, writes: bool| {
        profile.statements.iter().any(|s| {
            let kind = kind_of(s);
            let touches_files = matches!(
                kind,
                StatementKind::BackupDatabase
                    | StatementKind::BackupLog
                    | StatementKind::RestoreDatabase
                    | StatementKind::RestoreLog
                    | StatementKind::RestoreHeaderOnly
                    | StatementKind::RestoreFileListOnly
                    | StatementKind::RestoreVerifyOnly
            );
            let writes_files = matches!(
                kind,
                StatementKind::BackupDatabase | StatementKind::BackupLog
            );
            (if writes { writes_files } else { touches_files })
                && (s.text.contains(folder)
                    || s.params
                        .iter()
                        .any(|p| p.value.as_str().is_some_and(|v| v.contains(folder))))
        })
    };
    let no_statement = || Plan::NotApplicable("sends no SQL statement".into());
    let no_cmdlet = || Plan::NotApplicable("runs no cmdlet".into());
    match fault {
        Fault::InstanceUnreachable => match target {
            Some(s) => Plan::Down(instance_named(&s.instance)),
            None => no_statement(),
        },
        Fault::ConnectionDropped | Fault::StatementFails => match target {
            None => no_statement(),
            Some(s) => {
                let kind = kind_of(s);
                let on = StatementMatch {
                    instance: Some(instance_named(&s.instance)),
                    kind: Some(kind),
                    nth: None,
                };
                if fault == Fault::ConnectionDropped {
                    Plan::Statement(StatementFault::Drop(on), kind)
                } else {
                    let error = realistic_error(kind, s);
                    Plan::Statement(StatementFault::Fail { on, error }, kind)
                }
            }
        },
        Fault::CmdletFails => match cmdlet {
            Some(c) => {
                let message = format!("{c} failed (injected)");
                Plan::Cmdlet(c, StoredCmdletFault::Fail(message))
            }
            None => no_cmdlet(),
        },
        Fault::ShellHangs => match cmdlet {
            Some(c) => Plan::Cmdlet(c, StoredCmdletFault::Hang),
            None => no_cmdlet(),
        },
        Fault::ShareUnreachable => {
            if copies(step) || mentions(&share, false) {
                Plan::Share
            } else {
                Plan::NotApplicable("neither reads nor writes the share".into())
            }
        }
        Fault::CopyFolderFull => {
            if copies(step) || mentions(&copy, true) {
                Plan::CopyFull
            } else {
                Plan::NotApplicable("writes nothing into the copy folder".into())
            }
        }
    }
}

/// Records, at each step's start, how many statements and cmdlets had been sent.
struct Marks {
    dir: PathBuf,
    marks: Mutex<Vec<(StepId, usize, usize)>>,
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

impl Observer for Marks {
    fn event(&self, event: &Event) {
        if let Event::StepStarted { step, .. } = event {
            let statements = line_count(&self.dir.join("statements.log"));
            let cmdlets = line_count(&self.dir.join("cmdlets.log"));
            self.marks
                .lock()
                .unwrap()
                .push((*step, statements, cmdlets));
        }
    }
}

/// A backlog world, traffic no log backup holds, a disaster at the primary site.
async fn struck() -> Served {
    let served = Served::new(&backlog()).await;
    served.world.traffic(3, false).expect("traffic");
    served.disaster().await;
    served
}

/// A backlog world both of whose sites answer, with traffic no log backup holds: ready
/// for a switchover.
async fn ready_for_switchover() -> Served {
    let served = Served::new(&backlog()).await;
    served.world.traffic(3, false).expect("traffic");
    served
}

/// A struck world failed over and its primary site rebuilt: ready for failback.
async fn ready_for_failback() -> Served {
    let served = struck().await;
    served.completes(failover::PROCEDURE).await;
    served.rebuild().await;
    served
}

/// Runs a clean failover and failback, and a clean switchover on a world of its own,
/// and returns what each step sent.
async fn profile() -> BTreeMap<&'static str, StepProfile> {
    let mut profiles = disaster_profile().await;
    let served = ready_for_switchover().await;
    let marks = Arc::new(Marks {
        dir: served.path().to_owned(),
        marks: Mutex::new(Vec::new()),
    });
    served
        .run_observed(switchover::PROCEDURE, RunOptions::default(), marks.clone())
        .await
        .expect("the clean switchover");
    let marks = marks.marks.lock().unwrap().clone();
    profiles.extend(step_profiles(&served, &marks, None));
    profiles
}

/// What each step of a clean failover and failback sent.
async fn disaster_profile() -> BTreeMap<&'static str, StepProfile> {
    let served = struck().await;
    let marks = Arc::new(Marks {
        dir: served.path().to_owned(),
        marks: Mutex::new(Vec::new()),
    });
    served
        .run_observed(failover::PROCEDURE, RunOptions::default(), marks.clone())
        .await
        .expect("the clean failover");
    let after_failover = (served.statements().len(), served.cmdlets().len());
    served.rebuild().await;
    let marks_failback = marks.marks.lock().unwrap().len();
    served
        .run_observed(failback::PROCEDURE, RunOptions::default(), marks.clone())
        .await
        .expect("the clean failback");
    let marks = marks.marks.lock().unwrap().clone();
    let failback_start = Some((marks_failback, after_failover));
    step_profiles(&served, &marks, failback_start)
}

/// What each step sent, from the statement and cmdlet counts marked at each step's
/// start; `split` is the index of the mark after which a second procedure started, with
/// the counts the first one ended at.
fn step_profiles(
    served: &Served,
    marks: &[(StepId, usize, usize)],
    split: Option<(usize, (usize, usize))>,
) -> BTreeMap<&'static str, StepProfile> {
    let statements = served.statements();
    let cmdlets = served.cmdlets();
    let mut profiles = BTreeMap::new();
    for (n, (step, s0, c0)) in marks.iter().enumerate() {
        let (s1, c1) = match split {
            Some((at, ended)) if n + 1 == at => ended,
            _ => marks
                .get(n + 1)
                .map(|(_, s, c)| (*s, *c))
                .unwrap_or((statements.len(), cmdlets.len())),
        };
        profiles.insert(
            step.as_str(),
            StepProfile {
                world_dir: served.path().to_owned(),
                // The run lock is taken before the first step and given back after the
                // last: no step sends it.
                statements: statements[*s0..s1]
                    .iter()
                    .filter(|s| !s.is_run_lock())
                    .cloned()
                    .collect(),
                cmdlets: cmdlets[*c0..c1].to_vec(),
            },
        );
    }
    profiles
}

/// The words an error must contain (one of them) to name the cause.
fn cause_words(plan: &Plan) -> Vec<String> {
    match plan {
        Plan::Down(i) => vec![
            "cannot reach".into(),
            i.host().into(),
            "refused".into(),
            "unreachable".into(),
        ],
        Plan::Statement(StatementFault::Drop(_), _) => {
            vec!["connection lost".into(), "connection".into()]
        }
        Plan::Statement(StatementFault::Fail { error, .. }, _) => vec![error.to_string()],
        Plan::Statement(..) => vec![],
        Plan::Cmdlet(c, StoredCmdletFault::Fail(_)) => vec![c.clone()],
        Plan::Cmdlet(_, StoredCmdletFault::Hang) => vec!["did not finish within".into()],
        Plan::Cmdlet(_, StoredCmdletFault::Warn(_)) => vec![],
        Plan::Share => vec!["share".into()],
        Plan::CopyFull => vec!["copy".into()],
        Plan::NotApplicable(_) => vec![],
    }
}

/// (instance, file) → how many RESTORE LOG statements named it.
fn restores(served: &Served) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for s in served.statements() {
        if kind_of(&s) == StatementKind::RestoreLog
            && let Some(file) = s.file_name()
        {
            *counts
                .entry((s.instance.clone(), file.to_owned()))
                .or_insert(0) += 1;
        }
    }
    counts
}

/// Runs one cell; `Err` says what went wrong.
async fn cell(
    procedure: Procedure,
    step: StepId,
    fault: Fault,
    profile: StepProfile,
    clean_restores: usize,
) -> Result<(), String> {
    let mut served = match procedure {
        failover::PROCEDURE => struck().await,
        failback::PROCEDURE => ready_for_failback().await,
        switchover::PROCEDURE => ready_for_switchover().await,
        other => panic!("no world is prepared for {other}"),
    };
    if fault == Fault::ShellHangs {
        served.topology.shell.timeout_secs = 1;
        served.topology.shell.mirror_timeout_secs = 1;
    }
    let before = restores(&served);
    let plan = plan(step, fault, &profile);
    let strike_plan = plan.clone();
    let interrupt = Interrupt::new(
        served.world.clone(),
        move |e: &Event| matches!(e, Event::StepStarted { step: s, .. } if *s == step),
        move |world: &World| match strike_plan {
            Plan::Down(i) => {
                // The world closes the instance's listener; an instance that goes down
                // also breaks the connections already open to it.
                world.set_instance_down(i, true).unwrap();
                let on = StatementMatch {
                    instance: Some(i),
                    kind: None,
                    nth: None,
                };
                world.add_statement_fault(StatementFault::Drop(on)).unwrap();
            }
            Plan::Statement(f, _) => world.add_statement_fault(f).unwrap(),
            Plan::Cmdlet(c, f) => world.set_cmdlet_fault(&c, Some(f)).unwrap(),
            Plan::Share => world.set_share_unreachable(true).unwrap(),
            Plan::CopyFull => world.set_copy_folder_full(true).unwrap(),
            Plan::NotApplicable(_) => {}
        },
    );
    let outcome = served
        .run_observed(procedure, RunOptions::default(), interrupt.clone())
        .await;
    let error = match outcome {
        Ok(report) => {
            return Err(format!(
                "the run did not stop (completed: {})",
                report.completed
            ));
        }
        Err(e) => e,
    };
    if !interrupt.struck() {
        return Err(format!("the run stopped before the step: {error}"));
    }
    let text = error.to_string();
    let stopped = error.step_id();
    if !stopped.is_some_and(|s| stops_in(step, fault).contains(&s)) {
        return Err(format!(
            "stopped in {:?}, not this step: {text}",
            error.step_id()
        ));
    }
    if !stopped.is_some_and(|s| text.contains(s.as_str())) {
        return Err(format!("the error does not name the step: {text}"));
    }
    let words = cause_words(&plan);
    let lower = text.to_ascii_lowercase();
    let mut problems = Vec::new();
    if !words
        .iter()
        .any(|w| lower.contains(&w.to_ascii_lowercase()))
    {
        // Recorded, and the cell goes on to check the resume.
        problems.push(format!(
            "the error does not name the cause ({words:?}): {text}"
        ));
    }

    served.world.clear_faults().unwrap();
    if let Plan::Down(i) = plan {
        // The serving loop must have closed the listener before the instance comes
        // back: a close still pending would cut the resumed run's new session.
        wait_until_down(&served, i).await;
        served.world.set_instance_down(i, false).unwrap();
        let site = match i.site() {
            Site::Primary => SiteRole::Primary,
            Site::Backup => SiteRole::Backup,
        };
        wait_until_listening(&served.topology, site, true).await;
    }
    // The journal must be free once the failed run returned; if it is not, say for how
    // long it stayed locked.
    let returned = Instant::now();
    let mut locked_for = None;
    let report = loop {
        match served.resume(procedure, RunOptions::default()).await {
            Err(pcdr_core::Error::JournalLocked { .. })
                if returned.elapsed() < Duration::from_secs(20) =>
            {
                locked_for = Some(returned.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    };
    if let Some(locked_for) = locked_for {
        problems.push(format!(
            "the journal was still locked {} ms after the failed run returned",
            locked_for.as_millis()
        ));
    }
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            problems.push(format!("the resumed run failed: {e}"));
            return Err(problems.join("; "));
        }
    };
    if !report.completed {
        problems.push("the resumed run did not complete".into());
        return Err(problems.join("; "));
    }
    let expect = match procedure {
        failover::PROCEDURE => Expect::FailedOver,
        failback::PROCEDURE => Expect::Normal,
        switchover::PROCEDURE => Expect::SwitchedOver,
        other => panic!("no end state is known for {other}"),
    };
    let differences = served.world.verify(expect).map_err(|e| e.to_string())?;
    if !differences.is_empty() {
        problems.push(format!("the world does not verify: {differences:?}"));
    }
    // No log backup restored twice, none skipped.
    let after = restores(&served);
    let mut extra = 0;
    for (key, n) in &after {
        let n = n - before.get(key).copied().unwrap_or(0);
        if n > 1 {
            extra += n - 1;
        }
    }
    let allowed = usize::from(matches!(
        plan,
        Plan::Statement(_, StatementKind::RestoreLog)
    ));
    if extra > allowed {
        problems.push(format!("{extra} log restores repeated: {after:?}"));
    }
    let distinct = after
        .iter()
        .filter(|(key, n)| **n > before.get(*key).copied().unwrap_or(0))
        .count();
    if distinct != clean_restores {
        problems.push(format!(
            "{distinct} log backups restored, the clean run restored {clean_restores}: {after:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_at_every_step_stops_cleanly_and_resumes() {
    let started = Instant::now();
    let profiles = profile().await;
    let mut sent = String::from("\nwhat each step sent in the clean run:\n");
    for (procedure, step) in PROCEDURES
        .into_iter()
        .flat_map(|p| p.steps().iter().map(move |s| (p, *s)))
    {
        let p = &profiles[step.as_str()];
        let statements: Vec<String> = p
            .statements
            .iter()
            .map(|s| format!("{}:{}", s.instance, kind_of(s)))
            .collect();
        let cmdlets: Vec<String> = p.cmdlets.iter().filter_map(|c| cmdlet_name(c)).collect();
        sent.push_str(&format!(
            "  {procedure} {}: statements [{}] cmdlets [{}]\n",
            step.as_str(),
            statements.join(" "),
            cmdlets.join(" ")
        ));
    }
    eprintln!("{sent}");
    if std::env::var_os("FAULT_MATRIX_PROFILE_ONLY").is_some() {
        return;
    }
    let steps: Vec<(Procedure, StepId)> = PROCEDURES
        .into_iter()
        .flat_map(|p| p.steps().iter().map(move |s| (p, *s)))
        .collect();
    let clean_restores = |procedure: Procedure| {
        procedure
            .steps()
            .iter()
            .flat_map(|s| profiles[s.as_str()].statements.iter())
            .filter(|s| kind_of(s) == StatementKind::RestoreLog)
            .filter_map(|s| s.file_name().map(|f| (s.instance.clone(), f.to_owned())))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_CELLS));
    let mut cells = tokio::task::JoinSet::new();
    let mut results: BTreeMap<(&'static str, Fault), Result<(), String>> = BTreeMap::new();
    let mut not_applicable: BTreeMap<(&'static str, Fault), String> = BTreeMap::new();
    for (procedure, step) in &steps {
        for fault in Fault::ALL {
            let profile = profiles[step.as_str()].clone();
            if let Ok(only) = std::env::var("FAULT_MATRIX_ONLY")
                && only != format!("{}:{fault}", step.as_str())
            {
                continue;
            }
            if let Plan::NotApplicable(why) = plan(*step, fault, &profile) {
                not_applicable.insert((step.as_str(), fault), why);
                continue;
            }
            let (procedure, step) = (*procedure, *step);
            let restores = clean_restores(procedure);
            let limit = limit.clone();
            cells.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let result = tokio::time::timeout(
                    Duration::from_secs(60),
                    cell(procedure, step, fault, profile, restores),
                )
                .await
                .unwrap_or_else(|_| Err("the cell did not finish within 60 s".into()));
                ((step.as_str(), fault), result)
            });
        }
    }
    while let Some(done) = cells.join_next().await {
        let (key, result) = done.expect("a cell panicked");
        results.insert(key, result);
    }

    // The matrix: faults × steps.
    let mut table = String::from("\nfault matrix (P = passed, F = failed, - = not applicable)\n");
    table.push_str(&format!("{:<26}", "step"));
    for fault in Fault::ALL {
        table.push_str(&format!("{:>22}", fault.to_string()));
    }
    table.push('\n');
    let mut passed = BTreeMap::<Fault, usize>::new();
    for (_, step) in &steps {
        table.push_str(&format!("{:<26}", step.as_str()));
        for fault in Fault::ALL {
            let mark = match results.get(&(step.as_str(), fault)) {
                Some(Ok(())) => {
                    *passed.entry(fault).or_default() += 1;
                    "P"
                }
                Some(Err(_)) => "F",
                None => "-",
            };
            table.push_str(&format!("{mark:>22}"));
        }
        table.push('\n');
    }
    table.push_str(&format!("{:<26}", "passed"));
    for fault in Fault::ALL {
        let applicable = results.keys().filter(|(_, f)| *f == fault).count();
        let cell = format!("{}/{applicable}", passed.get(&fault).copied().unwrap_or(0));
        table.push_str(&format!("{cell:>22}"));
    }
    table.push_str("\n\nnot applicable:\n");
    for ((step, fault), why) in &not_applicable {
        table.push_str(&format!("  {step} × {fault}: {why}\n"));
    }
    let failures: Vec<String> = results
        .iter()
        .filter_map(|((step, fault), r)| {
            r.as_ref().err().map(|e| format!("  {step} × {fault}: {e}"))
        })
        .collect();
    if !failures.is_empty() {
        table.push_str("\nfailed:\n");
        table.push_str(&failures.join("\n"));
        table.push('\n');
    }
    table.push_str(&format!(
        "\n{} cells run in {:.1} s\n",
        results.len(),
        started.elapsed().as_secs_f64()
    ));
    eprintln!("{table}");
    assert!(
        failures.is_empty(),
        "{} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
