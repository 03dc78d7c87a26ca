//! `DIR/statements.log`: every request an instance receives, appended as one JSON line
//! `{"time", "instance", "session", "text", "params"}`, so a person can audit exactly
//! what pcdr sent. Parameters whose name contains `password` are left out, and the login
//! password never reaches this file.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value as Json, json};

use crate::engine::scope::text_of;
use crate::tds::{RpcParam, Value};
use crate::world::model::InstanceId;

/// The statement log of one instance.
#[derive(Debug)]
pub(crate) struct Audit {
    path: PathBuf,
    instance: InstanceId,
}

impl Audit {
    /// Appends to `path`, tagging lines with `instance`.
    pub fn new(path: PathBuf, instance: InstanceId) -> Self {
        Self { path, instance }
    }

    /// Records a SQL batch.
    pub fn batch(&self, spid: u16, text: &str) {
        self.append(spid, text, Json::Array(Vec::new()));
    }

    /// Records an RPC: its statement text and its parameters.
    pub fn rpc(&self, spid: u16, text: &str, params: &[RpcParam]) {
        let params = params
            .iter()
            .filter(|p| !p.name.to_ascii_lowercase().contains("password"))
            .map(|p| json!({ "name": p.name, "value": json_of(&p.value) }))
            .collect();
        self.append(spid, text, Json::Array(params));
    }

    fn append(&self, spid: u16, text: &str, params: Json) {
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339(),
            "instance": self.instance.name(),
            "session": spid,
            "text": text,
            "params": params,
        });
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| writeln!(file, "{line}"));
        if let Err(error) = written {
            tracing::warn!(%error, path = %self.path.display(), "could not append to statements.log");
        }
    }
}

fn json_of(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(n) => json!(n),
        Value::BigInt(n) => json!(n),
        Value::Bit(b) => json!(b),
        other => text_of(other).map_or(Json::Null, Json::String),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_parameters_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(dir.path().join("statements.log"), InstanceId::Backup);
        let param = |name: &str, value: &str| RpcParam {
            name: name.into(),
            value: Value::NVarChar(value.into()),
            output: false,
        };
        audit.rpc(
            51,
            "RESTORE LOG @db FROM DISK = @file",
            &[
                param("@db", "mgc"),
                param("@monitor_server_password", "hunter2"),
            ],
        );
        let text = std::fs::read_to_string(dir.path().join("statements.log")).unwrap();
        assert!(text.contains("\"instance\":\"backup\""), "{text}");
        assert!(text.contains("mgc"));
        assert!(!text.contains("hunter2"));
    }
}
