//! The engine's SELECT statements over tiberius: pcdr-core's exact queries with their
//! column types, independent clients' queries, WHERE/ORDER BY forms, and the name
//! resolution and syntax errors.

mod engine_common;

use engine_common::{batch, first_text, number, run, spid, start, start_default};
use pcdr_core::commands::sql;
use pcdr_sim::world::WorldOptions;
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::version::SqlVersion;
use tiberius::Uuid;
use tiberius::numeric::Numeric;

#[tokio::test]
async fn database_state_returns_three_result_sets_with_sql_server_types() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let results = run(&mut primary, &sql::database_state("mgc"))
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    let state = &results[0][0];
    assert_eq!(state.get::<&str, _>("state_desc"), Some("ONLINE"));
    assert_eq!(state.get::<bool, _>("is_in_standby"), Some(false));
    assert_eq!(state.get::<&str, _>("user_access_desc"), Some("MULTI_USER"));
    let mirroring = &results[1][0];
    assert_eq!(
        mirroring.get::<&str, _>("mirroring_role_desc"),
        Some("PRINCIPAL")
    );
    assert_eq!(
        mirroring.get::<&str, _>("mirroring_partner_name"),
        Some("TCP://127.0.0.2:5022")
    );
    let family = results[2][0].get::<Uuid, _>("family_guid").unwrap();
    let world = sim.world().read().unwrap();
    let expected = world.instances[&InstanceId::Primary]
        .database("mgc")
        .unwrap()
        .family_guid;
    assert_eq!(family.to_string().to_uppercase(), expected.to_string());
}

#[tokio::test]
async fn an_unmirrored_or_missing_database_gives_empty_sets() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let results = run(&mut backup, &sql::database_state("mgc")).await.unwrap();
    assert_eq!(
        results[0][0].get::<&str, _>("state_desc"),
        Some("RESTORING")
    );
    assert!(results[1].is_empty());
    let missing = run(&mut backup, &sql::database_state("nope"))
        .await
        .unwrap();
    assert!(missing.iter().all(Vec::is_empty));
}

#[tokio::test]
async fn redo_start_lsn_is_a_decimal_on_a_restoring_database_and_null_when_online() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let rows = run(&mut backup, &sql::redo_start_lsn("mgc")).await.unwrap();
    let lsn = rows[0][0].get::<Numeric, _>(0).unwrap();
    let world = sim.world().read().unwrap();
    let expected = world.instances[&InstanceId::Backup]
        .database("mgc")
        .unwrap()
        .lsn;
    assert_eq!(lsn.value() as u128, expected);
    assert_eq!(lsn.scale(), 0);
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = run(&mut primary, &sql::redo_start_lsn("mgc"))
        .await
        .unwrap();
    assert_eq!(rows[0][0].get::<Numeric, _>(0), None);
}

#[tokio::test]
async fn log_shipping_tables_answer_pcdr_s_snapshot_queries() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let rows = run(&mut backup, &sql::log_shipping_secondary_database("mgc"))
        .await
        .unwrap();
    let row = &rows[0][0];
    let secondary_id = row.get::<Uuid, _>("secondary_id").unwrap();
    assert_eq!(row.get::<i32, _>("restore_delay"), Some(0));
    assert_eq!(row.get::<bool, _>("restore_mode"), Some(false));
    assert!(
        row.get::<&str, _>("last_restored_file")
            .unwrap()
            .ends_with(".trn")
    );
    let rows = run(
        &mut backup,
        &sql::log_shipping_secondary(&secondary_id.to_string()),
    )
    .await
    .unwrap();
    let row = &rows[0][0];
    assert_eq!(row.get::<&str, _>("primary_database"), Some("mgc"));
    let share = sim.world().share_dir().display().to_string();
    assert_eq!(
        row.get::<&str, _>("backup_source_directory"),
        Some(share.as_str())
    );
    assert!(row.get::<&str, _>("last_copied_file").is_some());
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = run(&mut primary, &sql::log_shipping_primary("mgc"))
        .await
        .unwrap();
    assert!(rows[0][0].get::<Uuid, _>("primary_id").is_some());
    let rows = run(&mut primary, &sql::log_shipping_secondary_database("mgc"))
        .await
        .unwrap();
    assert!(rows[0].is_empty());
}

