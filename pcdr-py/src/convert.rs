//! Conversions shared by the classes: serde values to plain Python objects (for every
//! `to_dict`), a serde tag to a string, a procedure name to a procedure, and a site's
//! name to a site.

use pcdr_core::procedure::Procedure;
use pcdr_core::topology::SiteRole;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde::Serialize;

/// `value` as the Python object `json.loads` makes of its JSON (dicts, lists, str,
/// int, float, bool, None).
pub fn to_python<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The string field `field` of `value`'s JSON form: the name of an internally tagged
/// enum's variant (`"would_run"`, `"sql"`).
pub fn tag(value: &impl Serialize, field: &str) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.get(field)?.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The procedure named `name` (one `procedures()` lists); otherwise a `ValueError` whose
/// message lists the names.
pub fn procedure(name: &str) -> PyResult<Procedure> {
    name.parse().map_err(PyValueError::new_err)
}

/// The site `name` names (`"primary"` or `"backup"`, as pcdr-core spells them) for the
/// keyword argument `argument`; otherwise a `ValueError` naming it and the sites.
pub fn site(argument: &str, name: &str) -> PyResult<SiteRole> {
    [SiteRole::Primary, SiteRole::Backup]
        .into_iter()
        .find(|role| role.to_string() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{argument}={name:?} names no site; use \"primary\", \"backup\" or None"
            ))
        })
}
