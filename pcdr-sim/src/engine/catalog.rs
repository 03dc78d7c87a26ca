//! The virtual tables a `SELECT … FROM` can read: the catalog views and DMVs pcdr and
//! other clients use, and the msdb log-shipping and Agent tables, built from the
//! instance's state at the moment of the query.
//!
//! Column names and types follow SQL Server's (smallint and tinyint columns are sent as
//! INT, LSNs as DECIMAL(25,0)). Owns name resolution of tables (208).

use std::collections::BTreeSet;

use crate::backup_file::FileEntry;
use crate::engine::applock::AppLock;
use crate::engine::failure::{Failure, invalid_object};
use crate::guid::Guid;
use crate::tds::{Column, ColumnType, ResultSet, Value};
use crate::tsql::ast::Name;
use crate::world::model::Settings;
use crate::world::model::{Database, DbState, Instance, InstanceId};

use ColumnType::{BigInt, Bit, Char, DateTime2, Int, NVarChar, Numeric, UniqueIdentifier};

/// A session as `sys.dm_exec_sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRow {
    /// `session_id`.
    pub spid: u16,
    /// The session's current database.
    pub database: String,
    /// `login_name`.
    pub login: String,
    /// `is_user_process`.
    pub user: bool,
    /// `host_name`: the client's computer, as it said at login.
    pub host_name: String,
    /// `program_name`: the client's application name, as it said at login.
    pub program_name: String,
    /// `login_time`.
    pub login_time: chrono::DateTime<chrono::Utc>,
}

/// What the catalog is built from.
pub(crate) struct Source<'a> {
    /// The instance.
    pub instance: &'a Instance,
    /// Which one.
    pub server: InstanceId,
    /// The session's current database (for names without a database part).
    pub database: &'a str,
    /// Every session of the instance.
    pub sessions: &'a [SessionRow],
    /// Every application lock granted on the instance.
    pub applocks: &'a [AppLock],
    /// The world's settings: the SQL Server version the instance presents (which
    /// columns its views have) and its offset from UTC (its dates are local).
    pub settings: &'a Settings,
    /// The instances that are down: a mirroring partner among them is disconnected.
    pub down: &'a BTreeSet<InstanceId>,
}

fn columns(spec: &[(&str, ColumnType)]) -> Vec<Column> {
    spec.iter().map(|(n, t)| Column::new(*n, *t)).collect()
}

fn text(s: &str) -> Value {
    Value::NVarChar(s.to_owned())
}

fn opt_text(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, text)
}

fn guid(g: Guid) -> Value {
    Value::Guid(g.0)
}

/// A date as the instance shows it: in its local time.
fn time(settings: &Settings, t: &Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::DateTime2(settings.local(t)))
}

fn lsn(n: u128) -> Value {
    i128::try_from(n).map_or(Value::Null, Value::Decimal)
}

/// The table `name` names, with its rows; 208 when there is none.
pub(crate) fn table(source: &Source<'_>, name: &Name) -> Result<ResultSet, Failure> {
    let written = name.0.join(".");
    let parts: Vec<String> = name.0.iter().map(|p| p.to_ascii_lowercase()).collect();
    let (database, schema, object) = match parts.as_slice() {
        [object] => (
            source.database.to_ascii_lowercase(),
            "dbo".to_owned(),
            object.clone(),
        ),
        [schema, object] => (
            source.database.to_ascii_lowercase(),
            schema.clone(),
            object.clone(),
        ),
        [database, schema, object] => (database.clone(), schema.clone(), object.clone()),
        _ => return Err(invalid_object(&written)),
    };
    let schema = if schema.is_empty() {
        "dbo".to_owned()
    } else {
        schema
    };
    if source.instance.database(&database).is_none() {
        return Err(invalid_object(&written));
    }
    let table = match (schema.as_str(), object.as_str()) {
        ("sys", view) => system_view(source, view),
        ("dbo", table) if database == "msdb" => msdb_table(source.instance, source.settings, table),
        _ => None,
    };
    table.ok_or_else(|| invalid_object(&written))
}

