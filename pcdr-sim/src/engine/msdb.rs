//! The system procedures of log shipping and SQL Server Agent that `EXEC` can call:
//! `sp_add_log_shipping_primary_database`, `…_primary_secondary`, `…_secondary_primary`,
//! `…_secondary_database`, `sp_delete_log_shipping_secondary_database` (with the
//! documented cascade), `sp_delete_log_shipping_primary_secondary`,
//! `sp_delete_log_shipping_primary_database`, `sp_add_log_shipping_alert_job`,
//! `sp_add_job`, `sp_add_schedule`, `sp_attach_schedule` and `sp_update_job`.
//!
//! Arguments bind by name or by position in the documented order; an unknown parameter
//! is 8145, a missing one 201, and the procedure does not run. A procedure that runs
//! returns 0 on success and 1 on failure, after raising its error, as each page's
//! "Return code values" says, so `EXEC @rc = …` sees the failure. Jobs are created
//! disabled, as the `sp_add_*` procedures create them; a job name is unique (14261).

use std::collections::BTreeMap;

use crate::engine::exec::{Arg, Exec};
use crate::engine::failure::Failure;
use crate::engine::scope::{guid_of, integer_of, text_of};
use crate::guid::Guid;
use crate::tds::Value;
use crate::world::model::{InstanceId, WorldState};
use crate::world::msdb::{
    Job, JobKind, MonitorSecondary, Msdb, PrimaryDatabase, PrimarySecondary, Schedule, Secondary,
    SecondaryDatabase, default_history_retention, default_restore_threshold,
};