#[tokio::test]
async fn files_sessions_and_the_agent_account_are_listed() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = run(&mut primary, &sql::database_files("mgc"))
        .await
        .unwrap();
    let kinds: Vec<&str> = rows[0]
        .iter()
        .filter_map(|r| r.get::<&str, _>("type_desc"))
        .collect();
    assert_eq!(kinds, vec!["ROWS", "LOG"]);
    assert!(
        rows[0][1]
            .get::<&str, _>("physical_name")
            .unwrap()
            .ends_with("mgc_log.ldf")
    );
    let rows = run(&mut primary, &sql::agent_service_account())
        .await
        .unwrap();
    assert_eq!(
        first_text(&rows).as_deref(),
        Some("CONTOSO\\sqlagent-primary")
    );
    let mut other = sim.connect(InstanceId::Primary).await;
    batch(&mut other, "USE mgc").await.unwrap();
    let other_spid = spid(&mut other).await;
    let rows = run(&mut primary, &sql::sessions("mgc")).await.unwrap();
    let ids: Vec<i32> = rows[0].iter().filter_map(|r| r.get::<i32, _>(0)).collect();
    assert_eq!(ids, vec![other_spid]);
}

#[tokio::test]
async fn globals_and_database_functions_answer() {
    let sim = start_default().await;
    let mut client = sim.connect(InstanceId::Backup).await;
    let own = spid(&mut client).await;
    assert!(own >= 51);
    let rows = batch(
        &mut client,
        "SELECT @@SERVERNAME AS s, @@TRANCOUNT AS t, DB_ID('msdb') AS m, DB_NAME(4) AS n, DB_NAME() AS d, @@VERSION AS v",
    )
    .await
    .unwrap();
    let row = &rows[0][0];
    assert_eq!(row.get::<&str, _>("s"), Some("SQLPC-DAL"));
    assert_eq!(row.get::<i32, _>("t"), Some(0));
    assert_eq!(row.get::<i32, _>("m"), Some(4));
    assert_eq!(row.get::<&str, _>("n"), Some("msdb"));
    assert_eq!(row.get::<&str, _>("d"), Some("master"));
    assert!(
        row.get::<&str, _>("v")
            .unwrap()
            .starts_with("Microsoft SQL Server")
    );
}

#[tokio::test]
async fn freetds_style_listing_and_where_forms_work() {
    let sim = start_default().await;
    let mut client = sim.connect(InstanceId::Primary).await;
    let rows = batch(&mut client, "SELECT name, state_desc FROM sys.databases")
        .await
        .unwrap();
    assert_eq!(rows[0].len(), 6);
    let names = |rows: &[Vec<tiberius::Row>]| -> Vec<String> {
        rows[0]
            .iter()
            .filter_map(|r| r.get::<&str, _>(0))
            .map(str::to_owned)
            .collect()
    };
    let queries = [
        (
            "SELECT name FROM sys.databases WHERE name LIKE N'mgc%' ORDER BY name DESC",
            vec!["mgccomp", "mgc"],
        ),
        (
            "select [name] from [sys].[databases] where database_id in (1, 4) order by 1",
            vec!["master", "msdb"],
        ),
        (
            "SELECT name FROM sys.databases WHERE NOT (database_id > 2) AND name <> 'tempdb'",
            vec!["master"],
        ),
        (
            "SELECT TOP (1) name FROM master.sys.databases WHERE database_id < 3 OR name = 'x' ORDER BY database_id",
            vec!["master"],
        ),
        (
            "SELECT d.name FROM sys.databases AS d WHERE d.name = 'MGC'",
            vec!["mgc"],
        ),
        (
            "SELECT name FROM sys.database_mirroring m, sys.databases",
            vec![],
        ),
    ];
    for (query, expected) in queries.iter().take(5) {
        let rows = batch(&mut client, query).await.unwrap();
        assert_eq!(names(&rows), *expected, "{query}");
    }
    assert_eq!(number(batch(&mut client, queries[5].0).await), 102);
    let rows = batch(
        &mut client,
        "SELECT mirroring_partner_name FROM sys.database_mirroring WHERE mirroring_guid IS NULL AND database_id = 1",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>(0), None);
}

#[tokio::test]
async fn unknown_names_and_bad_syntax_get_sql_server_errors() {
    let sim = start_default().await;
    let mut client = sim.connect(InstanceId::Primary).await;
    let cases = [
        ("SELECT (1", 102),
        ("SELEC 1", 2812),
        ("SELECT FROM sys.databases", 156),
        ("SELECT name FROM sys.nothing", 208),
        ("SELECT name FROM dbo.log_shipping_secondary", 208),
        ("SELECT nope FROM sys.databases", 207),
        ("SELECT @undeclared", 137),
        ("USE nodb", 911),
        ("EXEC dbo.sp_nothing", 2812),
        ("SELECT NOFUNC(1)", 195),
        (
            "SELECT name FROM sys.databases WHERE database_id = 'x'",
            245,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(number(batch(&mut client, text).await), expected, "{text}");
    }
    assert!(
        spid(&mut client).await >= 51,
        "the session survives every error"
    );
}

#[tokio::test]
async fn a_restoring_database_cannot_be_used() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    assert_eq!(number(batch(&mut backup, "USE mgc").await), 927);
}

