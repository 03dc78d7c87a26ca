//! Bench-only drivers for BENCHMARKS.md that time pcdr's real adapters from outside a
//! test (no duration is asserted anywhere). `scripts/bench` runs them, each mode once
//! per run, side by side with its baseline, and takes the medians.
//!
//! `PCDR_BENCH_MODE=copy PCDR_BENCH_FROM=DIR PCDR_BENCH_TO=DIR`: row 1, the copy step's
//! file work: every log backup in FROM copied to TO through the file plane, 4 at a time
//! (as the copy step does), then verified as the copy step verifies (the copy folder
//! listed, each file present with its size). Prints `seconds bytes`.
//!
//! `PCDR_BENCH_MODE=headers PCDR_BENCH_TOPOLOGY=FILE PCDR_BENCH_FOLDER=DIR`: row 3's
//! baseline, reading every header: `RESTORE HEADERONLY` of every log backup in the copy
//! folder, one after another, through the SQL adapter: a sample of PCDR_BENCH_HEADERS
//! (default 50) spread over the folder. Prints `seconds-per-header files sampled`.
//!
//! `PCDR_BENCH_MODE=pipeline PCDR_BENCH_PCDR=EXE PCDR_BENCH_WORK=DIR`: row 2. A world
//! with a backlog (`PCDR_BENCH_LOGS` log backups, default 400, the newest
//! `PCDR_BENCH_UNCOPIED`, default 200, not copied, and 10 more not restored) is built
//! twice with the same restore throughput `PCDR_BENCH_MB_PER_S`; a failover runs on one
//! pipelined (the default) and on the other sequential (`RunOptions::sequential_restore`).
//! The emulator's log backups are a few hundred bytes, so a copy costs next to nothing
//! while each restore has a fixed cost; to model a share whose copies take as long as the
//! restores, each copy first waits `PCDR_BENCH_COPY_MS` (4 at a time; `scripts/bench`
//! calibrates it from a run with free copies, otherwise 110 ms).
//! Prints, in seconds: pipelined wall, sequential wall, and from the sequential run's
//! step timings its copy step, its apply step and the rest.
//! With `PCDR_BENCH_MB_PER_S=0` it only calibrates (sequential run alone).
//!
//! `PCDR_BENCH_MODE=outage PCDR_BENCH_PCDR=EXE PCDR_BENCH_WORK=DIR`: row 7. Two worlds
//! whose chat database holds `PCDR_BENCH_DB_BYTES` bytes (default 2 GiB), one after the
//! other in one run, fail over and have their primary site rebuilt; then the first fails
//! back as Microsoft's procedure does (`failback`), the second prepares an online
//! failback while the pool serves (`prepare_failback`) and cuts over (`switchover`). Prints, from the
//! reports: the seed failback's outage in seconds and bytes moved, the cutover's outage
//! in seconds and bytes moved, the database's bytes, and the prepare phase's seconds.

use futures_util::StreamExt;
use pcdr_core::adapters::{self, files::FileSystem};
use pcdr_core::planes::FilePlane;
use pcdr_core::procedure::{Context, Event, Observer, RunOptions, StepId};
use pcdr_core::procedure::{Procedure, failback, failover, switchover};
use pcdr_core::runbook::{Report, Runbook, new_run_id};
use pcdr_core::topology::Topology;
use pcdr_sim::serve::{ServeOptions, ServingWorld, ShellLauncher, serve};
use pcdr_sim::world::model::Site;
use pcdr_sim::world::{World, WorldOptions};
use std::sync::Arc;
use std::time::Instant;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

