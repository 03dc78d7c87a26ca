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
