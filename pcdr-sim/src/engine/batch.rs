//! Running a batch: parse it, then run each statement in order with the statement
//! latency and injected faults applied first. A failed statement reports its errors and
//! the batch goes on, unless the error ends the batch (syntax, 208, 207, 137, …), as in
//! SQL Server.
//!
//! Holds the statements that need no module of their own: `DECLARE`, `SET`, `USE`,
//! transactions, `WAITFOR DELAY`, `PRINT`, `KILL`, control of flow (`IF`, `BEGIN … END`,
//! `RAISERROR`, `RETURN`, with `@@ERROR` set after each statement), and `EXEC` dispatch.

use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};

use crate::engine::catalog::Source;
use crate::engine::exec::{Arg, Exec, done};
use crate::engine::failure::{Failure, unknown_procedure};
use crate::engine::scope::text_of;
use crate::engine::{agent, alter, applock, backup, executesql, msdb, restore, select};
use crate::tds::{Column, ColumnType, ResultSet, ServerMessage, StatementResult, Value};
use crate::tsql::ast::{ArgumentValue, Execute, Expr, Operand, RestoreTarget, Statement};
use crate::world::faults::StatementKind;

impl<'a> Exec<'a> {
    /// Parses and runs `text`.
    pub fn run_batch<'b>(&'b mut self, text: &'b str) -> BoxFuture<'b, Vec<StatementResult>> {
        async move {
            let batch = match crate::tsql::parse_batch(text) {
                Ok(batch) => batch,
                Err(error) => return vec![StatementResult::Failed(Failure::from(error).messages)],
            };
            let mut results = Vec::new();
            self.run_statements(&batch.statements, &mut results).await;
            if results.is_empty() {
                results.push(StatementResult::Done { rows: None });
            }
            results
        }
        .boxed()
    }

