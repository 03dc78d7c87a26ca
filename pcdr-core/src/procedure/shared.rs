//! Pieces both procedures use: reading state with errors that say where, carrying out
//! actions, ending sessions before an exclusive restore, active-server lists, mirroring,
//! pool state, and mapping database files for `MOVE`.

use super::{Action, Context, Event, Intent, StepId, StepOutcome};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::planes::{
    ChatDatabase, DatabaseFile, DatabaseState, FileMove, MirrorRequest, MirroringRole, PoolState,
};
use crate::topology::SiteRole;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};
use std::ops::ControlFlow;

/// The most servers a pool may have active at once.
pub const MAX_ACTIVE_SERVERS: usize = 4;

/// How often an exclusive operation is retried after ending sessions again (error 3101).
const SESSION_RETRIES: usize = 3;

/// Turns an intent into the actions to perform, or the outcome of a skipped step.
pub fn begin(ctx: &Context, step: StepId, intent: Intent) -> ControlFlow<StepOutcome, Vec<Action>> {
    match intent {
        Intent::Skip(reason) => ControlFlow::Break(StepOutcome::Skipped { reason }),
        Intent::Act { actions, notes } => {
            for text in notes {
                ctx.emit(Event::Note { step, text });
            }
            if !actions.is_empty() {
                let bytes = actions.iter().map(Action::bytes).sum();
                ctx.emit(Event::Planned {
                    step,
                    actions: actions.len(),
                    bytes,
                });
            }
            ControlFlow::Continue(actions)
        }
    }
}

/// Performs actions in order.
pub async fn perform_all(ctx: &Context, step: StepId, actions: &[Action]) -> Result<()> {
    for action in actions {
        action.perform(ctx, step).await?;
    }
    Ok(())
}

/// Performs independent actions (file copies), at most `parallel` at a time, calling
/// `done` with each action as soon as it succeeded (the pipelined copy step hands each
/// landed file to its restorer this way). A failed action does not stop the others;
/// once every action has ended, the first error (in the actions' order) is returned.
pub async fn perform_concurrently_reporting(
    ctx: &Context,
    step: StepId,
    actions: &[Action],
    parallel: usize,
    done: &(dyn Fn(&Action) + Sync),
) -> Result<()> {
    // Boxed first: a closure building the futures inside the stream would make the
    // whole future lose `Send` (rustc cannot prove it for every lifetime).
    let copies: Vec<BoxFuture<'_, Result<()>>> = actions
        .iter()
        .map(|action| {
            action
                .perform(ctx, step)
                .inspect(move |result| {
                    if result.is_ok() {
                        done(action);
                    }
                })
                .boxed()
        })
        .collect();
    let results: Vec<Result<()>> = futures_util::stream::iter(copies)
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// Wraps a plane error of a SQL Server call into a step error.
pub fn sql_error(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    db: Option<&str>,
) -> impl Fn(PlaneError) -> Error {
    let target = ctx.sql_name(site);
    let db = db.map(str::to_string);
    move |e| Error::step(step, target.clone(), db.as_deref(), None, e)
}

/// Wraps a plane error of a pool call into a step error.
pub fn pool_error(ctx: &Context, step: StepId) -> impl Fn(PlaneError) -> Error {
    let target = format!("pool {}", ctx.topology.pool.fqdn);
    move |e| Error::step(step, target.clone(), None, None, e)
}

/// A precondition failure.
pub fn precondition(
    step: StepId,
    kind: PreconditionKind,
    message: impl Into<String>,
    next: impl Into<String>,
) -> Error {
    Error::Precondition {
        step,
        kind,
        message: message.into(),
        next: next.into(),
    }
}

/// The state of a database, or `None` when it does not exist.
pub async fn db_state(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    db: &str,
) -> Result<Option<DatabaseState>> {
    ctx.sql(site)
        .database_state(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))
}

/// The state of a database that must exist.
pub async fn existing_db(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    db: &str,
) -> Result<DatabaseState> {
    db_state(ctx, step, site, db).await?.ok_or_else(|| {
        precondition(
            step,
            PreconditionKind::DatabaseState,
            format!("database {db} does not exist on {}", ctx.sql_name(site)),
            "check the topology's database names and that the right instance is named",
        )
    })
}

