//! Tests of the topology module through its public API: loading whole files
//! (`load.rs`), every validation rule (`rules.rs`) and password sources (`secret.rs`).

mod load;
mod rules;
mod secret;

use super::{Topology, TopologyError};

/// The shipped example, which every test starts from.
const EXAMPLE: &str = include_str!("../../../../examples/topology.toml");

/// Only the keys that have no default.
const MINIMAL: &str = r#"
[pool]
fqdn = "pchat.contoso.com"

[log_shipping]
backup_share = '\\fs01.contoso.com\pchat-logs'
copy_destination = 'D:\LogShipping\mgc'

[sites.primary]
name = "Atlanta"
sql = { host = "sql-atl.contoso.com", instance = "PCHAT" }
chat_servers = ["pc1.contoso.com"]

[sites.backup]
name = "Dallas"
sql = { host = "sql-dal.contoso.com", port = 1433 }
chat_servers = ["pc3.contoso.com"]
"#;

/// The `[sql]` table of a SQL Server login, which every build can send.
const SQL_LOGIN: &str = "[sql]\nuser = \"pcdr\"\npassword_env = \"PCDR_SQL_PASSWORD\"\n";

fn example() -> Topology {
    Topology::from_toml_str(EXAMPLE, None).unwrap()
}

/// The example with the first `from` replaced by `to`; `from` must be there, so that a
/// test cannot pass on an unchanged file.
fn example_with(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "the example has no {from:?}");
    EXAMPLE.replacen(from, to, 1)
}

fn refusal(text: &str) -> TopologyError {
    Topology::from_toml_str(text, None).unwrap_err()
}

/// Asserts that `text` is refused at `key` with a message containing `message`.
fn assert_refused(text: &str, key: &str, message: &str) {
    let error = refusal(text);
    assert_eq!(error.key, key, "{error}");
    assert!(
        error.message.contains(message),
        "expected {message:?} in {:?}",
        error.message
    );
}
