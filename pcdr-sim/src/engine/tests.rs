//! The engine's responses at the token level, where tiberius hides detail: the order of
//! ERROR messages (the specific error, then 3013), INFO on success, and RPC binding.

use std::sync::Arc;

use crate::engine::InstanceEngine;
use crate::tds::{
    Engine, LoginRequest, Request, RpcParam, RpcProcedure, RpcRequest, SessionRegistry,
    StatementResult, Value,
};
use crate::world::model::InstanceId;
use crate::world::{World, WorldOptions};

async fn respond(engine: &InstanceEngine, request: Request) -> Vec<StatementResult> {
    let registry = Arc::new(SessionRegistry::new());
    let (registration, _killed) = registry.register().unwrap();
    let session = registration.info();
    let login = LoginRequest {
        user: "pcdr".into(),
        password: engine.world.password().unwrap(),
        windows: None,
        database: String::new(),
        app_name: String::new(),
        host_name: String::new(),
        server_name: String::new(),
    };
    engine.login(&session, &login).unwrap();
    engine.execute(&session, request).await.results
}

fn numbers(result: &StatementResult) -> Vec<u32> {
    match result {
        StatementResult::Failed(messages) => messages.iter().map(|m| m.number).collect(),
        StatementResult::Info(message) => vec![message.number],
        _ => Vec::new(),
    }
}

fn engine(instance: InstanceId) -> (tempfile::TempDir, InstanceEngine) {
    let dir = tempfile::tempdir().unwrap();
    let world = Arc::new(World::create(dir.path(), &WorldOptions::default()).unwrap());
    (dir, InstanceEngine::new(world, instance).unwrap())
}

