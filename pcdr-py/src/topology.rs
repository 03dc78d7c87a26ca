//! `Topology`: the deployment, loaded from TOML and checked before anything runs.

use crate::convert::to_python;
use crate::errors::CoreError;
use pcdr_core::topology::{SiteRole, Topology};
use pyo3::prelude::*;
use std::path::PathBuf;

/// A Persistent Chat deployment: the pool, its databases, log shipping, the two sites
/// and how pcdr reaches them, checked before anything runs.
#[pyclass(frozen, module = "pcdr", name = "Topology")]
pub struct PyTopology {
    pub(crate) inner: Topology,
}

#[pymethods]
impl PyTopology {
    /// Reads and checks the topology file at `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py
            .detach(|| Topology::load(&path))
            .map_err(|e| CoreError(e.into()))?;
        Ok(Self { inner })
    }

    /// Checks TOML text; a relative `sql.password_file` resolves against `base_dir`.
    #[staticmethod]
    #[pyo3(signature = (text, base_dir = None))]
    fn from_toml(text: &str, base_dir: Option<PathBuf>) -> PyResult<Self> {
        let inner =
            Topology::from_toml_str(text, base_dir.as_deref()).map_err(|e| CoreError(e.into()))?;
        Ok(Self { inner })
    }

    /// The Persistent Chat pool's FQDN.
    #[getter]
    fn pool(&self) -> &str {
        &self.inner.pool.fqdn
    }

    /// The chat database's name.
    #[getter]
    fn chat_database(&self) -> &str {
        &self.inner.databases.chat
    }

    /// The primary site's name.
    #[getter]
    fn primary_site(&self) -> &str {
        &self.inner.site(SiteRole::Primary).name
    }

    /// The backup site's name.
    #[getter]
    fn backup_site(&self) -> &str {
        &self.inner.site(SiteRole::Backup).name
    }

    /// The whole topology as plain Python values (secrets masked).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}
