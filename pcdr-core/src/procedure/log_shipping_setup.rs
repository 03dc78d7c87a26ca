//! Setting log shipping up between the two sites, in either direction: the primary side
//! on the site whose database serves (`from`), the secondary side on the other site,
//! each skipped when already done. Failback sets it up from the primary site to the
//! backup site; a switchover sets it up from the site it moved the pool to back to the
//! old primary, which its tail-log backup left restoring and in the chain ("Change Roles
//! Between Primary and Secondary Log Shipping Servers (SQL Server)",
//! <https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>).

use super::shared::{LogShippingFolders, log_shipping_folders_for, perform_all, sql_error};
use super::{Action, Context, Intent, Partner, StepId, StepOutcome, Template};
use crate::error::{Error, PlaneError, Result};
use crate::planes::{PrimaryLogShipping, SecondaryLogShipping};
use crate::topology::{RestoreMode, SiteRole};

/// How long log-shipping files are kept when no snapshot says otherwise (SSMS's default).
const DEFAULT_RETENTION_MINUTES: u32 = 4320;

/// Each instance's name as it reports it (`@@SERVERNAME`), which is how log shipping
/// records servers: `from`'s, then the other site's.
pub async fn server_names(ctx: &Context, step: StepId, from: SiteRole) -> Result<(String, String)> {
    let name_of = |site: SiteRole| async move {
        ctx.sql(site)
            .server_name()
            .await
            .map_err(sql_error(ctx, step, site, None))
    };
    Ok((name_of(from).await?, name_of(from.other()).await?))
}

/// The log-shipping settings from `from`'s database to the other site's, between the
/// two named servers: folders as [`log_shipping_folders_for`] gives them for the
/// secondary; delay, mode, `disconnect_users`, retention and
/// alert thresholds from the failover's snapshot where there is one (read from the
/// failover journal at the run's start), else the topology's delay and mode and pcdr's
/// defaults.
pub fn settings(
    ctx: &Context,
    from: SiteRole,
    primary_server: String,
    secondary_server: String,
) -> (PrimaryLogShipping, SecondaryLogShipping) {
    let db = ctx.chat_db().to_string();
    let topo = &ctx.topology.log_shipping;
    let snapshot = ctx.facts().snapshot;
    let LogShippingFolders { share, copy } = log_shipping_folders_for(ctx, from.other());
    let (share, destination) = (share.server, copy.server);
    let delay = snapshot.as_ref().map_or(topo.restore_delay_minutes, |s| {
        s.restore_delay_minutes.max(0).unsigned_abs()
    });
    let mode = snapshot
        .as_ref()
        .map_or(topo.restore_mode, |s| s.restore_mode);
    // Without a snapshot, standby readers are disconnected, as pcdr always did.
    let disconnect_users = snapshot.as_ref().is_none_or(|s| s.disconnect_users);
    let retention = snapshot
        .as_ref()
        .and_then(|s| u32::try_from(s.file_retention_minutes).ok())
        .unwrap_or(DEFAULT_RETENTION_MINUTES);
    let primary = PrimaryLogShipping {
        database: db.clone(),
        backup_directory: share.clone(),
        backup_share: share.clone(),
        backup_job_name: format!("LSBackup_{db}"),
        backup_interval_minutes: topo.backup_interval_minutes,
        retention_minutes: retention,
        secondary_server,
        secondary_database: db.clone(),
    };
    let secondary = SecondaryLogShipping {
        copy_job_name: format!("LSCopy_{primary_server}_{db}"),
        restore_job_name: format!("LSRestore_{primary_server}_{db}"),
        primary_server,
        primary_database: db.clone(),
        secondary_database: db,
        backup_source_directory: share,
        backup_destination_directory: destination,
        interval_minutes: topo.backup_interval_minutes,
        retention_minutes: retention,
        restore_delay_minutes: delay,
        restore_mode: mode,
        disconnect_users,
        thresholds: snapshot.and_then(|s| s.thresholds),
    };
    (primary, secondary)
}