#[tokio::test]
async fn a_failed_restore_sends_the_specific_error_then_3013() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let results = respond(
        &engine,
        Request::Batch("RESTORE LOG mgc FROM DISK = N'/no/such.trn' WITH NORECOVERY".into()),
    )
    .await;
    assert_eq!(numbers(&results[0]), vec![3201, 3013]);
    match &results[0] {
        StatementResult::Failed(messages) => {
            assert_eq!(
                messages[1].message,
                "RESTORE LOG is terminating abnormally."
            );
            assert_eq!(messages[0].class, 16);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_successful_backup_reports_4035_and_3014_then_done() {
    let (dir, engine) = engine(InstanceId::Primary);
    let file = dir.path().join("share").join("x.bak");
    let text = format!(
        "BACKUP DATABASE mgc TO DISK = N'{}' WITH INIT, CHECKSUM",
        file.display()
    );
    let results = respond(&engine, Request::Batch(text)).await;
    let infos: Vec<u32> = results.iter().flat_map(numbers).collect();
    assert_eq!(infos, vec![4035, 4035, 3014]);
    assert_eq!(results.last(), Some(&StatementResult::Done { rows: None }));
}

/// "Copy-only backups" (Microsoft Learn): a copy-only backup is marked `IsCopyOnly` in
/// `RESTORE HEADERONLY`; a copy-only log backup does not move the log archive point, so
/// the next regular log backup starts where it would have.
fn is_failed(result: &StatementResult) -> bool {
    matches!(result, StatementResult::Failed(_))
}

/// A full backup of `mgccomp` on the primary, on the share; returns its path.
async fn compliance_backup(dir: &std::path::Path, primary: &InstanceEngine) -> String {
    let file = dir.join("share").join("mgccomp.bak").display().to_string();
    let text = format!("BACKUP DATABASE mgccomp TO DISK = N'{file}' WITH INIT");
    respond(primary, Request::Batch(text)).await;
    file
}

/// `RESTORE DATABASE name FROM DISK = file`, with `WITH` and `moves` when given.
fn restore_as(name: &str, file: &str, moves: &[(&str, String)]) -> Request {
    let moves: Vec<String> = moves
        .iter()
        .map(|(logical, physical)| format!("MOVE N'{logical}' TO N'{physical}'"))
        .collect();
    let with = match moves.is_empty() {
        true => String::new(),
        false => format!(" WITH {}", moves.join(", ")),
    };
    Request::Batch(format!(
        "RESTORE DATABASE {name} FROM DISK = N'{file}'{with}"
    ))
}

/// The `MOVE` clauses placing `mgccomp`'s two files as `name` in `folder`.
fn moves_into(folder: &std::path::Path, name: &str) -> [(&'static str, String); 2] {
    let at = |file: String| folder.join(file).display().to_string();
    [
        ("mgccomp", at(format!("{name}.mdf"))),
        ("mgccomp_log", at(format!("{name}_log.ldf"))),
    ]
}

/// Without `MOVE` a restore puts each file where the backup recorded it ("RESTORE
/// Statements - Arguments", MOVE:
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-arguments-transact-sql>):
/// on the instance that took the backup those are another database's files, so a copy
/// under a new name is refused, file by file, with 1834 then 3156, then 3119 and 3013;
/// `MOVE` to free paths restores it.
#[tokio::test]
async fn a_restore_onto_another_databases_files_is_1834_and_3156_until_moved() {
    let (dir, primary) = engine(InstanceId::Primary);
    let file = compliance_backup(dir.path(), &primary).await;
    let refused = respond(&primary, restore_as("mgccomp_copy", &file, &[])).await;
    assert_eq!(
        numbers(&refused[0]),
        vec![1834, 3156, 1834, 3156, 3119, 3013]
    );
    let StatementResult::Failed(messages) = &refused[0] else {
        panic!("{refused:?}")
    };
    assert!(
        messages[0]
            .message
            .ends_with("cannot be overwritten.  It is being used by database 'mgccomp'."),
        "{}",
        messages[0].message
    );
    let folder = dir.path().join("data").join("primary");
    let moves = moves_into(&folder, "mgccomp_copy");
    let restored = respond(&primary, restore_as("mgccomp_copy", &file, &moves)).await;
    assert!(!restored.iter().any(is_failed), "{restored:?}");
    let state = primary.world.read().unwrap();
    let copy = state
        .instance(InstanceId::Primary)
        .unwrap()
        .database("mgccomp_copy");
    let placed: Vec<&str> = copy
        .unwrap()
        .files
        .iter()
        .map(|f| f.physical_name.as_str())
        .collect();
    assert_eq!(
        placed,
        moves.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>()
    );
}

/// On another instance the backup's folders do not exist: 5133 ("Directory lookup for
/// the file … failed with the operating system error 3") then 3156 for each file, 3119
/// and 3013; `MOVE` into the instance's own data folder restores it.
#[tokio::test]
async fn a_restore_into_a_folder_the_instance_lacks_is_5133_and_3156_until_moved() {
    let (dir, primary) = engine(InstanceId::Primary);
    let file = compliance_backup(dir.path(), &primary).await;
    let backup = InstanceEngine::new(Arc::clone(&primary.world), InstanceId::Backup).unwrap();
    let refused = respond(&backup, restore_as("mgccomp_primary", &file, &[])).await;
    assert_eq!(
        numbers(&refused[0]),
        vec![5133, 3156, 5133, 3156, 3119, 3013]
    );
    let folder = dir.path().join("data").join("backup");
    let moves = moves_into(&folder, "mgccomp_primary");
    let restored = respond(&backup, restore_as("mgccomp_primary", &file, &moves)).await;
    assert!(!restored.iter().any(is_failed), "{restored:?}");
    let state = backup.world.read().unwrap();
    let instance = state.instance(InstanceId::Backup).unwrap();
    assert!(instance.database("mgccomp_primary").is_some());
}

#[tokio::test]
async fn a_copy_only_backup_is_marked_and_leaves_the_log_chain_alone() {
    let (dir, engine) = engine(InstanceId::Primary);
    let share = dir.path().join("share");
    let path = |name: &str| share.join(name).display().to_string();
    let archive_point = || {
        let state = engine.world.read().unwrap();
        state
            .instance(InstanceId::Primary)
            .unwrap()
            .database("mgc")
            .unwrap()
            .log_backup_lsn
    };
    let before = archive_point();
    for (what, name) in [("DATABASE", "full.bak"), ("LOG", "log.trn")] {
        let text = format!(
            "BACKUP {what} mgc TO DISK = N'{}' WITH COPY_ONLY, CHECKSUM",
            path(name)
        );
        respond(&engine, Request::Batch(text)).await;
        let header = format!("RESTORE HEADERONLY FROM DISK = N'{}'", path(name));
        let results = respond(&engine, Request::Batch(header)).await;
        let StatementResult::Rows(set) = &results[0] else {
            panic!("{results:?}")
        };
        let column = set
            .columns
            .iter()
            .position(|c| c.name == "IsCopyOnly")
            .unwrap();
        assert_eq!(set.rows[0][column], Value::Bit(true), "{what}");
    }
    assert_eq!(
        archive_point(),
        before,
        "the log archive point did not move"
    );
    let regular = format!(
        "BACKUP LOG mgc TO DISK = N'{}' WITH CHECKSUM",
        path("next.trn")
    );
    respond(&engine, Request::Batch(regular)).await;
    let next = crate::backup_file::BackupSet::read(&share.join("next.trn")).unwrap();
    assert_eq!(next.header.first_lsn, before);
    assert!(!next.header.is_copy_only);
}

#[tokio::test]
async fn sp_executesql_by_name_binds_named_parameters_and_unknown_rpcs_are_2812() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let param = |name: &str, value: &str| RpcParam {
        name: name.into(),
        value: Value::NVarChar(value.into()),
        output: false,
    };
    let call = RpcRequest {
        procedure: RpcProcedure::Name("sp_executesql".into()),
        params: vec![
            param(
                "@stmt",
                "SELECT database_id FROM sys.databases WHERE name = @db",
            ),
            param("@params", "@db sysname"),
            param("@db", "mgc"),
        ],
    };
    let results = respond(&engine, Request::Rpc(call)).await;
    match &results[0] {
        StatementResult::Rows(set) => assert_eq!(set.rows, vec![vec![Value::Int(5)]]),
        other => panic!("{other:?}"),
    }
    let unknown = RpcRequest {
        procedure: RpcProcedure::Name("sp_prepexec".into()),
        params: Vec::new(),
    };
    let results = respond(&engine, Request::Rpc(unknown)).await;
    assert_eq!(numbers(&results[0]), vec![2812]);
}

#[tokio::test]
async fn a_syntax_error_fails_the_whole_batch_with_class_15() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let results = respond(&engine, Request::Batch("SELECT 1; SELECT FROM".into())).await;
    assert_eq!(results.len(), 1);
    match &results[0] {
        StatementResult::Failed(messages) => {
            assert_eq!((messages[0].number, messages[0].class), (156, 15));
        }
        other => panic!("{other:?}"),
    }
}

