//! [`Failure`]: a statement that failed, as the ERROR tokens SQL Server sends for it,
//! and the constructors of the errors the engine raises itself (name resolution,
//! variables, procedures, transactions).
//!
//! Owns the wording of those messages; errors of database operations come worded from
//! [`dbops`](crate::world::dbops).

use crate::tds::ServerMessage;
use crate::tsql::ParseError;
use crate::world::WorldError;
use crate::world::dbops::SqlError;

/// A failed statement: its ERROR messages in order, and whether the rest of the batch
/// is skipped (compile-time errors such as 208 and 137 end the batch in SQL Server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The ERROR tokens, in order.
    pub messages: Vec<ServerMessage>,
    /// The batch stops here.
    pub aborts_batch: bool,
}

impl Failure {
    /// Error `number` of severity `class`.
    pub fn new(number: u32, class: u8, message: impl Into<String>) -> Self {
        Self {
            messages: vec![ServerMessage::new(number, class, message)],
            aborts_batch: false,
        }
    }

    /// A class 16 error.
    pub fn error(number: u32, message: impl Into<String>) -> Self {
        Self::new(number, 16, message)
    }

    /// The same failure, ending the batch.
    pub fn aborting(mut self) -> Self {
        self.aborts_batch = true;
        self
    }

    /// Adds 3013 `<what> is terminating abnormally.` after the specific error, as every
    /// failed BACKUP and RESTORE does.
    pub fn terminating(mut self, what: &str) -> Self {
        self.messages.push(ServerMessage::new(
            3013,
            16,
            format!("{what} is terminating abnormally."),
        ));
        self
    }

    /// Adds 5069 `ALTER DATABASE statement failed.` after the specific error.
    pub fn alter_failed(mut self) -> Self {
        self.messages.push(ServerMessage::new(
            5069,
            16,
            "ALTER DATABASE statement failed.",
        ));
        self
    }
}

impl From<SqlError> for Failure {
    /// The error, then those SQL Server sends after it for the same statement.
    fn from(error: SqlError) -> Self {
        let mut failure = Failure::error(error.number, error.message);
        let then = error.then.into_iter();
        failure
            .messages
            .extend(then.map(|(number, text)| ServerMessage::new(number, 16, text)));
        failure
    }
}

impl From<WorldError> for Failure {
    /// The world file failing is a server-side failure: severity 20, as SQL Server
    /// reports a fatal error in the current process.
    fn from(error: WorldError) -> Self {
        Failure::new(
            50000,
            20,
            format!("pcdr-sim could not access its world: {error}"),
        )
        .aborting()
    }
}

impl From<ParseError> for Failure {
    /// Syntax errors have severity 15 and end the batch before anything runs.
    fn from(error: ParseError) -> Self {
        let number = u32::try_from(error.number).unwrap_or(102);
        Failure::new(number, 15, error.message).aborting()
    }
}

/// 208: no such table or view.
pub(crate) fn invalid_object(name: &str) -> Failure {
    Failure::error(208, format!("Invalid object name '{name}'.")).aborting()
}

/// 207: no such column.
pub(crate) fn invalid_column(name: &str) -> Failure {
    Failure::error(207, format!("Invalid column name '{name}'.")).aborting()
}

/// 137: an undeclared variable.
pub(crate) fn undeclared(variable: &str) -> Failure {
    Failure::new(
        137,
        15,
        format!("Must declare the scalar variable \"{variable}\"."),
    )
    .aborting()
}

/// 2812: no such procedure.
pub(crate) fn unknown_procedure(name: &str) -> Failure {
    Failure::error(2812, format!("Could not find stored procedure '{name}'."))
}

/// 195: no such built-in function.
pub(crate) fn unknown_function(name: &str) -> Failure {
    Failure::new(
        195,
        15,
        format!("'{name}' is not a recognized built-in function name."),
    )
    .aborting()
}

/// 245 / 8169: a value that does not convert to the type it is used as.
pub(crate) fn conversion(value: &str, to: &str) -> Failure {
    if to == "uniqueidentifier" {
        return Failure::error(
            8169,
            "Conversion failed when converting from a character string to uniqueidentifier.",
        );
    }
    Failure::error(
        245,
        format!(
            "Conversion failed when converting the nvarchar value '{value}' to data type {to}."
        ),
    )
}

/// 3021: BACKUP or RESTORE inside a transaction (the caller adds the 3013).
pub(crate) fn in_transaction() -> Failure {
    Failure::error(
        3021,
        "Cannot perform a backup or restore operation within a transaction.",
    )
}

/// A construct the parser accepts but the emulator does not model: refused, never
/// silently ignored.
pub(crate) fn not_emulated(what: &str) -> Failure {
    Failure::error(
        50000,
        format!("pcdr-sim does not emulate {what}; see the pcdr_sim crate documentation."),
    )
}
