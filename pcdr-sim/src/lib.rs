//! pcdr-sim: an emulated two-site Persistent Chat world, so pcdr's real adapters can be
//! driven over the real TDS wire, faults injected, and disasters rehearsed, without a
//! SQL Server or a Skype for Business Server.
//!
//! # What is emulated
//!
//! * **Four SQL Server instances** ([`world::model::InstanceId`]): `primary` (127.0.0.1)
//!   and its mirror `primary-mirror` (127.0.0.2) in the primary site, `backup`
//!   (127.0.0.3, the log-shipping secondary) and `backup-mirror` (127.0.0.4) in the
//!   backup site, each a TDS 7.4 server ([`tds`]) on its own loopback address, the named
//!   instance `PCHAT` on a static port, its server known to the cmdlets by an FQDN of
//!   its own (`sql-atl.contoso.test`, `sql-atl-mirror…`, `sql-dal…`, `sql-dal-mirror…`), with
//!   databases `master`, `tempdb`, `model`, `msdb`, `mgc`, `mgccomp` (the backup site has
//!   `mgc` once log shipping seeded it, and `mgccomp`; `backup-mirror` gets databases when
//!   mirroring is installed). Each database has a state (ONLINE, RESTORING, standby,
//!   OFFLINE), recovery model, user access, LSN position or redo point, family GUID,
//!   mirroring role and partner, files, and the chat messages it holds.
//! * **TLS as in production**: every served instance forces encryption with a
//!   certificate for its address, FQDN and server name, issued by the world's own certificate
//!   authority (`DIR/tls/`, [`world::certs`]), which the world's topology trusts. The
//!   encryption is negotiated in PRELOGIN and TLS 1.2 carried as MS-TDS 2.2.6.5 says
//!   ([`tds`]): for the whole connection, or the login only when both sides say OFF.
//! * **Backups are real files** ([`backup_file`]); RESTORE enforces the LSN chain.
//! * **Databases with real size**: each chat database's data file holds the world's
//!   database size ([`world::WorldOptions::db_size_bytes`], `--db-size`, 1 MiB by
//!   default) of real bytes; a full backup copies them into its file after the header
//!   and a full restore writes them to the (moved) data file, so backup, copy and
//!   restore cost grows with the database ("Full Database Backups (SQL Server)": a full
//!   backup "backs up the whole database"); log backups hold only the log since the
//!   last one.
//! * **Log shipping that runs** ([`world::logship`]): backup, copy and restore jobs in
//!   msdb, driven by the world clock, writing `<db>_<yyyyMMddHHmmss>.trn` files to the
//!   share (`DIR/share`) and copying them to the copy folder (`DIR/copy`). A job can be
//!   kept running ([`world::World::start_running_job`]): it holds a session on `mgc`, so
//!   any other RESTORE of it fails with 3101; KILL ends that session but not the job,
//!   which takes the database again from a new session; only `sp_stop_job` ends it.
//! * **Chat traffic and its ground truth**: messages committed on the principal chat
//!   database advance its LSN; a disaster records which messages a surviving log backup
//!   held; [`world::World::verify`] checks a procedure's end state against it.
//! * **The pool** (state, chat servers of both sites, active servers) as the emulated
//!   Management Shell sees it ([`shell::world::PoolWorld`], implemented by
//!   [`world::World`]).
//! * **Faults** ([`world::faults`]): an instance down (its listener closes, connections
//!   are refused; a login that races the close gets error 17142, class 20), a
//!   connection dropped during a statement kind or the n-th statement, a statement kind
//!   failing with error N, a delay, a cmdlet failing or hanging, the share unreachable,
//!   the copy folder full.
//! * **Time**: every statement waits the configured latency; RESTORE and BACKUP take
//!   time in proportion to the file size at the configured MB/s (default: instantaneous).
//!   Waits are `tokio` sleeps, so ATTENTION and client timeouts cancel them and leave the
//!   world unchanged.
//! * **Audit**: every request is appended to `DIR/statements.log` (JSON lines: time,
//!   instance, session, text, parameters without any whose name contains `password`).
//!
//! The state lives in one SQLite file, `DIR/world.sqlite`, shared by the TDS server, the
//! shell and the CLI, which are separate processes ([`world`]).
//!
//! # What is not emulated
//!
//! Data pages and real transaction logs (a database's content is its list of chat
//! messages); TDS 8.0 (TLS before PRELOGIN) and TLS 1.3; Kerberos, and logins but two:
//! the SQL login `pcdr` (password in `DIR/sql-password`) and the Windows account
//! `CONTOSO\pcdr-svc` by NTLMv2 (password in `DIR/windows-password`), 18456 class 14
//! otherwise; permissions; differential and file backups, `NO_TRUNCATE`, and
//! `NORECOVERY` on anything but a tail-log backup; several backup sets per file (`NOINIT`
//! writes a new file), striped devices, `STOPAT` and `CONTINUE_AFTER_ERROR` (refused
//! with error 50000, never ignored); mirroring's witness, safety and failover; a history
//! of recovery forks (a database knows its own fork and its newest fork point, 4330
//! refuses a log backup of another family or path); joins, aggregates and subqueries.
//!
//! # Statements
//!
//! Parsed by [`tsql::parse_batch`], whose module table names the Microsoft Learn page
//! each syntax follows; the engine ([`engine`]) runs exactly these:
//!
//! | Statement | Microsoft syntax | Semantics and errors |
//! |---|---|---|
//! | `SELECT … [FROM t] [WHERE …] [ORDER BY …]` | SELECT (Transact-SQL) | single table or none; `=, <>, <, >, <=, >=, IS [NOT] NULL, [NOT] LIKE, [NOT] IN, AND, OR, NOT`; uniqueidentifier compares with text; `@@SPID, @@VERSION, @@SERVERNAME, @@TRANCOUNT, DB_ID(), DB_NAME()`, `SERVERPROPERTY('ProductVersion' | 'ProductLevel' | 'ServerName')` (the world's [version](world::version)), `SYSDATETIME()` and `GETDATE()` (the instance's local time: the world clock plus the world's UTC offset), `SYSUTCDATETIME()` and `GETUTCDATE()` (the world clock); 208, 207, 137, 195, 245, 8169 |
//! | tables | catalog views and msdb system tables | `sys.databases`, `sys.master_files` (`redo_start_lsn` NUMERIC(25,0), NULL unless restoring or standby), `sys.database_mirroring`, `sys.database_recovery_status`, `sys.dm_exec_sessions` (with `host_name`, `program_name`, `login_time` from LOGIN7; `database_id` only from SQL Server 2012, 207 on a 2008 R2 world), `sys.sysprocesses` (`spid`, `ecid`, `dbid`), `sys.dm_tran_locks` (the application locks), `sys.dm_server_services`, `msdb.dbo.log_shipping_primary_databases`, `…_primary_secondaries`, `…_secondary`, `…_secondary_databases`, `…_monitor_secondary`, `sysjobs`, `sysschedules`, `sysjobschedules`, `syssessions` (one Agent session, from the first job run), `sysjobactivity` (a job runs while its row of the newest Agent session has `start_execution_date` and no `stop_execution_date`), `restorehistory`, `backupset` (one row per backup taken and per set restored: `database_name`, `server_name` of the server that took it, `type` char(1) `D`/`L`, `is_copy_only`, the LSNs and forks, `backup_start_date`, `backup_finish_date` and `time_zone`), `backupmediafamily` (one row per set, naming the file as the BACKUP or RESTORE did); every date local, as `RESTORE HEADERONLY`'s `BackupStartDate` and `BackupFinishDate` |
//! | `RESTORE HEADERONLY \| FILELISTONLY \| VERIFYONLY FROM DISK = …` | RESTORE Statements - HEADERONLY / FILELISTONLY / VERIFYONLY | every documented column, in order, with its type (`smallint`, `tinyint`, `numeric(25,0)`, `datetime`, `char(1)` …; the columns 2012 and later added only from 2012), `ServerName`, `CheckpointLSN`, `DatabaseBackupLSN`, `BeginsLogChain` and the recovery forks from the backup; HEADERONLY reads the header only, never the data pages: 3201 missing, 3241 not a backup (a body cut short or failing its checksum reads as sound); `BackupSize` is the file's size, data pages included, and FILELISTONLY's `BackupSizeInBytes` of the data file its pages; FILELISTONLY and VERIFYONLY read the whole set, data pages included: also 3203 truncated or damaged; `VERIFYONLY … WITH CHECKSUM` of a backup taken without `CHECKSUM` (the log-shipping job's) 3187; 3013 after each |
//! | `RESTORE LOG db FROM DISK = … WITH NORECOVERY \| RECOVERY \| STANDBY = …` | RESTORE Statements (Transact-SQL) | 4305 too recent, 4326 too early, 3117 not restoring, 3104 mirrored, 3101 in use, 3102 in use by this session, 4330 other family or recovery path (a set spanning a fork point takes a database on its first fork at or before the point, or on its last fork at or after it), 3021 in a transaction; 3013 after each; INFO 4035 and 3014 on success |
//! | `RESTORE DATABASE db [FROM DISK = …] WITH [REPLACE,] RECOVERY \| NORECOVERY \| STANDBY, MOVE … TO …` | RESTORE Statements - Arguments | 3159 over an online database without REPLACE, 3154 other database, 3234 unknown logical file, 3153 already recovered; the data file is written from the backup's data pages (a damaged or cut body is 3203); each file goes where the backup recorded it unless `MOVE` says otherwise: 1834 onto another database's file, 5133 into a folder the instance lacks (its folders are those of its databases' files), each then 3156, then 3119; and the above |
//! | `BACKUP DATABASE \| LOG db TO DISK = … WITH INIT, CHECKSUM, …` | BACKUP (Transact-SQL) | a full backup carries the data file's bytes after its header, a log backup only the log since the previous one; the set carries backup checksums (`HasBackupChecksums`) only when taken `WITH CHECKSUM`, and the log-shipping backup job takes none; 3036 standby, 927 restoring, 4208 log of a SIMPLE database, 3201/3202 share unreachable or copy folder full, 3021; `BACKUP LOG … WITH NORECOVERY` is a tail-log backup (Tail-Log Backups (SQL Server)) that leaves the database RESTORING at its LastLSN, refused with 3102 from a session using the database, 3104 mirrored, 3101 in use; the first log backup after a recovery spans its fork point (`FirstRecoveryForkID`, `ForkPointLSN`); 3013 after each |
//! | `ALTER DATABASE name SET PARTNER OFF \| PARTNER FAILOVER \| PARTNER = 'TCP://…' \| SINGLE_USER \| RESTRICTED_USER \| MULTI_USER [WITH ROLLBACK IMMEDIATE] \| ONLINE \| OFFLINE \| RECOVERY …` | ALTER DATABASE Database Mirroring; ALTER DATABASE SET Options | 1416 not mirrored, 1470 failover not on the principal, 1422 failover with the partner disconnected, 1412, 1418, 1488, 5052 restoring, 5070 in use, 5011 unknown (each then 5069), 226 in a transaction |
//! | `KILL n` | KILL (Transact-SQL) | live sessions and reader sessions; 6104 own, 6106 unknown, 6107 system |
//! | `EXEC` `sp_executesql`, `sp_who`, `sp_add_log_shipping_primary_database`, `…_primary_secondary`, `…_secondary_primary`, `…_secondary_database`, `sp_delete_log_shipping_secondary_database` (removing the last secondary database removes the secondary row and its jobs), `…_primary_secondary`, `…_primary_database`, `sp_add_log_shipping_alert_job`, `sp_add_job`, `sp_add_schedule`, `sp_attach_schedule`, `sp_update_job`, `sp_stop_job`, `sp_getapplock`, `sp_releaseapplock` (and the function `APPLOCK_MODE`) | EXECUTE (Transact-SQL) and each procedure's page | OUTPUT arguments and return codes (`EXEC @r = …`); 2812 unknown, 8145 unknown parameter, 201 missing parameter (positional arguments bind in the documented order), 32014 not a secondary, 32012/32013 already configured without `@overwrite = 1`, 14261 a job name taken; the msdb procedures return 0, or 1 after raising their error; `sp_stop_job` returns 0 and stops a running job once its stop delay passed (the stop is a signal), or 1 with error 22022 when the job is not running, 14262 for an unknown job; application locks owned by the session only (released by `sp_releaseapplock` or when the session ends, a dropped connection included), 0 / 1 / -1 / -999 and 1223 as documented |
//! | `DECLARE`, `SET @v`, `SET options`, `USE`, `BEGIN TRAN`, `COMMIT`, `ROLLBACK`, `WAITFOR DELAY`, `PRINT` | their pages | 134, 911, 927, 942, 3902, 3903, 148 |
//!
//! Syntax errors are 102, 105, 113, 156, 191, 2715 (class 15) and end the batch. Other
//! errors end the statement only, except name-resolution errors, which end the batch, as
//! in SQL Server. RPC `sp_executesql` (id 10 or by name) binds `@params` declarations
//! and values as variables; any other RPC is 2812.

#![warn(missing_docs)]

pub mod backup_file;
pub mod drill;
pub mod engine;
pub mod guid;
pub mod serve;
pub mod shell;
pub mod tds;
pub mod tsql;
pub mod world;