/// A session logged in to `engine` from host `pcdr-host` as application `app`; it stays
/// live (listed by `sys.dm_exec_sessions`) while its registration is held.
fn session(
    engine: &InstanceEngine,
    registry: &Arc<SessionRegistry>,
    app: &str,
) -> (crate::tds::SessionInfo, impl Sized) {
    let (registration, _killed) = registry.register().unwrap();
    let session = registration.info();
    let login = LoginRequest {
        user: "pcdr".into(),
        password: engine.world.password().unwrap(),
        windows: None,
        database: String::new(),
        app_name: app.into(),
        host_name: "pcdr-host".into(),
        server_name: String::new(),
    };
    engine.login(&session, &login).unwrap();
    (session, registration)
}

/// Runs `text` for `session` and returns the rows of its last result set.
async fn rows(
    engine: &InstanceEngine,
    session: &crate::tds::SessionInfo,
    text: &str,
) -> Vec<Vec<Value>> {
    let results = engine
        .execute(session, Request::Batch(text.into()))
        .await
        .results;
    results
        .iter()
        .rev()
        .find_map(|r| match r {
            StatementResult::Rows(set) => Some(set.rows.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no rows from {text}: {results:?}"))
}

const GET_LOCK: &str = "DECLARE @r int; \
     EXEC @r = sp_getapplock @Resource = N'pcdr:pool', @LockMode = 'Exclusive', \
     @LockOwner = 'Session', @LockTimeout = 0; SELECT @r AS r";

// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql
#[tokio::test]
async fn a_session_lock_is_refused_to_others_until_its_session_ends() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let registry = Arc::new(SessionRegistry::new());
    let (first, _first) = session(&engine, &registry, "pcdr failover run 1");
    let (second, _second) = session(&engine, &registry, "pcdr failover run 2");
    assert_eq!(
        rows(&engine, &first, GET_LOCK).await,
        vec![vec![Value::Int(0)]]
    );
    assert_eq!(
        rows(&engine, &second, GET_LOCK).await,
        vec![vec![Value::Int(-1)]]
    );
    let mode = "SELECT APPLOCK_MODE('public', N'pcdr:pool', 'Session') AS m";
    let text = |s: &str| vec![vec![Value::NVarChar(s.into())]];
    assert_eq!(rows(&engine, &first, mode).await, text("Exclusive"));
    assert_eq!(rows(&engine, &second, mode).await, text("NoLock"));
    engine.disconnected(first.spid());
    assert_eq!(
        rows(&engine, &second, GET_LOCK).await,
        vec![vec![Value::Int(0)]]
    );
}

#[tokio::test]
async fn the_holder_is_named_by_dm_tran_locks_and_dm_exec_sessions() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let registry = Arc::new(SessionRegistry::new());
    let (holder, _holder) = session(&engine, &registry, "pcdr failover run 7");
    let (asker, _asker) = session(&engine, &registry, "other");
    rows(&engine, &holder, GET_LOCK).await;
    let locks = rows(
        &engine,
        &asker,
        "SELECT request_session_id, resource_description, request_mode FROM sys.dm_tran_locks \
         WHERE resource_type = N'APPLICATION' AND resource_database_id = DB_ID()",
    )
    .await;
    let [lock] = locks.as_slice() else {
        panic!("{locks:?}")
    };
    assert_eq!(lock[0], Value::Int(i32::from(holder.spid())));
    assert!(matches!(&lock[1], Value::NVarChar(d) if d.starts_with("0:pcdr:pool:(")));
    assert_eq!(lock[2], Value::NVarChar("X".into()));
    let who = rows(
        &engine,
        &asker,
        &format!(
            "SELECT host_name, program_name, login_name FROM sys.dm_exec_sessions WHERE session_id = {}",
            holder.spid()
        ),
    )
    .await;
    let named = |s: &str| Value::NVarChar(s.into());
    assert_eq!(
        who,
        vec![vec![
            named("pcdr-host"),
            named("pcdr failover run 7"),
            named("pcdr")
        ]]
    );
}

// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql
#[tokio::test]
async fn releasing_a_lock_not_held_is_minus_999_with_error_1223() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let registry = Arc::new(SessionRegistry::new());
    let (one, _one) = session(&engine, &registry, "one");
    let release = "DECLARE @r int; EXEC @r = sp_releaseapplock @Resource = N'pcdr:pool', \
                   @LockOwner = 'Session'; SELECT @r AS r";
    let results = engine
        .execute(&one, Request::Batch(release.into()))
        .await
        .results;
    assert!(
        results.iter().any(|r| numbers(r) == vec![1223]),
        "{results:?}"
    );
    assert_eq!(
        rows(&engine, &one, release).await,
        vec![vec![Value::Int(-999)]]
    );
    rows(&engine, &one, GET_LOCK).await;
    assert_eq!(
        rows(&engine, &one, release).await,
        vec![vec![Value::Int(0)]]
    );
}