/// Performs `actions` in order, the last of which needs the database to itself. When it
/// fails because the database is still in use (3101), sessions are ended again and it is
/// retried, a bounded number of times.
pub async fn perform_exclusive(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    db: &str,
    actions: &[Action],
) -> Result<()> {
    let Some((exclusive, before)) = actions.split_last() else {
        return Ok(());
    };
    perform_all(ctx, step, before).await?;
    let end_sessions = Action::EndSessions {
        site,
        database: db.to_string(),
    };
    let mut attempt = 0;
    loop {
        match exclusive.perform(ctx, step).await {
            Err(e) if e.sql_number() == Some(3101) && attempt < SESSION_RETRIES => {
                attempt += 1;
                ctx.emit(Event::Note {
                    step,
                    text: format!(
                        "{db} is still in use on {}; ending sessions again (retry {attempt})",
                        ctx.sql_name(site)
                    ),
                });
                end_sessions.perform(ctx, step).await?;
            }
            other => return other,
        }
    }
}

/// A folder of log backups by both of its paths, which may differ: a SQL Server's own
/// path (`D:\LogShipping\mgc`) means nothing on pcdr's machine, and pcdr's path
/// (`\\sql-dal\D$\LogShipping\mgc`, a mount point) may mean nothing to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderViews {
    /// The path the SQL Servers use: in `BACKUP`, `RESTORE` and msdb's log-shipping tables.
    pub server: String,
    /// The path pcdr lists and copies files through.
    pub pcdr: String,
}

/// The backup share and the copy folder, each by both of its paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogShippingFolders {
    /// Where the primary writes its log backups.
    pub share: FolderViews,
    /// Where the backup instance restores them from.
    pub copy: FolderViews,
}

/// The log-shipping folders of the site that restores the log backups
/// ([`Context::restoring_site`]); see [`log_shipping_folders_for`].
pub fn log_shipping_folders(ctx: &Context) -> LogShippingFolders {
    log_shipping_folders_for(ctx, ctx.restoring_site())
}

/// The share and the copy folder of log shipping to `secondary`. The servers' paths come
/// from the snapshot when there is one (msdb holds what the jobs really used: the share
/// for either direction, the copy folder for the site whose setup it recorded), else
/// from the topology; pcdr's own paths always come from the topology (`*_from_pcdr`):
/// msdb's paths are the servers' and are never taken for pcdr's.
pub fn log_shipping_folders_for(ctx: &Context, secondary: SiteRole) -> LogShippingFolders {
    let topo = &ctx.topology.log_shipping;
    let snapshot = ctx.facts().snapshot;
    let mut copy = topology_copy_folder(ctx, secondary);
    let share = match snapshot {
        Some(s) => {
            if secondary == ctx.restoring_site() {
                copy.server = s.backup_destination_directory;
            }
            s.backup_source_directory
        }
        None => topo.backup_share.clone(),
    };
    LogShippingFolders {
        share: FolderViews {
            server: share,
            pcdr: topo.backup_share_from_pcdr.clone(),
        },
        copy,
    }
}

/// A site's copy folder as the topology names it: `copy_destination` for the backup
/// site, `primary_copy_destination` for the primary site (empty when the topology has
/// none: the steps that need it refuse first, see [`require_copy_folder`]).
pub fn topology_copy_folder(ctx: &Context, site: SiteRole) -> FolderViews {
    let topo = &ctx.topology.log_shipping;
    match site {
        SiteRole::Backup => FolderViews {
            server: topo.copy_destination.clone(),
            pcdr: topo.copy_destination_from_pcdr.clone(),
        },
        SiteRole::Primary => FolderViews {
            server: topo.primary_copy_destination.clone().unwrap_or_default(),
            pcdr: topo
                .primary_copy_destination_from_pcdr
                .clone()
                .unwrap_or_default(),
        },
    }
}

/// Refuses, for `step`, log shipping to a primary site whose copy folder the topology
/// does not name.
pub fn require_copy_folder(ctx: &Context, step: StepId, site: SiteRole) -> Result<()> {
    if site == SiteRole::Backup || ctx.topology.log_shipping.primary_copy_destination.is_some() {
        return Ok(());
    }
    Err(precondition(
        step,
        PreconditionKind::Topology,
        format!(
            "log shipping to {} needs a copy folder on that server, and the topology names none",
            ctx.sql_name(site)
        ),
        "add log_shipping.primary_copy_destination (the folder as the primary's SQL Server sees it) and, if pcdr reaches it by another path, primary_copy_destination_from_pcdr",
    ))
}