    /// Runs `statements` in order into `results`, setting `@@ERROR` after each, until
    /// the batch ends (an error that ends it, or `RETURN`).
    fn run_statements<'b>(
        &'b mut self,
        statements: &'b [Statement],
        results: &'b mut Vec<StatementResult>,
    ) -> BoxFuture<'b, ()> {
        async move {
            for statement in statements {
                match self.statement(statement, results).await {
                    Ok(produced) => {
                        results.extend(produced);
                        self.error = 0;
                    }
                    Err(failure) => {
                        self.ended |= failure.aborts_batch;
                        self.error = failure.messages.first().map_or(0, |m| m.number);
                        results.push(StatementResult::Failed(failure.messages));
                    }
                }
                if self.ended {
                    return;
                }
            }
        }
        .boxed()
    }

    /// Runs one statement; a block's statements put their results into `results`.
    async fn statement(
        &mut self,
        statement: &Statement,
        results: &mut Vec<StatementResult>,
    ) -> Result<Vec<StatementResult>, Failure> {
        let kind = kind_of(statement);
        self.before(kind).await?;
        match statement {
            Statement::Select(query) => self.select(query),
            Statement::Restore(r) => restore::run(self, r).await,
            Statement::Backup(b) => backup::run(self, b).await,
            Statement::AlterDatabase(a) => alter::run(self, a),
            Statement::Kill(spid) => self.kill(*spid),
            Statement::Execute(exec) => self.execute(exec).await,
            Statement::Declare(declarations) => self.declare(declarations),
            Statement::SetVariable { variable, value } => {
                let value = self.eval(value)?;
                self.scope.set(variable, value)?;
                Ok(done())
            }
            Statement::SetOptions { .. }
            | Statement::SetTextSize(_)
            | Statement::SetLockTimeout(_) => Ok(done()),
            Statement::Use(database) => self.use_database(database),
            Statement::BeginTransaction(_) => {
                self.engine
                    .with_session(self.session.spid(), |s| s.trancount += 1);
                Ok(done())
            }
            Statement::CommitTransaction(_) => self.end_transaction(false),
            Statement::RollbackTransaction(_) => self.end_transaction(true),
            Statement::WaitForDelay(delay) => self.wait_for(delay).await,
            Statement::Print(expr) => {
                let text = text_of(&self.eval(expr)?).unwrap_or_default();
                Ok(vec![StatementResult::Info(ServerMessage::new(0, 0, text))])
            }
            Statement::If { condition, then } => {
                if self.test(condition)? == Some(true) {
                    return Box::pin(self.statement(then, results)).await;
                }
                Ok(Vec::new())
            }
            Statement::Block(inner) => {
                self.run_statements(inner, results).await;
                Ok(Vec::new())
            }
            Statement::RaiseError {
                message,
                severity,
                args,
                ..
            } => self.raise_error(message, severity, args),
            Statement::Return => {
                self.ended = true;
                Ok(Vec::new())
            }
        }
    }

    /// `RAISERROR`: error 50000 with the formatted message, as an informational message
    /// at severity 10 or below, else as an error that does not end the batch
    /// (<https://learn.microsoft.com/sql/t-sql/language-elements/raiserror-transact-sql>).
    fn raise_error(
        &self,
        message: &Expr,
        severity: &Expr,
        args: &[Expr],
    ) -> Result<Vec<StatementResult>, Failure> {
        let template = text_of(&self.eval(message)?).unwrap_or_default();
        let values = args
            .iter()
            .map(|a| Ok(text_of(&self.eval(a)?).unwrap_or_else(|| "(null)".into())))
            .collect::<Result<Vec<_>, Failure>>()?;
        let severity = crate::engine::scope::integer_of(&self.eval(severity)?, "int")?;
        let class = severity.and_then(|v| u8::try_from(v).ok()).unwrap_or(16);
        let text = substitute(&template, &values);
        if class <= 10 {
            return Ok(vec![StatementResult::Info(ServerMessage::new(
                50000, class, text,
            ))]);
        }
        Err(Failure::new(50000, class, text))
    }

    /// Counts the statement, applies the latency and any injected fault.
    async fn before(&mut self, kind: StatementKind) -> Result<(), Failure> {
        let instance = self.engine.instance;
        let (verdict, latency) = self.engine.world.update(|state| {
            let count = state.instance_mut(instance).map_or(0, |i| {
                i.statements += 1;
                i.statements
            });
            let verdict = state.faults.verdict(instance, kind, count);
            (verdict, state.settings.statement_latency_ms)
        })?;
        let wait = latency.saturating_add(verdict.delay_ms);
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        if verdict.drop {
            self.session.registry().kill(self.session.spid());
            std::future::pending::<()>().await;
        }
        match verdict.fail {
            Some(number) => {
                let failure =
                    Failure::error(number, format!("Injected fault: error {number} on {kind}."));
                Err(match terminating_text(kind) {
                    Some(what) => failure.terminating(what),
                    None => failure,
                })
            }
            None => Ok(()),
        }
    }

    fn select(
        &mut self,
        query: &crate::tsql::ast::Select,
    ) -> Result<Vec<StatementResult>, Failure> {
        let state = self.state()?;
        let session = self.session_state();
        let instance = self.instance(&state)?;
        let sessions = self.engine.session_rows(self.session, instance);
        let applocks = self.engine.applocks.all();
        let source = Source {
            instance,
            server: self.engine.instance,
            database: &session.database,
            sessions: &sessions,
            applocks: &applocks,
            settings: &state.settings,
            down: &state.faults.down,
        };
        let mut assigned = self.scope.clone();
        let result = {
            let env = self.env(&state, &session)?;
            select::run(&env, &source, query, &mut assigned)?
        };
        self.scope = assigned;
        Ok(match result {
            Some(rows) => vec![StatementResult::Rows(rows)],
            None => done(),
        })
    }

    fn declare(
        &mut self,
        declarations: &[crate::tsql::ast::Declaration],
    ) -> Result<Vec<StatementResult>, Failure> {
        for declaration in declarations {
            let value = match &declaration.initial {
                Some(expr) => self.eval(expr)?,
                None => Value::Null,
            };
            self.scope.declare(declaration, value)?;
        }
        Ok(done())
    }

    fn use_database(&mut self, name: &str) -> Result<Vec<StatementResult>, Failure> {
        let state = self.state()?;
        let instance = self.instance(&state)?;
        let db = instance
            .database(name)
            .ok_or_else(|| crate::world::dbops::SqlError::no_database(name))?;
        if db.state == crate::world::model::DbState::Restoring {
            return Err(Failure::error(
                927,
                format!(
                    "Database '{}' cannot be opened. It is in the middle of a restore.",
                    db.name
                ),
            ));
        }
        if db.state == crate::world::model::DbState::Offline {
            return Err(Failure::error(
                942,
                format!(
                    "Database '{}' cannot be opened because it is offline.",
                    db.name
                ),
            ));
        }
        let usage = self.engine.usage(self.session, instance, &db.name);
        if db.user_access == crate::world::model::UserAccess::SingleUser && usage.others {
            return Err(Failure::new(
                924,
                14,
                format!(
                    "Database '{}' is already open and can only have one user at a time.",
                    db.name
                ),
            ));
        }
        let name = db.name.clone();
        self.engine
            .with_session(self.session.spid(), |s| s.database = name);
        Ok(done())
    }

    fn end_transaction(&mut self, rollback: bool) -> Result<Vec<StatementResult>, Failure> {
        if !self.in_transaction() {
            let (number, what) = if rollback {
                (3903, "ROLLBACK")
            } else {
                (3902, "COMMIT")
            };
            return Err(Failure::error(
                number,
                format!("The {what} TRANSACTION request has no corresponding BEGIN TRANSACTION."),
            ));
        }
        self.engine.with_session(self.session.spid(), |s| {
            s.trancount = if rollback { 0 } else { s.trancount - 1 };
        });
        Ok(done())
    }

    async fn wait_for(&mut self, delay: &Operand) -> Result<Vec<StatementResult>, Failure> {
        let text = self.operand(delay)?;
        let duration = parse_delay(&text).ok_or_else(|| {
            Failure::error(
                148,
                format!("Incorrect time syntax in time string '{text}' used with WAITFOR."),
            )
        })?;
        tokio::time::sleep(duration).await;
        Ok(done())
    }

    fn kill(&mut self, spid: i64) -> Result<Vec<StatementResult>, Failure> {
        let own = i64::from(self.session.spid());
        if spid == own {
            return Err(Failure::error(
                6104,
                "Cannot use KILL to kill your own process.",
            ));
        }
        let not_active = || {
            Failure::error(
                6106,
                format!("Process ID {spid} is not an active process ID."),
            )
        };
        let spid = u16::try_from(spid).map_err(|_| not_active())?;
        if (1..=50).contains(&spid) {
            return Err(Failure::error(6107, "Only user processes can be killed."));
        }
        let instance = self.engine.instance;
        let background = self.engine.world.update(|state| {
            state
                .instance_mut(instance)
                .is_some_and(|i| i.kill_background_session(spid))
        })?;
        if background || self.session.registry().kill(spid) {
            Ok(done())
        } else {
            Err(not_active())
        }
    }

    async fn execute(&mut self, exec: &Execute) -> Result<Vec<StatementResult>, Failure> {
        let procedure = exec.procedure.0.last().cloned().unwrap_or_default();
        let args = self.arguments(exec)?;
        let lower = procedure.to_ascii_lowercase();
        let mut code = 0;
        let results = if executesql::is_sp_executesql(&lower) {
            self.sp_executesql(&args).await?
        } else if lower == "sp_who" {
            vec![self.sp_who()?]
        } else if msdb::is_known(&lower) {
            match msdb::call(self, &lower, &args)? {
                Ok(outputs) => {
                    self.write_outputs(&args, outputs)?;
                    done()
                }
                Err(failure) if !failure.aborts_batch => {
                    code = 1;
                    vec![StatementResult::Failed(failure.messages)]
                }
                Err(failure) => return Err(failure),
            }
        } else if agent::is_known(&lower) {
            let (returned, sent) = agent::call(self, &args)?;
            code = returned;
            if sent.is_empty() { done() } else { sent }
        } else if applock::is_known(&lower) {
            let (returned, sent) = applock::call(self, &lower, &args).await?;
            code = returned;
            if sent.is_empty() { done() } else { sent }
        } else {
            return Err(unknown_procedure(&exec.procedure.0.join(".")));
        };
        if let Some(status) = &exec.return_status {
            self.scope.set(status, Value::Int(code))?;
        }
        Ok(results)
    }

    fn arguments(&self, exec: &Execute) -> Result<Vec<Arg>, Failure> {
        exec.args
            .iter()
            .map(|arg| {
                let value = match &arg.value {
                    ArgumentValue::Default => None,
                    ArgumentValue::Expr(Expr::Column(name)) if name.0.len() == 1 => {
                        Some(Value::NVarChar(name.0[0].clone()))
                    }
                    ArgumentValue::Expr(expr) => Some(self.eval(expr)?),
                };
                let output = match (&arg.value, arg.output) {
                    (ArgumentValue::Expr(Expr::Variable(v)), true) => Some(v.clone()),
                    _ => None,
                };
                Ok(Arg {
                    name: arg.name.clone(),
                    value,
                    output,
                })
            })
            .collect()
    }

    fn write_outputs(
        &mut self,
        args: &[Arg],
        outputs: Vec<(String, Value)>,
    ) -> Result<(), Failure> {
        for (param, value) in outputs {
            let target = args.iter().find(|a| {
                a.output.is_some()
                    && a.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&param))
            });
            if let Some(variable) = target.and_then(|a| a.output.clone()) {
                self.scope.set(&variable, value)?;
            }
        }
        Ok(())
    }

    /// `EXEC sp_executesql @stmt, @params, @p = …` inside a batch.
    async fn sp_executesql(&mut self, args: &[Arg]) -> Result<Vec<StatementResult>, Failure> {
        self.ensure_can_nest()?;
        let mut rest = args.iter().peekable();
        let statement = rest
            .next()
            .and_then(|a| a.value.as_ref())
            .and_then(text_of)
            .ok_or_else(|| Failure::error(201, "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied."))?;
        let declarations = rest
            .next_if(|a| {
                a.name
                    .as_deref()
                    .is_none_or(|n| n.eq_ignore_ascii_case("@params"))
            })
            .and_then(|a| a.value.as_ref())
            .and_then(text_of);
        let values = rest
            .map(|a| (a.name.clone(), a.value.clone().unwrap_or(Value::Null)))
            .collect();
        let scope = executesql::bind(declarations.as_deref(), &statement, values)?;
        Ok(self.nested(scope).run_batch(&statement).await)
    }

    fn sp_who(&self) -> Result<StatementResult, Failure> {
        let state = self.state()?;
        let instance = self.instance(&state)?;
        let columns = [
            "spid", "ecid", "status", "loginame", "hostname", "blk", "dbname", "cmd",
        ];
        let types = [
            ColumnType::Int,
            ColumnType::Int,
            ColumnType::NVarChar,
            ColumnType::NVarChar,
            ColumnType::NVarChar,
            ColumnType::NVarChar,
            ColumnType::NVarChar,
            ColumnType::NVarChar,
        ];
        let rows = self
            .engine
            .session_rows(self.session, instance)
            .into_iter()
            .map(|s| {
                vec![
                    Value::Int(i32::from(s.spid)),
                    Value::Int(0),
                    Value::NVarChar(if s.user { "sleeping" } else { "background" }.into()),
                    Value::NVarChar(s.login),
                    Value::NVarChar(String::new()),
                    Value::NVarChar("0".into()),
                    Value::NVarChar(s.database),
                    Value::NVarChar(
                        if s.user {
                            "AWAITING COMMAND"
                        } else {
                            "TASK MANAGER"
                        }
                        .into(),
                    ),
                ]
            })
            .collect();
        Ok(StatementResult::Rows(ResultSet {
            columns: columns
                .iter()
                .zip(types)
                .map(|(n, t)| Column::new(*n, t))
                .collect(),
            rows,
        }))
    }
}