fn system_view(source: &Source<'_>, view: &str) -> Option<ResultSet> {
    let databases = || source.instance.databases.values();
    Some(match view {
        "databases" => databases_view(databases()),
        "master_files" => master_files(databases()),
        "database_mirroring" => mirroring(databases(), source.down),
        "database_recovery_status" => recovery_status(databases()),
        "dm_exec_sessions" => sessions(source),
        "sysprocesses" => processes(source),
        "dm_server_services" => services(source.server),
        "dm_tran_locks" => application_locks(source),
        _ => return None,
    })
}

fn databases_view<'a>(databases: impl Iterator<Item = &'a Database>) -> ResultSet {
    let columns = columns(&[
        ("name", NVarChar),
        ("database_id", Int),
        ("state", Int),
        ("state_desc", NVarChar),
        ("is_in_standby", Bit),
        ("is_read_only", Bit),
        ("user_access", Int),
        ("user_access_desc", NVarChar),
        ("recovery_model", Int),
        ("recovery_model_desc", NVarChar),
    ]);
    let rows = databases
        .map(|db| {
            let (state, state_desc) = db.state.code_and_desc();
            let access = db.user_access.desc();
            let access_code = match access {
                "MULTI_USER" => 0,
                "SINGLE_USER" => 1,
                _ => 2,
            };
            let model_code = if db.recovery_model == "FULL" { 1 } else { 3 };
            vec![
                text(&db.name),
                Value::Int(db.id),
                Value::Int(state),
                text(state_desc),
                Value::Bit(db.standby),
                Value::Bit(db.standby),
                Value::Int(access_code),
                text(access),
                Value::Int(model_code),
                text(&db.recovery_model),
            ]
        })
        .collect();
    ResultSet { columns, rows }
}

fn master_files<'a>(databases: impl Iterator<Item = &'a Database>) -> ResultSet {
    let columns = columns(&[
        ("database_id", Int),
        ("file_id", Int),
        ("type", Int),
        ("type_desc", NVarChar),
        ("name", NVarChar),
        ("physical_name", NVarChar),
        ("state_desc", NVarChar),
        ("redo_start_lsn", Numeric(25)),
    ]);
    let rows = databases
        .flat_map(|db| {
            db.files
                .iter()
                .zip(1..)
                .map(move |(file, id)| file_row(db, file, id))
        })
        .collect();
    ResultSet { columns, rows }
}

fn file_row(db: &Database, file: &FileEntry, file_id: i32) -> Vec<Value> {
    let (_, state) = db.state.code_and_desc();
    let redo = if db.accepts_logs() {
        lsn(db.lsn)
    } else {
        Value::Null
    };
    vec![
        Value::Int(db.id),
        Value::Int(file_id),
        Value::Int(i32::from(file.is_log)),
        text(if file.is_log { "LOG" } else { "ROWS" }),
        text(&file.logical_name),
        text(&file.physical_name),
        text(state),
        redo,
    ]
}

/// `sys.database_mirroring`
/// (<https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-transact-sql>):
/// a row per database, NULLs for one that is not mirrored. A session is SYNCHRONIZED
/// (4) while its partner is up and DISCONNECTED (1) while the partner is down: "the
/// partner has lost communication with the other partner" ("Mirroring States (SQL
/// Server)",
/// <https://learn.microsoft.com/sql/database-engine/database-mirroring/mirroring-states-sql-server>).
fn mirroring<'a>(
    databases: impl Iterator<Item = &'a Database>,
    down: &BTreeSet<InstanceId>,
) -> ResultSet {
    let columns = columns(&[
        ("database_id", Int),
        ("mirroring_guid", UniqueIdentifier),
        ("mirroring_state", Int),
        ("mirroring_state_desc", NVarChar),
        ("mirroring_role", Int),
        ("mirroring_role_desc", NVarChar),
        ("mirroring_partner_name", NVarChar),
        ("mirroring_partner_instance", NVarChar),
    ]);
    let rows = databases
        .map(|db| match &db.mirroring {
            None => {
                let mut row = vec![Value::Int(db.id)];
                row.extend(std::iter::repeat_n(Value::Null, 7));
                row
            }
            Some(m) => {
                let (role, desc) = match m.role {
                    crate::world::model::MirrorRole::Principal => (1, "PRINCIPAL"),
                    crate::world::model::MirrorRole::Mirror => (2, "MIRROR"),
                };
                let instance = InstanceId::from_endpoint(&m.partner);
                let (state, state_desc) = match instance.is_some_and(|i| down.contains(&i)) {
                    true => (1, "DISCONNECTED"),
                    false => (4, "SYNCHRONIZED"),
                };
                vec![
                    Value::Int(db.id),
                    guid(m.guid),
                    Value::Int(state),
                    text(state_desc),
                    Value::Int(role),
                    text(desc),
                    text(&m.partner),
                    instance.map_or(Value::Null, |i| text(i.server_name())),
                ]
            }
        })
        .collect();
    ResultSet { columns, rows }
}

