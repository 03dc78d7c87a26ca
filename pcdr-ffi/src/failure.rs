//! A failed call, as every exported function reports it: its result code, its text, and
//! what pcdr-core knew about it (SQL Server's error number, the step, why a
//! precondition refused). The calling
//! thread's last failure is kept by [`crate::error`]; this module only defines it.

use crate::result::pcdr_result;
use pcdr_core::procedure::StepId;
use pcdr_core::{Error, PreconditionKind};

/// A failed call: its code, its text, and what pcdr-core knew about it.
#[derive(Debug)]
pub(crate) struct Failure {
    code: pcdr_result,
    message: String,
    sql_number: Option<u32>,
    step: Option<StepId>,
    precondition: Option<PreconditionKind>,
}

impl Failure {
    /// A failure with a code and a message only.
    pub(crate) fn new(code: pcdr_result, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            sql_number: None,
            step: None,
            precondition: None,
        }
    }

    /// A NULL pointer where `parameter` was required.
    pub(crate) fn null(parameter: &str) -> Self {
        Self::new(
            pcdr_result::NullParameter,
            format!("{parameter} is NULL; a valid pointer is required"),
        )
    }

    /// The code.
    pub(crate) fn code(&self) -> pcdr_result {
        self.code
    }

    /// The text.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// SQL Server's error number, when SQL Server reported the failure.
    pub(crate) fn sql_number(&self) -> Option<u32> {
        self.sql_number
    }

    /// The step it happened in, if any.
    pub(crate) fn step(&self) -> Option<StepId> {
        self.step
    }

    /// Why a step refused to start, when a precondition refused it.
    pub(crate) fn precondition(&self) -> Option<PreconditionKind> {
        self.precondition
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            code: pcdr_result::of(error.kind()),
            message: error.to_string(),
            sql_number: error.sql_number(),
            step: error.step_id(),
            precondition: error.precondition_kind(),
        }
    }
}
