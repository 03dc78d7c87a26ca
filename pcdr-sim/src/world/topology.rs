//! `DIR/topology.toml`: a complete pcdr topology for the world, built with
//! `pcdr_core::topology::Topology`, written once the instances' ports are known. Like a
//! production topology it requires encryption, and it trusts the world's certificate
//! authority (`DIR/tls/ca.pem`). Every instance is named ([`INSTANCE_NAME`]) on a
//! static port, reached at its loopback address, and known to the cmdlets by its FQDN.
//! Its copy folder has two paths, as a real deployment's does: `copy_destination` as
//! the backup instance names it (`D:\LogShipping\mgc`) and
//! `copy_destination_from_pcdr`, the real `DIR/copy` (`server_paths.rs`); so has the
//! primary instance's copy folder, for log shipping back from the backup site
//! (`primary_copy_destination`, the same name on the primary's `D:` drive, and
//! `primary_copy_destination_from_pcdr`, the real `DIR/copy-primary`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use pcdr_core::topology::{
    Databases, Encrypt, LogShipping, PasswordSource, Pool, RestoreMode, ShellSettings, Site, Sites,
    SqlAddress, SqlEndpoint, SqlSettings, Topology,
};

use crate::serve::ShellLauncher;
use crate::world::model::InstanceId;
use crate::world::server_paths::{COPY_FOLDER_ON_BACKUP, COPY_FOLDER_ON_PRIMARY};
use crate::world::{World, WorldResult};

/// The instance name of every emulated SQL Server: none is a default instance.
pub const INSTANCE_NAME: &str = "PCHAT";

impl World {
    /// Writes `topology.toml` for instances listening on `ports`, with the shell set to
    /// `PROGRAM ARGS… --world DIR -- -NoProfile -NonInteractive` from `shell` (the
    /// adapter adds `-EncodedCommand <script>`).
    /// Returns the file's path.
    pub(crate) fn write_topology(
        &self,
        ports: &BTreeMap<InstanceId, u16>,
        shell: &ShellLauncher,
    ) -> WorldResult<PathBuf> {
        let state = self.read()?;
        let endpoint = |id: InstanceId| SqlEndpoint {
            host: id.host().to_owned(),
            host_in_certificate: None,
            fqdn: Some(id.fqdn().to_owned()),
            address: SqlAddress::InstanceOnPort {
                instance: INSTANCE_NAME.into(),
                port: ports.get(&id).copied().unwrap_or(1433),
            },
        };
        let standby = state
            .instance(InstanceId::Backup)
            .and_then(|i| i.msdb.secondary_databases.first())
            .is_some_and(|r| r.restore_mode == 1);
        let topology = Topology {
            pool: Pool {
                fqdn: state.pool.fqdn.clone(),
                state_identity: format!("service:PersistentChatServer:{}", state.pool.fqdn),
                active_servers_identity: format!("PersistentChatServer:{}", state.pool.fqdn),
            },
            databases: Databases::default(),
            log_shipping: LogShipping {
                backup_share: self.share_dir().display().to_string(),
                backup_share_from_pcdr: self.share_dir().display().to_string(),
                copy_destination: COPY_FOLDER_ON_BACKUP.into(),
                copy_destination_from_pcdr: self.copy_dir().display().to_string(),
                primary_copy_destination: Some(COPY_FOLDER_ON_PRIMARY.into()),
                primary_copy_destination_from_pcdr: Some(
                    self.primary_copy_dir().display().to_string(),
                ),
                backup_interval_minutes: 15,
                restore_delay_minutes: 0,
                restore_mode: if standby {
                    RestoreMode::Standby
                } else {
                    RestoreMode::NoRecovery
                },
            },
            sites: Sites {
                primary: Site {
                    name: "Atlanta".into(),
                    sql: endpoint(InstanceId::Primary),
                    mirror: Some(endpoint(InstanceId::PrimaryMirror)),
                    mirror_file_share: None,
                    chat_servers: state.pool.primary_servers.clone(),
                },
                backup: Site {
                    name: "Dallas".into(),
                    sql: endpoint(InstanceId::Backup),
                    mirror: Some(endpoint(InstanceId::BackupMirror)),
                    mirror_file_share: Some(self.mirror_share_dir().display().to_string()),
                    chat_servers: state.pool.backup_servers.clone(),
                },
            },
            sql: SqlSettings {
                user: Some("pcdr".into()),
                password: PasswordSource::File(self.password_file()),
                encrypt: Encrypt::Required,
                trust_server_certificate: false,
                trust_ca_file: Some(self.ca_file()),
                allow_plaintext: false,
                command_timeout_secs: 0,
            },
            shell: ShellSettings {
                program: shell.program.clone(),
                args: shell
                    .args
                    .iter()
                    .cloned()
                    .chain(
                        [
                            "--world",
                            &self.dir().display().to_string(),
                            "--",
                            "-NoProfile",
                            "-NonInteractive",
                        ]
                        .map(str::to_owned),
                    )
                    .collect(),
                ..ShellSettings::default()
            },
        };
        let path = self.topology_file();
        std::fs::write(&path, topology.to_toml_string())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldOptions;

    #[test]
    fn the_written_topology_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let ports = InstanceId::ALL
            .into_iter()
            .zip([1501, 1502, 1503, 1504])
            .collect();
        let path = world
            .write_topology(&ports, &ShellLauncher::pcdr("/usr/bin/pcdr"))
            .unwrap();
        let topology = Topology::load(&path).unwrap();
        let backup = &topology.sites.backup.sql;
        assert_eq!(backup.display_name(), r"127.0.0.3\PCHAT,1503");
        assert_eq!(backup.server_fqdn(), "sql-dal.contoso.test");
        assert_eq!(topology.sql.encrypt, Encrypt::Required);
        assert_eq!(topology.sql.trust_ca_file, Some(world.ca_file()));
        assert!(!topology.sql.trust_server_certificate);
        assert_eq!(topology.shell.program, "/usr/bin/pcdr");
        assert_eq!(topology.shell.args[..3], ["sim", "shell", "--world"]);
        assert_eq!(
            topology.shell.args[4..],
            ["--", "-NoProfile", "-NonInteractive"]
        );
        assert_eq!(
            topology.sql.password.resolve().unwrap().unwrap().expose(),
            world.password().unwrap()
        );
        let log_shipping = &topology.log_shipping;
        assert_eq!(
            log_shipping.primary_copy_destination.as_deref(),
            Some(r"D:\LogShipping\mgc")
        );
        let primary_copy = world.primary_copy_dir().display().to_string();
        assert_eq!(
            log_shipping.primary_copy_destination_from_pcdr,
            Some(primary_copy)
        );
        assert!(world.primary_copy_dir().is_dir());
    }
}