/// The settings of a log-shipping secondary that pcdr keeps from a snapshot, in words.
pub fn described_settings(setup: &SecondaryLogShipping) -> String {
    let mode = match setup.restore_mode {
        RestoreMode::NoRecovery => "NORECOVERY",
        RestoreMode::Standby => "STANDBY",
    };
    let thresholds = setup.thresholds.as_ref().map_or_else(
        || "the alert thresholds sp_add_log_shipping_secondary_database sets by default".into(),
        |t| {
            format!(
                "restore alert threshold {} minutes (alert {}), history retention {} minutes",
                t.restore_threshold_minutes,
                if t.alert_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                t.history_retention_minutes
            )
        },
    );
    format!(
        "restore delay {} minutes, restore mode {mode}, disconnect_users {}, file retention {} minutes, {thresholds}",
        setup.restore_delay_minutes,
        u8::from(setup.disconnect_users),
        setup.retention_minutes
    )
}

/// Where log shipping goes, in words.
fn direction(from: SiteRole) -> String {
    format!("from the {from} site to the {} site", from.other())
}

/// The setup's two actions, as a plan shows them before the servers' names are read.
pub fn template(ctx: &Context, from: SiteRole) -> Vec<Template> {
    let name = |site: SiteRole| format!("<@@SERVERNAME of {}>", ctx.sql_name(site));
    let (primary, secondary) = settings(ctx, from, name(from), name(from.other()));
    vec![
        Template::when(
            format!(
                "unless the {from} database is already set up as a log-shipping primary, its backup job enabled"
            ),
            primary_action(from, primary),
        ),
        Template::when(
            format!(
                "unless the {} database is already set up as a log-shipping secondary, its copy and restore jobs enabled",
                from.other()
            ),
            Action::SetupLogShippingSecondary {
                site: from.other(),
                setup: secondary,
            },
        ),
    ]
}

fn primary_action(from: SiteRole, setup: PrimaryLogShipping) -> Action {
    Action::SetupLogShippingPrimary {
        site: from,
        on: Partner::Primary,
        setup,
    }
}

/// Whether each side is set up already: the primary side on `from`, the secondary side
/// on the other site.
async fn sides_done(ctx: &Context, step: StepId, from: SiteRole) -> Result<(bool, bool)> {
    let db = ctx.chat_db();
    let to = from.other();
    let primary_done = ctx
        .sql(from)
        .is_log_shipping_primary(db)
        .await
        .map_err(sql_error(ctx, step, from, Some(db)))?;
    let secondary_done = ctx
        .sql(to)
        .is_log_shipping_secondary(db)
        .await
        .map_err(sql_error(ctx, step, to, Some(db)))?;
    Ok((primary_done, secondary_done))
}

/// What setting log shipping up from `from` would do now.
pub async fn observe(ctx: &Context, step: StepId, from: SiteRole) -> Result<Intent> {
    let (primary_done, secondary_done) = sides_done(ctx, step, from).await?;
    if primary_done && secondary_done {
        return Ok(Intent::Skip(format!(
            "log shipping {} is already set up",
            direction(from)
        )));
    }
    let (primary_server, secondary_server) = server_names(ctx, step, from).await?;
    let (primary, secondary) = settings(ctx, from, primary_server, secondary_server);
    let primary = (!primary_done).then(|| primary_action(from, primary));
    let secondary = (!secondary_done).then(|| Action::SetupLogShippingSecondary {
        site: from.other(),
        setup: secondary,
    });
    Ok(Intent::act(primary.into_iter().chain(secondary).collect()))
}

/// Sets log shipping up from `from` to the other site, then checks both sides.
pub async fn set_up(ctx: &Context, step: StepId, from: SiteRole) -> Result<StepOutcome> {
    let actions = act_or_return!(ctx, step, observe(ctx, step, from).await?);
    perform_all(ctx, step, &actions).await?;
    if observe(ctx, step, from).await?.acts() {
        return Err(Error::step(
            step,
            ctx.sql_name(from.other()),
            Some(ctx.chat_db()),
            None,
            PlaneError::Unexpected(
                "log shipping is not fully configured after setting it up".into(),
            ),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("log shipping set up {}", direction(from)),
    })
}
