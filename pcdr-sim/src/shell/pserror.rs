//! The errors a running script reports, and their PowerShell-shaped text.
//!
//! This module owns the error record and its rendering on stderr; which
//! condition raises which error is decided by the binder and the cmdlets.

/// One error record: what PowerShell prints as the message and the
/// `CategoryInfo` and `FullyQualifiedErrorId` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PsError {
    /// The message after `<Cmdlet> : `.
    pub message: String,
    /// The error category, such as `InvalidArgument`.
    pub category: &'static str,
    /// The object the error is about, empty when there is none.
    pub target: String,
    /// The .NET exception type PowerShell would name, such as
    /// `ParameterBindingException`.
    pub reason: &'static str,
    /// The error id, such as `NamedParameterNotFound`.
    pub id: &'static str,
}

impl PsError {
    /// An error about the arguments of a command (a binding error).
    pub(super) fn binding(id: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            category: "InvalidArgument",
            target: String::new(),
            reason: "ParameterBindingException",
            id,
        }
    }

    /// An error raised while a cmdlet runs, about `target`.
    pub(super) fn operation(target: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            category: "InvalidOperation",
            target: target.to_string(),
            reason: "InvalidOperationException",
            id: "InvalidOperation",
        }
    }

    /// The record as PowerShell writes it for `invoked` (the command name as
    /// written) running the cmdlet `cmdlet` (empty when no cmdlet has that
    /// name), ending with a line break.
    pub(super) fn render(&self, invoked: &str, cmdlet: &str) -> String {
        let target = if self.target.is_empty() {
            "(:)".to_string()
        } else {
            format!("({}:String)", self.target)
        };
        let id = if cmdlet.is_empty() {
            self.id.to_string()
        } else {
            format!("{},{cmdlet}", self.id)
        };
        format!(
            "{invoked} : {}\n    + CategoryInfo          : {}: {target} [{cmdlet}], {}\n    + FullyQualifiedErrorId : {id}\n",
            self.message, self.category, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_the_command_category_and_id() {
        let error = PsError::binding(
            "NamedParameterNotFound",
            "A parameter cannot be found that matches parameter name 'X'.",
        );
        assert_eq!(
            error.render("get-csx", "Get-CsX"),
            "get-csx : A parameter cannot be found that matches parameter name 'X'.\n    + CategoryInfo          : InvalidArgument: (:) [Get-CsX], ParameterBindingException\n    + FullyQualifiedErrorId : NamedParameterNotFound,Get-CsX\n"
        );
    }

    #[test]
    fn render_shows_the_target_of_an_operation_error() {
        let text = PsError::operation("pc9", "m").render("Set-X", "Set-X");
        assert!(text.contains("InvalidOperation: (pc9:String) [Set-X], InvalidOperationException"));
    }
}
