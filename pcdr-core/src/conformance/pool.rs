//! The chat-pool suite: the behaviour of [`ChatPoolPlane`] the procedures rely on — the
//! pool state read back as set, the active servers set, replaced and cleared, and a chat
//! database mirrored by `Install-CsMirrorDatabase`.
//!
//! The checks change the pool: run them only on the emulator, a test double, or a
//! disposable pool. They put back what they can: the pool state found, and the active
//! servers they are given. `Install-CsMirrorDatabase` is checked against the instance
//! holding the database ([`MirrorCase`]), since only SQL Server can show it worked. The
//! checks are listed in [the module above](super).

use super::{CheckFailed, CheckResult, During, ensure};
use crate::planes::{ChatPoolPlane, DatabasePlane, MirrorRequest, MirroringRole, PoolState};

/// Every check, by name, in the order [`run_all`] runs them.
pub const CHECKS: [&str; 3] = ["pool_state", "active_servers", "mirror_installation"];

/// What [`mirror_installation`] mirrors, and where it looks at the result.
pub struct MirrorCase<'a> {
    /// The instance holding the principal database (`request.sql_server_fqdn`).
    pub principal: &'a dyn DatabasePlane,
    /// The database `request` names, as that instance names it (`mgc`).
    pub database: &'a str,
    /// What `Install-CsMirrorDatabase` is asked.
    pub request: MirrorRequest,
}

/// Runs every check in order; each result is named. `servers` are chat servers of the
/// pool (two to four), left active at the end.
pub async fn run_all(
    pool: &dyn ChatPoolPlane,
    servers: &[String],
    mirror: &MirrorCase<'_>,
) -> Vec<(&'static str, CheckResult)> {
    vec![
        (CHECKS[0], pool_state(pool).await),
        (CHECKS[1], active_servers(pool, servers).await),
        (CHECKS[2], mirror_installation(pool, mirror).await),
    ]
}

/// Sets the pool state and reads it back.
async fn set_and_read(
    check: &'static str,
    pool: &dyn ChatPoolPlane,
    state: PoolState,
) -> CheckResult {
    pool.set_pool_state(state)
        .await
        .during(check, format!("setting the pool state to {state}"))?;
    let read = pool.pool_state().await.during(
        check,
        format!("reading the pool state after setting {state}"),
    )?;
    ensure(check, read == state, || {
        format!("the pool state reads {read} after it was set to {state}")
    })
}

/// The state is read, set to `FailedOver` and read back, set to `Normal` and read back,
/// and finally set back to the state found.
pub async fn pool_state(pool: &dyn ChatPoolPlane) -> CheckResult {
    const CHECK: &str = "pool_state";
    let found = pool
        .pool_state()
        .await
        .during(CHECK, "reading the pool state")?;
    set_and_read(CHECK, pool, PoolState::FailedOver).await?;
    set_and_read(CHECK, pool, PoolState::Normal).await?;
    if found != PoolState::Normal {
        set_and_read(CHECK, pool, found).await?;
    }
    Ok(())
}

/// Whether two server lists hold the same servers, in any order and case (FQDNs).
fn same_servers(a: &[String], b: &[String]) -> bool {
    let normalized = |list: &[String]| {
        let mut list: Vec<String> = list.iter().map(|s| s.to_ascii_lowercase()).collect();
        list.sort();
        list
    };
    normalized(a) == normalized(b)
}

/// Sets the active servers and reads them back: the same servers, or "cannot report"
/// (`None`), which the trait allows because the product has no documented way to read
/// them.
async fn set_servers_and_read(
    check: &'static str,
    pool: &dyn ChatPoolPlane,
    servers: &[String],
) -> CheckResult {
    let list = format!("[{}]", servers.join(", "));
    pool.set_active_servers(servers)
        .await
        .during(check, format!("setting the active servers to {list}"))?;
    let read = pool.active_servers().await.during(
        check,
        format!("reading the active servers after setting {list}"),
    )?;
    ensure(
        check,
        read.as_deref()
            .is_none_or(|read| same_servers(read, servers)),
        || format!("the active servers read {read:?} after they were set to {list}"),
    )
}

/// The active servers are set to `servers`, replaced by the last of them alone (a
/// replacement, not an addition), cleared, and set to `servers` again; each list is
/// read back as set, or answered "cannot report".
pub async fn active_servers(pool: &dyn ChatPoolPlane, servers: &[String]) -> CheckResult {
    const CHECK: &str = "active_servers";
    ensure(CHECK, (2..=4).contains(&servers.len()), || {
        format!("the check needs two to four chat servers of the pool, got {servers:?}")
    })?;
    let last = &servers[servers.len() - 1..];
    set_servers_and_read(CHECK, pool, servers).await?;
    set_servers_and_read(CHECK, pool, last).await?;
    set_servers_and_read(CHECK, pool, &[]).await?;
    set_servers_and_read(CHECK, pool, servers).await
}

/// Whether `database` on the principal's instance is a mirroring principal now.
async fn is_principal(check: &'static str, case: &MirrorCase<'_>) -> CheckResult<bool> {
    let database = case.database;
    let state = case
        .principal
        .database_state(database)
        .await
        .during(check, format!("reading the state of {database}"))?
        .ok_or_else(|| CheckFailed {
            check,
            message: format!("database {database} does not exist"),
        })?;
    Ok(state
        .mirroring
        .is_some_and(|m| m.role == MirroringRole::Principal))
}

/// Mirroring of the database is removed (`SET PARTNER OFF`, through the database
/// plane), then `Install-CsMirrorDatabase` mirrors it again: it is a mirroring principal
/// once the cmdlet returns, as the steps that mirror verify.
pub async fn mirror_installation(pool: &dyn ChatPoolPlane, case: &MirrorCase<'_>) -> CheckResult {
    const CHECK: &str = "mirror_installation";
    let database = case.database;
    case.principal
        .remove_mirroring(database)
        .await
        .during(CHECK, format!("SET PARTNER OFF on {database}"))?;
    ensure(CHECK, !is_principal(CHECK, case).await?, || {
        format!("{database} is still mirrored after SET PARTNER OFF")
    })?;
    pool.install_mirror(&case.request)
        .await
        .during(CHECK, format!("Install-CsMirrorDatabase for {database}"))?;
    ensure(CHECK, is_principal(CHECK, case).await?, || {
        format!("{database} is not a mirroring principal after Install-CsMirrorDatabase")
    })
}