/// A procedure's parameters: every parameter its Microsoft reference page documents,
/// in the documented order (positional arguments bind in it), and whether it is
/// required.
pub(crate) struct Procedure {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [(&'static str, bool)],
}

/// The procedures, each following its page under
/// <https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/>
/// (`sp-add-log-shipping-primary-database-transact-sql` and so on). Parameters the
/// emulator does not act on (monitor, thresholds, compression, notification) are
/// accepted and ignored.
const PROCEDURES: &[Procedure] = &[
    Procedure {
        name: "sp_delete_log_shipping_secondary_database",
        params: &[
            ("@secondary_database", true),
            ("@ignoreremotemonitor", false),
        ],
    },
    Procedure {
        name: "sp_delete_log_shipping_primary_secondary",
        params: &[
            ("@primary_database", true),
            ("@secondary_server", true),
            ("@secondary_database", true),
        ],
    },
    Procedure {
        name: "sp_delete_log_shipping_primary_database",
        params: &[("@database", true), ("@ignoreremotemonitor", false)],
    },
    Procedure {
        name: "sp_add_log_shipping_primary_database",
        params: &[
            ("@database", true),
            ("@backup_directory", true),
            ("@backup_share", true),
            ("@backup_job_name", true),
            ("@backup_retention_period", false),
            ("@monitor_server", false),
            ("@monitor_server_security_mode", false),
            ("@monitor_server_login", false),
            ("@monitor_server_password", false),
            ("@backup_threshold", false),
            ("@threshold_alert", false),
            ("@threshold_alert_enabled", false),
            ("@history_retention_period", false),
            ("@backup_job_id", false),
            ("@primary_id", false),
            ("@overwrite", false),
            ("@ignoreremotemonitor", false),
            ("@backup_compression", false),
            ("@primary_server_with_port_override", false),
            ("@primary_connection_options", false),
            ("@monitor_connection_options", false),
        ],
    },
    Procedure {
        name: "sp_add_log_shipping_primary_secondary",
        params: &[
            ("@primary_database", true),
            ("@secondary_server", true),
            ("@secondary_database", true),
            ("@overwrite", false),
        ],
    },
    Procedure {
        name: "sp_add_log_shipping_secondary_primary",
        params: &[
            ("@primary_server", true),
            ("@primary_database", true),
            ("@backup_source_directory", true),
            ("@backup_destination_directory", true),
            ("@copy_job_name", true),
            ("@restore_job_name", true),
            ("@file_retention_period", false),
            ("@monitor_server", false),
            ("@monitor_server_security_mode", false),
            ("@monitor_server_login", false),
            ("@monitor_server_password", false),
            ("@copy_job_id", false),
            ("@restore_job_id", false),
            ("@secondary_id", false),
            ("@overwrite", false),
            ("@ignoreremotemonitor", false),
            ("@secondary_connection_options", false),
            ("@monitor_connection_options", false),
        ],
    },
    Procedure {
        name: "sp_add_log_shipping_secondary_database",
        params: &[
            ("@secondary_database", true),
            ("@primary_server", true),
            ("@primary_database", true),
            ("@restore_delay", false),
            ("@restore_all", false),
            ("@restore_mode", false),
            ("@disconnect_users", false),
            ("@block_size", false),
            ("@buffer_count", false),
            ("@max_transfer_size", false),
            ("@restore_threshold", false),
            ("@threshold_alert", false),
            ("@threshold_alert_enabled", false),
            ("@history_retention_period", false),
            ("@overwrite", false),
            ("@ignoreremotemonitor", false),
        ],
    },
    Procedure {
        name: "sp_add_log_shipping_alert_job",
        params: &[("@alert_job_id", false)],
    },
    Procedure {
        name: "sp_add_job",
        params: &[
            ("@job_name", true),
            ("@enabled", false),
            ("@description", false),
            ("@start_step_id", false),
            ("@category_name", false),
            ("@category_id", false),
            ("@owner_login_name", false),
            ("@notify_level_eventlog", false),
            ("@notify_level_email", false),
            ("@notify_level_netsend", false),
            ("@notify_level_page", false),
            ("@notify_email_operator_name", false),
            ("@notify_netsend_operator_name", false),
            ("@notify_page_operator_name", false),
            ("@delete_level", false),
            ("@job_id", false),
        ],
    },
    Procedure {
        name: "sp_add_schedule",
        params: &[
            ("@schedule_name", true),
            ("@enabled", false),
            ("@freq_type", false),
            ("@freq_interval", false),
            ("@freq_subday_type", false),
            ("@freq_subday_interval", false),
            ("@freq_relative_interval", false),
            ("@freq_recurrence_factor", false),
            ("@active_start_date", false),
            ("@active_end_date", false),
            ("@active_start_time", false),
            ("@active_end_time", false),
            ("@owner_login_name", false),
            ("@schedule_uid", false),
            ("@schedule_id", false),
            ("@originating_server", false),
        ],
    },
    Procedure {
        name: "sp_attach_schedule",
        params: &[
            ("@job_id", false),
            ("@job_name", false),
            ("@schedule_id", false),
            ("@schedule_name", false),
            ("@automatic_post", false),
        ],
    },
    Procedure {
        name: "sp_update_job",
        params: &[
            ("@job_id", false),
            ("@job_name", false),
            ("@new_name", false),
            ("@enabled", false),
            ("@description", false),
            ("@start_step_id", false),
            ("@category_name", false),
            ("@owner_login_name", false),
            ("@notify_level_eventlog", false),
            ("@notify_level_email", false),
            ("@notify_level_netsend", false),
            ("@notify_level_page", false),
            ("@notify_email_operator_name", false),
            ("@notify_netsend_operator_name", false),
            ("@notify_page_operator_name", false),
            ("@delete_level", false),
            ("@automatic_post", false),
        ],
    },
];

/// Whether `name` (lower case) is one of these procedures.
pub(crate) fn is_known(name: &str) -> bool {
    PROCEDURES.iter().any(|p| p.name == name)
}

/// The bound arguments of one call.
pub(crate) struct Params {
    procedure: &'static str,
    values: BTreeMap<String, Value>,
}

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| **v != Value::Null)
    }

    pub(crate) fn text(&self, name: &str) -> Result<String, Failure> {
        self.get(name)
            .and_then(text_of)
            .ok_or_else(|| missing(self.procedure, name))
    }

    pub(crate) fn int(&self, name: &str, default: i32) -> Result<i32, Failure> {
        match self.get(name) {
            Some(value) => Ok(integer_of(value, "int")?
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(default)),
            None => Ok(default),
        }
    }

    fn guid(&self, name: &str) -> Result<Option<Guid>, Failure> {
        self.get(name).map(guid_of).transpose()
    }
}

fn missing(procedure: &str, param: &str) -> Failure {
    Failure::error(
        201,
        format!(
            "Procedure or function '{procedure}' expects parameter '{param}', which was not supplied."
        ),
    )
}

