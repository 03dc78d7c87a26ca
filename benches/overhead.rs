//! Bench-only driver for BENCHMARKS.md row 6: the time pcdr spends outside plane calls
//! during a whole drill failover (no duration is asserted anywhere). `scripts/bench
//! overhead` runs it PCDR_BENCH_RUNS times and takes the medians; alone:
//! `cargo bench --bench overhead`.
//!
//! One run: a world shaped as `pcdr drill` builds it with its defaults (6 log backups,
//! the newest 2 not copied, the newest 3 not restored; the drill's traffic before the
//! disaster), served in this process on a runtime of its own with `pcdr sim shell` as
//! its Management Shell; the primary site struck; then the whole failover, on a runtime
//! like the CLI's, through `Runbook::execute` with `RunOptions::default()` and the real
//! adapters, each wrapped to record the start and end of every call. Wall time is the
//! `execute` call; inside is the union of the call intervals (copies run 4 at a time, so
//! overlapping calls count once); outside is the rest: the procedures' own logic, the
//! journal (one fsync per record), the report read back from the journal.
//!
//! Prints `wall_s inside_s outside_s outside_percent plane_calls`; on stderr, the five
//! longest stretches outside plane calls, each with the calls either side of it.

use chrono::{DateTime, Utc};
use pcdr_core::adapters;
use pcdr_core::error::PlaneResult;
use pcdr_core::log_chain::{BackupHeader, Lsn};
use pcdr_core::planes::{
    ChatPoolPlane, DatabaseFile, DatabasePlane, DatabaseState, FileEntry, FilePlane, FullRestore,
    LogShippingSnapshot, MirrorRequest, PoolState, PrimaryLogShipping, RestoreRecord,
    RestoredBackup, RunLockAttempt, SecondaryLogShipping, SessionId,
};
use pcdr_core::procedure::failover;
use pcdr_core::procedure::{Context, Planes, RunOptions};
use pcdr_core::runbook::{Runbook, new_run_id};
use pcdr_core::topology::Topology;
use pcdr_sim::serve::{ServeOptions, ShellLauncher, serve, wait_for_site};
use pcdr_sim::world::model::Site;
use pcdr_sim::world::{World, WorldOptions};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One plane call: which method, when it started and ended.
type Call = (&'static str, Instant, Instant);

/// Every plane call of the run, from all planes.
#[derive(Default)]
struct Calls(Mutex<Vec<Call>>);

impl Calls {
    fn record(&self, method: &'static str, start: Instant) {
        let end = Instant::now();
        self.0.lock().unwrap().push((method, start, end));
    }
}

/// `Timed<Trait>`: a struct holding a plane of `Trait` that forwards every method to it
/// and records the call's interval in `calls`.
macro_rules! timed {
    ($timed:ident: $plane:ident {
        $(fn $method:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*
    }) => {
        struct $timed {
            inner: Arc<dyn $plane>,
            calls: Arc<Calls>,
        }

        #[async_trait::async_trait]
        impl $plane for $timed {
            $(async fn $method(&self $(, $arg: $ty)*) -> $ret {
                let start = Instant::now();
                let result = self.inner.$method($($arg),*).await;
                self.calls.record(stringify!($method), start);
                result
            })*
        }
    };
}

timed!(TimedDatabase: DatabasePlane {
    fn database_state(&self, database: &str) -> PlaneResult<Option<DatabaseState>>;
    fn redo_start_lsn(&self, database: &str) -> PlaneResult<Option<Lsn>>;
    fn log_shipping_snapshot(&self, database: &str) -> PlaneResult<Option<LogShippingSnapshot>>;
    fn running_log_shipping_jobs(&self, database: &str) -> PlaneResult<Vec<String>>;
    fn stop_job(&self, name: &str) -> PlaneResult<()>;
    fn remove_secondary_log_shipping(&self, database: &str) -> PlaneResult<()>;
    fn is_log_shipping_primary(&self, database: &str) -> PlaneResult<bool>;
    fn is_log_shipping_secondary(&self, database: &str) -> PlaneResult<bool>;
    fn backup_header(&self, file: &str) -> PlaneResult<BackupHeader>;
    fn restore_log(&self, database: &str, file: &str) -> PlaneResult<()>;
    fn recover(&self, database: &str) -> PlaneResult<()>;
    fn sessions(&self, database: &str) -> PlaneResult<Vec<SessionId>>;
    fn kill_session(&self, session: SessionId) -> PlaneResult<()>;
    fn remove_mirroring(&self, database: &str) -> PlaneResult<()>;
    fn fail_over_mirroring(&self, database: &str) -> PlaneResult<()>;
    fn backup_database(&self, database: &str, file: &str, copy_only: bool) -> PlaneResult<()>;
    fn backup_tail_log(&self, database: &str, file: &str) -> PlaneResult<()>;
    fn remove_primary_log_shipping(&self, database: &str) -> PlaneResult<()>;
    fn log_backups_taken_after(&self, database: &str, after: Lsn) -> PlaneResult<Vec<String>>;
    fn verify_backup(&self, file: &str) -> PlaneResult<()>;
    fn backup_file_list(&self, file: &str) -> PlaneResult<Vec<DatabaseFile>>;
    fn database_files(&self, database: &str) -> PlaneResult<Vec<DatabaseFile>>;
    fn restore_database(&self, database: &str, file: &str, options: &FullRestore)
        -> PlaneResult<()>;
    fn setup_log_shipping_primary(&self, setup: &PrimaryLogShipping) -> PlaneResult<()>;
    fn setup_log_shipping_secondary(&self, setup: &SecondaryLogShipping) -> PlaneResult<()>;
    fn server_name(&self) -> PlaneResult<String>;
    fn server_time(&self) -> PlaneResult<DateTime<Utc>>;
    fn last_restore(&self, database: &str) -> PlaneResult<Option<RestoreRecord>>;
    fn agent_service_account(&self) -> PlaneResult<Option<String>>;
    fn last_restored_backup(&self, database: &str) -> PlaneResult<Option<RestoredBackup>>;
    fn restored_from_file(&self, database: &str, file: &str) -> PlaneResult<Option<RestoredBackup>>;
    fn take_run_lock(&self, resource: &str, run_name: &str) -> PlaneResult<RunLockAttempt>;
});

timed!(TimedFiles: FilePlane {
    fn list_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<FileEntry>>;
    fn misnamed_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<String>>;
    fn copy_file(&self, from_folder: &str, name: &str, to_folder: &str) -> PlaneResult<u64>;
    fn free_space(&self, folder: &str) -> PlaneResult<u64>;
});

timed!(TimedPool: ChatPoolPlane {
    fn pool_state(&self) -> PlaneResult<PoolState>;
    fn set_pool_state(&self, state: PoolState) -> PlaneResult<()>;
    fn active_servers(&self) -> PlaneResult<Option<Vec<String>>>;
    fn set_active_servers(&self, servers: &[String]) -> PlaneResult<()>;
    fn install_mirror(&self, request: &MirrorRequest) -> PlaneResult<()>;
});

/// The real planes, each wrapped to record its calls in `calls`.
fn timed(planes: Planes, calls: &Arc<Calls>) -> Planes {
    let database = |inner| -> Arc<dyn DatabasePlane> {
        Arc::new(TimedDatabase {
            inner,
            calls: Arc::clone(calls),
        })
    };
    Planes {
        primary: database(planes.primary),
        primary_mirror: planes.primary_mirror.map(database),
        backup: database(planes.backup),
        files: Arc::new(TimedFiles {
            inner: planes.files,
            calls: Arc::clone(calls),
        }),
        pool: Arc::new(TimedPool {
            inner: planes.pool,
            calls: Arc::clone(calls),
        }),
    }
}

fn main() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // The emulated instances get their own runtime, as servers on other machines would
    // be: sharing pcdr's worker threads, their synchronous work would hold up pcdr's
    // task between calls and be counted as pcdr's time.
    let (emulator, pcdr) = (runtime(), runtime());
    let dir = tempfile::Builder::new()
        .prefix("pcdr-overhead-")
        .tempdir()
        .unwrap();
    // `pcdr drill`'s defaults (src/main.rs) and the traffic it sends before the disaster.
    let options = WorldOptions {
        logs: 6,
        uncopied: 2,
        unrestored: 3,
        ..WorldOptions::default()
    };
    World::create(dir.path(), &options).unwrap();
    let shell = ShellLauncher::pcdr(env!("CARGO_BIN_EXE_pcdr"));
    let serving = emulator
        .block_on(serve(
            dir.path(),
            &ServeOptions {
                shell,
                minute_every: None,
                force_encryption: true,
            },
        ))
        .unwrap();
    let world = serving.world();
    world.traffic(20, true).unwrap();
    world.traffic(3, false).unwrap();
    world.disaster(Site::Primary, false).unwrap();
    pcdr.block_on(wait_for_site(dir.path(), Site::Primary, false))
        .unwrap();
    let topology = Topology::load(serving.topology_path()).unwrap();
    let calls = Arc::new(Calls::default());
    let planes = timed(adapters::connect(&topology).unwrap(), &calls);
    let ctx = Context::new(
        Arc::new(topology),
        planes,
        RunOptions::default(),
        new_run_id(),
    );
    let runbook = Runbook::new(ctx, dir.path().join("failover.journal"));
    let start = Instant::now();
    let report = pcdr.block_on(runbook.execute(failover::PROCEDURE)).unwrap();
    let end = Instant::now();
    assert!(report.completed, "the failover did not complete");
    drop(serving);

    let mut calls = std::mem::take(&mut *calls.0.lock().unwrap());
    calls.sort_by_key(|&(_, start, _)| start);
    // Walk the calls in start order: `reached` is the end of the union so far, and a call
    // starting after it leaves a stretch outside every call.
    let (mut reached, mut last) = (start, "(start)");
    let mut gaps = Vec::new();
    for &(method, from, to) in &calls {
        if from > reached {
            gaps.push((from - reached, last, method));
        }
        if to > reached {
            (reached, last) = (to, method);
        }
    }
    gaps.push((end - reached, last, "(end)"));
    let wall = (end - start).as_secs_f64();
    let outside: f64 = gaps.iter().map(|(gap, _, _)| gap.as_secs_f64()).sum();
    println!(
        "{wall:.6} {:.6} {outside:.6} {:.2} {}",
        wall - outside,
        outside / wall * 100.0,
        calls.len()
    );
    gaps.sort_by_key(|&(gap, _, _)| std::cmp::Reverse(gap));
    for (gap, before, after) in gaps.iter().take(5) {
        eprintln!(
            "outside {:.6} s between {before} and {after}",
            gap.as_secs_f64()
        );
    }
}