/// What a statement is, for faults.
fn kind_of(statement: &Statement) -> StatementKind {
    match statement {
        Statement::Select(_) => StatementKind::Select,
        Statement::Restore(r) => match r.target {
            RestoreTarget::Database(_) => StatementKind::RestoreDatabase,
            RestoreTarget::Log(_) => StatementKind::RestoreLog,
            RestoreTarget::HeaderOnly => StatementKind::RestoreHeaderOnly,
            RestoreTarget::FileListOnly => StatementKind::RestoreFileListOnly,
            RestoreTarget::VerifyOnly => StatementKind::RestoreVerifyOnly,
        },
        Statement::Backup(b) if b.log => StatementKind::BackupLog,
        Statement::Backup(_) => StatementKind::BackupDatabase,
        Statement::AlterDatabase(_) => StatementKind::AlterDatabase,
        Statement::Kill(_) => StatementKind::Kill,
        Statement::Execute(_) => StatementKind::Execute,
        _ => StatementKind::Other,
    }
}

/// The `<what>` of the 3013 that follows a failed BACKUP or RESTORE of this kind.
pub(crate) fn terminating_text(kind: StatementKind) -> Option<&'static str> {
    Some(match kind {
        StatementKind::RestoreLog => "RESTORE LOG",
        StatementKind::RestoreDatabase => "RESTORE DATABASE",
        StatementKind::RestoreHeaderOnly => "RESTORE HEADERONLY",
        StatementKind::RestoreFileListOnly => "RESTORE FILELIST",
        StatementKind::RestoreVerifyOnly => "VERIFY DATABASE",
        StatementKind::BackupDatabase => "BACKUP DATABASE",
        StatementKind::BackupLog => "BACKUP LOG",
        _ => return None,
    })
}

/// `hh:mm[:ss[.fff]]`, at most 24 hours.
/// `RAISERROR`'s message with each `%s`, `%d` or `%i` replaced by the next value and
/// `%%` by `%`.
fn substitute(template: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut values = values.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('%')) => {
                chars.next();
                out.push('%');
            }
            ('%', Some('s' | 'd' | 'i')) => {
                chars.next();
                out.push_str(values.next().map_or("(null)", String::as_str));
            }
            _ => out.push(c),
        }
    }
    out
}

fn parse_delay(text: &str) -> Option<Duration> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let hours: u64 = parts[0].parse().ok()?;
    let minutes: u64 = parts[1].parse().ok()?;
    let seconds: f64 = parts.get(2).map_or(Some(0.0), |s| s.parse().ok())?;
    if minutes >= 60 || !(0.0..60.0).contains(&seconds) || hours > 24 {
        return None;
    }
    Some(Duration::from_secs(hours * 3600 + minutes * 60) + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waitfor_delays_parse_like_sql_server() {
        assert_eq!(parse_delay("00:00:01.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_delay("01:02"), Some(Duration::from_secs(3720)));
        assert_eq!(parse_delay("1 minute"), None);
        assert_eq!(parse_delay("00:61:00"), None);
    }
}