/// Binds `args` by name or position to `procedure`'s parameters: 8145 for an unknown
/// name, 8144 for too many, 201 for a required one missing.
pub(crate) fn bind(procedure: &'static Procedure, args: &[Arg]) -> Result<Params, Failure> {
    let mut values = BTreeMap::new();
    for (position, arg) in args.iter().enumerate() {
        let name = match &arg.name {
            Some(name) => {
                let lower = name.to_ascii_lowercase();
                if !procedure.params.iter().any(|(p, _)| *p == lower) {
                    return Err(Failure::error(
                        8145,
                        format!(
                            "{name} is not a parameter for procedure {}.",
                            procedure.name
                        ),
                    ));
                }
                lower
            }
            None => procedure
                .params
                .get(position)
                .map(|(p, _)| (*p).to_owned())
                .ok_or_else(|| {
                    Failure::error(
                        8144,
                        format!(
                            "Procedure or function {} has too many arguments specified.",
                            procedure.name
                        ),
                    )
                })?,
        };
        if let Some(value) = &arg.value {
            values.insert(name, value.clone());
        }
    }
    if let Some((name, _)) = procedure
        .params
        .iter()
        .find(|(p, required)| *required && !values.contains_key(*p))
    {
        return Err(missing(procedure.name, name));
    }
    Ok(Params {
        procedure: procedure.name,
        values,
    })
}

/// Calls procedure `name` (lower case, known) with `args`. The outer error is the call
/// failing to bind (8145, 8144, 201): the procedure never ran. The inner result is the
/// procedure's: its OUTPUT values by parameter name, or the error it raised before
/// returning 1, with msdb left as it was.
pub(crate) fn call(
    exec: &mut Exec<'_>,
    name: &str,
    args: &[Arg],
) -> Result<Result<Vec<(String, Value)>, Failure>, Failure> {
    let procedure = PROCEDURES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| crate::engine::failure::unknown_procedure(name))?;
    let params = bind(procedure, args)?;
    let instance = exec.engine.instance;
    Ok(exec
        .engine
        .world
        .try_update(|state| run(state, instance, &params))?)
}

fn run(
    state: &mut WorldState,
    instance: InstanceId,
    p: &Params,
) -> Result<Vec<(String, Value)>, Failure> {
    match p.procedure {
        "sp_delete_log_shipping_secondary_database" => {
            delete_secondary_database(msdb(state, instance)?, p)
        }
        "sp_delete_log_shipping_primary_secondary" => {
            let m = msdb(state, instance)?;
            let database = p.text("@primary_database")?;
            let secondary = p.text("@secondary_database")?;
            let ids: Vec<Guid> = primary_ids(m, &database);
            m.primary_secondaries.retain(|r| {
                !(ids.contains(&r.primary_id)
                    && r.secondary_database.eq_ignore_ascii_case(&secondary))
            });
            Ok(Vec::new())
        }
        "sp_delete_log_shipping_primary_database" => {
            let m = msdb(state, instance)?;
            let database = p.text("@database")?;
            let ids = primary_ids(m, &database);
            m.primary_databases.retain(|r| !ids.contains(&r.primary_id));
            m.primary_secondaries
                .retain(|r| !ids.contains(&r.primary_id));
            m.jobs
                .retain(|j| !matches!(&j.kind, JobKind::Backup(id) if ids.contains(id)));
            Ok(Vec::new())
        }
        "sp_add_log_shipping_primary_database" => add_primary_database(state, instance, p),
        "sp_add_log_shipping_primary_secondary" => add_primary_secondary(msdb(state, instance)?, p),
        "sp_add_log_shipping_secondary_primary" => add_secondary_primary(msdb(state, instance)?, p),
        "sp_add_log_shipping_secondary_database" => add_secondary_database(state, instance, p),
        "sp_add_log_shipping_alert_job" => add_alert_job(state, instance),
        "sp_add_job" => sp_add_job(msdb(state, instance)?, p),
        "sp_add_schedule" => add_schedule(msdb(state, instance)?, p),
        "sp_attach_schedule" => attach_schedule(msdb(state, instance)?, p),
        _ => update_job(msdb(state, instance)?, p),
    }
}

