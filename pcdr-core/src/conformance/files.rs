//! The file-plane suite: the behaviour of [`FilePlane`] the copy step relies on — which
//! files it lists and with what size, what a copy lands and what a failed one leaves,
//! free space, and a folder that does not exist.
//!
//! The checks are given two folders they may write to, `source` (standing for the
//! backup share) and `target` (the copy folder), and write their files there through an
//! [`Admin`] the harness provides ([`LocalAdmin`] over the file system). Every check
//! names its files after a database of its own (`pcdr_<check>_<time>`), so files already
//! in the folders, and earlier runs, never count. The checks are listed in
//! [the module above](super).

use super::{CheckFailed, CheckResult, During, ensure, stamp};
use crate::error::{PlaneError, PlaneResult};
use crate::logship::join_path;
use crate::planes::FilePlane;
use std::fs;
use std::io;

/// What the checks need beyond the plane, provided by the test harness: files and
/// folders made, and files read back, in the folders the checks are given.
pub trait Admin: Send + Sync {
    /// Writes `bytes` as the file `name` in `folder`, replacing any file of that name.
    fn write_file(&self, folder: &str, name: &str, bytes: &[u8]) -> Result<(), String>;
    /// The bytes of the file `name` in `folder`, or `None` when there is no such file.
    fn read_file(&self, folder: &str, name: &str) -> Result<Option<Vec<u8>>, String>;
    /// Creates the (empty) folder `name` inside `folder`.
    fn create_folder(&self, folder: &str, name: &str) -> Result<(), String>;
    /// The names of everything in `folder`, files and folders.
    fn entries(&self, folder: &str) -> Result<Vec<String>, String>;
}

/// An [`Admin`] over the file system this process sees (UNC paths included on Windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAdmin;

fn describe(path: &str, error: &io::Error) -> String {
    format!("{path}: {error}")
}

impl Admin for LocalAdmin {
    fn write_file(&self, folder: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = join_path(folder, name);
        fs::write(&path, bytes).map_err(|e| describe(&path, &e))
    }

    fn read_file(&self, folder: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = join_path(folder, name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(describe(&path, &e)),
        }
    }

    fn create_folder(&self, folder: &str, name: &str) -> Result<(), String> {
        let path = join_path(folder, name);
        fs::create_dir(&path).map_err(|e| describe(&path, &e))
    }

