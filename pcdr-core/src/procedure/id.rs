//! The names of procedures and steps: plain values that errors, events, journals and
//! reports carry. This module owns only the names; which steps a procedure has, and
//! what they do, is declared once in each procedure's own module (see
//! [`procedure`](super)).

use serde::{Serialize, Serializer};
use std::fmt;

/// A procedure, known by its stable name (`failover`).
///
/// Each procedure module declares its own as a constant (for instance
/// [`failover::PROCEDURE`](super::failover::PROCEDURE)); [`Procedure::named`] finds one
/// by name and [`Procedure::all`] lists them. A `Procedure` is one pointer: errors and
/// events carry it cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Procedure(&'static ProcedureName);

/// What a [`Procedure`] points to.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ProcedureName {
    /// The stable name (lower case, `snake_case`).
    pub name: &'static str,
    /// What the procedure does, in one line (help texts use it).
    pub summary: &'static str,
}

impl Procedure {
    /// The procedure `name` declares.
    pub const fn new(name: &'static ProcedureName) -> Self {
        Self(name)
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    /// What the procedure does, in one line (help texts use it).
    pub fn summary(self) -> &'static str {
        self.0.summary
    }
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for Procedure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name)
    }
}

/// A step of a procedure, known by its stable id (`apply_unapplied_logs`), unique across
/// every procedure.
///
/// Each procedure module declares its steps' ids as constants next to the step's code
/// (for instance [`failover::CHECK_SITES`](super::failover::CHECK_SITES)). A `StepId` is
/// one pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepId(&'static StepName);

/// What a [`StepId`] points to.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StepName {
    /// The procedure the step belongs to.
    pub procedure: Procedure,
    /// The stable id (lower case, `snake_case`).
    pub id: &'static str,
    /// What the step does, in one line.
    pub title: &'static str,
}

impl StepId {
    /// The step `name` declares.
    pub const fn new(name: &'static StepName) -> Self {
        Self(name)
    }

    /// The stable id.
    pub fn as_str(self) -> &'static str {
        self.0.id
    }

    /// What the step does, in one line.
    pub fn title(self) -> &'static str {
        self.0.title
    }

    /// The procedure the step belongs to.
    pub fn procedure(self) -> Procedure {
        self.0.procedure
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step {}", self.0.procedure, self.0.id)
    }
}

impl Serialize for StepId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRILL: Procedure = Procedure::new(&ProcedureName {
        name: "drill",
        summary: "Rehearse",
    });
    const FIRST: StepId = StepId::new(&StepName {
        procedure: DRILL,
        id: "first",
        title: "Do the first thing",
    });

    #[test]
    fn names_print_and_serialize_as_their_ids() {
        assert_eq!(FIRST.to_string(), "drill step first");
        assert_eq!(serde_json::to_string(&FIRST).unwrap(), "\"first\"");
        assert_eq!(serde_json::to_string(&DRILL).unwrap(), "\"drill\"");
    }
}