#[tokio::test]
async fn variables_declare_set_and_assign() {
    let sim = start_default().await;
    let mut client = sim.connect(InstanceId::Primary).await;
    let rows = batch(
        &mut client,
        "DECLARE @db sysname = N'mgc', @id int; SET @id = DB_ID(@db); SELECT @id = database_id FROM sys.databases WHERE name = @db; SELECT @id AS id, @db + N'!' AS label",
    )
    .await
    .unwrap();
    let row = rows.last().unwrap().first().unwrap();
    assert_eq!(row.get::<i32, _>("id"), Some(5));
    assert_eq!(row.get::<&str, _>("label"), Some("mgc!"));
    assert_eq!(
        number(batch(&mut client, "DECLARE @a int; DECLARE @a int").await),
        134
    );
}

/// SYSDATETIME (Transact-SQL): the instance's date and time, in which it also dates its
/// backups (`BackupFinishDate`); the emulated instances run on the world clock, in UTC.
#[tokio::test]
async fn sysdatetime_is_the_world_clock_that_dates_backups() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let clock = || sim.world().read().unwrap().clock.naive_utc();
    let now = |sets: Vec<Vec<tiberius::Row>>| {
        sets[0][0]
            .get::<chrono::NaiveDateTime, _>("server_time")
            .unwrap()
    };
    let before = now(run(&mut primary, &sql::server_time()).await.unwrap());
    assert_eq!(before, clock());
    let file = sim
        .world()
        .share_dir()
        .join("dated.bak")
        .display()
        .to_string();
    run(&mut primary, &sql::backup_database("mgc", &file, false))
        .await
        .unwrap();
    let header = run(&mut primary, &sql::backup_header(&file)).await.unwrap();
    let finish = header[0][0]
        .get::<chrono::NaiveDateTime, _>("BackupFinishDate")
        .unwrap();
    assert_eq!(finish, before);
    sim.world().tick(3).unwrap();
    let later = now(run(&mut primary, &sql::server_time()).await.unwrap());
    assert_eq!(later - before, chrono::Duration::minutes(3));
}

/// A world whose instances present SQL Server 2008 R2, which Skype for Business Server
/// 2015 supports as its back end.
async fn start_2008_r2() -> engine_common::Sim {
    start(WorldOptions {
        sql_version: SqlVersion::Sql2008R2,
        ..WorldOptions::default()
    })
    .await
}

/// An instance presenting SQL Server 2008 R2 says so (SERVERPROPERTY, @@VERSION) and
/// has no `sys.dm_exec_sessions.database_id` ("Applies to: SQL Server 2012 (11.x) and
/// later",
/// <https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql>):
/// naming it fails with 207. `sys.sysprocesses` shows each session's database (`dbid`).
#[tokio::test]
async fn a_sql_server_2008_r2_instance_has_no_session_database_id() {
    let sim = start_2008_r2().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = batch(
        &mut primary,
        "SELECT SERVERPROPERTY('ProductVersion') AS v, @@VERSION AS t",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>("v"), Some("10.50.6000.34"));
    assert!(
        rows[0][0]
            .get::<&str, _>("t")
            .unwrap()
            .starts_with("Microsoft SQL Server 2008 R2")
    );
    let named = batch(
        &mut primary,
        "SELECT session_id FROM sys.dm_exec_sessions WHERE database_id = DB_ID(N'mgc')",
    )
    .await;
    assert_eq!(number(named), 207);
    let mut other = sim.connect(InstanceId::Primary).await;
    batch(&mut other, "USE mgc").await.unwrap();
    let other_spid = spid(&mut other).await;
    let rows = batch(
        &mut primary,
        "SELECT spid FROM sys.sysprocesses WHERE dbid = DB_ID(N'mgc') AND ecid = 0",
    )
    .await
    .unwrap();
    let ids: Vec<i32> = rows[0].iter().filter_map(|r| r.get::<i32, _>(0)).collect();
    assert_eq!(ids, vec![other_spid]);
}

