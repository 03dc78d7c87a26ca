//! The exact commands pcdr sends: T-SQL ([`sql`]) and Management Shell ([`shell`]).
//!
//! Adapters execute these and the plan prints them; nothing else builds command text.
//!
//! # Every command and the page it follows
//!
//! Each builder below is the only source of its statement or cmdlet line; the table
//! names the Microsoft Learn page whose syntax and behaviour it follows (and which the
//! emulator in `pcdr-sim` reproduces). A test keeps the table complete: a new builder
//! without a row fails it.
//!
//! ## T-SQL
//!
//! | Builder | Sends | Page |
//! |---|---|---|
//! | [`sql::database_state`] | `sys.databases`, `sys.database_mirroring`, `sys.database_recovery_status` | [sys.databases](https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql), [sys.database_mirroring](https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-transact-sql), [sys.database_recovery_status](https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-recovery-status-transact-sql) |
//! | [`sql::redo_start_lsn`] | `sys.master_files.redo_start_lsn` | [sys.master_files](https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-master-files-transact-sql) |
//! | [`sql::database_files`] | `sys.master_files` | [sys.master_files](https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-master-files-transact-sql) |
//! | [`sql::log_shipping_secondary_database`] | `msdb.dbo.log_shipping_secondary_databases` | [log_shipping_secondary_databases](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-secondary-databases-transact-sql) |
//! | [`sql::log_shipping_secondary`] | `msdb.dbo.log_shipping_secondary` | [log_shipping_secondary](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-secondary-transact-sql) |
//! | [`sql::log_shipping_jobs`] | `msdb.dbo.log_shipping_secondary` (copy and restore jobs) | [log_shipping_secondary](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-secondary-transact-sql) |
//! | [`sql::log_shipping_thresholds`] | `msdb.dbo.log_shipping_monitor_secondary` (alert thresholds, history retention) | [log_shipping_monitor_secondary](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-monitor-secondary-transact-sql) |
//! | [`sql::log_shipping_primary`] | `msdb.dbo.log_shipping_primary_databases` | [log_shipping_primary_databases](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-primary-databases-transact-sql) |
//! | [`sql::log_shipping_primary_secondaries`] | `msdb.dbo.log_shipping_primary_secondaries` | [log_shipping_primary_secondaries](https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-primary-secondaries-transact-sql) |
//! | [`sql::remove_primary_log_shipping`] | `sp_delete_log_shipping_primary_secondary`, `sp_delete_log_shipping_primary_database`, each return code checked | [Change roles between primary and secondary log shipping servers](https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server), [sp_delete_log_shipping_primary_secondary](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-secondary-transact-sql), [sp_delete_log_shipping_primary_database](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-database-transact-sql) |
//! | [`sql::remove_secondary_log_shipping`] | `sp_delete_log_shipping_secondary_database` | [sp_delete_log_shipping_secondary_database](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-secondary-database-transact-sql) |
//! | [`sql::setup_log_shipping_primary`] | `sp_add_log_shipping_primary_database`, `sp_add_schedule`, `sp_attach_schedule`, `sp_add_log_shipping_primary_secondary`, `sp_add_log_shipping_alert_job`, `sp_update_job`, each return code checked | [Configure log shipping](https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server), [sp_add_log_shipping_primary_database](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-primary-database-transact-sql), [sp_add_log_shipping_primary_secondary](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-primary-secondary-transact-sql), [sp_add_schedule](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-schedule-transact-sql), [sp_attach_schedule](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-attach-schedule-transact-sql), [sp_update_job](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-update-job-transact-sql), [sp_add_log_shipping_alert_job](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql) |
//! | [`sql::setup_log_shipping_secondary`] | `sp_add_log_shipping_secondary_primary`, `sp_add_schedule`, `sp_attach_schedule`, `sp_add_log_shipping_secondary_database`, `sp_add_log_shipping_alert_job`, `sp_update_job`, each return code checked | [Configure log shipping](https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server), [sp_add_log_shipping_secondary_primary](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-primary-transact-sql), [sp_add_log_shipping_secondary_database](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql), [sp_add_log_shipping_alert_job](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql) |
//! | [`sql::agent_session`] | `msdb.dbo.syssessions` | [dbo.syssessions](https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql) |
//! | [`sql::running_jobs`] | `msdb.dbo.sysjobactivity` | [dbo.sysjobactivity](https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql) |
//! | [`sql::job_name`] | `msdb.dbo.sysjobs` | [dbo.sysjobs](https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobs-transact-sql) |
//! | [`sql::job_enabled`] | `msdb.dbo.sysjobs.enabled` | [dbo.sysjobs](https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobs-transact-sql) |
//! | [`sql::stop_job`] | `sp_stop_job` | [sp_stop_job](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql) |
//! | [`sql::agent_service_account`] | `sys.dm_server_services` | [sys.dm_server_services](https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-server-services-transact-sql) |
//! | [`sql::backup_header`] | `RESTORE HEADERONLY` | [RESTORE HEADERONLY](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-headeronly-transact-sql) |
//! | [`sql::backup_file_list`] | `RESTORE FILELISTONLY` | [RESTORE FILELISTONLY](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-filelistonly-transact-sql) |
//! | [`sql::verify_backup`] | `RESTORE VERIFYONLY … WITH CHECKSUM` | [RESTORE VERIFYONLY](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-verifyonly-transact-sql) |
//! | [`sql::restore_log`] | `RESTORE LOG … WITH NORECOVERY` | [RESTORE](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-transact-sql), [RESTORE arguments](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-arguments-transact-sql) |
//! | [`sql::recover`] | `RESTORE DATABASE … WITH RECOVERY` | [RESTORE](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-transact-sql), [Restore and recovery overview](https://learn.microsoft.com/sql/relational-databases/backup-restore/restore-and-recovery-overview-sql-server) |
//! | [`sql::restore_database`] | `RESTORE DATABASE … FROM DISK … WITH [REPLACE,] RECOVERY\|NORECOVERY, MOVE …` | [RESTORE](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-transact-sql), [RESTORE arguments](https://learn.microsoft.com/sql/t-sql/statements/restore-statements-arguments-transact-sql) |
//! | [`sql::backup_database`] | `BACKUP DATABASE … WITH [COPY_ONLY,] INIT, CHECKSUM` | [BACKUP](https://learn.microsoft.com/sql/t-sql/statements/backup-transact-sql), [Copy-only backups](https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server) |
//! | [`sql::backup_tail_log`] | `BACKUP LOG … WITH NORECOVERY, INIT, CHECKSUM` | [Tail-log backups](https://learn.microsoft.com/sql/relational-databases/backup-restore/tail-log-backups-sql-server), [BACKUP](https://learn.microsoft.com/sql/t-sql/statements/backup-transact-sql), [Change roles between primary and secondary log shipping servers](https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server) |
//! | [`sql::remove_mirroring`] | `ALTER DATABASE … SET PARTNER OFF` | [ALTER DATABASE database mirroring](https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring) |
//! | [`sql::fail_over_mirroring`] | `ALTER DATABASE … SET PARTNER FAILOVER` | [ALTER DATABASE database mirroring](https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring), [Database mirroring and log shipping](https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server) |
//! | [`sql::sessions`] | `sys.sysprocesses`, `sys.dm_exec_sessions` | [sys.sysprocesses](https://learn.microsoft.com/sql/relational-databases/system-compatibility-views/sys-sysprocesses-transact-sql), [sys.dm_exec_sessions](https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql) |
//! | [`sql::session_details`] | `sys.dm_exec_sessions` | [sys.dm_exec_sessions](https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql) |
//! | [`sql::kill`] | `KILL <session>` | [KILL](https://learn.microsoft.com/sql/t-sql/language-elements/kill-transact-sql) |
//! | [`sql::kill_placeholder`] | `KILL <session>` as a plan shows it (never sent) | [KILL](https://learn.microsoft.com/sql/t-sql/language-elements/kill-transact-sql) |
//! | [`sql::take_run_lock`] | `sp_getapplock` | [sp_getapplock](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql) |
//! | [`sql::release_run_lock`] | `sp_releaseapplock` | [sp_releaseapplock](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql) |
//! | [`sql::application_locks`] | `sys.dm_tran_locks` | [sys.dm_tran_locks](https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-tran-locks-transact-sql) |
//! | [`sql::server_name`] | `@@SERVERNAME` | [@@SERVERNAME](https://learn.microsoft.com/sql/t-sql/functions/servername-transact-sql) |
//! | [`sql::server_time`] | `SYSDATETIME()` | [SYSDATETIME](https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql) |
//! | [`sql::utc_offset`] | `SYSDATETIME()`, `SYSUTCDATETIME()` | [SYSDATETIME](https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql), [SYSUTCDATETIME](https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql) |
//! | [`sql::last_restore`] | `msdb.dbo.restorehistory` (full restores) | [restorehistory](https://learn.microsoft.com/sql/relational-databases/system-tables/restorehistory-transact-sql) |
//! | [`sql::newest_restore`] | `msdb.dbo.restorehistory` | [restorehistory](https://learn.microsoft.com/sql/relational-databases/system-tables/restorehistory-transact-sql) |
//! | [`sql::restore_of_set`] | `msdb.dbo.restorehistory` | [restorehistory](https://learn.microsoft.com/sql/relational-databases/system-tables/restorehistory-transact-sql) |
//! | [`sql::log_backups_taken`] | `msdb.dbo.backupset` (log backups an instance took) | [backupset](https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql) |
//! | [`sql::backup_set_identity`] | `msdb.dbo.backupset` | [backupset](https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql) |
//! | [`sql::backup_set_media`] | `msdb.dbo.backupset` | [backupset](https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql) |
//! | [`sql::media_backup_set`] | `msdb.dbo.backupset` | [backupset](https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql) |
//! | [`sql::device_media_set`] | `msdb.dbo.backupmediafamily` | [backupmediafamily](https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediafamily-transact-sql) |
//! | [`sql::media_device`] | `msdb.dbo.backupmediafamily` | [backupmediafamily](https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediafamily-transact-sql) |
//!
//! Every statement travels through `sp_executesql` with its names and paths as
//! parameters ([sp_executesql](https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-executesql-transact-sql));
//! the one exception, `ALTER DATABASE`, quotes the name with [`crate::quote`].
//!
//! ## Management Shell
//!
//! | Builder | Sends | Page |
//! |---|---|---|
//! | [`shell::script`] | `Import-Module`, `$ErrorActionPreference = 'Stop'`, `ConvertTo-Json` around each cmdlet | [about_Preference_Variables](https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_preference_variables), [ConvertTo-Json](https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertto-json) |
//! | [`shell::get_pool_state`] | `Get-CsPersistentChatState` | [Get-CsPersistentChatState](https://learn.microsoft.com/powershell/module/skype/get-cspersistentchatstate) |
//! | [`shell::set_pool_state`] | `Set-CsPersistentChatState -PoolState` | [Set-CsPersistentChatState](https://learn.microsoft.com/powershell/module/skype/set-cspersistentchatstate) |
//! | [`shell::set_active_servers`] | `Set-CsPersistentChatActiveServer -ActiveServers` | [Set-CsPersistentChatActiveServer](https://learn.microsoft.com/powershell/module/skype/set-cspersistentchatactiveserver) |
//! | [`shell::install_mirror`] | `Install-CsMirrorDatabase` | [Install-CsMirrorDatabase](https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase) |
//!
//! Each script reaches PowerShell as `-EncodedCommand`, the Base64 of its UTF-16LE text
//! ([about_PowerShell_exe](https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe#-encodedcommand-base64encodedcommand)),
//! and every value in it is a single-quoted literal ([`crate::quote::quote_powershell`]).

pub mod shell;
pub mod sql;

#[cfg(test)]
mod tests {
    /// The builders a source file defines: every `pub fn` at the start of a line.
    fn builders(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter_map(|line| line.strip_prefix("pub fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect()
    }

    /// Builders of `module` that have no table row citing a Microsoft Learn page.
    fn unlisted<'a>(module: &str, source: &'a str) -> Vec<&'a str> {
        let table = include_str!("mod.rs");
        builders(source)
            .into_iter()
            .filter(|name| {
                let cell = format!("| [`{module}::{name}`] |");
                !table.lines().any(|row| {
                    row.starts_with(&format!("//! {cell}"))
                        && row.contains("](https://learn.microsoft.com/")
                })
            })
            .collect()
    }

    #[test]
    fn every_builder_names_the_page_it_follows() {
        assert_eq!(unlisted("sql", include_str!("sql.rs")), Vec::<&str>::new());
        assert_eq!(
            unlisted("shell", include_str!("shell.rs")),
            Vec::<&str>::new()
        );
        assert!(builders(include_str!("sql.rs")).len() > 30);
    }
}
