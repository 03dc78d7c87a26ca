//! The context a batch runs in ([`Exec`]): the engine, the session, the batch's
//! variables and its `sp_executesql` nesting, with the reads every statement needs (the
//! world's state, the session's, the instance's part, expressions and operands); and the
//! evaluated arguments of an `EXEC` ([`Arg`]).
//!
//! The statements themselves are run by `batch.rs` and the statement modules; this module
//! must not depend on them.

use crate::engine::eval::Env;
use crate::engine::failure::Failure;
use crate::engine::instance::{InstanceEngine, SessionState};
use crate::engine::scope::{Scope, text_of};
use crate::tds::{SessionInfo, StatementResult, Value};
use crate::tsql::ast::{Condition, Expr, Operand};
use crate::world::model::{Instance, WorldState};

/// How deep `sp_executesql` may nest (SQL Server's limit is 32).
const MAX_NESTING: u8 = 32;

/// One batch being run for one session.
pub(crate) struct Exec<'a> {
    /// The instance's engine.
    pub engine: &'a InstanceEngine,
    /// The session the batch runs for.
    pub session: &'a SessionInfo,
    /// The batch's variables.
    pub scope: Scope,
    /// How many `sp_executesql` calls enclose the batch.
    depth: u8,
    /// `@@ERROR`: the number of the error the last statement raised, 0 if none.
    pub error: u32,
    /// The batch has ended (`RETURN`, or an error that ends the batch).
    pub ended: bool,
}

/// An evaluated `EXEC` argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    /// `@parameter`, when named.
    pub name: Option<String>,
    /// Its value; `None` for `DEFAULT`.
    pub value: Option<Value>,
    /// The variable an OUTPUT argument writes back to.
    pub output: Option<String>,
}

impl<'a> Exec<'a> {
    /// A top-level batch of `session`.
    pub fn new(engine: &'a InstanceEngine, session: &'a SessionInfo) -> Self {
        Self::with_scope(engine, session, Scope::default(), 0)
    }

    /// A batch with variables already bound (`sp_executesql`), nested `depth` deep.
    pub fn with_scope(
        engine: &'a InstanceEngine,
        session: &'a SessionInfo,
        scope: Scope,
        depth: u8,
    ) -> Self {
        Self {
            engine,
            session,
            scope,
            depth,
            error: 0,
            ended: false,
        }
    }

    /// Fails with 217 when a batch nested one level deeper would pass SQL Server's limit.
    pub fn ensure_can_nest(&self) -> Result<(), Failure> {
        if self.depth >= MAX_NESTING {
            return Err(Failure::error(
                217,
                "Maximum stored procedure, function, trigger, or view nesting level exceeded (limit 32).",
            ));
        }
        Ok(())
    }

    /// The batch an `sp_executesql` inside this one runs, with its variables bound.
    pub fn nested(&self, scope: Scope) -> Exec<'a> {
        Exec::with_scope(self.engine, self.session, scope, self.depth + 1)
    }

    /// The world's current state.
    pub fn state(&self) -> Result<WorldState, Failure> {
        Ok(self.engine.world.read()?)
    }

    /// This session's state.
    pub fn session_state(&self) -> SessionState {
        self.engine.session(self.session.spid())
    }

    /// The instance's part of `state`.
    pub fn instance<'s>(&self, state: &'s WorldState) -> Result<&'s Instance, Failure> {
        state.instance(self.engine.instance).ok_or_else(|| {
            Failure::new(50000, 20, "the instance is missing from the world").aborting()
        })
    }

    /// Evaluates `expr` outside any row.
    pub fn eval(&self, expr: &Expr) -> Result<Value, Failure> {
        let state = self.state()?;
        let session = self.session_state();
        let env = self.env(&state, &session)?;
        env.eval(expr, None)
    }

    /// Whether `condition` holds outside any row (`IF`): `None` for unknown.
    pub fn test(&self, condition: &Condition) -> Result<Option<bool>, Failure> {
        let state = self.state()?;
        let session = self.session_state();
        self.env(&state, &session)?.test(condition, None)
    }

    /// The text an operand names: an identifier or string as written, a variable's value.
    pub fn operand(&self, operand: &Operand) -> Result<String, Failure> {
        match operand {
            Operand::Identifier(s) | Operand::String(s) => Ok(s.clone()),
            Operand::Variable(v) => Ok(text_of(&self.scope.get(v)?).unwrap_or_default()),
        }
    }

    /// What expressions see: the variables, the instance, the session.
    pub fn env<'s>(
        &'s self,
        state: &'s WorldState,
        session: &'s SessionState,
    ) -> Result<Env<'s>, Failure> {
        Ok(Env {
            scope: &self.scope,
            instance: self.instance(state)?,
            server: self.engine.instance,
            spid: self.session.spid(),
            database: &session.database,
            trancount: session.trancount,
            clock: state.clock,
            applocks: &self.engine.applocks,
            settings: &state.settings,
            error: self.error,
        })
    }

    /// Whether the session has an open transaction.
    pub fn in_transaction(&self) -> bool {
        self.session_state().trancount > 0
    }
}

/// A statement that produced no rows.
pub(crate) fn done() -> Vec<StatementResult> {
    vec![StatementResult::Done { rows: None }]
}
