//! `sp_executesql` (EXECUTE (Transact-SQL) and sp_executesql (Transact-SQL) on Microsoft
//! Learn): recognising the procedure by name, and binding its `@params` declarations and
//! parameter values as the variables of the batch it runs. Shared by `EXEC
//! sp_executesql` inside a batch (`batch.rs`) and the RPC call (`rpc.rs`).

use crate::engine::failure::Failure;
use crate::engine::scope::Scope;
use crate::tds::Value;
use crate::tsql::ast::Statement;

/// Whether `name` (possibly qualified: `sys.sp_executesql`) is `sp_executesql`.
pub(crate) fn is_sp_executesql(name: &str) -> bool {
    name.rsplit('.').next().is_some_and(|last| {
        last.trim_matches(['[', ']'])
            .eq_ignore_ascii_case("sp_executesql")
    })
}

/// The variables of an `sp_executesql` batch: every declaration of `declarations`,
/// given the value of the parameter of the same name (or position). 8145 for a value
/// that matches no declaration, 8178 for a declaration without a value.
pub(crate) fn bind(
    declarations: Option<&str>,
    statement: &str,
    values: Vec<(Option<String>, Value)>,
) -> Result<Scope, Failure> {
    let declared = match declarations.map(str::trim).filter(|d| !d.is_empty()) {
        Some(text) => parse_declarations(text)?,
        None => Vec::new(),
    };
    let mut scope = Scope::default();
    let mut supplied = vec![false; declared.len()];
    for declaration in &declared {
        scope.declare(declaration, Value::Null)?;
    }
    for (position, (name, value)) in values.into_iter().enumerate() {
        let index = match name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => declared
                .iter()
                .position(|d| d.variable.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Failure::error(
                        8145,
                        format!("{name} is not a parameter for procedure sp_executesql."),
                    )
                })?,
            None => position,
        };
        let declaration = declared.get(index).ok_or_else(|| {
            Failure::error(
                8144,
                "Procedure or function sp_executesql has too many arguments specified.",
            )
        })?;
        scope.set(&declaration.variable, value)?;
        supplied[index] = true;
    }
    if let Some(missing) = declared.iter().zip(&supplied).find(|(_, s)| !**s) {
        return Err(Failure::error(
            8178,
            format!(
                "The parameterized query '({}){statement}' expects the parameter '{}', which was not supplied.",
                declarations.unwrap_or_default(),
                missing.0.variable
            ),
        ));
    }
    Ok(scope)
}

/// Parses `@a int, @b nvarchar(10) OUTPUT` as a `DECLARE` list (OUTPUT markers dropped).
fn parse_declarations(text: &str) -> Result<Vec<crate::tsql::ast::Declaration>, Failure> {
    let without_output: Vec<String> = text
        .split_whitespace()
        .filter_map(|word| {
            let bare = word.trim_end_matches(',');
            let is_output = bare.eq_ignore_ascii_case("output") || bare.eq_ignore_ascii_case("out");
            match (is_output, word.ends_with(',')) {
                (false, _) => Some(word.to_owned()),
                (true, true) => Some(",".to_owned()),
                (true, false) => None,
            }
        })
        .collect();
    let batch = crate::tsql::parse_batch(&format!("DECLARE {}", without_output.join(" ")))?;
    match batch.statements.as_slice() {
        [Statement::Declare(declarations)] => Ok(declarations.clone()),
        _ => Err(Failure::new(102, 15, format!("Incorrect syntax near '{text}'.")).aborting()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_bind_by_name_and_convert() {
        let scope = bind(
            Some("@db sysname, @n int OUTPUT"),
            "SELECT 1",
            vec![
                (Some("@N".into()), Value::NVarChar("5".into())),
                (Some("@db".into()), Value::NVarChar("mgc".into())),
            ],
        )
        .unwrap();
        assert_eq!(scope.get("@db").unwrap(), Value::NVarChar("mgc".into()));
        assert_eq!(scope.get("@n").unwrap(), Value::Int(5));
    }

    #[test]
    fn unknown_and_missing_parameters_are_refused() {
        let unknown = bind(
            Some("@db sysname"),
            "x",
            vec![(Some("@file".into()), Value::Null)],
        );
        assert_eq!(unknown.unwrap_err().messages[0].number, 8145);
        let missing = bind(
            Some("@db sysname, @file nvarchar(4000)"),
            "x",
            vec![(Some("@db".into()), Value::Null)],
        );
        assert_eq!(missing.unwrap_err().messages[0].number, 8178);
    }

    #[test]
    fn sp_executesql_is_recognised_qualified() {
        assert!(is_sp_executesql("sys.sp_executesql"));
        assert!(is_sp_executesql("[SP_EXECUTESQL]"));
        assert!(!is_sp_executesql("sp_execute"));
    }
}