#[tokio::test]
async fn a_transaction_owned_lock_outside_a_transaction_and_a_bad_mode_are_minus_999() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let registry = Arc::new(SessionRegistry::new());
    let (one, _one) = session(&engine, &registry, "one");
    for call in [
        "EXEC @r = sp_getapplock @Resource = N'x', @LockMode = 'Exclusive'",
        "EXEC @r = sp_getapplock N'x', 'Sideways', 'Session', 0",
    ] {
        let text = format!("DECLARE @r int; {call}; SELECT @r AS r");
        assert_eq!(
            rows(&engine, &one, &text).await,
            vec![vec![Value::Int(-999)]],
            "{call}"
        );
    }
}

#[tokio::test]
async fn a_waiting_request_is_granted_with_1_once_the_holder_leaves() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let registry = Arc::new(SessionRegistry::new());
    let (holder, _holder) = session(&engine, &registry, "holder");
    let (waiter, _waiter) = session(&engine, &registry, "waiter");
    rows(&engine, &holder, GET_LOCK).await;
    let wait = "DECLARE @r int; EXEC @r = sp_getapplock N'pcdr:pool', 'Shared', 'Session', 5000; \
                SELECT @r AS r";
    let (granted, ()) = tokio::join!(rows(&engine, &waiter, wait), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        engine.disconnected(holder.spid());
    });
    assert_eq!(granted, vec![vec![Value::Int(1)]]);
}

/// Whether some result is a failure carrying error `number`.
fn fails_with(results: &[StatementResult], number: u32) -> bool {
    results.iter().any(|r| numbers(r).contains(&number))
}

const RUNNING_JOBS: &str = "SELECT job_id FROM msdb.dbo.sysjobactivity \
     WHERE session_id = 1 AND start_execution_date IS NOT NULL AND stop_execution_date IS NULL";

