//! The plan is the run: `pcdr plan` is the dry run an operator reviews, so every command
//! it shows must be what the run then sends. Each test plans a procedure on an emulated
//! world, runs it through the real adapters, and walks the statements the instances
//! received (`statements.log`) and the cmdlets the shell ran (`cmdlets.log`) against
//! the plan, in order. Only what the plan marks may differ: a placeholder (`<run id>`,
//! `<session>`, `<yyyyMMddHHmmss>`) stands for any value, and a command the plan says
//! is not sent exactly once (`when`) may be sent any number of times. Everything the run
//! sent that the plan does not show must be a read (or the run lock, taken before the
//! first step, given back after the last, and changing nothing of the world).

mod common;

use common::{Served, Statement, backlog};
use pcdr_core::commands::sql::SqlValue;
use pcdr_core::procedure::{Command, CommandKind, Procedure, RunOptions, failback, failover};
use pcdr_core::runbook::{Plan, plan};
use pcdr_sim::world::WorldOptions;
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::msdb::JobKind;

/// Whether `text` matches `pattern`, where each `<…>` in the pattern stands for any text.
fn matches_placeholders(pattern: &str, text: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) => {
                literals.push(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    literals.push(rest);
    let Some((first, others)) = literals.split_first() else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = others.split_last() else {
        return remaining.is_empty();
    };
    for literal in middle {
        match remaining.find(literal) {
            Some(at) => remaining = &remaining[at + literal.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// A planned command and what the run recorded, side by side.
trait Recorded {
    fn matches(&self, planned: &Command) -> bool;
    fn is_read(&self) -> bool;
    fn describe(&self) -> String;
}

impl Recorded for Statement {
    fn matches(&self, planned: &Command) -> bool {
        let CommandKind::Sql { command } = &planned.kind else {
            return false;
        };
        // `sp_executesql` receives the declarations as `@params`, then the values.
        let values = self.params.iter().filter(|p| p.name != "@params").count();
        let declared = self
            .param("@params")
            .is_none_or(|d| d == command.declarations());
        if !matches_placeholders(&command.text, &self.text)
            || !declared
            || command.params.len() != values
        {
            return false;
        }
        command.params.iter().all(|p| {
            let value = match &p.value {
                SqlValue::Text(text) => text.clone(),
                SqlValue::Int(n) => n.to_string(),
            };
            self.params.iter().any(|r| {
                let recorded = match &r.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                r.name.eq_ignore_ascii_case(&p.name) && matches_placeholders(&value, &recorded)
            })
        })
    }

    /// Reads: queries, the backup reads that change nothing, and the run lock, which
    /// changes nothing of the world either (taken before the first step, given back after
    /// the last).
    fn is_read(&self) -> bool {
        let text = self.text.trim_start().to_ascii_uppercase();
        ["SELECT ", "RESTORE HEADERONLY", "RESTORE FILELISTONLY"]
            .iter()
            .any(|read| text.starts_with(read))
            || self.is_run_lock()
    }

    fn describe(&self) -> String {
        format!("[{}] {} {:?}", self.instance, self.text, self.params)
    }
}

/// One line of `cmdlets.log`: the whole script the shell ran.
struct Cmdlet(String);

impl Recorded for Cmdlet {
    fn matches(&self, planned: &Command) -> bool {
        let CommandKind::Shell { line } = &planned.kind else {
            return false;
        };
        let pattern = format!("<module>; $ErrorActionPreference = 'Stop'; {line} | <json>");
        matches_placeholders(&pattern, &self.0)
    }

    fn is_read(&self) -> bool {
        self.0.contains("; Get-Cs")
    }

    fn describe(&self) -> String {
        self.0.clone()
    }
}

/// Walks `recorded` against `planned` in order: each recorded command is the next
/// planned one, or a repetition of a planned command that may repeat, or a read; a
/// planned command that may be skipped is skipped when the next one matches. Returns
/// what did not fit.
fn walk<R: Recorded>(planned: &[&Command], recorded: &[R]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut next = 0;
    for record in recorded {
        let fits = (next..planned.len())
            .take_while(|&i| i == next || planned[i - 1].when.is_some())
            .find(|&i| record.matches(planned[i]));
        match fits {
            Some(i) if planned[i].when.is_some() => next = i,
            Some(i) => next = i + 1,
            None if record.is_read() => {}
            None => problems.push(format!("sent but not planned: {}", record.describe())),
        }
    }
    let missing = planned[next..].iter().filter(|c| c.when.is_none());
    problems.extend(missing.map(|c| format!("planned but not sent: {c}")));
    problems
}

/// The plan's commands of one kind, in order.
fn planned(plan: &Plan, kind: fn(&CommandKind) -> bool) -> Vec<&Command> {
    plan.steps
        .iter()
        .flat_map(|s| &s.commands)
        .filter(|c| kind(&c.kind))
        .collect()
}

/// The copies the plan named exactly that did not land where it said.
fn unlanded_copies(plan: &Plan) -> Vec<String> {
    planned(plan, |k| matches!(k, CommandKind::Copy { .. }))
        .into_iter()
        .filter_map(|c| match &c.kind {
            CommandKind::Copy { to, .. } if !to.contains('<') => Some(to),
            _ => None,
        })
        .filter(|to| !std::path::Path::new(to).exists())
        .map(|to| format!("planned copy did not land: {to}"))
        .collect()
}

/// Plans `procedure` on `served`, runs it, and checks the run against the plan.
async fn plan_then_run(served: &Served, procedure: Procedure) {
    let plan = plan(&served.context(RunOptions::default()), procedure).await;
    assert!(plan.can_run(), "{procedure} plan is blocked: {plan:#?}");
    let (statements, cmdlets) = (served.statements().len(), served.cmdlets().len());
    served.completes(procedure).await;
    let sent: Vec<Statement> = served.statements().split_off(statements);
    let ran: Vec<Cmdlet> = served
        .cmdlets()
        .split_off(cmdlets)
        .into_iter()
        .map(Cmdlet)
        .collect();
    let mut problems = unlanded_copies(&plan);
    problems.extend(walk(
        &planned(&plan, |k| matches!(k, CommandKind::Sql { .. })),
        &sent,
    ));
    problems.extend(walk(
        &planned(&plan, |k| matches!(k, CommandKind::Shell { .. })),
        &ran,
    ));
    assert!(
        problems.is_empty(),
        "{procedure}: the run differs from its plan:\n{}\n\nplan:\n{}",
        problems.join("\n"),
        plan.steps
            .iter()
            .flat_map(|s| s
                .commands
                .iter()
                .map(move |c| format!("{}: {c}", s.step.as_str())))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_and_failback_send_what_their_plans_show() {
    plan_then_run_both(&backlog()).await;
}

/// A standby secondary with readers: the plan's `KILL <session>` stands for each of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_standby_readers_is_in_the_plan() {
    let standby = WorldOptions {
        standby: true,
        readers: 2,
        ..backlog()
    };
    let served = plan_then_run_both(&standby).await;
    let kills = served.count(InstanceId::Backup, "KILL ", |_| true);
    assert!(
        kills >= 2,
        "the readers were ended: {kills} KILL statements"
    );
}

/// Named instances on static ports (every world's): pcdr connects to the ports and names
/// the server by its FQDN and the instance to `Install-CsMirrorDatabase`, in the plan as
/// in the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_instances_are_planned_and_named() {
    let served = plan_then_run_both(&backlog()).await;
    let mirrors = served
        .cmdlets()
        .into_iter()
        .filter(|c| c.contains("Install-CsMirrorDatabase"))
        .collect::<Vec<_>>();
    assert_eq!(mirrors.len(), 2, "{mirrors:#?}");
    assert!(
        mirrors
            .iter()
            .all(|c| c.contains(".contoso.test' -SqlInstanceName 'PCHAT'")),
        "{mirrors:#?}"
    );
}

/// Fails a struck world over, rebuilds the primary site, fails back, each after its plan.
async fn plan_then_run_both(options: &WorldOptions) -> Served {
    let served = Served::new(options).await;
    served
        .world
        .traffic(3, false)
        .expect("traffic on the primary");
    served.disaster().await;
    plan_then_run(&served, failover::PROCEDURE).await;
    served.rebuild().await;
    plan_then_run(&served, failback::PROCEDURE).await;
    served
}

/// A restore job still running when the failover is planned: the plan names it in the
/// `sp_stop_job` the run sends before it removes log shipping, and the reads of
/// `msdb.dbo.sysjobactivity` while the run waits for the job to stop are reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_running_log_shipping_job_is_in_the_plan() {
    let served = Served::new(&backlog()).await;
    served.disaster().await;
    let restore_job = |kind: &JobKind| matches!(kind, JobKind::Restore(_));
    let job = served
        .world
        .start_running_job(InstanceId::Backup, restore_job, 300)
        .unwrap()
        .expect("the backup instance has a restore job");
    plan_then_run(&served, failover::PROCEDURE).await;
    let stops = served.count(InstanceId::Backup, "sp_stop_job", |s| {
        s.param("@job") == Some(job.as_str())
    });
    assert_eq!(stops, 1, "the running job {job} is stopped once");
}

#[test]
fn placeholders_match_any_text_and_literals_match_exactly() {
    assert!(matches_placeholders("KILL <session>;", "KILL 57;"));
    assert!(!matches_placeholders("KILL <session>;", "KILL 57"));
    assert!(matches_placeholders("a_<run id>.bak", "a_20261207.bak"));
    assert!(!matches_placeholders("a_<run id>.bak", "b_20261207.bak"));
    assert!(matches_placeholders("exact", "exact"));
    assert!(!matches_placeholders("exact", "exactly"));
}