/// The msdb of `instance`.
pub(crate) fn msdb(state: &mut WorldState, instance: InstanceId) -> Result<&mut Msdb, Failure> {
    state
        .instance_mut(instance)
        .map(|i| &mut i.msdb)
        .ok_or_else(|| Failure::new(50000, 20, "the instance is missing from the world").aborting())
}

fn primary_ids(m: &Msdb, database: &str) -> Vec<Guid> {
    m.primary_databases
        .iter()
        .filter(|r| r.primary_database.eq_ignore_ascii_case(database))
        .map(|r| r.primary_id)
        .collect()
}

fn delete_secondary_database(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let database = p.text("@secondary_database")?;
    if !m.delete_secondary_database(&database) {
        return Err(Failure::error(
            32014,
            format!("Database {database} does not exist as log shipping secondary."),
        ));
    }
    Ok(Vec::new())
}

fn no_database(name: &str) -> Failure {
    Failure::error(
        15010,
        format!(
            "The database '{name}' does not exist. Supply a valid database name. To see available databases, use sys.databases."
        ),
    )
}

fn add_primary_database(
    state: &mut WorldState,
    instance: InstanceId,
    p: &Params,
) -> Result<Vec<(String, Value)>, Failure> {
    let database = p.text("@database")?;
    let exists = state
        .instance(instance)
        .and_then(|i| i.database(&database))
        .is_some_and(|d| d.is_recovered());
    if !exists {
        return Err(no_database(&database));
    }
    let m = msdb(state, instance)?;
    if !primary_ids(m, &database).is_empty() {
        if p.int("@overwrite", 0)? != 1 {
            return Err(Failure::error(
                32001,
                format!("Log shipping is already configured for primary database {database}."),
            ));
        }
        let ids = primary_ids(m, &database);
        m.primary_databases.retain(|r| !ids.contains(&r.primary_id));
        m.jobs
            .retain(|j| !matches!(&j.kind, JobKind::Backup(id) if ids.contains(id)));
    }
    let primary_id = Guid::generate();
    let job_id = add_job(m, p.text("@backup_job_name")?, JobKind::Backup(primary_id))?;
    m.primary_databases.push(PrimaryDatabase {
        primary_id,
        primary_database: database,
        backup_directory: p.text("@backup_directory")?,
        backup_share: p.text("@backup_share")?,
        backup_retention_period: p.int("@backup_retention_period", 4320)?,
        backup_job_id: job_id,
        last_backup_file: None,
        last_backup_date: None,
    });
    Ok(vec![
        ("@backup_job_id".into(), Value::Guid(job_id.0)),
        ("@primary_id".into(), Value::Guid(primary_id.0)),
    ])
}

/// Adds job `name`, disabled, as `sp_add_job` does for the log-shipping procedures:
/// 14261 when a job of that name exists
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-job-transact-sql>:
/// "The name must be unique").
fn add_job(m: &mut Msdb, name: String, kind: JobKind) -> Result<Guid, Failure> {
    if m.jobs.iter().any(|j| j.name.eq_ignore_ascii_case(&name)) {
        return Err(Failure::error(
            14261,
            format!("The specified @job_name ('{name}') already exists."),
        ));
    }
    let job_id = Guid::generate();
    m.jobs.push(Job {
        job_id,
        name,
        enabled: false,
        kind,
        schedule_id: None,
        last_run: None,
    });
    Ok(job_id)
}

/// `sp_add_job`: a job without steps, enabled unless `@enabled = 0` (the page's
/// default is 1); its id as `@job_id`.
fn sp_add_job(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let enabled = p.int("@enabled", 1)? != 0;
    let job_id = add_job(m, p.text("@job_name")?, JobKind::NoSteps)?;
    if let Some(job) = m.job_mut(job_id) {
        job.enabled = enabled;
    }
    Ok(vec![("@job_id".into(), Value::Guid(job_id.0))])
}