const ON_MGC: &str = "SELECT spid FROM sys.sysprocesses WHERE dbid = DB_ID(N'mgc')";

// https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql
// https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql
// https://learn.microsoft.com/sql/t-sql/language-elements/kill-transact-sql
// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-stop-job-transact-sql
#[tokio::test]
async fn a_running_restore_job_holds_the_database_until_sp_stop_job_stops_it() {
    use crate::world::msdb::JobKind;
    let (_dir, engine) = engine(InstanceId::Backup);
    let restore_job = |k: &JobKind| matches!(k, JobKind::Restore(_));
    let name = engine
        .world
        .start_running_job(InstanceId::Backup, restore_job, 100)
        .unwrap()
        .expect("the backup instance has a restore job");
    let registry = Arc::new(SessionRegistry::new());
    let (pcdr, _pcdr) = session(&engine, &registry, "pcdr");
    let agent = rows(
        &engine,
        &pcdr,
        "SELECT session_id FROM msdb.dbo.syssessions",
    )
    .await;
    assert_eq!(agent, vec![vec![Value::Int(1)]]);
    assert_eq!(rows(&engine, &pcdr, RUNNING_JOBS).await.len(), 1);

    let recover = Request::Batch("RESTORE DATABASE mgc WITH RECOVERY".into());
    let results = engine.execute(&pcdr, recover.clone()).await.results;
    assert!(fails_with(&results, 3101), "{results:?}");

    let held = rows(&engine, &pcdr, ON_MGC).await;
    let [spid] = held.as_slice() else {
        panic!("{held:?}")
    };
    let kill = format!(
        "KILL {}",
        match spid[0] {
            Value::Int(n) => n,
            ref other => panic!("{other:?}"),
        }
    );
    let results = engine.execute(&pcdr, Request::Batch(kill)).await.results;
    assert!(!fails_with(&results, 6106), "{results:?}");
    let again = rows(&engine, &pcdr, ON_MGC).await;
    assert_eq!(again.len(), 1, "the job goes on from a new session");
    assert_ne!(again, held);

    let stop = format!(
        "DECLARE @r int; EXEC @r = msdb.dbo.sp_stop_job @job_name = N'{name}'; SELECT @r AS r"
    );
    assert_eq!(rows(&engine, &pcdr, &stop).await, vec![vec![Value::Int(0)]]);
    assert_eq!(
        rows(&engine, &pcdr, RUNNING_JOBS).await.len(),
        1,
        "the stop is a signal: the job's RESTORE must finish first"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(rows(&engine, &pcdr, RUNNING_JOBS).await.is_empty());
    assert!(rows(&engine, &pcdr, ON_MGC).await.is_empty());

    let results = engine
        .execute(&pcdr, Request::Batch(stop.clone()))
        .await
        .results;
    assert!(fails_with(&results, 22022), "{results:?}");
    assert_eq!(rows(&engine, &pcdr, &stop).await, vec![vec![Value::Int(1)]]);
    let unknown = "EXEC msdb.dbo.sp_stop_job @job_name = N'no such job'";
    let results = engine
        .execute(&pcdr, Request::Batch(unknown.into()))
        .await
        .results;
    assert!(fails_with(&results, 14262), "{results:?}");
}

const MIRRORING_STATE: &str = "SELECT mirroring_state, mirroring_state_desc, mirroring_role_desc \
     FROM sys.database_mirroring WHERE database_id = DB_ID(N'mgc')";

/// "Mirroring States (SQL Server)"
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/mirroring-states-sql-server>)
/// and sys.database_mirroring
/// (<https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-database-mirroring-transact-sql>):
/// a principal whose mirror is down shows DISCONNECTED (1). `SET PARTNER OFF` then ends
/// the session on the principal only; the mirror keeps its metadata until it comes back
/// ("Remove Database Mirroring (SQL Server)",
/// <https://learn.microsoft.com/sql/database-engine/database-mirroring/remove-database-mirroring-sql-server>).
#[tokio::test]
async fn a_partner_that_is_down_is_disconnected_and_keeps_its_session_until_it_reconnects() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let registry = Arc::new(SessionRegistry::new());
    let (session, _registration) = session(&engine, &registry, "pcdr");
    let synchronized = vec![Value::Int(4), text("SYNCHRONIZED"), text("PRINCIPAL")];
    assert_eq!(
        rows(&engine, &session, MIRRORING_STATE).await,
        vec![synchronized]
    );
    let world = &engine.world;
    world
        .set_instance_down(InstanceId::PrimaryMirror, true)
        .unwrap();
    let disconnected = vec![Value::Int(1), text("DISCONNECTED"), text("PRINCIPAL")];
    assert_eq!(
        rows(&engine, &session, MIRRORING_STATE).await,
        vec![disconnected]
    );

    let off = Request::Batch("ALTER DATABASE [mgc] SET PARTNER OFF".into());
    let results = engine.execute(&session, off).await.results;
    assert_eq!(results, vec![StatementResult::Done { rows: None }]);

    let mirror_session = |state: &crate::world::model::WorldState| {
        let mirror = state.instance(InstanceId::PrimaryMirror).unwrap();
        mirror.database("mgc").unwrap().mirroring.clone()
    };
    assert!(mirror_session(&world.read().unwrap()).is_some());
    world
        .set_instance_down(InstanceId::PrimaryMirror, false)
        .unwrap();
    assert_eq!(mirror_session(&world.read().unwrap()), None);
}