/// `sys.database_recovery_status`. The GUIDs are NULL when "the database will not
/// start" (sys.database_recovery_status (Transact-SQL) on Microsoft Learn), which is the
/// state of a database in RESTORING that is not a standby copy: a log-shipping
/// secondary's family and recovery fork are only in msdb's restore history.
fn recovery_status<'a>(databases: impl Iterator<Item = &'a Database>) -> ResultSet {
    let columns = columns(&[
        ("database_id", Int),
        ("database_guid", UniqueIdentifier),
        ("family_guid", UniqueIdentifier),
        ("last_log_backup_lsn", Numeric(25)),
        ("recovery_fork_guid", UniqueIdentifier),
    ]);
    let rows = databases
        .map(|db| {
            let started = db.state != DbState::Restoring || db.standby;
            let shown = |value: Guid| if started { guid(value) } else { Value::Null };
            vec![
                Value::Int(db.id),
                shown(db.database_guid),
                shown(db.family_guid),
                lsn(db.log_backup_lsn),
                shown(db.recovery_fork_guid),
            ]
        })
        .collect();
    ResultSet { columns, rows }
}

/// `sys.dm_exec_sessions`. Its `database_id` exists from SQL Server 2012 on ("Applies
/// to: SQL Server 2012 (11.x) and later",
/// <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>):
/// an instance presenting an older version leaves it out, so a query naming it fails
/// with 207 as there.
fn sessions(source: &Source<'_>) -> ResultSet {
    let with_database = source.settings.sql_version.sessions_show_database_id();
    let mut spec = vec![("session_id", Int)];
    spec.extend(with_database.then_some(("database_id", Int)));
    spec.extend([
        ("is_user_process", Bit),
        ("login_name", NVarChar),
        ("status", NVarChar),
        ("host_name", NVarChar),
        ("program_name", NVarChar),
        ("login_time", DateTime2),
    ]);
    let rows = source
        .sessions
        .iter()
        .map(|s| {
            let mut row = vec![Value::Int(i32::from(s.spid))];
            row.extend(with_database.then(|| database_id(source, &s.database)));
            row.extend([
                Value::Bit(s.user),
                text(&s.login),
                text(if s.user { "sleeping" } else { "background" }),
                if s.user {
                    text(&s.host_name)
                } else {
                    Value::Null
                },
                text(if s.user {
                    &s.program_name
                } else {
                    "SQL Server"
                }),
                Value::DateTime2(source.settings.local(s.login_time)),
            ]);
            row
        })
        .collect();
    ResultSet {
        columns: columns(&spec),
        rows,
    }
}

/// `sys.sysprocesses`, the compatibility view every supported version has: one row per
/// session (the emulator runs no parallel workers, so `ecid` is 0), `dbid` the database
/// the session is using
/// (<https://learn.microsoft.com/sql/relational-databases/system-compatibility-views/sys-sysprocesses-transact-sql>).
/// `spid` and `dbid` are smallint there, sent as INT here.
fn processes(source: &Source<'_>) -> ResultSet {
    let columns = columns(&[
        ("spid", Int),
        ("ecid", Int),
        ("dbid", Int),
        ("status", NVarChar),
        ("loginame", NVarChar),
        ("hostname", NVarChar),
        ("program_name", NVarChar),
        ("login_time", DateTime2),
    ]);
    let rows = source
        .sessions
        .iter()
        .map(|s| {
            vec![
                Value::Int(i32::from(s.spid)),
                Value::Int(0),
                database_id(source, &s.database),
                text(if s.user { "sleeping" } else { "background" }),
                text(&s.login),
                text(if s.user { &s.host_name } else { "" }),
                text(if s.user {
                    &s.program_name
                } else {
                    "SQL Server"
                }),
                Value::DateTime2(source.settings.local(s.login_time)),
            ]
        })
        .collect();
    ResultSet { columns, rows }
}

