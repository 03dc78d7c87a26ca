//! The guide: the procedure as Microsoft documents it, the pcdr step that carries out
//! each part of it, and the reasoning behind every check pcdr adds.
//!
//! This module holds no code. It is the place to read before running `pcdr failover`,
//! `pcdr failback`, `pcdr switchover` or `pcdr prepare_failback` against a real
//! deployment, and before changing a step. The step logic itself lives in
//! [`crate::procedure::failover`], [`crate::procedure::failback`],
//! [`crate::procedure::switchover`] and [`crate::procedure::failback::online`]; the exact T-SQL and cmdlet lines are built in
//! [`crate::commands::sql`] and [`crate::commands::shell`] (and `pcdr plan` prints them).
//!
//! # Sources
//!
//! The procedure comes from Microsoft's page *Manage high availability and disaster recovery
//! for Persistent Chat Server in Skype for Business Server 2015*
//! (<https://learn.microsoft.com/skypeforbusiness/manage/persistent-chat/high-availability-and-disaster-recovery>),
//! sections *Fail over Persistent Chat Server* and *Fail back Persistent Chat Server*.
//! The same two procedures were published for Lync Server 2013 as the topics *Failing
//! Over Persistent Chat Server* and *Failing Back Persistent Chat Server*. Two pages
//! around it describe the deployment the procedure assumes:
//!
//! - *Plan for high availability and disaster recovery for Persistent Chat Server*
//!   (<https://learn.microsoft.com/skypeforbusiness/plan-your-deployment/persistent-chat-server/high-availability-and-disaster-recovery>);
//! - *Configure high availability and disaster recovery for Persistent Chat Server*
//!   (<https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>),
//!   which failback step 5 refers to.
//!
//! Where the Skype for Business pages say "apply the log backups" or "set up log
//! shipping", pcdr follows SQL Server's own documentation; each step below names the
//! pages it follows. All links are to Microsoft Learn.
//!
//! # The deployment
//!
//! One Persistent Chat pool is stretched over two data centers, the **primary** and the
//! **backup** site ([`crate::topology`] describes it; `examples/topology.toml` is a
//! complete file). The chat database `mgc` lives on a SQL Server instance in the primary
//! site, mirrored to a second instance in the same site. SQL Server log shipping keeps a
//! copy of `mgc` on an instance in the backup site: the primary writes log backups to a
//! **backup share**, the backup instance's copy job copies them into its **copy
//! folder**, and its restore job restores them without recovery. The backup instance
//! has a mirror instance of its own in the backup site.
//!
//! The compliance database `mgccomp` is neither log-shipped nor failed over: Microsoft
//! describes its content as transient, purged as the compliance adapter processes it,
//! and leaves the adapter's output to the administrator. pcdr does the same.
//!
//! # Failover
//!
//! Microsoft's failover assumes that the backup site runs and that the primary site's
//! Persistent Chat databases (the primary and its mirror) and its Front End are
//! entirely unavailable. It recovers the backup copy of `mgc` and mirrors it. pcdr's
//! steps, in order ([`crate::procedure::failover`]):
//!
//! | Microsoft's step | pcdr step | documentation followed |
//! |---|---|---|
//! | (none: assumed) | `check_sites` | the failover's assumptions above |
//! | (none) | `snapshot_log_shipping` | *Log Shipping Tables and Stored Procedures* |
//! | 1. remove log shipping from the backup `mgc` | `remove_log_shipping` | `dbo.syssessions`, `dbo.sysjobactivity`, `sp_stop_job`; `sp_delete_log_shipping_secondary_database`; *Remove Log Shipping* |
//! | 2. copy the backup files not yet copied | `copy_log_backups` | *Fail Over to a Log Shipping Secondary* |
//! | 3. apply the unapplied log backups in sequence | `apply_unapplied_logs` | *Apply Transaction Log Backups*; `RESTORE HEADERONLY`; `RESTORE LOG`; `sys.master_files` |
//! | 4. end the connections to `mgc`, recover it | `recover_database` | `sys.sysprocesses`, `sys.dm_exec_sessions`; `KILL`; `RESTORE DATABASE … WITH RECOVERY` |
//! | 5. pool state FailedOver | `set_pool_failed_over` | `Set-CsPersistentChatState`, `Get-CsPersistentChatState` |
//! | 6. mirror the new primary | `mirror_new_primary` | `Install-CsMirrorDatabase`; `sys.database_mirroring` |
//! | 7. set the active servers | `activate_backup_servers` | `Set-CsPersistentChatActiveServer`; *Plan Persistent Chat Server topology* |
//!
//! Every pcdr step first **observes**: it reads the state and either skips (the work is
//! already done, nothing is changed) or lists the actions it will take. It then acts,
//! and **verifies** the result by reading the state again. That is what makes a run
//! resumable at any point (see [Deviations](#where-pcdr-departs-from-or-adds-to-microsofts-procedure)).
//!
//! ## `check_sites`: the backup site answers, the primary site does not
//!
//! Microsoft: no step; the procedure starts from the assumption that the primary is
//! gone.
//!
//! pcdr observes that the backup instance answers and holds `mgc`. When `mgc` there is
//! already online and the pool already reports FailedOver, it refuses: the failover was
//! done, and an interrupted one is finished by resuming its journal. It then asks the
//! primary instance and, when the topology names one, the primary's mirror instance for
//! the state of `mgc`. Any reply, even an error, means a server is there; only an
//! unreachable instance, a dropped connection or a timeout count as silence. If either
//! answers, the step refuses unless the operator allowed it explicitly
//! (`--allow-primary-reachable`, [`RunOptions`](crate::procedure::RunOptions)); the
//! reason is in [Why pcdr refuses when the primary answers](#why-pcdr-refuses-when-the-primary-answers).
//! The step changes nothing.
//!
//! ## `snapshot_log_shipping`: record the setup before it is deleted
//!
//! Microsoft: no step.
//!
//! pcdr reads, on the backup instance, `msdb.dbo.log_shipping_secondary_databases`
//! (restore delay, restore mode, disconnect setting, last restored file) and
//! `msdb.dbo.log_shipping_secondary` (primary server and database, share, copy folder,
//! file retention, last copied file) and `msdb.dbo.log_shipping_monitor_secondary`
//! (restore threshold, whether its alert is enabled, history retention) and keeps them
//! in the run's facts, which the journal stores. It skips when the run already holds a snapshot, and when log shipping
//! is not configured at all (the topology's share and copy folder are used then). Why
//! this must come first: [The snapshot before removal](#the-snapshot-before-removal).
//!
//! msdb's folders are the servers' paths (`D:\LogShipping\mgc` is a folder on the backup
//! server); the statements of the run name them. pcdr itself keeps reaching the folders
//! through the topology's own paths (`log_shipping.backup_share_from_pcdr` and
//! `copy_destination_from_pcdr`, by default the servers' paths of the topology): msdb
//! never replaces them. Where msdb names another folder than the topology, the step says
//! so in a note naming all three paths.
//!
//! ## `remove_log_shipping`: Microsoft's step 1
//!
//! Microsoft: in a query window on `master` of the backup instance, run
//! `sp_delete_log_shipping_secondary_database` for `mgc`.
//!
//! pcdr observes whether `mgc` is still a log-shipping secondary and skips when it is
//! not. It refuses when the run holds no snapshot.
//!
//! Before removing anything, pcdr looks for the copy and restore jobs of `mgc`
//! (`copy_job_id` and `restore_job_id` of `msdb.dbo.log_shipping_secondary`) that SQL
//! Server Agent is running: a job runs while its `msdb.dbo.sysjobactivity` row of the
//! current Agent session (the newest `session_id` of `msdb.dbo.syssessions`) has a
//! `start_execution_date` and no `stop_execution_date`. A running restore job holds
//! `mgc` (its restores would fail pcdr's with 3101, or race them), and ending its
//! session with `KILL` does not end the job. pcdr stops each running job with
//! `EXEC msdb.dbo.sp_stop_job @job_name = @job` (the name as a parameter; error 22022,
//! "not currently running", means it ended meanwhile), then waits, reading
//! `sysjobactivity` every 250 ms and noting every 5 s which jobs still run, until none
//! does: `sp_stop_job` only signals the job, and one in the middle of a RESTORE stops
//! once the statement can. After 10 minutes pcdr stops with the jobs named, and removes
//! nothing. With no job running, no `sp_stop_job` is sent and there is no wait. The plan
//! shows one `sp_stop_job` per job running when it was made (offline: `<job>`, "once for
//! each copy or restore job still running").
//!
//! pcdr then runs
//! `EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @db`
//! and verifies that the configuration is gone. Microsoft's *Remove Log Shipping* page
//! adds that when no other secondary database shares the secondary id, the procedure
//! also calls `sp_delete_log_shipping_secondary_primary`, which deletes the copy and
//! restore jobs: from then on, no SQL Server Agent job copies or restores behind
//! pcdr's back.
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-secondary-database-transact-sql>,
//! <https://learn.microsoft.com/sql/database-engine/log-shipping/remove-log-shipping-sql-server>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql>.
//!
//! ## `copy_log_backups`: Microsoft's step 2
//!
//! Microsoft: copy the backup files that were not copied yet from the backup share to
//! the copy folder of the backup server. SQL Server's *Fail Over to a Log Shipping
//! Secondary* page gives the same first step.
//!
//! pcdr lists the log backups of `mgc` (files named `<db>_<14 digits>.trn`, see
//! [`crate::logship`]) on the share and in the copy folder through its own paths to
//! them (the topology's `*_from_pcdr`). A file is still to copy when the copy folder has
//! no file of that name (compared without case, as Windows does) and size, and, when
//! the snapshot names the restore job's last restored file, when its name sorts after
//! that one. The bound is the last *restored* file, not the copy job's last copied one:
//! a file the copy job copied that has gone from the copy folder before the restore job
//! restored it (deleted by hand, or by an aggressive cleanup) is copied again from the
//! share instead of showing up as a gap. Before copying, pcdr checks that the copy
//! folder has room for all of them.
//! The first file is copied alone, and the backup instance must then open it by its own
//! path to the copy folder (`RESTORE HEADERONLY`, by msdb's `backup_destination_directory`,
//! else the topology's `copy_destination`): SQL Server's 3201 (cannot open backup device)
//! there means pcdr's path and the server's reach different folders (or the server may
//! not read it), and the step stops naming both paths and the settings to correct
//! before copying more. The same holds, in this step and the next, for any file pcdr
//! lists in the copy folder that the instance cannot open.
//! Files are copied four at a time, each under a temporary name, flushed and renamed
//! into place, so a half-copied file never looks copied ([`crate::adapters::files`]).
//! The step verifies that every file is in the copy folder with its size.
//!
//! By default the copy and the restore overlap: each copied log backup that is next in
//! the chain is restored as soon as it has landed, while later files are still being
//! copied, by exactly the rule of the next step. Whatever that leaves (a gap, a file
//! SQL Server cannot read, a copy that failed) is left to the next step.
//! `--sequential-restore` copies everything first.
//!
//! When the share cannot be read at all, the step fails; if the operator accepted data
//! loss, it skips instead and the run goes on with the files already in the copy folder.
//! That is a data loss like an accepted gap, never a silent skip: the journal records
//! the share and why it could not be read, and the report shows it next to the data-loss
//! evidence ([`RpoEvidence`](crate::runbook::RpoEvidence), `share_not_read`), with the
//! first LSN the new primary does not hold (`lost_from`, the restore point at recovery).
//!
//! A file in either folder that looks like a log backup of `mgc` but is not named as log
//! shipping names them (a copy saved by hand as `mgc_20261127133000 - Copy.trn`, say) is
//! not read, since only those names order the chain; each is named in a warning, shown
//! by `pcdr plan`, as a note while the run goes, and in the report, so that an operator
//! can rename it and resume rather than lose it silently.
//!
//! Page: <https://learn.microsoft.com/sql/database-engine/log-shipping/fail-over-to-a-log-shipping-secondary-sql-server>.
//!
//! ## `apply_unapplied_logs`: Microsoft's step 3
//!
//! Microsoft: apply, in sequence, every transaction log backup not yet applied to the
//! secondary database, and refers to *How to: Apply a Transaction Log Backup*.
//!
//! pcdr observes that `mgc` on the backup instance can still take log backups
//! (RESTORING, or read-only standby) and skips when it is already recovered. It reads
//! the restore point, `redo_start_lsn` of file 1 in `sys.master_files`, and the
//! `RESTORE HEADERONLY` answer of the copy folder's files, and decides with the LSN
//! rule ([`crate::log_chain`], explained in [The LSN rule](#the-lsn-rule)) which files
//! to restore. To read few headers on a long folder, it starts from the file restored
//! last and searches the names (which sort by backup time); as soon as that shortcut
//! meets a gap or a bad file, it reads every header and that verdict stands.
//!
//! It restores each file with `RESTORE LOG @db FROM DISK = @file WITH NORECOVERY`, in
//! LSN order, ending the readers of a standby copy first (see
//! [Ending sessions](#ending-sessions-before-an-exclusive-restore)). It verifies that
//! the restore point afterwards is the last restored file's `LastLSN`, and records the
//! newest backup the database holds, with the time that backup finished, as the run's
//! evidence of how much data it kept ([`crate::runbook::RpoEvidence`]).
//!
//! A gap stops the step unless data loss was accepted. A file the chain cannot use (of
//! another database, not a log backup, of another family, on another recovery fork or
//! based on an older full backup, or one SQL Server cannot read) stops it with the
//! file's name and the way on: move the file aside (out of the copy folder, and off the
//! share if it is there too) and resume; log records only it held are then lost. A
//! later file shows them as a gap, which stops the run unless data loss is accepted;
//! when the file was the newest, nothing does but the report's last applied log backup,
//! so the error asks for a readable copy first. A file that provably cannot matter
//! does not stop it: one of `mgc` whose header shows it ends at or before the restore
//! point, or one SQL Server finds damaged that msdb records as restored into `mgc` up
//! to the restore point. Such a file is named in a warning instead (see
//! [Which log backups belong to the chain](#which-log-backups-belong-to-the-chain)).
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/backup-restore/apply-transaction-log-backups-sql-server>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-headeronly-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-master-files-transact-sql>.
//!
//! ## `recover_database`: Microsoft's step 4
//!
//! Microsoft: from the same query window, find the connections to `mgc` with `sp_who2`,
//! end them with `KILL`, then run `RESTORE DATABASE mgc WITH RECOVERY`.
//!
//! pcdr skips when `mgc` is already online and not in standby. Otherwise it lists the
//! user sessions in `mgc` other than its own (`sys.sysprocesses` and
//! `sys.dm_exec_sessions`, documented where `sp_who2` is not; see "Ending sessions
//! before an exclusive restore"), ends each with `KILL`, and runs
//! `RESTORE DATABASE @db WITH RECOVERY` over a connection opened on `master`, so that
//! pcdr itself is never a user of the database it recovers. It verifies that `mgc` is
//! online and not in standby.
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/system-compatibility-views/sys-sysprocesses-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/language-elements/kill-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/backup-restore/recover-a-database-without-restoring-data-transact-sql>.
//!
//! ## `set_pool_failed_over`: Microsoft's step 5
//!
//! Microsoft: in the Management Shell, run `Set-CsPersistentChatState` with the pool's
//! identity (`service:<pool FQDN>` on that page) and `-PoolState FailedOver`. The pool
//! then uses the backup databases defined in the topology.
//!
//! pcdr reads the state with `Get-CsPersistentChatState` and skips when it already is
//! FailedOver. It refuses while `mgc` on the backup instance is not online, sets the
//! state, and reads it back. Both cmdlets take an `XdsIdentity`: the topology's
//! `pool.state_identity`, by default the service scope
//! `service:PersistentChatServer:<fqdn>` (the cmdlet pages write
//! `PersistentChatServer:<fqdn>`, the procedure `service:<fqdn>`; the emulated shell
//! accepts these three forms and no other).
//!
//! Pages: <https://learn.microsoft.com/powershell/module/skypeforbusiness/set-cspersistentchatstate>,
//! <https://learn.microsoft.com/powershell/module/skypeforbusiness/get-cspersistentchatstate>.
//!
//! ## `mirror_new_primary`: Microsoft's step 6
//!
//! Microsoft: with `Install-CsMirrorDatabase`, mirror the backup database, which now
//! serves as the primary, to the backup site's mirror instance, not to the mirror the
//! primary had.
//!
//! pcdr skips when the topology gives the backup site no mirror instance, or when `mgc`
//! on the backup instance already is a mirroring principal. It runs
//! `Install-CsMirrorDatabase -DatabaseType PersistentChat` with the backup instance's
//! host (and instance name, if any), the backup site's `mirror_file_share` (else the
//! log-shipping share) as `-FileShare` and `-DropExistingDatabasesOnMirror`, then
//! verifies in `sys.database_mirroring` that `mgc` became a principal. The cmdlet backs
//! the whole database up (a full and a log backup) to that share and restores it on the
//! mirror, so the share must be one the backup site still reaches when the primary site
//! and its backup share are lost; and it runs under its own limit, `shell.mirror_timeout_secs` (default four
//! hours), instead of `shell.timeout_secs`. A warning it prints (exit code 0, no error
//! record) does not fail the step: it becomes a note and a warning of the report.
//!
//! Pages: <https://learn.microsoft.com/powershell/module/skypeforbusiness/install-csmirrordatabase>,
//! <https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-transact-sql>.
//!
//! ## `activate_backup_servers`: Microsoft's step 7
//!
//! Microsoft: set the list of active servers with `Set-CsPersistentChatActiveServer`;
//! all of them must be in the data center of the new primary database, or in one with
//! a low-latency, high-bandwidth link to it.
//!
//! pcdr takes the backup site's chat servers from the topology, at most the first four,
//! and checks the list against both rules (see
//! [Four active servers](#at-most-four-active-servers-all-in-the-databases-site)).
//! It refuses while `mgc` on the backup instance is not online, replaces the list
//! (`-ActiveServers @{Replace=…}`) with the topology's `pool.active_servers_identity`,
//! and reads it back when the pool plane can report it. That `-Identity` is an
//! `XdsGlobalRelativeIdentity`, the pool's one collection of active servers, by default
//! `PersistentChatServer:<fqdn>` as `Get-CsService -PersistentChatServer` names it; it
//! takes no `service:` scope, so the state cmdlets' identity would not do. The Management Shell cannot (see [Unconfirmed](#what-no-public-source-confirms)),
//! so against a real pool the step says so and does not read the list back.
//!
//! Pages: <https://learn.microsoft.com/powershell/module/skypeforbusiness/set-cspersistentchatactiveserver>,
//! <https://learn.microsoft.com/skypeforbusiness/plan-your-deployment/persistent-chat-server/topology>.
//!
//! # Failback
//!
//! Microsoft's failback assumes the primary site was rebuilt after a total outage, that
//! Topology Builder reinstalled `mgc` and `mgccomp` there, and that no other mirror or
//! backup server was deployed meanwhile. It puts the deployment back as it was before
//! the disaster. pcdr's steps, in order ([`crate::procedure::failback`]):
//!
//! | Microsoft's step | pcdr step | documentation followed |
//! |---|---|---|
//! | (none: assumed) | `check_rebuilt_primary` | the failback's assumptions above; `SYSDATETIME()` |
//! | 1. clear the active servers | `clear_active_servers` | `Set-CsPersistentChatActiveServer -ActiveServers $null`; `sys.dm_server_services` |
//! | 2. remove mirroring of the backup `mgc` and `mgccomp` | `remove_backup_mirroring` | `ALTER DATABASE … SET PARTNER OFF`; *Remove Database Mirroring* |
//! | 3. full backup of the backup `mgc` to the share | `backup_for_failback` | `BACKUP DATABASE`; `RESTORE VERIFYONLY`; `RESTORE FILELISTONLY` |
//! | 4. restore it over the primary `mgc`, ready to use | `restore_primary` | `BACKUP DATABASE … WITH COPY_ONLY`; `RESTORE HEADERONLY`; `RESTORE VERIFYONLY`; `RESTORE DATABASE … WITH REPLACE, RECOVERY, MOVE`; `msdb.dbo.restorehistory` |
//! | (none: the Configure page's Topology Builder setup) | `mirror_primary` | `Install-CsMirrorDatabase` |
//! | 5. set up log shipping from the primary (as on the Configure page) | `reinitialize_backup`, `setup_log_shipping` | *Configure Log Shipping*; the `sp_add_log_shipping_*` procedures |
//! | 5. (the Configure page: log shipping from the primary's mirror too) | `ship_logs_from_primary_mirror` | *Database Mirroring and Log Shipping*; `ALTER DATABASE … SET PARTNER FAILOVER`; `sp_add_log_shipping_primary_database` and the primary side's procedures |
//! | 6. set the active servers | `activate_primary_servers` | `Set-CsPersistentChatActiveServer` |
//! | then: pool state Normal | `set_pool_normal` | `Set-CsPersistentChatState` |
//!
//! ## `check_rebuilt_primary`
//!
//! Microsoft: no step. pcdr reads the pool state and refuses when it is Normal (there
//! is nothing to fail back). It refuses when the primary instance has no `mgc`
//! (rebuild it with Topology Builder first), and when `mgc` on the backup instance is
//! not online (it is the source of the failback). It changes nothing. It records when
//! the run started on the backup instance's own clock (`SYSDATETIME()`, the local time
//! SQL Server dates its backups in, converted to UTC with the offset the instance gives,
//! as its backups' dates are; its reading need not agree with pcdr's), once per run: a
//! resumed run keeps the first mark. `restore_primary` restores no backup that finished
//! before.
//!
//! Pages: <https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql>.
//!
//! ## `clear_active_servers`: Microsoft's step 1
//!
//! Microsoft: clear every server from the active list, so that no Persistent Chat
//! server connects to `mgc` or `mgccomp` during failback. The same step warns that SQL
//! Server Agent on the backup instance must run under an account that can read the
//! backup share and write the copy folder.
//!
//! pcdr runs `Set-CsPersistentChatActiveServer -ActiveServers $null` and skips only
//! when the pool can report an empty list. It reads the Agent's account from
//! `sys.dm_server_services` and prints it with the share and folder it needs; it does
//! not test those permissions. Why this step fences the pool:
//! [Fencing before failback](#fencing-the-pool-before-failback).
//!
//! ## `remove_backup_mirroring`: Microsoft's step 2
//!
//! Microsoft: in SQL Server Management Studio, remove mirroring of `mgc` on the backup
//! instance, then of `mgccomp`.
//!
//! pcdr runs `ALTER DATABASE [db] SET PARTNER OFF` on the backup instance for each of
//! the two databases that `sys.database_mirroring` shows mirrored (the name is quoted
//! by [`crate::quote`]; `ALTER DATABASE` takes no variable). SQL Server's error 1416
//! ("not configured for database mirroring") counts as done. It verifies that neither
//! database is mirrored any more.
//!
//! Pages: <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>,
//! <https://learn.microsoft.com/sql/database-engine/database-mirroring/remove-database-mirroring-sql-server>.
//!
//! ## `backup_for_failback`: Microsoft's step 3
//!
//! Microsoft: in Management Studio, take a full backup of the backup `mgc` to a file on
//! the log-shipping share, which both sites reach.
//!
//! pcdr refuses while the backup `mgc` is not MULTI_USER (see
//! [Single-user databases](#single-user-databases-and-mirroring)). The file is
//! `<db>_pcdr_failback_<run id>.bak` on the share (see
//! [File names](#backup-files-named-after-the-run)). When that file already holds this
//! run's full backup of the backup `mgc` (as `restore_primary` checks it below: its
//! family and database GUID, finished after the run started), it is not taken again;
//! otherwise pcdr runs `BACKUP DATABASE @db TO DISK = @file WITH INIT, CHECKSUM`, which
//! overwrites whatever else is there. Either way it runs
//! `RESTORE VERIFYONLY … WITH CHECKSUM`, checks that `RESTORE FILELISTONLY` lists the
//! files in it, and records the file and its `RESTORE HEADERONLY` (LSNs, family,
//! `BindingID`, start and finish) in the run's facts, so a resumed run skips the step
//! and `restore_primary` knows exactly which backup it may restore.
//!
//! Pages: <https://learn.microsoft.com/sql/t-sql/statements/backup-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-verifyonly-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-filelistonly-transact-sql>.
//!
//! ## `restore_primary`: Microsoft's step 4
//!
//! Microsoft: in Management Studio on the primary instance, restore that file over
//! `mgc` with *Overwrite the existing database* and *Leave the database ready to use*,
//! that is `WITH REPLACE, RECOVERY`.
//!
//! pcdr skips when the primary `mgc` is online and the primary's restore history
//! (`msdb.dbo.restorehistory`) says its newest full restore came from this run's file.
//! Right before changing anything it reads the file's header again (`RESTORE
//! HEADERONLY`) and refuses, naming the file and what differs, with nothing sent to the
//! primary, unless it is the backup this run took:
//!
//! - a full backup of `mgc` whose `FamilyGUID` is the backup database's
//!   (`sys.database_recovery_status.family_guid`);
//! - whose `BindingID` is the backup database's `database_guid`: log shipping keeps the
//!   family, so the original primary's backups (the seed of log shipping among them)
//!   share it, but a restore gives a database a new `database_guid`, and the backup
//!   database was restored from that seed;
//! - finished (`BackupFinishDate`) no earlier than this run's start, both read on the
//!   backup instance's clock (its local time, both converted to UTC with the offset it
//!   gives: see "Dates are the server's local time");
//! - and whose header is, LSNs and dates, the one recorded when `backup_for_failback`
//!   verified it.
//!
//! A file replaced since, an older backup or one of another database is never
//! restored; a new failback run takes its own.
//!
//! When the primary `mgc` is online, what it holds is copied first:
//! `BACKUP DATABASE @db TO DISK = @file WITH COPY_ONLY, INIT, CHECKSUM` to
//! `<db>_pcdr_before_failback_<run id>.bak` on the share, then `RESTORE VERIFYONLY` of
//! the copy, recorded in the run's facts and the step's summary. `COPY_ONLY` keeps the
//! copy out of the database's backup sequence. pcdr copies every online primary
//! database, since it cannot tell an empty chat database from a full one without knowing
//! its schema; a just-rebuilt one costs seconds, and an original primary that came back
//! may hold messages no log backup carried. A resumed run that finds this run's copy
//! verifies it and does not take it again. If the copy fails, nothing else is sent.
//!
//! It removes mirroring
//! from the primary `mgc` when the rebuilt database is mirrored (a mirrored database
//! cannot be restored over: 3104), ends the sessions in it, and runs
//! `RESTORE DATABASE @db FROM DISK = @file WITH REPLACE, RECOVERY, MOVE …`: each file in
//! the backup is placed where the primary keeps its own file of that logical name (or,
//! failing that, of that kind), as `sys.master_files` lists them on both instances. The
//! backup carries the backup instance's paths, which need not exist on the primary
//! host. `RESTORE VERIFYONLY … WITH CHECKSUM` of the failback file runs right before
//! the sessions are ended, every time, also when a resumed run's backup was verified by
//! an earlier process. It verifies by observing again.
//!
//! Pages: <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-headeronly-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/restorehistory-transact-sql>.
//!
//! ## `mirror_primary`
//!
//! Microsoft's failback has no mirroring step. It aims at the configuration as it was
//! before the disaster, which mirrored the primary `mgc` (set up in Topology Builder,
//! per the *Configure* page), and `restore_primary` removes any mirroring the rebuilt
//! database has. So pcdr installs it again: `Install-CsMirrorDatabase` for the primary
//! instance, skipped when the topology gives the primary site no mirror or `mgc`
//! already is a principal, verified in `sys.database_mirroring`.
//!
//! It runs before log shipping is set up again, in the *Configure* page's order
//! (mirroring from Topology Builder first, log shipping after). The cmdlet seeds the
//! mirror from a full and a log backup of the primary `mgc` on the file share; a log
//! backup taken after the backup `mgc` was re-seeded would never reach it, and its
//! restore job would stop at the next log-shipping backup with 4305 (a gap).
//!
//! Pages: <https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase>,
//! <https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>.
//!
//! ## `reinitialize_backup` and `setup_log_shipping`: Microsoft's step 5
//!
//! Microsoft: set up log shipping for the primary `mgc` as the *Configure* page does.
//! That page lets Management Studio initialize the secondary from a new full backup of
//! the primary, restore in no-recovery mode with no delay, and schedule the copy and
//! restore jobs about as often as the backups.
//!
//! `reinitialize_backup` re-seeds the backup `mgc`: after failover it is online, and
//! log backups can only be restored onto a database that is still restoring (3117
//! otherwise). It skips when the backup `mgc` is restoring and its restore history
//! names this run's file `<db>_pcdr_reinit_<run id>.bak`. Otherwise it backs up the
//! primary `mgc` to that file (unless a full backup of `mgc` is already there),
//! verifies it, ends the sessions in the backup `mgc`, and restores the file over it
//! `WITH REPLACE, NORECOVERY` with `MOVE` onto the backup instance's own files.
//!
//! `setup_log_shipping` skips when both sides are set up: the primary is a log-shipping
//! primary for `mgc` with its backup job enabled, and the backup instance a secondary
//! with its copy and restore jobs enabled. The jobs are enabled by each side's last
//! statements, so a side whose setup stopped part-way counts as not set up. Otherwise it
//! runs, as the *Configure* page's Transact-SQL example does, on the primary,
//! `sp_add_log_shipping_primary_database`, a backup schedule (`sp_add_schedule`,
//! `sp_attach_schedule`), `sp_add_log_shipping_alert_job`,
//! `sp_add_log_shipping_primary_secondary` and enables the backup job (`sp_update_job`);
//! then, on the backup instance, `sp_add_log_shipping_secondary_primary`, the copy and
//! restore schedules, `sp_add_log_shipping_alert_job`,
//! `sp_add_log_shipping_secondary_database`, and enables both jobs. The jobs are created
//! disabled by those procedures and enabled last.
//!
//! Each side is one batch in which every procedure is called `EXEC @rc = …` and checked
//! as the example checks it: when the call raised an error or returned non-zero, the
//! batch raises an error naming the procedure and its return code and stops there
//! (`RETURN`), so nothing runs after a failed procedure. The four `sp_add_log_shipping_*`
//! procedures get `@overwrite = 1`: a side is always set up whole, replacing what a
//! stopped run left in msdb (the configuration rows and the jobs they made), so resuming
//! needs no manual cleanup. `sp_add_log_shipping_alert_job` creates the alert job only
//! where there is none (each instance is its own monitor; no monitor server is
//! configured).
//!
//! The settings come from the failover's snapshot: a failback is a run of its own, so
//! at its start it reads the failover's journal (`--failover-journal`, by default the
//! failover's default journal `pcdr-failover-POOL.journal` when it exists; the
//! `failover_journal` option of the C and Python bindings), refuses one that is not a
//! completed failover of the same pool, instances and databases with a snapshot, and
//! copies the snapshot into its own facts, journaled, so a resumed failback keeps it.
//! `check_rebuilt_primary` and `pcdr plan failback` say which source the settings come
//! from and their values; without a failover journal the failback warns (a note, and a
//! warning in the report) naming the topology's values and defaults it uses instead.
//!
//! Share, copy folder, restore delay, restore mode and whether restores disconnect
//! standby readers come from the snapshot when the run holds one, else from the
//! topology's `[log_shipping]` section (which also gives the backup interval; readers are
//! then disconnected); file retention from the snapshot, else 4320 minutes; server
//! names are what each instance reports as `@@SERVERNAME`; the jobs are named
//! `LSBackup_<db>`, `LSCopy_<primary>_<db>` and `LSRestore_<primary>_<db>`. The
//! secondary's alert thresholds come from the snapshot, else they are the procedure's
//! defaults; the primary's backup threshold is the procedure's default (the snapshot is
//! read on the backup instance, which does not hold it). It verifies by observing
//! again: each side's configuration row and that its jobs are enabled
//! (`msdb.dbo.sysjobs`).
//!
//! Pages: <https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>,
//! <https://learn.microsoft.com/sql/database-engine/log-shipping/log-shipping-tables-and-stored-procedures>,
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql>.
//!
//! ## `ship_logs_from_primary_mirror`: the rest of Microsoft's step 5
//!
//! Microsoft: the *Configure* page sets log shipping up from the primary's mirror
//! instance too, so that log shipping goes on after the primary fails over to its
//! mirror; *Database Mirroring and Log Shipping* says how: fail the database over to
//! the mirror, set the new principal up as a log-shipping primary with the same backup
//! share, and fail back. A mirror database is restoring and cannot be configured as a
//! log-shipping primary in place, so the role switch is the documented way.
//!
//! pcdr skips when the topology names no primary mirror, or when the mirror instance is
//! already a log-shipping primary for `mgc` (its configuration row and enabled backup
//! job) and the primary is the principal again. Otherwise, while the pool is still
//! fenced, it runs `ALTER DATABASE [mgc] SET PARTNER FAILOVER` on the primary, the
//! primary side of `setup_log_shipping` (the same batch, settings, share and job name)
//! on the mirror instance, and `SET PARTNER FAILOVER` on the mirror instance to fail
//! back. Right before each failover it reads `sys.database_mirroring` again and refuses
//! unless the instance it runs on is the principal of a SYNCHRONIZED session (a manual
//! failover needs one; SQL Server answers 1422 otherwise). A run stopped between the
//! two failovers resumes where it stopped: a mirror already set up is not set up again,
//! and the failover back is sent once. It verifies by observing again. While the mirror
//! is the mirror, its backup job runs and succeeds without a backup, as the page
//! describes.
//!
//! Pages: <https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>,
//! <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>,
//! <https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>.
//!
//! ## `activate_primary_servers` and `set_pool_normal`: Microsoft's step 6 and the last command
//!
//! Microsoft: set the active servers (in the data center of the primary database), then
//! return the pool to its normal state with `Set-CsPersistentChatState -PoolState
//! Normal`.
//!
//! pcdr does both in that order, as in failover: the primary site's chat servers, at
//! most four, refused while the primary `mgc` is not online; the pool state set and
//! read back.
//!
//! # Switchover and the online failback
//!
//! Microsoft's procedure covers the lost primary site only. Two more cases have the
//! building blocks documented in SQL Server's pages, and pcdr composes them:
//!
//! - **A planned switchover** ([`crate::procedure::switchover`]): both sites answer, one
//!   needs maintenance. A *tail-log backup* (`BACKUP LOG … WITH NORECOVERY`, *Tail-Log
//!   Backups (SQL Server)*,
//!   <https://learn.microsoft.com/sql/relational-databases/backup-restore/tail-log-backups-sql-server>)
//!   backs up every log record the serving database wrote and leaves it RESTORING, and
//!   *Change Roles Between Primary and Secondary Log Shipping Servers (SQL Server)*
//!   (<https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>)
//!   makes the old primary the new secondary without a re-seed. Nothing is lost and no
//!   full backup moves between the sites.
//! - **An online failback** ([`crate::procedure::failback::online`], then a switchover):
//!   after a failover, with the primary site rebuilt, the primary is seeded from a full
//!   backup of the serving database and restored `WITH NORECOVERY`, then made the
//!   log-shipping secondary of the backup database, all while the pool keeps serving;
//!   `pcdr status` shows how far behind it is; the cutover is a switchover back, whose
//!   outage holds the tail of the log, where Microsoft's failback holds a full backup
//!   and two restores of the whole database.
//!
//! ## The switchover's steps
//!
//! The direction comes from the pool's state when the run starts (Normal: to the backup
//! site; FailedOver: to the primary site), and is journaled. Run again, a switchover
//! moves the pool back the same way.
//!
//! 1. `check_switchover`: the serving database is online and open to all, the other is
//!    restoring as its log-shipping secondary, and log shipping keeps up (the newest
//!    restored log backup within the restore threshold plus delay, as `pcdr status`
//!    judges it); the topology names both copy folders (`log_shipping.copy_destination`
//!    and `primary_copy_destination`). Any of these missing vetoes the run.
//! 2. `record_log_shipping`, `remove_incoming_log_shipping`: as failover's snapshot and
//!    step 1, on the database that takes over.
//! 3. `copy_backlog`, `restore_backlog`: as failover's steps 2 and 3, *while the pool
//!    still serves*: whatever lag log shipping had is caught up before any outage.
//! 4. `fence_pool`: the active servers are cleared; from here the pool serves no one.
//! 5. `unmirror_serving_database`: `SET PARTNER OFF` (a database in a mirroring session
//!    cannot be left restoring, and a log-shipping secondary is never a principal).
//! 6. `back_up_tail_log`: right before it, the pool must still be fenced and the other
//!    database restoring; the tail goes to the share named as the log-shipping job names
//!    its files (`mgc_<yyyyMMddHHmmss>.trn`, the serving instance's UTC clock, a second
//!    later while a file has the name: `WITH INIT` would overwrite it).
//! 7. `copy_tail`, `restore_tail`: the tail (and anything since the backlog).
//! 8. `recover_new_primary`: right before it, the old primary must be restoring (it can
//!    take no writes: never two primaries) and the new one's restore point must have
//!    reached the old one's (`sys.master_files.redo_start_lsn` of both: the end of the
//!    tail); short of it, the run stops as for a gap unless data loss is accepted.
//! 9. `set_switched_pool_state`, `activate_switched_servers`: FailedOver or Normal for the
//!    new site, then its chat servers; each re-checks that the new primary is online and
//!    the old one is not. The outage ends here.
//! 10. `mirror_switched_database`: `Install-CsMirrorDatabase`, after the pool serves
//!     again (it copies the whole database to the mirror).
//! 11. `reverse_log_shipping`: the old primary's log-shipping primary setup is removed
//!     (`sp_delete_log_shipping_primary_secondary`, `sp_delete_log_shipping_primary_database`);
//!     the log backups the new primary took outside log shipping since its recovery —
//!     the one `Install-CsMirrorDatabase` seeds the mirror with — are found in its msdb
//!     (`backupset` of its own server name, `backupmediafamily`) and restored on the old
//!     primary in LSN order, which would otherwise meet a gap (4305) at the first
//!     log-shipping backup; then log shipping is set up from the new primary with the
//!     settings recorded in step 2, the old primary restoring from its own copy folder.
//!     SQL Server's role-change page allows this because the old primary's restore point
//!     is exactly where the new primary's log begins: the first log backup after the
//!     recovery spans the fork point (`FirstRecoveryForkID` the old fork, `ForkPointLSN`).
//!
//! ## Returning to the old primary
//!
//! If a switchover stops before `recover_new_primary` completes, the old primary still
//! holds everything: its tail-log backup took its last log records, and nothing was
//! written after the fence. To return the pool there instead of finishing, move the
//! stopped run's journal aside and run `pcdr switchover --to <the old site>`: the run
//! recovers the old primary (`RESTORE DATABASE … WITH RECOVERY`, refused while the other
//! database is online), keeps or restores the pool state, activates the old site's
//! servers, mirrors it again and sets log shipping up to the other site again, restoring
//! there first whatever the other database lacks of the old primary's log backups. Once
//! the other database is online, the switchover happened and the return is refused: a
//! switchover back is then the way.
//!
//! ## The online failback's prepare phase
//!
//! 1. `check_prepare_failback`: the pool is failed over, the backup database serves, the
//!    rebuilt primary answers and the topology names its copy folder.
//! 2. `back_up_serving_database`, `seed_primary`: failback's steps 3 and 4, the restore
//!    `WITH NORECOVERY` (*Configure Log Shipping*: a secondary is initialized from a full
//!    backup restored with NORECOVERY), with the same checks (the file holds the very
//!    backup this run took, what the primary held is copied first).
//! 3. `ship_logs_to_primary`: log shipping from the backup site to the primary, with the
//!    failover's recorded settings when its journal is at hand.
//!
//! Run again, each step finds the primary already a log-shipping secondary and skips.
//! Then `pcdr switchover` is the cutover.
//!
//! # The reasoning behind the checks
//!
//! ## Why pcdr refuses when the primary answers
//!
//! The failover is written for a primary site that is gone. If the primary `mgc` still
//! runs and anything still writes to it, recovering the backup copy makes a second
//! writable `mgc`: the two copies diverge from the moment of recovery, and whatever is
//! written on the old primary afterwards is lost at failback, which restores the backup
//! copy over the primary. An answering primary also means the operator is not in the
//! situation the procedure describes: SQL Server's own failover page says that when the
//! primary is reachable, the tail of its log should be backed up `WITH NORECOVERY` and
//! applied first, and pcdr does not do that (it is not a planned role switch).
//!
//! So pcdr probes the primary instance and its mirror, and refuses when either answers.
//! An SQL error counts as an answer, because a server sent it. The override
//! (`--allow-primary-reachable`) exists for an operator who knows the answering server
//! is fenced (for instance, its database is known damaged and no chat server reaches
//! it); the step then records that it went on because the operator allowed it.
//!
//! ## The snapshot before removal
//!
//! Microsoft's step 1 deletes the configuration that steps 2 and 3 need. Removing the
//! last secondary database of a secondary id also deletes that id's row in
//! `msdb.dbo.log_shipping_secondary` (the share, the copy folder, the last copied
//! file) and the copy and restore jobs, and the secondary database's own row (the last
//! restored file) goes with it. After step 1, nothing on the backup instance says where
//! the log backups are or which were already copied.
//!
//! pcdr therefore reads those rows before step 1 and keeps them in the journal, and
//! `remove_log_shipping` refuses to run without them. After step 1 the question "which
//! log backups are unapplied" is answered from the database itself (its restore point)
//! and the backup files' headers, never from msdb.
//!
//! ## The LSN rule
//!
//! Every log record has a log sequence number (LSN). For a database that is restoring,
//! `sys.master_files.redo_start_lsn` is the LSN at which the next roll-forward must
//! start: the **restore point**. For a log backup, `RESTORE HEADERONLY` gives `FirstLSN`
//! (its first log record) and `LastLSN` (the LSN of the next log record *after* the
//! backup, so the range is half-open). For each candidate, ordered by LSN:
//!
//! | header against the restore point `p` | meaning | pcdr |
//! |---|---|---|
//! | `LastLSN <= p` | the database already holds these records | skips it (SQL Server would refuse it with 4326) |
//! | `FirstLSN <= p < LastLSN` | the next backup in the chain | restores it; `p` becomes its `LastLSN` |
//! | `FirstLSN > p` | the records from `p` to `FirstLSN` are in no file: a **gap** | stops (SQL Server would refuse it with 4305) |
//!
//! Before the rule, each header must be a log backup (`BackupType` 2) of `mgc` that
//! continues the database's chain (see the next section); anything else stops the run
//! with the file's name, because restoring it would fail or, worse, mean the folder
//! holds files that are not what they seem. File names only order candidates cheaply;
//! the headers decide. The rule is
//! [`plan_log_restores`](crate::log_chain::plan_log_restores):
//!
//! ```
//! use pcdr_core::log_chain::{plan_log_restores, BackupHeader, BackupType, Candidate, ChainIdentity, Lsn};
//! let log = |file: &str, first, last| Candidate {
//!     file: file.into(),
//!     header: Ok(BackupHeader {
//!         database_name: "mgc".into(),
//!         backup_type: BackupType::Log,
//!         first_lsn: Lsn(first),
//!         last_lsn: Lsn(last),
//!         family_guid: "F".into(),
//!         binding_id: String::new(),
//!         backup_start: chrono::DateTime::UNIX_EPOCH,
//!         backup_finish: chrono::DateTime::UNIX_EPOCH,
//!         database_backup_lsn: Lsn(50),
//!         first_recovery_fork: Some("R".into()),
//!         recovery_fork: Some("R".into()),
//!         backup_size: 0,
//!     }),
//! };
//! let chain = ChainIdentity { family: Some("F".into()), fork: Some("R".into()), base: Lsn(50) };
//! // The database is restored up to LSN 200; the backup covering 300..400 is missing.
//! let folder = [log("mgc_1.trn", 100, 200), log("mgc_2.trn", 200, 300), log("mgc_4.trn", 400, 500)];
//! let plan = plan_log_restores("mgc", &chain, Lsn(200), &folder).unwrap();
//! assert_eq!(plan.already_applied, 1); // mgc_1.trn
//! assert_eq!(plan.to_restore[0].file, "mgc_2.trn"); // then the restore point is 300
//! let gap = plan.gap.unwrap();
//! assert_eq!((gap.missing_from, gap.missing_to), (Lsn(300), Lsn(400)));
//! assert_eq!(gap.next_file, "mgc_4.trn");
//! ```
//!
//! ## Which log backups belong to the chain
//!
//! LSNs that fit are not enough: after a database is recovered somewhere along its
//! history (restored from an older backup, or recovered before its last log backup), a
//! new **recovery path** starts, and backups of the old and the new path share a range
//! of LSNs (*Recovery Paths*). SQL Server refuses a backup of another path with 4330. A
//! log backup therefore continues the chain only when it carries the database's
//! `FamilyGUID`, starts on the recovery fork the database is on (`FirstRecoveryForkID`;
//! after it the database is on its `RecoveryForkID`), and is based on a full backup no
//! older than the one the chain has already passed (`DatabaseBackupLSN`, which never
//! goes back along one path) ([`ChainIdentity`](crate::log_chain::ChainIdentity)).
//!
//! A log-shipping secondary is RESTORING, and SQL Server shows neither its family nor
//! its fork then: `sys.database_recovery_status` documents both as NULL when "the
//! database will not start". pcdr takes them, and the base, from the backup set msdb
//! records as restored into `mgc` last (`restorehistory`, then `backupset`:
//! `family_guid`, `last_recovery_fork_guid`, `database_backup_lsn`); when msdb's history
//! was purged, from the header of the file restored last. Without that, a folder
//! holding log backups of another path would be restored until SQL Server refused one,
//! or not at all noticed where the LSNs happen to fit.
//!
//! A file that cannot continue the chain is refused only when it could matter. One of
//! `mgc` whose header shows it ends at or before the restore point (an old file of
//! another path left in the folder, a full backup saved as `.trn`) cannot add a log
//! record the database lacks; one SQL Server finds damaged (3203, 3241) but that msdb
//! records as restored into `mgc` (`backupmediafamily.physical_device_name` is the
//! file) up to the restore point was applied before it was damaged. Each is named in a
//! warning and the run goes on. A file of another database, or an unreadable one msdb
//! knows nothing about, could be anything: it stops the run. So does a file SQL Server
//! cannot open at all (3201): that is usually the folder's path or rights, for every
//! file alike, and is to be fixed rather than worked around.
//!
//! `RESTORE HEADERONLY` reads a file's header only: a file damaged after it (cut short)
//! shows a sound header, and SQL Server finds the damage when the file is restored
//! (3203). The run then stops at that restore, naming the file, with `mgc` still
//! restoring: replace the file from the share, or move it aside (losing what only it
//! held), and resume. Log-shipping backups carry no backup checksums (the backup job
//! takes them without `CHECKSUM`), so pcdr never asks to verify checksums of a log
//! backup; only its own full backups, taken `WITH CHECKSUM`, are verified `WITH
//! CHECKSUM`.
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/backup-restore/recovery-paths-sql-server>,
//! <https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-recovery-status-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/restorehistory-transact-sql>.
//!
//! ## A gap, and what accepting data loss means
//!
//! Log backups can only be applied in an unbroken chain: when one is lost, only the
//! backups before it can be restored. And recovery ends the chain for good: once the
//! database is recovered, no further log backup can be applied to it. Recovering past a
//! gap therefore loses, permanently, every transaction after the last backup that could
//! be applied.
//!
//! The apply step stops with
//! [`Error::DataLossRefused`](crate::error::Error::DataLossRefused), naming the missing
//! LSN range, the first file after it, and the last good backup with the time it
//! finished (the data is complete up to that time). It restores nothing while the gap
//! is not accepted; with the default overlapped copy, the log backups that landed
//! during the copy and continued the chain are already restored `WITH NORECOVERY`.
//! Either way nothing is recovered, so the choice stays open:
//!
//! - find the missing log backup (on the share, or from the primary's backup history),
//!   put it in the copy folder and resume: the chain continues;
//! - or resume with `--accept-data-loss`: pcdr restores the backups before the gap,
//!   then recovers, and the gap stays in the journal and in the report
//!   ([`RpoEvidence`](crate::runbook::RpoEvidence), `accepted_gap`) as the record of
//!   what was lost.
//!
//! Either accepted loss (a gap, or a share that could not be read) sets the report's
//! `lost_from`: the first LSN the new primary does not hold. Every transaction
//! committed from it on is lost, and only those; the emulator's
//! `pcdr sim verify --expect failed-over --report <journal>.report.json` checks exactly
//! that against the messages the lost primary committed, and fails a report that claims
//! one message more or less.
//!
//! ## Dates are the server's local time
//!
//! SQL Server dates everything in the local time of the computer it runs on, and names
//! no offset beside most of it: `SYSDATETIME()` and `GETDATE()`, `RESTORE HEADERONLY`'s
//! `BackupStartDate` and `BackupFinishDate`, `msdb.dbo.restorehistory.restore_date`,
//! `sys.dm_exec_sessions.login_time`; `msdb.dbo.backupset` records its dates with the
//! offset in 15-minute intervals (`time_zone`). A data center in Dallas dates its backups
//! six hours behind UTC in winter, and a report that printed those dates as UTC would
//! place the last backup applied six hours off.
//!
//! pcdr asks each instance its offset from UTC, once per connection: `SYSDATETIME()` and
//! `SYSUTCDATETIME()` in one statement, the difference rounded to the minute
//! (`SELECT SYSDATETIME() AS local_time, SYSUTCDATETIME() AS utc_time;`). Every date
//! the instance gives is converted to UTC with it, and every date pcdr prints is UTC
//! (`+00:00`), the report's `last_applied_finish` among them. Dates of one instance keep
//! their order and compare with each other as before: the failback backup's
//! `BackupFinishDate` and the run's start, both the backup instance's.
//!
//! A backup header names no offset: its dates are those of the instance that took the
//! backup, and pcdr converts them with the offset of the instance that reads the header.
//! Log backups are taken on the primary and read on the backup instance, so their dates
//! are right when the two sites' SQL Servers keep one time zone, and off by the
//! difference otherwise. An offset read today also converts a date from before a
//! daylight-saving change by today's rule.
//!
//! Pages: <https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>,
//! <https://learn.microsoft.com/sql/t-sql/statements/restore-statements-headeronly-transact-sql>.
//!
//! ## Ending sessions before an exclusive restore
//!
//! `RESTORE` needs the database to itself; while any other session uses it, SQL Server
//! refuses with 3101. A restoring database has no users, but a standby copy has
//! readers, and monitoring or administration tools may be connected. Microsoft's step 4
//! ends all connections first.
//!
//! pcdr lists the sessions using the database, other than its own, from
//! `sys.sysprocesses` (`dbid`, the database a session is using, on its main execution
//! context `ecid = 0`), keeps those `sys.dm_exec_sessions` shows as user sessions
//! (`is_user_process`; a system session cannot be killed), ends each with `KILL` (the
//! session id is an integer literal, since `KILL` takes no variable), and runs the
//! restore from `master`. Not `sys.dm_exec_sessions.database_id`: it came with SQL
//! Server 2012, and Skype for Business Server 2015 supports SQL Server 2008 R2 as its
//! back end; nor `sys.dm_exec_requests`, which misses an idle session that has the
//! database open and blocks the restore all the same. A client can
//! reconnect between the `KILL` and the `RESTORE`; when the restore then fails with
//! 3101, pcdr lists and ends the sessions again and retries, up to three times, before
//! it gives up and says which database is still in use. The same happens before a log
//! restore onto a standby copy, and before each failback restore.
//!
//! ## At most four active servers, all in the database's site
//!
//! A Persistent Chat pool set up for high availability and disaster recovery may hold
//! up to eight servers, of which only four can be active while the rest stand by
//! (*Plan Persistent Chat Server topology*). Microsoft's failover and failback both
//! require the active servers to sit in the data center of the database they use, or
//! in one with a low-latency, high-bandwidth link to it.
//!
//! The topology checks the first rule when it is loaded (at most eight servers, each in
//! one site). The activation steps take at most four servers, and only from the site
//! that holds the database; pcdr does not use the low-latency exception, because it
//! cannot measure a link. A list that breaks either rule is refused before anything is
//! sent.
//!
//! ## Fencing the pool before failback
//!
//! Failback copies the backup `mgc` to the primary through one full backup. Any chat
//! message written to the backup `mgc` after that backup finishes is not in it, and is
//! lost when the primary is restored from it and the backup `mgc` is re-seeded. Clearing
//! the active servers first, as Microsoft's step 1 does, stops the chat servers from
//! connecting to the databases, and `check_rebuilt_primary` makes sure the run starts
//! from a failed-over pool.
//!
//! The fence has a documented limit: a server removed from the active list stops taking
//! *new* client connections but keeps the ones it already has. No page says how soon
//! those stop writing, and pcdr does not wait for it.
//!
//! ## One run per pool: the run lock
//!
//! Two operators, on two hosts, each with a journal of their own, must not run
//! procedures on one pool at once: each would observe the other's half-done work and
//! act on it. A journal lock cannot see a run on another host, so every run (new,
//! resumed, or one step) takes an exclusive application lock `pcdr:<pool fqdn>`
//! ([`run_lock_resource`](crate::runbook::run_lock_resource)) with `sp_getapplock`
//! (`@LockOwner = 'Session'`, `@LockTimeout = 0`) in `master` of the backup instance,
//! and for failback of the primary too, as the first thing its first step does, over a
//! connection of its own held for the whole run. A failover does not lock the primary,
//! whose site is gone. The lock lives in `master`, which every instance has and no step
//! restores over (unlike `mgc`). When an instance to lock cannot be reached, the first
//! step (a check, which sends nothing) runs anyway to say what that means for the
//! procedure; nothing acts without the lock.
//!
//! A second run is refused at once (`run_in_progress`) and told who holds the lock:
//! `sys.dm_tran_locks` names the holding session, and `sys.dm_exec_sessions` its
//! `host_name`, `login_name`, `login_time` and `program_name`, where pcdr names its run
//! (`pcdr failover run 20261127093000`). A run gives the lock back
//! (`sp_releaseapplock`) when it ends, failed or not. Nothing of pcdr's is stored on the
//! server: a session-owned lock also ends with its session, so a run that dies, even by
//! SIGKILL, releases it as soon as its connection drops, and a resumed run takes it
//! again.
//!
//! Copies of log backups are written under a partial name unique to the copy and
//! created exclusively, so two copies of one file never write into one partial file.
//!
//! Pages: <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-tran-locks-transact-sql>,
//! <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>.
//!
//! ## Single-user databases and mirroring
//!
//! A restore resets most database options to what they were when the backup ended, and
//! mirroring cannot be set up on a database in single-user mode (1488). A backup taken
//! while the backup `mgc` is SINGLE_USER would therefore carry that setting to the
//! primary, and `mirror_primary` would fail at the end of the failback. So
//! `backup_for_failback` refuses unless the database is MULTI_USER, and says which
//! statement puts it back.
//!
//! ## Backup files named after the run
//!
//! The two full backups of a failback are written to the share as
//! `<db>_pcdr_failback_<run id>.bak` and `<db>_pcdr_reinit_<run id>.bak`. The run id is
//! the UTC time the run started (`yyyyMMddHHmmss`); the journal keeps it, so it does not
//! change when the run is resumed. That naming lets pcdr:
//!
//! - find its own complete backup after an interruption and reuse it instead of taking
//!   it again (the header must say: full backup of `mgc`);
//! - tell a database restored by this run from one that merely looks alike: the restore
//!   steps skip only when the restore history names this run's file, which an older
//!   run's file, or the original primary coming back, never does;
//! - overwrite (`WITH INIT`) only its own file, never another run's backup and never a
//!   log-shipping `.trn` file, whose pattern these names do not match.
//!
//! # Error numbers an operator meets
//!
//! pcdr reports SQL Server's first error for a statement: for a failed `BACKUP` or
//! `RESTORE`, that is the cause, not the 3013 that follows it. Each error comes with
//! what to do next ([`PlaneError::next_action`](crate::error::PlaneError::next_action));
//! callers ask an error for its number ([`Error::sql_number`](crate::error::Error::sql_number))
//! rather than reading its text. The numbers that matter here:
//!
//! | number | what SQL Server means | where it shows up | what to do |
//! |---|---|---|---|
//! | 927 | the database is in the middle of a restore and cannot be opened | querying `mgc` before recovery | recover it first |
//! | 1416 | the database is not mirrored | removing mirroring twice | nothing: pcdr counts it as done |
//! | 1418 | the mirroring partner's network address cannot be reached | `Install-CsMirrorDatabase` | check the partner's mirroring endpoint |
//! | 1488 | mirroring cannot start on a single-user database | mirroring after a restore | set the database MULTI_USER (pcdr refuses earlier) |
//! | 3013 | `BACKUP` or `RESTORE` ended abnormally | after every failed backup or restore | read the error before it |
//! | 3021 | `BACKUP` or `RESTORE` inside a transaction | a caller that wraps statements in a transaction | run them outside one (pcdr never does) |
//! | 3036 | a database in warm standby cannot be backed up | backing up a standby copy | recover it first |
//! | 3101 | exclusive access impossible: the database is in use | every restore | pcdr ends sessions and retries; if it persists, find who reconnects |
//! | 3104 | `RESTORE` cannot work on a database in a mirroring session | restoring over the primary `mgc` | remove mirroring (pcdr does) |
//! | 3117 | no files are ready to roll forward | a log restore onto a recovered database | the database was already recovered: check its state |
//! | 3154 | the backup holds another database than the one being overwritten | failback restores | check the file; `REPLACE` overrides it |
//! | 3159 | the tail of the log was not backed up | restoring over an existing database | `REPLACE` (pcdr uses it where Microsoft's *Overwrite* does) |
//! | 3201 | the backup device cannot be opened | a file missing or unreadable for the SQL Server service | check the path and the service account's rights |
//! | 3203 | reading the backup device failed | a damaged or truncated file | replace the file from the share |
//! | 3241 | the media family is malformed | a half-written backup | replace the file from the share |
//! | 4305 | the log backup starts too late: an earlier one is missing | a gap in the chain | find the missing backup, or accept the loss |
//! | 4319 | an earlier restore was interrupted | after a crash mid-restore | SQL Server's remedy is `RESTORE … WITH RESTART`; pcdr has no special handling |
//! | 4326 | the log backup ends too early: already applied | restoring a file twice | nothing: pcdr skips such files |
//! | 4330 | the backup is on another recovery path than the database | a file from before a recovery, or from another database | use the right files; the database may already be recovered |
//! | 5052 | the `ALTER DATABASE` is not allowed in the database's current state | altering a restoring database | pcdr has no special handling; read SQL Server's message |
//! | 6104 | a session cannot `KILL` itself | ending sessions | nothing: pcdr excludes its own session |
//! | 6106 | the session to kill is no longer active | ending sessions | nothing: it is already gone |
//!
//! Page: <https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors>.
//!
//! # Where pcdr departs from or adds to Microsoft's procedure
//!
//! | what | Microsoft | pcdr |
//! |---|---|---|
//! | each step | done once, by hand | observes, acts, verifies; skips what is already done |
//! | preconditions | assumed | `check_sites`, `check_rebuilt_primary` refuse a world that does not fit |
//! | log-shipping settings | lost in step 1 | read first and journaled |
//! | "unapplied" log backups | "in sequence" | the LSN rule; a gap stops the run until the operator decides |
//! | files in the folders that do not fit | not considered | a backup of another family, recovery path or database, or one SQL Server cannot read, stops the run with the way on, unless it provably cannot matter (then it is named in a warning); a misnamed log backup is named in a warning |
//! | a share that cannot be read | not considered | stops the run; with `--accept-data-loss`, recorded in the report as an accepted loss |
//! | copying and restoring | one after the other | overlapped by default (`--sequential-restore` to separate) |
//! | finding sessions | `sp_who2` (undocumented) | `sys.sysprocesses` and `sys.dm_exec_sessions`, on every supported SQL Server version; bounded retry on 3101 |
//! | pool state, mirroring | set | set and read back |
//! | active servers | same data center, or a fast link | always the database's site, at most four; not read back (no documented way) |
//! | removing mirroring | Management Studio dialog | `ALTER DATABASE … SET PARTNER OFF`; 1416 counts as done |
//! | failback backup | Management Studio dialog | `WITH CHECKSUM`, then `RESTORE VERIFYONLY` and `RESTORE FILELISTONLY`; refused for a single-user database |
//! | failback restore | *Overwrite*, *ready to use* | also removes mirroring on the primary, ends sessions and moves files onto the primary's own paths |
//! | re-seeding the backup `mgc` | inside the Management Studio log-shipping wizard | its own step, resumable |
//! | log shipping | the wizard, with an optional monitor server | the documented stored procedures as the *Configure* page's script calls them, each return code checked, `@overwrite = 1`, an alert job on each instance, no monitor server |
//! | mirroring the primary after failback | from Topology Builder | `mirror_primary` re-installs it |
//! | log shipping from the primary's mirror after failback | set up at deployment through a manual mirroring failover | `ship_logs_from_primary_mirror` sets it up again the same way, each failover re-checking a SYNCHRONIZED session |
//! | a run | a person with a checklist | a journal: a stopped run resumes at the first step not verified as done ([`crate::runbook`]); the journal names the deployment it was written for and is refused for any other; on resume every check runs again and the last step recorded as done must still be done |
//! | two operators at once | not considered | one run per pool: a session-owned application lock on the backup instance (and the primary for failback) refuses a second run at once, naming the first (see *One run per pool* above) |
//! | the primary coming back | not considered | recovery, the pool state and the backup site's active servers each probe the primary site again right before acting; only a TCP connection refused or timed out counts as down (a TLS or login failure means it answered) |
//! | dates | read off Management Studio | SQL Server's local dates converted to UTC with the offset each instance gives, and printed as UTC (see *Dates are the server's local time* above) |
//! | a dry run | none | `pcdr plan`: every statement and cmdlet the run would send, built by the same step code, with placeholders where only the run can tell; `tests/plan_is_run.rs` proves the run sends what the plan showed |
//!
//! One thing the documentation describes is **not** done by a failover: SQL Server's
//! failover page says to back up and apply the tail of the log when the primary is still
//! reachable. pcdr's failover handles the disaster case only and takes no tail-log
//! backup, even when the operator allows a reachable primary; a primary that answers is
//! the case of `pcdr switchover`, which does.
//!
//! One order differs from SQL Server's *Configure Log Shipping* page: that page adds the
//! secondary database on the secondary before telling the primary about it
//! (`sp_add_log_shipping_primary_secondary`); pcdr sets up the whole primary side
//! first, then the secondary side. No page says whether that order matters.
//!
//! # What no public source confirms
//!
//! These points are treated as configuration or as hints, never as facts:
//!
//! - **The exact `-Identity` strings the Persistent Chat cmdlets accept.** The types
//!   are documented (`XdsIdentity` for the state cmdlets, `XdsGlobalRelativeIdentity`
//!   for `Set-CsPersistentChatActiveServer`), the strings less so: the procedure uses
//!   `service:<pool FQDN>` (once with a space after the colon), the state cmdlets' pages
//!   `PersistentChatServer:<FQDN>`, the configuration cmdlets' pages the service scope
//!   `service:PersistentChatServer:<FQDN>`, and the active-server page a collection
//!   named as `Get-CsService -PersistentChatServer` names the pool (`global` in the Lync
//!   Server 2013 version). pcdr sends `pool.state_identity` (default
//!   `service:PersistentChatServer:<fqdn>`) to the state cmdlets and
//!   `pool.active_servers_identity` (default `PersistentChatServer:<fqdn>`) to the
//!   active-server cmdlet; set them to what your deployment accepts.
//! - **Reading the active servers back.** There is no documented
//!   `Get-CsPersistentChatActiveServer`; the Management Shell plane reports the list as
//!   unknown ([`ChatPoolPlane`](crate::planes::ChatPoolPlane)), so the activation steps
//!   set it without checking.
//! - **Log-shipping file names.** That the jobs name log backups
//!   `<db>_<yyyyMMddHHmmss>.trn` in UTC is community knowledge. pcdr uses names to find
//!   and order candidates only; `RESTORE HEADERONLY` decides.
//! - **Which mirror `Install-CsMirrorDatabase` picks.** Its page takes the principal's
//!   server only; that it mirrors to the backup site's mirror after failover (as the
//!   procedure requires) rests on the topology, not on a statement in the docs.
//! - **The order of the last two failback steps.** Microsoft sets the active servers
//!   before returning the pool to Normal and does not say what the servers do in
//!   between; pcdr keeps that order.
//! - **How `Install-CsMirrorDatabase` seeds the mirror.** That it takes a regular (not
//!   copy-only) log backup besides the full one, and where it writes them, is not
//!   documented; pcdr does not rely on their names: the switchover's reversal finds the
//!   log backups the new primary took in its msdb backup history and restores whatever
//!   continues the old primary's chain, and none when there is none.
//! - **The old primary's restore point after its tail-log backup.** SQL Server documents
//!   `redo_start_lsn` as where the next roll forward starts; that it is the tail's
//!   `LastLSN` follows from that, and pcdr compares it with the new primary's before
//!   recovering. If an instance reports otherwise, the recovery is refused as for a gap
//!   (never silently accepted).
