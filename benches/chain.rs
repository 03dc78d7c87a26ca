//! In-process parts of BENCHMARKS.md, with criterion (`scripts/bench` runs them):
//! row 4, the chain computation over 100,000 headers in memory; row 5, the Rust side of
//! the trivial calls the C ABI and Python make (the version string, parsing a topology).

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pcdr_core::log_chain::{
    BackupHeader, BackupType, Candidate, ChainIdentity, Lsn, plan_log_restores,
};
use pcdr_core::topology::Topology;
use std::hint::black_box;

/// `n` contiguous log backups in shuffled order (the planner sorts them), the restore
/// point five backups before the end, as in a large copy folder with 5 unapplied.
fn candidates(n: u64) -> (Vec<Candidate>, Lsn) {
    let header = |i: u64| BackupHeader {
        database_name: "mgc".into(),
        backup_type: BackupType::Log,
        first_lsn: Lsn(1_000 + u128::from(i) * 100),
        last_lsn: Lsn(1_000 + u128::from(i + 1) * 100),
        family_guid: "F".into(),
        binding_id: String::new(),
        backup_start: DateTime::<Utc>::UNIX_EPOCH,
        backup_finish: DateTime::<Utc>::UNIX_EPOCH,
        database_backup_lsn: Lsn(500),
        first_recovery_fork: Some("R".into()),
        recovery_fork: Some("R".into()),
        backup_size: 0,
    };
    // A fixed permutation (multiplicative step coprime with n) so the sort has work.
    let step = 7_919;
    let list = (0..n)
        .map(|k| {
            let i = (k * step) % n;
            Candidate {
                file: format!("mgc_{:014}.trn", i),
                header: Ok(header(i)),
            }
        })
        .collect();
    (list, Lsn(1_000 + u128::from(n - 5) * 100))
}

fn chain(c: &mut Criterion) {
    let (list, point) = candidates(100_000);
    let identity = ChainIdentity {
        family: Some("F".into()),
        fork: Some("R".into()),
        base: Lsn(500),
    };
    let plan = plan_log_restores("mgc", &identity, point, &list).unwrap();
    assert_eq!(plan.to_restore.len(), 5);
    assert!(plan.gap.is_none());
    c.bench_function("row4_plan_log_restores_100k", |b| {
        b.iter(|| plan_log_restores("mgc", &identity, black_box(point), black_box(&list)).unwrap())
    });
}

const TOPOLOGY: &str = include_str!("../examples/topology.toml");

fn calls(c: &mut Criterion) {
    c.bench_function("row5_rust_version", |b| {
        b.iter(|| black_box(concat!(env!("CARGO_PKG_VERSION"), "\0")).as_ptr())
    });
    Topology::from_toml_str(TOPOLOGY, None).expect("the bench topology parses");
    c.bench_function("row5_rust_topology_from_toml", |b| {
        b.iter(|| Topology::from_toml_str(black_box(TOPOLOGY), None).unwrap())
    });
}

criterion_group!(benches, chain, calls);
criterion_main!(benches);