#[tokio::test]
async fn a_sql_server_2016_instance_says_so() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = batch(
        &mut primary,
        "SELECT SERVERPROPERTY('ProductVersion') AS v, SERVERPROPERTY('Nonsense') AS n",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>("v"), Some("13.0.6300.2"));
    assert_eq!(rows[0][0].get::<&str, _>("n"), None);
}

/// pcdr's session query works on every version Skype for Business Server 2015 supports:
/// on SQL Server 2008 R2 it finds the other session using `mgc`, not its own nor the
/// system sessions.
#[tokio::test]
async fn pcdr_finds_the_sessions_using_a_database_on_sql_server_2008_r2() {
    let sim = start_2008_r2().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    batch(&mut primary, "USE mgc").await.unwrap();
    let mut other = sim.connect(InstanceId::Primary).await;
    batch(&mut other, "USE mgc").await.unwrap();
    let other_spid = spid(&mut other).await;
    let rows = run(&mut primary, &sql::sessions("mgc")).await.unwrap();
    let using: Vec<i32> = rows[0].iter().filter_map(|r| r.get::<i32, _>(0)).collect();
    assert_eq!(using, vec![other_spid]);
    let users: Vec<i32> = rows[1].iter().filter_map(|r| r.get::<i32, _>(0)).collect();
    assert!(
        users.contains(&other_spid) && !users.contains(&1),
        "{users:?}"
    );
}

/// An instance in Central Standard Time (UTC-06:00) dates as SQL Server does: its local
/// clock (`SYSDATETIME`, `GETDATE`) is six hours behind UTC (`SYSUTCDATETIME`,
/// `GETUTCDATE`) (<https://learn.microsoft.com/sql/t-sql/functions/sysdatetime-transact-sql>,
/// <https://learn.microsoft.com/sql/t-sql/functions/sysutcdatetime-transact-sql>); its
/// backups' `BackupFinishDate` and msdb's `restore_date` and `backup_finish_date` are in
/// that local time, and `backupset.time_zone` says so "in 15-minute intervals"
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>).
#[tokio::test]
async fn an_instance_off_utc_dates_in_its_local_time_and_records_its_offset() {
    let sim = start(WorldOptions {
        utc_offset_minutes: -360,
        ..WorldOptions::default()
    })
    .await;
    let six_hours = chrono::Duration::hours(6);
    let utc = sim.world().read().unwrap().clock.naive_utc();
    let mut backup = sim.connect(InstanceId::Backup).await;
    let rows = batch(
        &mut backup,
        "SELECT SYSDATETIME() AS l, GETDATE() AS g, SYSUTCDATETIME() AS u, GETUTCDATE() AS gu",
    )
    .await
    .unwrap();
    let at = |column: &str| rows[0][0].get::<chrono::NaiveDateTime, _>(column).unwrap();
    assert_eq!((at("l"), at("g")), (utc - six_hours, utc - six_hours));
    assert_eq!((at("u"), at("gu")), (utc, utc));

    let rows = batch(
        &mut backup,
        "SELECT TOP (1) backup_set_id, restore_date FROM msdb.dbo.restorehistory \
         WHERE destination_database_name = N'mgc' AND restore_type = N'L' \
         ORDER BY restore_history_id DESC",
    )
    .await
    .unwrap();
    let set_id = rows[0][0].get::<i32, _>("backup_set_id").unwrap();
    let restored = rows[0][0]
        .get::<chrono::NaiveDateTime, _>("restore_date")
        .unwrap();
    let rows = batch(
        &mut backup,
        &format!(
            "SELECT backup_finish_date, time_zone FROM msdb.dbo.backupset WHERE backup_set_id = {set_id}"
        ),
    )
    .await
    .unwrap();
    let finished = rows[0][0]
        .get::<chrono::NaiveDateTime, _>("backup_finish_date")
        .unwrap();
    assert_eq!(rows[0][0].get::<i32, _>("time_zone"), Some(-24));
    let world = sim.world().read().unwrap();
    let history = world.instances[&InstanceId::Backup]
        .msdb
        .restores
        .iter()
        .find(|r| r.set.backup_set_id == set_id)
        .cloned()
        .unwrap();
    drop(world);
    assert_eq!(restored, history.restore_date.naive_utc() - six_hours);
    let taken = history.set.backup_finish_date.naive_utc();
    assert_eq!(finished, taken - six_hours);
    let header = run(
        &mut backup,
        &sql::backup_header(&history.set.physical_device_name),
    )
    .await
    .unwrap();
    let header_finish = header[0][0]
        .get::<chrono::NaiveDateTime, _>("BackupFinishDate")
        .unwrap();
    assert_eq!(header_finish, taken - six_hours);
}