/// "ALTER DATABASE Database Mirroring (Transact-SQL)"
/// (<https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>):
/// `SET PARTNER FAILOVER`, run on the principal of a SYNCHRONIZED session, makes the
/// mirror the principal; run there, it switches the roles back.
#[tokio::test]
async fn partner_failover_on_the_principal_switches_the_roles_both_ways() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let mirror = InstanceEngine::new(engine.world.clone(), InstanceId::PrimaryMirror).unwrap();
    let registry = Arc::new(SessionRegistry::new());
    let (on_primary, _p) = session(&engine, &registry, "pcdr");
    let (on_mirror, _m) = session(&mirror, &registry, "pcdr");
    let failover = "ALTER DATABASE [mgc] SET PARTNER FAILOVER";
    let role = |role: &str| vec![vec![Value::Int(4), text("SYNCHRONIZED"), text(role)]];

    let switched = engine
        .execute(&on_primary, Request::Batch(failover.into()))
        .await;
    assert_eq!(switched.results, vec![StatementResult::Done { rows: None }]);
    assert_eq!(
        rows(&engine, &on_primary, MIRRORING_STATE).await,
        role("MIRROR")
    );
    assert_eq!(
        rows(&mirror, &on_mirror, MIRRORING_STATE).await,
        role("PRINCIPAL")
    );
    let online = |id: InstanceId| {
        let state = engine.world.read().unwrap();
        state
            .instance(id)
            .unwrap()
            .database("mgc")
            .unwrap()
            .is_recovered()
    };
    assert!(online(InstanceId::PrimaryMirror) && !online(InstanceId::Primary));

    let back = mirror
        .execute(&on_mirror, Request::Batch(failover.into()))
        .await;
    assert_eq!(back.results, vec![StatementResult::Done { rows: None }]);
    assert_eq!(
        rows(&engine, &on_primary, MIRRORING_STATE).await,
        role("PRINCIPAL")
    );
    assert!(online(InstanceId::Primary) && !online(InstanceId::PrimaryMirror));
}

/// The same page: "You can execute SET PARTNER FAILOVER only on the principal server",
/// only on a mirrored database, and only while the mirror is caught up (SYNCHRONIZED);
/// the numbers are those of "Database engine events and errors (1000 to 1999)"
/// (<https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors-1000-to-1999>).
#[tokio::test]
async fn partner_failover_is_refused_on_the_mirror_unmirrored_or_disconnected() {
    let failover = "ALTER DATABASE [mgc] SET PARTNER FAILOVER";
    let (_dir, engine) = engine(InstanceId::PrimaryMirror);
    assert!(fails_with(&batch(&engine, failover).await, 1470));
    let (_backup_dir, backup) = self::engine(InstanceId::Backup);
    assert!(fails_with(&batch(&backup, failover).await, 1416));
    let primary = InstanceEngine::new(engine.world.clone(), InstanceId::Primary).unwrap();
    engine
        .world
        .set_instance_down(InstanceId::PrimaryMirror, true)
        .unwrap();
    assert!(fails_with(&batch(&primary, failover).await, 1422));
}

fn text(value: &str) -> Value {
    Value::NVarChar(value.into())
}

/// The messages of the first failure in `results`: (number, text).
fn first_error(results: &[StatementResult]) -> Option<(u32, String)> {
    results.iter().find_map(|r| match r {
        StatementResult::Failed(m) => m.first().map(|m| (m.number, m.message.clone())),
        _ => None,
    })
}