/// A site's chat servers, at most four: the active-server list the site gets.
pub fn active_list(ctx: &Context, site: SiteRole) -> Vec<String> {
    ctx.topology
        .site(site)
        .chat_servers
        .iter()
        .take(MAX_ACTIVE_SERVERS)
        .cloned()
        .collect()
}

/// The active-server list for a site: its chat servers, at most four, refusing any
/// server the topology places in another site.
pub fn active_servers_for(ctx: &Context, step: StepId, site: SiteRole) -> Result<Vec<String>> {
    let servers = active_list(ctx, site);
    check_active_list(ctx, step, site, &servers)?;
    Ok(servers)
}

/// Refuses a list with servers outside `site`, or more than four.
pub fn check_active_list(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    servers: &[String],
) -> Result<()> {
    if servers.len() > MAX_ACTIVE_SERVERS {
        return Err(precondition(
            step,
            PreconditionKind::Topology,
            format!(
                "{} active servers requested; a pool allows at most {MAX_ACTIVE_SERVERS}",
                servers.len()
            ),
            "list at most four servers",
        ));
    }
    match servers
        .iter()
        .find(|s| ctx.topology.site_of_server(s) != Some(site))
    {
        Some(wrong) => Err(precondition(
            step,
            PreconditionKind::Topology,
            format!(
                "{wrong} is not a chat server of the {site} site, which holds the pool's database"
            ),
            "active servers must be in the same data center as the database they use",
        )),
        None => Ok(()),
    }
}

fn same_servers(a: &[String], b: &[String]) -> bool {
    let normalize = |list: &[String]| {
        let mut v: Vec<String> = list.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    normalize(a) == normalize(b)
}

/// Observes the active servers: skip when they already are `wanted`.
pub async fn observe_active_servers(
    ctx: &Context,
    step: StepId,
    wanted: Vec<String>,
) -> Result<Intent> {
    let current = ctx
        .planes
        .pool
        .active_servers()
        .await
        .map_err(pool_error(ctx, step))?;
    Ok(match current {
        Some(current) if same_servers(&current, &wanted) => Intent::Skip(format!(
            "the active servers already are [{}]",
            wanted.join(", ")
        )),
        Some(_) => Intent::act(vec![Action::SetActiveServers { servers: wanted }]),
        None => Intent::act(vec![Action::SetActiveServers { servers: wanted }]).with_note(
            "the pool cannot report its active servers, so the list is set and not read back",
        ),
    })
}

/// Sets the active servers and reads them back when the pool can tell.
pub async fn set_active_servers(
    ctx: &Context,
    step: StepId,
    intent: Intent,
    wanted: &[String],
) -> Result<StepOutcome> {
    let actions = act_or_return!(ctx, step, intent);
    perform_all(ctx, step, &actions).await?;
    let after = ctx
        .planes
        .pool
        .active_servers()
        .await
        .map_err(pool_error(ctx, step))?;
    if let Some(after) = after.filter(|after| !same_servers(after, wanted)) {
        return Err(pool_error(ctx, step)(PlaneError::Unexpected(format!(
            "active servers are [{}] after setting them",
            after.join(", ")
        ))));
    }
    Ok(StepOutcome::Done {
        summary: if wanted.is_empty() {
            "active servers cleared".into()
        } else {
            format!("active servers set to [{}]", wanted.join(", "))
        },
    })
}

/// Observes the pool state: skip when it already is `wanted`.
pub async fn observe_pool_state(ctx: &Context, step: StepId, wanted: PoolState) -> Result<Intent> {
    let state = ctx
        .planes
        .pool
        .pool_state()
        .await
        .map_err(pool_error(ctx, step))?;
    Ok(if state == wanted {
        Intent::Skip(format!("the pool state already is {wanted}"))
    } else {
        Intent::act(vec![Action::SetPoolState { state: wanted }])
    })
}

/// Sets the pool state and reads it back.
pub async fn set_pool_state(
    ctx: &Context,
    step: StepId,
    intent: Intent,
    wanted: PoolState,
) -> Result<StepOutcome> {
    let actions = act_or_return!(ctx, step, intent);
    perform_all(ctx, step, &actions).await?;
    let state = ctx
        .planes
        .pool
        .pool_state()
        .await
        .map_err(pool_error(ctx, step))?;
    if state != wanted {
        return Err(pool_error(ctx, step)(PlaneError::Unexpected(format!(
            "the pool state is {state} after setting it to {wanted}"
        ))));
    }
    Ok(StepOutcome::Done {
        summary: format!("pool state set to {wanted}"),
    })
}

/// Observes mirroring of the chat database at `site`: skip when the site has no mirror
/// instance or the database already is a principal.
pub async fn observe_mirroring(ctx: &Context, step: StepId, site: SiteRole) -> Result<Intent> {
    let topology_site = ctx.topology.site(site);
    let Some(mirror) = &topology_site.mirror else {
        return Ok(Intent::Skip(format!(
            "the {site} site has no mirror instance in the topology"
        )));
    };
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, site, db).await?;
    if state
        .mirroring
        .as_ref()
        .is_some_and(|m| m.role == MirroringRole::Principal)
    {
        return Ok(Intent::Skip(format!(
            "{db} on {} is already mirrored",
            ctx.sql_name(site)
        )));
    }
    let request = mirror_request(ctx, site);
    Ok(Intent::act(vec![Action::InstallMirror { request }])
        .with_note(format!("mirror instance: {}", mirror.display_name())))
}