/// `sp_add_log_shipping_alert_job`: the instance's alert job, created enabled and
/// scheduled every two minutes when there is none, as the page says
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql>).
fn add_alert_job(
    state: &mut WorldState,
    instance: InstanceId,
) -> Result<Vec<(String, Value)>, Failure> {
    let name = format!("LSAlert_{}", instance.server_name());
    let m = msdb(state, instance)?;
    let existing = m.jobs.iter().find(|j| j.kind == JobKind::Alert);
    let job_id = match existing {
        Some(job) => job.job_id,
        None => {
            let job_id = add_job(m, name.clone(), JobKind::Alert)?;
            let schedule_id = m.next_schedule_id();
            m.schedules.push(Schedule {
                schedule_id,
                name,
                enabled: true,
                interval_minutes: 2,
            });
            if let Some(job) = m.job_mut(job_id) {
                job.enabled = true;
                job.schedule_id = Some(schedule_id);
            }
            job_id
        }
    };
    Ok(vec![("@alert_job_id".into(), Value::Guid(job_id.0))])
}

fn add_primary_secondary(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let database = p.text("@primary_database")?;
    let primary_id = *primary_ids(m, &database).first().ok_or_else(|| {
        Failure::error(
            32010,
            format!("Database {database} does not exist as log shipping primary."),
        )
    })?;
    let secondary_server = p.text("@secondary_server")?;
    let secondary_database = p.text("@secondary_database")?;
    m.primary_secondaries.retain(|r| {
        !(r.primary_id == primary_id
            && r.secondary_server.eq_ignore_ascii_case(&secondary_server)
            && r.secondary_database
                .eq_ignore_ascii_case(&secondary_database))
    });
    m.primary_secondaries.push(PrimarySecondary {
        primary_id,
        secondary_server,
        secondary_database,
    });
    Ok(Vec::new())
}

fn add_secondary_primary(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let primary_server = p.text("@primary_server")?;
    let primary_database = p.text("@primary_database")?;
    let same = |s: &Secondary| {
        s.primary_server.eq_ignore_ascii_case(&primary_server)
            && s.primary_database.eq_ignore_ascii_case(&primary_database)
    };
    if let Some(existing) = m.secondaries.iter().find(|s| same(s)).cloned() {
        if p.int("@overwrite", 0)? != 1 {
            return Err(Failure::error(
                32012,
                format!(
                    "Secondary for primary {primary_server}.{primary_database} already exists."
                ),
            ));
        }
        m.jobs
            .retain(|j| j.job_id != existing.copy_job_id && j.job_id != existing.restore_job_id);
        m.secondaries.retain(|s| !same(s));
    }
    let secondary_id = Guid::generate();
    let copy_job_id = add_job(m, p.text("@copy_job_name")?, JobKind::Copy(secondary_id))?;
    let restore_job_id = add_job(
        m,
        p.text("@restore_job_name")?,
        JobKind::Restore(secondary_id),
    )?;
    m.secondaries.push(Secondary {
        secondary_id,
        primary_server,
        primary_database,
        backup_source_directory: p.text("@backup_source_directory")?,
        backup_destination_directory: p.text("@backup_destination_directory")?,
        file_retention_period: p.int("@file_retention_period", 4320)?,
        copy_job_id,
        restore_job_id,
        last_copied_file: None,
        last_copied_date: None,
    });
    Ok(vec![
        ("@copy_job_id".into(), Value::Guid(copy_job_id.0)),
        ("@restore_job_id".into(), Value::Guid(restore_job_id.0)),
        ("@secondary_id".into(), Value::Guid(secondary_id.0)),
    ])
}