async fn batch(engine: &InstanceEngine, text: &str) -> Vec<StatementResult> {
    respond(engine, Request::Batch(text.into())).await
}

// Each procedure's page under
// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/
// lists its parameters; SQL Server refuses any other name with 8145.
#[tokio::test]
async fn each_procedure_refuses_a_parameter_its_page_does_not_list_with_8145() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let calls = [
        (
            "sp_add_log_shipping_primary_secondary",
            "@primary_database = N'mgc', @secondary_server = N's', @secondary_database = N'mgc', @monitor_server = N'm'",
            "@monitor_server",
        ),
        (
            "sp_delete_log_shipping_primary_secondary",
            "@primary_database = N'mgc', @secondary_server = N's', @secondary_database = N'mgc', @overwrite = 1",
            "@overwrite",
        ),
        (
            "sp_add_log_shipping_alert_job",
            "@threshold_alert = 14421",
            "@threshold_alert",
        ),
        (
            "sp_add_job",
            "@job_name = N'j', @job_uid = NULL",
            "@job_uid",
        ),
    ];
    for (procedure, args, bad) in calls {
        let results = batch(&engine, &format!("EXEC {procedure} {args}")).await;
        assert_eq!(
            first_error(&results),
            Some((
                8145,
                format!("{bad} is not a parameter for procedure {procedure}.")
            )),
            "{procedure}"
        );
    }
}

// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql
#[tokio::test]
async fn a_missing_required_parameter_is_201_and_the_procedure_does_not_run() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let results = batch(
        &engine,
        "DECLARE @rc int = -1; EXEC @rc = master.dbo.sp_add_log_shipping_secondary_database \
         @secondary_database = N'mgc', @primary_database = N'mgc'; SELECT @rc AS rc",
    )
    .await;
    assert_eq!(
        first_error(&results),
        Some((
            201,
            "Procedure or function 'sp_add_log_shipping_secondary_database' expects parameter \
             '@primary_server', which was not supplied."
                .into()
        ))
    );
    let rc = results.iter().find_map(|r| match r {
        StatementResult::Rows(set) => Some(set.rows.clone()),
        _ => None,
    });
    assert_eq!(
        rc,
        Some(vec![vec![Value::Int(-1)]]),
        "no return code was set"
    );
}

// The page's syntax lists @overwrite fifteenth: positional arguments bind in that order.
// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql
#[tokio::test]
async fn positional_arguments_bind_in_the_documented_order() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let primary = InstanceId::Primary.server_name();
    let text = format!(
        "DECLARE @rc int; EXEC @rc = master.dbo.sp_add_log_shipping_secondary_database \
         N'mgc', N'{primary}', N'mgc', 0, 1, 0, 1, NULL, NULL, NULL, 45, 14421, 1, 5760, 1; \
         SELECT @rc AS rc; \
         SELECT disconnect_users FROM msdb.dbo.log_shipping_secondary_databases"
    );
    let results = batch(&engine, &text).await;
    assert_eq!(first_error(&results), None, "{results:?}");
    let sets: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            StatementResult::Rows(set) => Some(set.rows.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sets[0], vec![vec![Value::Int(0)]]);
    assert_eq!(sets[1], vec![vec![Value::Bit(true)]]);
}

// "Return code values: 0 (success) or 1 (failure)", and error 32012 / 32013 when the
// secondary is configured and @overwrite is not 1; with @overwrite = 1 it is replaced.
// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-primary-transact-sql
// https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors-32000-to-32999
#[tokio::test]
async fn a_configured_secondary_fails_with_return_code_1_unless_overwritten() {
    let (_dir, engine) = engine(InstanceId::Backup);
    let primary = InstanceId::Primary.server_name();
    let add = |overwrite: i32| {
        format!(
            "DECLARE @rc int; EXEC @rc = master.dbo.sp_add_log_shipping_secondary_primary \
             @primary_server = N'{primary}', @primary_database = N'mgc', \
             @backup_source_directory = N'/s', @backup_destination_directory = N'/d', \
             @copy_job_name = N'LSCopy2', @restore_job_name = N'LSRestore2', \
             @overwrite = {overwrite}; SELECT @rc AS rc"
        )
    };
    let refused = batch(&engine, &add(0)).await;
    assert_eq!(first_error(&refused).map(|e| e.0), Some(32012));
    assert!(
        refused
            .iter()
            .any(|r| matches!(r, StatementResult::Rows(s) if s.rows == vec![vec![Value::Int(1)]]))
    );
    let replaced = batch(&engine, &add(1)).await;
    assert_eq!(first_error(&replaced), None, "{replaced:?}");
    let again = batch(
        &engine,
        &format!(
            "EXEC master.dbo.sp_add_log_shipping_secondary_database N'mgc', N'{primary}', N'mgc'"
        ),
    )
    .await;
    assert_eq!(first_error(&again).map(|e| e.0), Some(32013));
}

// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-job-transact-sql
#[tokio::test]
async fn sp_add_job_refuses_a_name_in_use_with_14261() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let add = "DECLARE @rc int, @id uniqueidentifier; \
               EXEC @rc = msdb.dbo.sp_add_job @job_name = N'Nightly', @job_id = @id OUTPUT; \
               SELECT @rc AS rc";
    let first = batch(&engine, add).await;
    assert_eq!(first_error(&first), None, "{first:?}");
    let second = batch(&engine, add).await;
    assert_eq!(
        first_error(&second),
        Some((
            14261,
            "The specified @job_name ('Nightly') already exists.".into()
        ))
    );
    assert!(
        second
            .iter()
            .any(|r| matches!(r, StatementResult::Rows(s) if s.rows == vec![vec![Value::Int(1)]]))
    );
}

// "If an alert job doesn't exist, sp_add_log_shipping_alert_job creates the alert job
// [...] enabled by default, and runs on a schedule of once every two minutes."
// https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql
#[tokio::test]
async fn the_alert_job_is_created_once_enabled() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let add = "DECLARE @rc int, @id uniqueidentifier; \
               EXEC @rc = master.dbo.sp_add_log_shipping_alert_job @alert_job_id = @id OUTPUT; \
               SELECT @rc AS rc, @id AS id";
    let ids: Vec<_> = [batch(&engine, add).await, batch(&engine, add).await]
        .iter()
        .map(|results| {
            results.iter().find_map(|r| match r {
                StatementResult::Rows(s) => Some(s.rows[0].clone()),
                _ => None,
            })
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].as_ref().map(|r| r[0].clone()), Some(Value::Int(0)));
    let state = engine.world.read().unwrap();
    let msdb = &state.instance(InstanceId::Primary).unwrap().msdb;
    let alerts: Vec<_> = msdb
        .jobs
        .iter()
        .filter(|j| j.kind == crate::world::msdb::JobKind::Alert)
        .collect();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].enabled && alerts[0].schedule_id.is_some());
}

// IF...ELSE, BEGIN...END, RAISERROR, RETURN and @@ERROR (Transact-SQL), as Microsoft's
// log-shipping script checks each procedure: the batch stops at RETURN.
// https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server
#[tokio::test]
async fn a_failed_return_code_raises_and_returns_before_the_rest_of_the_batch() {
    let (_dir, engine) = engine(InstanceId::Primary);
    let text = "DECLARE @rc int; \
        EXEC @rc = msdb.dbo.sp_update_job @job_name = N'no such job', @enabled = 1; \
        IF @@ERROR <> 0 OR @rc <> 0 BEGIN \
          RAISERROR(N'%s failed with return code %d.', 16, 1, N'sp_update_job', @rc); RETURN; END; \
        SELECT 1 AS after";
    let results = batch(&engine, text).await;
    let errors: Vec<_> = results.iter().flat_map(numbers).collect();
    assert_eq!(errors, vec![14262, 50000]);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, StatementResult::Failed(m)
        if m[0].message == "sp_update_job failed with return code 1."))
    );
    assert!(
        !results
            .iter()
            .any(|r| matches!(r, StatementResult::Rows(_)))
    );
    let ok =
        "DECLARE @rc int = 0; IF @@ERROR <> 0 OR @rc <> 0 BEGIN RETURN; END; SELECT 1 AS after";
    assert_eq!(
        rows_of(&batch(&engine, ok).await),
        vec![vec![Value::Int(1)]]
    );
}

fn rows_of(results: &[StatementResult]) -> Vec<Vec<Value>> {
    results
        .iter()
        .find_map(|r| match r {
            StatementResult::Rows(s) => Some(s.rows.clone()),
            _ => None,
        })
        .unwrap_or_default()
}