    fn entries(&self, folder: &str) -> Result<Vec<String>, String> {
        fs::read_dir(folder)
            .and_then(|entries| {
                entries
                    .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .map_err(|e| describe(folder, &e))
    }
}

/// Every check, by name, in the order [`run_all`] runs them.
pub const CHECKS: [&str; 6] = [
    "log_backup_listing",
    "copy",
    "copy_over_partial",
    "failed_copy",
    "free_space",
    "missing_folder",
];

/// Runs every check in order; each result is named.
pub async fn run_all(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
) -> Vec<(&'static str, CheckResult)> {
    vec![
        (CHECKS[0], log_backup_listing(plane, admin, source).await),
        (CHECKS[1], copy(plane, admin, source, target).await),
        (
            CHECKS[2],
            copy_over_partial(plane, admin, source, target).await,
        ),
        (CHECKS[3], failed_copy(plane, admin, source, target).await),
        (CHECKS[4], free_space(plane, source, target).await),
        (
            CHECKS[5],
            missing_folder(plane, admin, source, target).await,
        ),
    ]
}

/// A database name of the check's own, new on every run.
fn database_of(check: &str) -> String {
    format!("pcdr_{check}_{}", stamp())
}

/// A log-shipping file name of `database` at `time` (`HHmmss`) on one day.
fn log_backup(database: &str, time: &str) -> String {
    format!("{database}_20261127{time}.trn")
}

/// `len` bytes that differ from their neighbours, so a shifted or truncated copy shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The path or target an error names, when it names one.
fn named_in(error: &PlaneError) -> Option<&str> {
    match error {
        PlaneError::Io { path, .. } => Some(path),
        PlaneError::Unreachable { target, .. } => Some(target),
        _ => None,
    }
}

/// Expects a call to fail with an error naming `name` (a file or a folder).
fn expect_error_naming<T: std::fmt::Debug>(
    check: &'static str,
    what: &str,
    name: &str,
    result: PlaneResult<T>,
) -> CheckResult {
    match result {
        Err(e) if named_in(&e).is_some_and(|path| path.contains(name)) => Ok(()),
        Err(e) => Err(CheckFailed {
            check,
            message: format!("{what}: the error does not name {name}: {e:?}"),
        }),
        Ok(value) => Err(CheckFailed {
            check,
            message: format!(
                "{what}: expected an error naming {name}, but it succeeded ({value:?})"
            ),
        }),
    }
}

/// The log backups of `database` in `folder`, as (name, size), by name.
async fn listed(
    check: &'static str,
    plane: &dyn FilePlane,
    folder: &str,
    database: &str,
) -> CheckResult<Vec<(String, u64)>> {
    let files = plane.list_log_backups(folder, database).await.during(
        check,
        format!("listing the log backups of {database} in {folder}"),
    )?;
    let mut files: Vec<(String, u64)> = files.into_iter().map(|f| (f.name, f.size)).collect();
    files.sort();
    Ok(files)
}

/// Writes `bytes` as `name` in `folder` through the harness.
fn write(
    check: &'static str,
    admin: &dyn Admin,
    folder: &str,
    name: &str,
    bytes: &[u8],
) -> CheckResult {
    admin
        .write_file(folder, name, bytes)
        .during(check, format!("writing {name} to {folder}"))
}

/// Everything in `folder`, by name.
fn entries(check: &'static str, admin: &dyn Admin, folder: &str) -> CheckResult<Vec<String>> {
    admin
        .entries(folder)
        .during(check, format!("reading the folder {folder}"))
}

/// What is in `folder` now and was not in `before`, by name.
fn new_entries(
    check: &'static str,
    admin: &dyn Admin,
    folder: &str,
    before: &[String],
) -> CheckResult<Vec<String>> {
    let mut new: Vec<String> = entries(check, admin, folder)?
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect();
    new.sort();
    Ok(new)
}

/// Only `<database>_<yyyyMMddHHmmss>.trn` files are listed, whatever the case of the
/// name, each with its size; a database whose name starts with this one's, a stamp
/// too short, a full backup and copies in progress (`….trn.tmp`) are not; a database
/// with no log backups lists none (not an error). Of those left out, only the one with
/// the short stamp is named as misnamed: it looks like a log backup of the database.
pub async fn log_backup_listing(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "log_backup_listing";
    let database = database_of(CHECK);
    let upper = database.to_ascii_uppercase();
    let mut expected = vec![
        (log_backup(&database, "130000"), 3),
        (log_backup(&upper, "130500").replace(".trn", ".TRN"), 5),
        (log_backup(&upper, "131000"), 8),
    ];
    let ignored = [
        log_backup(&format!("{database}comp"), "130000"),
        format!("{database}_2026112713.trn"),
        log_backup(&database, "130000").replace(".trn", ".bak"),
        format!("{}.tmp", log_backup(&database, "131500")),
        format!("{}.partial", log_backup(&database, "131500")),
        format!("{database}_notes.txt"),
    ];
    for (name, size) in &expected {
        write(CHECK, admin, folder, name, &content(*size as usize))?;
    }
    for name in &ignored {
        write(CHECK, admin, folder, name, b"not a log backup")?;
    }
    expected.sort();
    let found = listed(CHECK, plane, folder, &database).await?;
    ensure(CHECK, found == expected, || {
        format!("{folder} lists {found:?} for {database}, expected {expected:?}")
    })?;
    let misnamed = plane.misnamed_log_backups(folder, &database).await.during(
        CHECK,
        format!("naming the misnamed log backups in {folder}"),
    )?;
    ensure(CHECK, misnamed == [ignored[1].clone()], || {
        format!(
            "{folder} names {misnamed:?} as misnamed log backups of {database}, expected [{:?}]",
            ignored[1]
        )
    })?;
    let none = database_of("none");
    let found = listed(CHECK, plane, folder, &none).await?;
    ensure(CHECK, found.is_empty(), || {
        format!("{folder} lists {found:?} for {none}, which has no log backups")
    })
}

/// A log backup of a check's own database, larger than one buffer of any sensible
/// copy loop.
struct Sample {
    database: String,
    name: String,
    bytes: Vec<u8>,
}

impl Sample {
    fn new(check: &str) -> Self {
        let database = database_of(check);
        Sample {
            name: log_backup(&database, "130000"),
            database,
            bytes: content(300_007),
        }
    }
}

/// A copy lands the source's bytes under its name, returns its size, leaves the source
/// where it was, lands nothing else, and is then listed with that size.
pub async fn copy(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
) -> CheckResult {
    const CHECK: &str = "copy";
    let sample = Sample::new(CHECK);
    let name = &sample.name;
    write(CHECK, admin, source, name, &sample.bytes)?;
    let before = entries(CHECK, admin, target)?;
    copy_and_compare(CHECK, plane, admin, source, target, &sample).await?;
    let read = admin
        .read_file(source, name)
        .during(CHECK, format!("reading {name} in {source}"))?;
    ensure(CHECK, read.as_ref() == Some(&sample.bytes), || {
        format!("the source {name} in {source} changed or went away with the copy")
    })?;
    let new = new_entries(CHECK, admin, target, &before)?;
    ensure(CHECK, new == [name.clone()], || {
        format!("copying {name} added {new:?} to {target}")
    })
}

/// A file of the same name already in `target`, cut short as an interrupted copy
/// leaves it, is replaced by the whole file.
pub async fn copy_over_partial(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
) -> CheckResult {
    const CHECK: &str = "copy_over_partial";
    let sample = Sample::new(CHECK);
    write(CHECK, admin, source, &sample.name, &sample.bytes)?;
    write(CHECK, admin, target, &sample.name, &sample.bytes[..4096])?;
    copy_and_compare(CHECK, plane, admin, source, target, &sample).await
}

/// Copies `sample` from `source` to `target`, then checks the count returned, the bytes
/// landed, and the listing of `target`.
async fn copy_and_compare(
    check: &'static str,
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
    sample: &Sample,
) -> CheckResult {
    let (name, size) = (&sample.name, sample.bytes.len() as u64);
    let copied = plane
        .copy_file(source, name, target)
        .await
        .during(check, format!("copying {name} from {source} to {target}"))?;
    ensure(check, copied == size, || {
        format!("copying {name} returned {copied} bytes, the file has {size}")
    })?;
    let landed = admin
        .read_file(target, name)
        .during(check, format!("reading {name} in {target}"))?;
    ensure(
        check,
        landed.as_ref() == Some(&sample.bytes),
        || match &landed {
            None => format!("{name} is not in {target} after the copy"),
            Some(landed) => format!(
                "{name} in {target} has {} bytes that are not the source's {size}",
                landed.len()
            ),
        },
    )?;
    let found = listed(check, plane, target, &sample.database).await?;
    ensure(check, found == [(name.clone(), size)], || {
        format!("after the copy, {target} lists {found:?}")
    })
}

/// A copy whose source is missing is an error naming the file; a copy that cannot land
/// (a folder holds the name in `target`) is an error; neither leaves anything in
/// `target`.
pub async fn failed_copy(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
) -> CheckResult {
    const CHECK: &str = "failed_copy";
    let database = database_of(CHECK);
    let missing = log_backup(&database, "130000");
    let blocked = log_backup(&database, "130500");
    write(CHECK, admin, source, &blocked, &content(4096))?;
    admin
        .create_folder(target, &blocked)
        .during(CHECK, format!("creating the folder {blocked} in {target}"))?;
    let before = entries(CHECK, admin, target)?;
    expect_error_naming(
        CHECK,
        &format!("copying the missing {missing} from {source}"),
        &missing,
        plane.copy_file(source, &missing, target).await,
    )?;
    let outcome = plane.copy_file(source, &blocked, target).await;
    ensure(CHECK, outcome.is_err(), || {
        format!("copying {blocked} onto a folder of that name in {target} returned {outcome:?}")
    })?;
    let new = new_entries(CHECK, admin, target, &before)?;
    ensure(CHECK, new.is_empty(), || {
        format!("the failed copies left {new:?} in {target}")
    })
}

/// Free space is reported for both folders, and is not zero in folders just written to.
pub async fn free_space(plane: &dyn FilePlane, source: &str, target: &str) -> CheckResult {
    const CHECK: &str = "free_space";
    for folder in [source, target] {
        let free = plane
            .free_space(folder)
            .await
            .during(CHECK, format!("free space of {folder}"))?;
        ensure(CHECK, free > 0, || {
            format!("{folder} reports no free space, yet the suite just wrote there")
        })?;
    }
    Ok(())
}

/// Listing, free space, and copying from or to a folder that does not exist are each an
/// error naming the folder.
pub async fn missing_folder(
    plane: &dyn FilePlane,
    admin: &dyn Admin,
    source: &str,
    target: &str,
) -> CheckResult {
    const CHECK: &str = "missing_folder";
    let database = database_of(CHECK);
    let name = log_backup(&database, "130000");
    write(CHECK, admin, source, &name, &content(100))?;
    let missing = join_path(source, &format!("pcdr_missing_{}", stamp()));
    let what = |call: &str| format!("{call} the missing folder {missing}");
    expect_error_naming(
        CHECK,
        &what("listing"),
        &missing,
        plane.list_log_backups(&missing, &database).await,
    )?;
    expect_error_naming(
        CHECK,
        &what("the free space of"),
        &missing,
        plane.free_space(&missing).await,
    )?;
    expect_error_naming(
        CHECK,
        &what(&format!("copying {name} from")),
        &missing,
        plane.copy_file(&missing, &name, target).await,
    )?;
    expect_error_naming(
        CHECK,
        &what(&format!("copying {name} into")),
        &missing,
        plane.copy_file(source, &name, &missing).await,
    )
}