async fn copy() {
    let (from, to) = (env("PCDR_BENCH_FROM"), env("PCDR_BENCH_TO"));
    let files = FileSystem;
    let start = Instant::now();
    let todo = files.list_log_backups(&from, "mgc").await.unwrap();
    let copies = todo.iter().map(|f| files.copy_file(&from, &f.name, &to));
    let copied: Vec<u64> = futures_util::stream::iter(copies)
        .buffer_unordered(4)
        .map(|r| r.expect("copied"))
        .collect()
        .await;
    let there = files.list_log_backups(&to, "mgc").await.unwrap();
    for f in &todo {
        assert!(
            there.iter().any(|t| t.name == f.name && t.size == f.size),
            "{} missing or of the wrong size",
            f.name
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{seconds:.6} {}", copied.iter().sum::<u64>());
}

async fn headers() {
    let topology = Topology::load(env("PCDR_BENCH_TOPOLOGY").as_ref()).unwrap();
    let folder = env("PCDR_BENCH_FOLDER");
    let planes = adapters::connect(&topology).unwrap();
    let mut names: Vec<String> = planes
        .files
        .list_log_backups(&folder, "mgc")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.sort();
    // The connection is made on the first call; not part of the reading.
    planes.backup.database_state("mgc").await.unwrap();
    // Every header of a large folder takes minutes on the emulator; PCDR_BENCH_HEADERS
    // evenly spaced files (default 50) are read and the time per header is printed with
    // the folder's size, to extrapolate.
    let sample: usize = std::env::var("PCDR_BENCH_HEADERS").map_or(50, |v| v.parse().unwrap());
    let stride = (names.len() / sample.max(1)).max(1);
    let total = names.len();
    let names: Vec<String> = names.into_iter().step_by(stride).take(sample).collect();
    let start = Instant::now();
    for name in &names {
        let path = pcdr_core::logship::join_path(&folder, name);
        planes.backup.backup_header(&path).await.unwrap();
    }
    let per_header = start.elapsed().as_secs_f64() / names.len() as f64;
    println!("{per_header:.6} {total} {}", names.len());
}

/// The real file plane behind a share that takes `per_file` for each copy.
struct SlowShare {
    inner: FileSystem,
    per_file: std::time::Duration,
}

#[async_trait::async_trait]
impl FilePlane for SlowShare {
    async fn list_log_backups(
        &self,
        folder: &str,
        database: &str,
    ) -> pcdr_core::error::PlaneResult<Vec<pcdr_core::planes::FileEntry>> {
        self.inner.list_log_backups(folder, database).await
    }

    async fn misnamed_log_backups(
        &self,
        folder: &str,
        database: &str,
    ) -> pcdr_core::error::PlaneResult<Vec<String>> {
        self.inner.misnamed_log_backups(folder, database).await
    }

    async fn copy_file(
        &self,
        from_folder: &str,
        name: &str,
        to_folder: &str,
    ) -> pcdr_core::error::PlaneResult<u64> {
        tokio::time::sleep(self.per_file).await;
        self.inner.copy_file(from_folder, name, to_folder).await
    }

    async fn free_space(&self, folder: &str) -> pcdr_core::error::PlaneResult<u64> {
        self.inner.free_space(folder).await
    }
}

/// Step durations, from the progress events.
#[derive(Default)]
struct Steps(std::sync::Mutex<Vec<(StepId, u64)>>);

impl Observer for Steps {
    fn event(&self, event: &Event) {
        if let Event::StepFinished { step, millis, .. } = event {
            self.0.lock().unwrap().push((*step, *millis));
        }
    }
}

async fn failover(
    dir: &std::path::Path,
    options: &WorldOptions,
    sequential: bool,
) -> (f64, Vec<(StepId, u64)>) {
    let (serving, topology) = struck_world(dir, options).await;
    let steps = Arc::new(Steps::default());
    let run = RunOptions {
        sequential_restore: sequential,
        ..RunOptions::default()
    };
    let mut planes = adapters::connect(&topology).unwrap();
    let copy_ms = std::env::var("PCDR_BENCH_COPY_MS").map_or(110, |v| v.parse().unwrap());
    planes.files = Arc::new(SlowShare {
        inner: FileSystem,
        per_file: std::time::Duration::from_millis(copy_ms),
    });
    let ctx =
        Context::new(Arc::new(topology), planes, run, new_run_id()).with_observer(steps.clone());
    let start = Instant::now();
    let report = Runbook::new(ctx, dir.join("failover.journal"))
        .execute(failover::PROCEDURE)
        .await
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(report.completed);
    drop(serving);
    let steps = steps.0.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(dir);
    (seconds, steps)
}

/// A new world in `dir`, served, its primary site struck by a disaster.
async fn struck_world(dir: &std::path::Path, options: &WorldOptions) -> (ServingWorld, Topology) {
    let _ = std::fs::remove_dir_all(dir);
    World::create(dir, options).unwrap();
    let serving = serve(
        dir,
        &ServeOptions {
            shell: ShellLauncher::pcdr(env("PCDR_BENCH_PCDR")),
            minute_every: None,
            force_encryption: true,
        },
    )
    .await
    .unwrap();
    serving.world().disaster(Site::Primary, false).unwrap();
    pcdr_sim::serve::wait_for_site(dir, Site::Primary, false)
        .await
        .unwrap();
    let topology = Topology::load(serving.topology_path()).unwrap();
    (serving, topology)
}

/// Runs `procedure` on `topology` to completion, journaled in `dir`.
async fn completed(dir: &std::path::Path, topology: &Topology, procedure: Procedure) -> Report {
    let planes = adapters::connect(topology).unwrap();
    let ctx = Context::new(
        Arc::new(topology.clone()),
        planes,
        RunOptions::default(),
        new_run_id(),
    );
    let report = Runbook::new(ctx, dir.join(format!("{procedure}.journal")))
        .execute(procedure)
        .await
        .unwrap();
    assert!(report.completed, "{procedure} did not complete");
    report
}

/// A world in `dir` failed over, its primary site rebuilt.
async fn failed_over_and_rebuilt(
    dir: &std::path::Path,
    options: &WorldOptions,
) -> (ServingWorld, Topology) {
    let (serving, topology) = struck_world(dir, options).await;
    completed(dir, &topology, failover::PROCEDURE).await;
    serving.world().rebuild(Site::Primary).unwrap();
    pcdr_sim::serve::wait_for_site(dir, Site::Primary, true)
        .await
        .unwrap();
    (serving, topology)
}

/// The outage a report measured: seconds and bytes moved.
fn outage(report: &Report) -> (f64, u64) {
    let window = report
        .outage
        .as_ref()
        .expect("the procedure fenced the pool");
    (window.seconds, window.bytes_moved)
}

async fn outages() {
    let work = std::path::PathBuf::from(env("PCDR_BENCH_WORK"));
    let bytes = std::env::var("PCDR_BENCH_DB_BYTES").map_or(2 << 30, |v| v.parse().unwrap());
    let options = WorldOptions {
        db_size_bytes: bytes,
        ..WorldOptions::default()
    };
    // One world after the other: two 2 GiB worlds with their mirrors and full backups
    // need some 40 GB at once.
    let seed_dir = work.join("seed");
    let (seed_world, seed_topology) = failed_over_and_rebuilt(&seed_dir, &options).await;
    let seed = completed(&seed_dir, &seed_topology, failback::PROCEDURE).await;
    drop(seed_world);
    let _ = std::fs::remove_dir_all(&seed_dir);
    let online_dir = work.join("online");
    let (online_world, online_topology) = failed_over_and_rebuilt(&online_dir, &options).await;
    let start = Instant::now();
    completed(&online_dir, &online_topology, failback::online::PROCEDURE).await;
    let prepare = start.elapsed().as_secs_f64();
    let cutover = completed(&online_dir, &online_topology, switchover::PROCEDURE).await;
    drop(online_world);
    let ((seed_s, seed_b), (cut_s, cut_b)) = (outage(&seed), outage(&cutover));
    println!("{seed_s:.3} {seed_b} {cut_s:.3} {cut_b} {bytes} {prepare:.3}");
    let _ = std::fs::remove_dir_all(&work);
}

async fn pipeline() {
    let work = std::path::PathBuf::from(env("PCDR_BENCH_WORK"));
    let number = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .map_or(default, |v| v.parse().unwrap())
    };
    let uncopied = number("PCDR_BENCH_UNCOPIED", 200.0) as u32;
    let options = WorldOptions {
        logs: number("PCDR_BENCH_LOGS", 400.0) as u32,
        uncopied,
        unrestored: uncopied + 10,
        restore_mb_per_s: number("PCDR_BENCH_MB_PER_S", 0.0),
        ..WorldOptions::default()
    };
    let step = |steps: &[(StepId, u64)], id| {
        steps
            .iter()
            .filter(|(s, _)| *s == id)
            .map(|(_, m)| *m as f64 / 1e3)
            .sum::<f64>()
    };
    let (seq, steps) = failover(&work.join("sequential"), &options, true).await;
    let (copy, apply) = (
        step(&steps, failover::COPY_LOG_BACKUPS),
        step(&steps, failover::APPLY_UNAPPLIED_LOGS),
    );
    let pipelined = if options.restore_mb_per_s > 0.0 {
        failover(&work.join("pipelined"), &options, false).await.0
    } else {
        0.0
    };
    println!(
        "{pipelined:.6} {seq:.6} {copy:.6} {apply:.6} {:.6}",
        seq - copy - apply
    );
}

#[tokio::main]
async fn main() {
    match std::env::var("PCDR_BENCH_MODE").as_deref() {
        Ok("copy") => copy().await,
        Ok("headers") => headers().await,
        Ok("pipeline") => pipeline().await,
        Ok("outage") => outages().await,
        // `cargo bench` without a mode (e.g. all benches at once): nothing to do.
        _ => eprintln!("planes bench: set PCDR_BENCH_MODE (see scripts/bench)"),
    }
}