/// The `database_id` of the database named `name`, NULL when there is none.
fn database_id(source: &Source<'_>, name: &str) -> Value {
    source
        .instance
        .database(name)
        .map_or(Value::Null, |d| Value::Int(d.id))
}

/// `sys.dm_tran_locks`, the application locks only (the emulator takes no other lock a
/// client could see): one granted request per grant, owned by its session.
fn application_locks(source: &Source<'_>) -> ResultSet {
    let columns = columns(&[
        ("resource_type", NVarChar),
        ("resource_database_id", Int),
        ("resource_description", NVarChar),
        ("request_mode", NVarChar),
        ("request_type", NVarChar),
        ("request_status", NVarChar),
        ("request_owner_type", NVarChar),
        ("request_session_id", Int),
    ]);
    let rows = source
        .applocks
        .iter()
        .map(|lock| {
            let database = source.instance.database(&lock.resource.database);
            vec![
                text("APPLICATION"),
                database.map_or(Value::Null, |d| Value::Int(d.id)),
                text(&lock.resource.description()),
                text(lock.mode.code()),
                text("LOCK"),
                text("GRANT"),
                text("SESSION"),
                Value::Int(i32::from(lock.spid)),
            ]
        })
        .collect();
    ResultSet { columns, rows }
}

fn services(server: InstanceId) -> ResultSet {
    let columns = columns(&[
        ("servicename", NVarChar),
        ("service_account", NVarChar),
        ("status_desc", NVarChar),
    ]);
    let rows = vec![
        vec![
            text("SQL Server (MSSQLSERVER)"),
            text("NT Service\\MSSQLSERVER"),
            text("Running"),
        ],
        vec![
            text("SQL Server Agent (MSSQLSERVER)"),
            text(&server.agent_account()),
            text("Running"),
        ],
    ];
    ResultSet { columns, rows }
}

fn msdb_table(instance: &Instance, settings: &Settings, table: &str) -> Option<ResultSet> {
    Some(match table {
        "log_shipping_primary_databases" => primary_databases_table(instance, settings),
        "log_shipping_primary_secondaries" => primary_secondaries_table(instance),
        "log_shipping_secondary" => secondary_table(instance, settings),
        "log_shipping_secondary_databases" => secondary_databases_table(instance, settings),
        "log_shipping_monitor_secondary" => monitor_table(instance),
        "sysjobs" => jobs_table(instance),
        "syssessions" => agent_sessions_table(instance, settings),
        "sysjobactivity" => job_activity_table(instance, settings),
        "sysschedules" => schedules_table(instance),
        "restorehistory" => restore_history_table(instance, settings),
        "backupset" => backup_set_table(instance, settings),
        "backupmediafamily" => media_family_table(instance),
        "sysjobschedules" => ResultSet {
            columns: columns(&[("job_id", UniqueIdentifier), ("schedule_id", Int)]),
            rows: instance
                .msdb
                .jobs
                .iter()
                .filter_map(|j| Some(vec![guid(j.job_id), Value::Int(j.schedule_id?)]))
                .collect(),
        },
        _ => return None,
    })
}

fn restore_history_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("restore_history_id", Int),
            ("restore_date", DateTime2),
            ("destination_database_name", NVarChar),
            ("restore_type", NVarChar),
            ("backup_set_id", Int),
        ]),
        rows: instance
            .msdb
            .restores
            .iter()
            .map(|r| {
                vec![
                    Value::Int(r.restore_history_id),
                    time(settings, &Some(r.restore_date)),
                    text(&r.destination_database_name),
                    text(&r.restore_type.to_string()),
                    Value::Int(r.set.backup_set_id),
                ]
            })
            .collect(),
    }
}