fn add_secondary_database(
    state: &mut WorldState,
    instance: InstanceId,
    p: &Params,
) -> Result<Vec<(String, Value)>, Failure> {
    let database = p.text("@secondary_database")?;
    let exists = state
        .instance(instance)
        .and_then(|i| i.database(&database))
        .is_some_and(|d| d.accepts_logs());
    if !exists {
        return Err(no_database(&database));
    }
    let server_name = instance.server_name().to_owned();
    let m = msdb(state, instance)?;
    let primary_server = p.text("@primary_server")?;
    let primary_database = p.text("@primary_database")?;
    let secondary = m
        .secondaries
        .iter()
        .find(|s| {
            s.primary_server.eq_ignore_ascii_case(&primary_server)
                && s.primary_database.eq_ignore_ascii_case(&primary_database)
        })
        .cloned()
        .ok_or_else(|| {
            Failure::error(32011, format!("Primary {primary_server}.{primary_database} is not configured for this log shipping secondary."))
        })?;
    let exists = |d: &SecondaryDatabase| d.secondary_database.eq_ignore_ascii_case(&database);
    if m.secondary_databases.iter().any(exists) && p.int("@overwrite", 0)? != 1 {
        return Err(Failure::error(
            32013,
            format!("A log shipping entry already exists for secondary database {database}."),
        ));
    }
    m.secondary_databases.retain(|d| !exists(d));
    m.monitor_secondaries
        .retain(|d| !d.secondary_database.eq_ignore_ascii_case(&database));
    m.secondary_databases.push(SecondaryDatabase {
        secondary_database: database.clone(),
        secondary_id: secondary.secondary_id,
        restore_delay: p.int("@restore_delay", 0)?,
        restore_mode: p.int("@restore_mode", 0)?,
        disconnect_users: p.int("@disconnect_users", 0)? != 0,
        last_restored_file: None,
        last_restored_date: None,
    });
    m.monitor_secondaries.push(MonitorSecondary {
        secondary_server: server_name,
        secondary_database: database,
        secondary_id: secondary.secondary_id,
        primary_server,
        primary_database,
        last_copied_file: None,
        last_restored_file: None,
        restore_threshold: p.int("@restore_threshold", default_restore_threshold())?,
        threshold_alert_enabled: p.int("@threshold_alert_enabled", 1)? != 0,
        history_retention_period: p
            .int("@history_retention_period", default_history_retention())?,
    });
    Ok(Vec::new())
}

fn add_schedule(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let schedule_id = m.next_schedule_id();
    let interval = match p.int("@freq_subday_type", 1)? {
        4 => p.int("@freq_subday_interval", 15)?,
        8 => p.int("@freq_subday_interval", 1)?.saturating_mul(60),
        _ => 1440,
    };
    m.schedules.push(Schedule {
        schedule_id,
        name: p.text("@schedule_name")?,
        enabled: p.int("@enabled", 1)? != 0,
        interval_minutes: interval.max(1),
    });
    Ok(vec![
        ("@schedule_id".into(), Value::Int(schedule_id)),
        ("@schedule_uid".into(), Value::Guid(Guid::generate().0)),
    ])
}

/// The job `@job_id` or `@job_name` names: 14294 when neither is given, 14262 when
/// there is no such job.
pub(crate) fn find_job(m: &mut Msdb, p: &Params) -> Result<Guid, Failure> {
    let by_id = p.guid("@job_id")?;
    let by_name = p.get("@job_name").and_then(text_of);
    let found = m.jobs.iter().find(|j| {
        by_id.is_some_and(|id| id == j.job_id)
            || by_name
                .as_ref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&j.name))
    });
    match (found, by_id, by_name) {
        (Some(job), _, _) => Ok(job.job_id),
        (None, None, None) => Err(Failure::error(
            14294,
            "Supply either @job_id or @job_name to identify the job.",
        )),
        (None, Some(id), _) => Err(Failure::error(
            14262,
            format!("The specified @job_id ('{id}') does not exist."),
        )),
        (None, None, Some(name)) => Err(Failure::error(
            14262,
            format!("The specified @job_name ('{name}') does not exist."),
        )),
    }
}

fn attach_schedule(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let job_id = find_job(m, p)?;
    let by_id = p.int("@schedule_id", -1)?;
    let by_name = p.get("@schedule_name").and_then(text_of);
    let schedule_id = m
        .schedules
        .iter()
        .find(|s| {
            s.schedule_id == by_id
                || by_name
                    .as_ref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&s.name))
        })
        .map(|s| s.schedule_id)
        .ok_or_else(|| {
            Failure::error(
                14262,
                format!("The specified @schedule_id ('{by_id}') does not exist."),
            )
        })?;
    if let Some(job) = m.job_mut(job_id) {
        job.schedule_id = Some(schedule_id);
    }
    Ok(Vec::new())
}

fn update_job(m: &mut Msdb, p: &Params) -> Result<Vec<(String, Value)>, Failure> {
    let job_id = find_job(m, p)?;
    let enabled = p
        .get("@enabled")
        .map(|v| integer_of(v, "tinyint"))
        .transpose()?
        .flatten();
    let new_name = p.get("@new_name").and_then(text_of);
    if let Some(job) = m.job_mut(job_id) {
        if let Some(enabled) = enabled {
            job.enabled = enabled != 0;
        }
        if let Some(name) = new_name {
            job.name = name;
        }
    }
    Ok(Vec::new())
}
