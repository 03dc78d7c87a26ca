//! The syntax tree the shell parser produces.
//!
//! This module owns the shape of a parsed script and the case rule for
//! names; it knows nothing about what any cmdlet means.

/// A parsed script: its statements in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The statements, in the order they appear.
    pub statements: Vec<Statement>,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `$name = value`.
    Assign {
        /// The variable name without the `$`, as written.
        variable: String,
        /// The assigned value.
        value: Expr,
    },
    /// `Command [| Command]…`: one or more commands joined by `|`.
    Pipeline(Vec<Command>),
}

/// One command of a pipeline: `Cmdlet-Name [arguments]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command name as written; compare it with [`Command::is`].
    pub name: String,
    /// The arguments in source order.
    pub args: Vec<Argument>,
}

impl Command {
    /// True when this command is `name`, ignoring case as PowerShell does.
    pub fn is(&self, name: &str) -> bool {
        names_equal(&self.name, name)
    }
}

/// One argument of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Argument {
    /// `-Name`, `-Name value` or `-Name:value`.
    Named {
        /// The parameter name without the dash, as written; compare it with
        /// [`Argument::is_named`].
        name: String,
        /// The value, or `None` for a bare switch such as `-Force`.
        value: Option<Expr>,
        /// `true` for `-Name:value`, where PowerShell binds the value to this
        /// parameter whatever its type. `false` for `-Name value`, where the
        /// parser paired the next argument with the parameter: if the cmdlet
        /// declares `Name` as a switch, PowerShell's binder treats that value
        /// as positional instead (so `-Confirm $false` does *not* turn
        /// confirmation off). Deciding that needs cmdlet metadata, which the
        /// parser does not have.
        colon: bool,
    },
    /// A value that follows no parameter name.
    Positional(Expr),
}

impl Argument {
    /// The parameter name of a named argument, `None` for a positional one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Argument::Named { name, .. } => Some(name),
            Argument::Positional(_) => None,
        }
    }

    /// True when this is the named argument `-name`, ignoring case as
    /// PowerShell does. Abbreviated parameter names (`-Ident` for
    /// `-Identity`) are a binder rule and are not matched here.
    pub fn is_named(&self, name: &str) -> bool {
        self.name().is_some_and(|own| names_equal(own, name))
    }
}

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A single-quoted string, or a double-quoted one without expansions.
    String(String),
    /// A whole number such as `4` or `-1`.
    Integer(i64),
    /// A number with a fraction or exponent such as `2.5` or `1e3`.
    Number(f64),
    /// `$true` or `$false`.
    Bool(bool),
    /// `$null`.
    Null,
    /// A reference to any other variable: `$name`, stored without the `$`.
    Variable(String),
    /// `a, b`, `@(a, b)` or `@()`.
    Array(Vec<Expr>),
    /// `@{Key = value; …}`: the keys as written, in source order, with no two
    /// equal under [`names_equal`].
    Hashtable(Vec<(String, Expr)>),
    /// An unquoted command argument such as `FailedOver` or `pc1.contoso.com`.
    BareWord(String),
}

/// Compares two names (commands, parameters, variables, hashtable keys) the
/// way PowerShell does: ignoring case.
pub fn names_equal(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_equal_ignores_case_including_non_ascii() {
        assert!(names_equal("Confirm", "cONFIRM"));
        assert!(names_equal("Ärger", "äRGER"));
        assert!(!names_equal("Confirm", "Confirmed"));
    }

    #[test]
    fn argument_is_named_matches_only_named_arguments() {
        let named = Argument::Named {
            name: "PoolState".into(),
            value: None,
            colon: false,
        };
        assert!(named.is_named("poolstate"));
        assert!(!Argument::Positional(Expr::Null).is_named("PoolState"));
    }

    #[test]
    fn command_is_ignores_case() {
        let command = Command {
            name: "ConvertTo-Json".into(),
            args: Vec::new(),
        };
        assert!(command.is("convertto-json"));
        assert!(!command.is("ConvertFrom-Json"));
    }
}