/// `msdb.dbo.backupset`: one row per backup set taken or restored here, with the
/// server that took it, the database, the type (`char(1)`), the identity columns pcdr
/// reads, its dates in the local time where the backup was taken and that place's offset
/// from UTC, `time_zone`, "in 15-minute intervals"
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>;
/// every instance of a world is in one time zone).
fn backup_set_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("backup_set_id", Int),
            ("media_set_id", Int),
            ("database_name", NVarChar),
            ("server_name", NVarChar),
            ("type", Char(1)),
            ("is_copy_only", Bit),
            ("family_guid", UniqueIdentifier),
            ("first_lsn", Numeric(25)),
            ("last_lsn", Numeric(25)),
            ("database_backup_lsn", Numeric(25)),
            ("first_recovery_fork_guid", UniqueIdentifier),
            ("last_recovery_fork_guid", UniqueIdentifier),
            ("fork_point_lsn", Numeric(25)),
            ("backup_start_date", DateTime2),
            ("backup_finish_date", DateTime2),
            ("time_zone", Int),
        ]),
        rows: instance
            .msdb
            .backup_sets()
            .into_iter()
            .map(|r| {
                vec![
                    Value::Int(r.backup_set_id),
                    Value::Int(r.media_set_id),
                    text(&r.database_name),
                    text(&r.server_name),
                    text(&r.backup_type.to_string()),
                    Value::Bit(r.is_copy_only),
                    guid(r.family_guid),
                    lsn(r.first_lsn),
                    lsn(r.last_lsn),
                    lsn(r.database_backup_lsn),
                    guid(r.first_recovery_fork_guid),
                    guid(r.last_recovery_fork_guid),
                    r.fork_point_lsn.map_or(Value::Null, lsn),
                    time(settings, &Some(r.backup_start_date)),
                    time(settings, &Some(r.backup_finish_date)),
                    Value::Int(settings.time_zone()),
                ]
            })
            .collect(),
    }
}

/// `msdb.dbo.backupmediafamily`: the one file of each media set, as the BACKUP or
/// RESTORE statement named it, `physical_device_name` nvarchar(260)
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediafamily-transact-sql>).
fn media_family_table(instance: &Instance) -> ResultSet {
    ResultSet {
        columns: columns(&[("media_set_id", Int), ("physical_device_name", NVarChar)]),
        rows: instance
            .msdb
            .backup_sets()
            .into_iter()
            .map(|r| vec![Value::Int(r.media_set_id), text(&r.physical_device_name)])
            .collect(),
    }
}

fn primary_databases_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("primary_id", UniqueIdentifier),
            ("primary_database", NVarChar),
            ("backup_directory", NVarChar),
            ("backup_share", NVarChar),
            ("backup_retention_period", Int),
            ("backup_job_id", UniqueIdentifier),
            ("last_backup_file", NVarChar),
            ("last_backup_date", DateTime2),
        ]),
        rows: instance
            .msdb
            .primary_databases
            .iter()
            .map(|r| {
                vec![
                    guid(r.primary_id),
                    text(&r.primary_database),
                    text(&r.backup_directory),
                    text(&r.backup_share),
                    Value::Int(r.backup_retention_period),
                    guid(r.backup_job_id),
                    opt_text(&r.last_backup_file),
                    time(settings, &r.last_backup_date),
                ]
            })
            .collect(),
    }
}

fn primary_secondaries_table(instance: &Instance) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("primary_id", UniqueIdentifier),
            ("secondary_server", NVarChar),
            ("secondary_database", NVarChar),
        ]),
        rows: instance
            .msdb
            .primary_secondaries
            .iter()
            .map(|r| {
                vec![
                    guid(r.primary_id),
                    text(&r.secondary_server),
                    text(&r.secondary_database),
                ]
            })
            .collect(),
    }
}

fn jobs_table(instance: &Instance) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("job_id", UniqueIdentifier),
            ("name", NVarChar),
            ("enabled", Int),
        ]),
        rows: instance
            .msdb
            .jobs
            .iter()
            .map(|j| {
                vec![
                    guid(j.job_id),
                    text(&j.name),
                    Value::Int(i32::from(j.enabled)),
                ]
            })
            .collect(),
    }
}

/// `msdb.dbo.syssessions`: one row per start of SQL Server Agent
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql>).
fn agent_sessions_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[("session_id", Int), ("agent_start_date", DateTime2)]),
        rows: instance
            .msdb
            .agent_sessions
            .iter()
            .map(|s| {
                vec![
                    Value::Int(s.session_id),
                    time(settings, &Some(s.agent_start_date)),
                ]
            })
            .collect(),
    }
}