/// What `Install-CsMirrorDatabase` is asked for a site's chat database: the SQL Server by
/// the FQDN the Skype for Business topology knows it by (never the address pcdr
/// connects to), its instance when named, and the site's mirror file share, else the
/// log-shipping backup share.
pub fn mirror_request(ctx: &Context, site: SiteRole) -> MirrorRequest {
    let topology_site = ctx.topology.site(site);
    let sql = &topology_site.sql;
    let instance = sql.address.instance().map(str::to_string);
    MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: sql.server_fqdn().to_owned(),
        sql_instance: instance,
        file_share: topology_site
            .mirror_file_share
            .clone()
            .unwrap_or_else(|| ctx.topology.log_shipping.backup_share.clone()),
    }
}

/// Installs mirroring and checks the database became a principal.
pub async fn install_mirroring(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    intent: Intent,
) -> Result<StepOutcome> {
    let actions = act_or_return!(ctx, step, intent);
    perform_all(ctx, step, &actions).await?;
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, site, db).await?;
    match state.mirroring {
        Some(m) if m.role == MirroringRole::Principal => Ok(StepOutcome::Done {
            summary: format!("{db} on {} mirrored to {}", ctx.sql_name(site), m.partner),
        }),
        _ => Err(Error::step(
            step,
            ctx.sql_name(site),
            Some(db),
            None,
            PlaneError::Unexpected(
                "Install-CsMirrorDatabase finished but the database is not a mirroring principal"
                    .into(),
            ),
        )),
    }
}

/// `MOVE` clauses placing each file of a backup onto the target database's own files:
/// matched by logical name, else by kind in order.
pub fn file_moves(
    source: &[DatabaseFile],
    target: &[DatabaseFile],
) -> std::result::Result<Vec<FileMove>, String> {
    let mut unused: Vec<&DatabaseFile> = target.iter().collect();
    let mut moves = Vec::with_capacity(source.len());
    for file in source {
        let position = unused
            .iter()
            .position(|t| t.logical_name.eq_ignore_ascii_case(&file.logical_name))
            .or_else(|| unused.iter().position(|t| t.kind == file.kind))
            .ok_or_else(|| {
                format!(
                    "no file of the target database can take {} ({:?})",
                    file.logical_name, file.kind
                )
            })?;
        let placed = unused.remove(position);
        moves.push(FileMove {
            logical_name: file.logical_name.clone(),
            physical_name: placed.physical_name.clone(),
        });
    }
    Ok(moves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::FileKind;

    fn file(logical: &str, physical: &str, kind: FileKind) -> DatabaseFile {
        DatabaseFile {
            logical_name: logical.into(),
            physical_name: physical.into(),
            kind,
        }
    }

    #[test]
    fn moves_match_logical_names_then_kinds() {
        let source = [
            file("mgc", "x", FileKind::Data),
            file("mgc_log", "y", FileKind::Log),
        ];
        let target = [
            file("mgc_log", "L.ldf", FileKind::Log),
            file("other", "D.mdf", FileKind::Data),
        ];
        let moves = file_moves(&source, &target).unwrap();
        assert_eq!(moves[0].physical_name, "D.mdf");
        assert_eq!(moves[1].physical_name, "L.ldf");
        let err = file_moves(&source, &target[..1]).unwrap_err();
        assert!(err.contains("no file of the target database can take mgc"));
    }
}
