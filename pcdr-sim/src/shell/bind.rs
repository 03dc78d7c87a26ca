//! Parameter binding: matching a command's arguments to the parameters its
//! cmdlet declares, the way PowerShell's binder does for the cases the
//! emulated cmdlets need.
//!
//! This module owns the binding rules and their error messages; it does not
//! interpret values (the cmdlets do). The rules:
//!
//! * a name matches a parameter ignoring case, exactly or as an unambiguous
//!   prefix (`-Ident`); an ambiguous prefix or an unknown name is an error;
//! * a switch takes a value only as `-Switch:value`; after `-Switch value`
//!   the value is positional, so `-Confirm $false` does not turn off
//!   confirmation (it fails as a stray positional argument instead);
//! * positional values go, in order, to the unbound parameters that have a
//!   position;
//! * a missing mandatory parameter is an error (a non-interactive shell
//!   cannot prompt for it).
//!
//! The common parameters (`-Verbose`, `-ErrorAction`, …) and `-WhatIf` are
//! recognised, so they take part in prefix matching, but refused: the
//! emulator does not implement them.

use super::args::starts_with_ignoring_case;
use super::ast::{Argument, Expr, names_equal};
use super::pserror::PsError;

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A value: `-Name value` or `-Name:value`.
    Value,
    /// A switch: `-Name` or `-Name:$false`.
    Switch,
    /// A parameter the real cmdlet has and the emulator refuses.
    Unsupported,
}

/// One declared parameter.
#[derive(Debug, Clone, Copy)]
pub(super) struct Param {
    /// Its name.
    pub name: &'static str,
    /// What it accepts.
    pub kind: Kind,
    /// Whether it must be given.
    pub mandatory: bool,
    /// Its position for positional values, if any.
    pub position: Option<usize>,
}

impl Param {
    /// An optional value parameter.
    pub(super) const fn value(name: &'static str) -> Self {
        Self {
            name,
            kind: Kind::Value,
            mandatory: false,
            position: None,
        }
    }

    /// A switch.
    pub(super) const fn switch(name: &'static str) -> Self {
        Self {
            kind: Kind::Switch,
            ..Self::value(name)
        }
    }

    /// A parameter the emulator refuses.
    pub(super) const fn unsupported(name: &'static str) -> Self {
        Self {
            kind: Kind::Unsupported,
            ..Self::value(name)
        }
    }

    /// This parameter, made mandatory.
    pub(super) const fn mandatory(self) -> Self {
        Self {
            mandatory: true,
            ..self
        }
    }

    /// This parameter, taking the positional value at `position`.
    pub(super) const fn at(self, position: usize) -> Self {
        Self {
            position: Some(position),
            ..self
        }
    }
}

/// The common parameters every cmdlet has, all refused by the emulator.
const COMMON: [Param; 11] = [
    Param::unsupported("Verbose"),
    Param::unsupported("Debug"),
    Param::unsupported("ErrorAction"),
    Param::unsupported("WarningAction"),
    Param::unsupported("InformationAction"),
    Param::unsupported("ErrorVariable"),
    Param::unsupported("WarningVariable"),
    Param::unsupported("InformationVariable"),
    Param::unsupported("OutVariable"),
    Param::unsupported("OutBuffer"),
    Param::unsupported("PipelineVariable"),
];

/// The arguments of one command, bound to its parameters.
#[derive(Debug, Default)]
pub(super) struct Bound {
    values: Vec<(&'static str, Expr)>,
}

impl Bound {
    /// The value bound to `name` (a switch is bound to a [`Expr::Bool`]).
    pub(super) fn get(&self, name: &str) -> Option<&Expr> {
        self.values
            .iter()
            .find(|(bound, _)| *bound == name)
            .map(|(_, value)| value)
    }

    fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Binds `args` to `params` (plus the common parameters).
pub(super) fn bind(params: &[Param], args: &[Argument]) -> Result<Bound, PsError> {
    let all: Vec<Param> = params.iter().chain(COMMON.iter()).copied().collect();
    let mut bound = Bound::default();
    let mut positional = Vec::new();
    for arg in args {
        match arg {
            Argument::Named { name, value, colon } => {
                let param = resolve(&all, name)?;
                bind_named(&mut bound, &mut positional, param, value.as_ref(), *colon)?;
            }
            Argument::Positional(value) => positional.push(value.clone()),
        }
    }
    bind_positional(&mut bound, &all, positional)?;
    check_mandatory(&bound, &all)?;
    Ok(bound)
}

/// The parameter `name` designates, exactly or by unambiguous prefix.
fn resolve(params: &[Param], name: &str) -> Result<Param, PsError> {
    if let Some(exact) = params.iter().find(|p| names_equal(p.name, name)) {
        return Ok(*exact);
    }
    let matches: Vec<&Param> = params
        .iter()
        .filter(|p| starts_with_ignoring_case(p.name, name))
        .collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => Err(PsError::binding(
            "NamedParameterNotFound",
            format!("A parameter cannot be found that matches parameter name '{name}'."),
        )),
        many => {
            let names: Vec<String> = many.iter().map(|p| format!("-{}", p.name)).collect();
            Err(PsError::binding(
                "AmbiguousParameter",
                format!(
                    "Parameter cannot be processed because the parameter name '{name}' is ambiguous. Possible matches include: {}.",
                    names.join(" ")
                ),
            ))
        }
    }
}

fn bind_named(
    bound: &mut Bound,
    positional: &mut Vec<Expr>,
    param: Param,
    value: Option<&Expr>,
    colon: bool,
) -> Result<(), PsError> {
    if bound.contains(param.name) {
        return Err(PsError::binding(
            "ParameterAlreadyBound",
            format!(
                "Cannot bind parameter because parameter '{}' is specified more than once.",
                param.name
            ),
        ));
    }
    let value = match (param.kind, value) {
        (Kind::Unsupported, _) => return Err(unsupported(param.name)),
        (Kind::Switch, Some(value)) if colon => switch_value(param.name, value)?,
        (Kind::Switch, value) => {
            positional.extend(value.cloned());
            Expr::Bool(true)
        }
        (Kind::Value, Some(value)) => value.clone(),
        (Kind::Value, None) => {
            return Err(PsError::binding(
                "MissingArgument",
                format!(
                    "Missing an argument for parameter '{}'. Specify a parameter of type 'System.String' and try again.",
                    param.name
                ),
            ));
        }
    };
    bound.values.push((param.name, value));
    Ok(())
}

fn unsupported(name: &str) -> PsError {
    PsError::binding(
        "ParameterNotSupported",
        format!("The parameter '{name}' is not supported by the emulated Management Shell."),
    )
}

/// The value of `-Switch:value`: a Boolean, or 0 or 1 as PowerShell allows.
fn switch_value(name: &str, value: &Expr) -> Result<Expr, PsError> {
    match value {
        Expr::Bool(b) => Ok(Expr::Bool(*b)),
        Expr::Integer(n) if *n == 0 || *n == 1 => Ok(Expr::Bool(*n == 1)),
        other => Err(PsError::binding(
            "ParameterArgumentTransformationError",
            format!(
                "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{}\" to type \"System.Management.Automation.SwitchParameter\".",
                display(other)
            ),
        )),
    }
}

fn bind_positional(bound: &mut Bound, params: &[Param], values: Vec<Expr>) -> Result<(), PsError> {
    let mut slots: Vec<Param> = params
        .iter()
        .filter(|p| p.position.is_some() && !bound.contains(p.name))
        .copied()
        .collect();
    slots.sort_by_key(|p| p.position);
    let mut slots = slots.into_iter();
    for value in values {
        let Some(param) = slots.next() else {
            return Err(PsError::binding(
                "PositionalParameterNotFound",
                format!(
                    "A positional parameter cannot be found that accepts argument '{}'.",
                    display(&value)
                ),
            ));
        };
        bound.values.push((param.name, value));
    }
    Ok(())
}

fn check_mandatory(bound: &Bound, params: &[Param]) -> Result<(), PsError> {
    let missing: Vec<&str> = params
        .iter()
        .filter(|p| p.mandatory && !bound.contains(p.name))
        .map(|p| p.name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(PsError::binding(
        "MissingMandatoryParameter",
        format!(
            "Cannot process command because of one or more missing mandatory parameters: {}.",
            missing.join(" ")
        ),
    ))
}

/// A value as PowerShell shows it in a message: strings as they are,
/// Booleans as `True` and `False`, collections by their type name.
pub(super) fn display(value: &Expr) -> String {
    match value {
        Expr::String(s) | Expr::BareWord(s) => s.clone(),
        Expr::Integer(n) => n.to_string(),
        Expr::Number(x) => x.to_string(),
        Expr::Bool(true) => "True".into(),
        Expr::Bool(false) => "False".into(),
        Expr::Null => String::new(),
        Expr::Variable(name) => format!("${name}"),
        Expr::Array(_) => "System.Object[]".into(),
        Expr::Hashtable(_) => "System.Collections.Hashtable".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: [Param; 4] = [
        Param::value("Identity").at(0),
        Param::value("PoolState").mandatory(),
        Param::switch("Force"),
        Param::switch("Confirm"),
    ];

    fn named(name: &str, value: Option<Expr>, colon: bool) -> Argument {
        Argument::Named {
            name: name.into(),
            value,
            colon,
        }
    }

    fn string(s: &str) -> Expr {
        Expr::String(s.into())
    }

    #[test]
    fn prefixes_positionals_and_colon_switches_bind() {
        let args = [
            Argument::Positional(string("service:p")),
            named("pool", Some(string("Normal")), false),
            named("conf", Some(Expr::Bool(false)), true),
            named("FORCE", None, false),
        ];
        let bound = bind(&PARAMS, &args).unwrap();
        assert_eq!(bound.get("Identity"), Some(&string("service:p")));
        assert_eq!(bound.get("PoolState"), Some(&string("Normal")));
        assert_eq!(bound.get("Confirm"), Some(&Expr::Bool(false)));
        assert_eq!(bound.get("Force"), Some(&Expr::Bool(true)));
    }

    #[test]
    fn a_switch_value_without_colon_becomes_positional() {
        let args = [
            named("Identity", Some(string("service:p")), false),
            named("PoolState", Some(string("Normal")), false),
            named("Confirm", Some(Expr::Bool(false)), false),
        ];
        let error = bind(&PARAMS, &args).unwrap_err();
        assert_eq!(error.id, "PositionalParameterNotFound");
        assert!(error.message.contains("'False'"));
    }

    #[test]
    fn repeated_unsupported_and_malformed_arguments_are_refused() {
        let twice = [
            named("PoolState", Some(string("Normal")), false),
            named("poolstate", Some(string("Normal")), false),
        ];
        assert_eq!(
            bind(&PARAMS, &twice).unwrap_err().id,
            "ParameterAlreadyBound"
        );
        let verbose = [named("Verbose", None, false)];
        assert_eq!(
            bind(&PARAMS, &verbose).unwrap_err().id,
            "ParameterNotSupported"
        );
        let bad_switch = [named("Force", Some(string("yes")), true)];
        assert!(
            bind(&PARAMS, &bad_switch)
                .unwrap_err()
                .message
                .contains("SwitchParameter")
        );
        let no_value = [named("PoolState", None, false)];
        assert_eq!(bind(&PARAMS, &no_value).unwrap_err().id, "MissingArgument");
    }
}