/// `msdb.dbo.sysjobactivity`: each job's activity in each Agent session; a job runs
/// while its row of the current session has a `start_execution_date` and no
/// `stop_execution_date`
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql>).
fn job_activity_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("session_id", Int),
            ("job_id", UniqueIdentifier),
            ("start_execution_date", DateTime2),
            ("stop_execution_date", DateTime2),
        ]),
        rows: instance
            .msdb
            .activity
            .iter()
            .map(|a| {
                vec![
                    Value::Int(a.session_id),
                    guid(a.job_id),
                    time(settings, &a.start_execution_date),
                    time(settings, &a.stop_execution_date),
                ]
            })
            .collect(),
    }
}

fn schedules_table(instance: &Instance) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("schedule_id", Int),
            ("name", NVarChar),
            ("enabled", Int),
            ("freq_subday_interval", Int),
        ]),
        rows: instance
            .msdb
            .schedules
            .iter()
            .map(|s| {
                vec![
                    Value::Int(s.schedule_id),
                    text(&s.name),
                    Value::Int(i32::from(s.enabled)),
                    Value::Int(s.interval_minutes),
                ]
            })
            .collect(),
    }
}

fn secondary_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("secondary_id", UniqueIdentifier),
            ("primary_server", NVarChar),
            ("primary_database", NVarChar),
            ("backup_source_directory", NVarChar),
            ("backup_destination_directory", NVarChar),
            ("file_retention_period", Int),
            ("copy_job_id", UniqueIdentifier),
            ("restore_job_id", UniqueIdentifier),
            ("last_copied_file", NVarChar),
            ("last_copied_date", DateTime2),
        ]),
        rows: instance
            .msdb
            .secondaries
            .iter()
            .map(|r| {
                vec![
                    guid(r.secondary_id),
                    text(&r.primary_server),
                    text(&r.primary_database),
                    text(&r.backup_source_directory),
                    text(&r.backup_destination_directory),
                    Value::Int(r.file_retention_period),
                    guid(r.copy_job_id),
                    guid(r.restore_job_id),
                    opt_text(&r.last_copied_file),
                    time(settings, &r.last_copied_date),
                ]
            })
            .collect(),
    }
}

fn secondary_databases_table(instance: &Instance, settings: &Settings) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("secondary_database", NVarChar),
            ("secondary_id", UniqueIdentifier),
            ("restore_delay", Int),
            ("restore_all", Bit),
            ("restore_mode", Bit),
            ("disconnect_users", Bit),
            ("last_restored_file", NVarChar),
            ("last_restored_date", DateTime2),
        ]),
        rows: instance
            .msdb
            .secondary_databases
            .iter()
            .map(|r| {
                vec![
                    text(&r.secondary_database),
                    guid(r.secondary_id),
                    Value::Int(r.restore_delay),
                    Value::Bit(true),
                    Value::Bit(r.restore_mode == 1),
                    Value::Bit(r.disconnect_users),
                    opt_text(&r.last_restored_file),
                    time(settings, &r.last_restored_date),
                ]
            })
            .collect(),
    }
}

fn monitor_table(instance: &Instance) -> ResultSet {
    ResultSet {
        columns: columns(&[
            ("secondary_server", NVarChar),
            ("secondary_database", NVarChar),
            ("secondary_id", UniqueIdentifier),
            ("primary_server", NVarChar),
            ("primary_database", NVarChar),
            ("last_copied_file", NVarChar),
            ("last_restored_file", NVarChar),
            ("restore_threshold", Int),
            ("threshold_alert_enabled", Bit),
            ("history_retention_period", Int),
            ("last_restored_latency", BigInt),
        ]),
        rows: instance
            .msdb
            .monitor_secondaries
            .iter()
            .map(|r| {
                vec![
                    text(&r.secondary_server),
                    text(&r.secondary_database),
                    guid(r.secondary_id),
                    text(&r.primary_server),
                    text(&r.primary_database),
                    opt_text(&r.last_copied_file),
                    opt_text(&r.last_restored_file),
                    Value::Int(r.restore_threshold),
                    Value::Bit(r.threshold_alert_enabled),
                    Value::Int(r.history_retention_period),
                    Value::Null,
                ]
            })
            .collect(),
    }
}
