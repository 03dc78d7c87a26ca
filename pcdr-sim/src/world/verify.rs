//! The check of a procedure's end state: what failover and failback must leave (as
//! pcdr-core's `procedure/failover.rs` and `failback.rs` describe), and the message
//! ground truth (no message lost that a surviving log backup held, none duplicated; or,
//! after a failover whose report declares a data loss, exactly the messages it declares
//! lost missing).
//!
//! Reads the state only; every finding is a [`Difference`].

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::world::model::{CHAT_DB, Database, InstanceId, MirrorRole, UserAccess, WorldState};
use crate::world::msdb::JobKind;
use crate::world::{World, WorldResult};

/// The end state to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// After failover: the pool runs on the backup site.
    FailedOver,
    /// After failback (or before any disaster): the pool runs on the primary site with
    /// log shipping to the backup site.
    Normal,
}

impl std::str::FromStr for Expect {
    type Err = String;

    /// `failed-over` or `normal`, as the CLI spells them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "failed-over" | "failedover" => Ok(Expect::FailedOver),
            "normal" => Ok(Expect::Normal),
            _ => Err(format!(
                "unknown end state {text:?}; expected failed-over or normal"
            )),
        }
    }
}

/// One way the world differs from the expected end state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What was checked.
    pub what: String,
    /// What should be.
    pub expected: String,
    /// What is.
    pub found: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.what, self.expected, self.found
        )
    }
}

/// Collects differences.
#[derive(Default)]
struct Findings(Vec<Difference>);

impl Findings {
    fn check(&mut self, ok: bool, what: &str, expected: &str, found: impl fmt::Display) {
        if !ok {
            self.0.push(Difference {
                what: what.to_owned(),
                expected: expected.to_owned(),
                found: found.to_string(),
            });
        }
    }
}

/// The data loss a failover's report declares it accepted (`rpo.lost_from` of pcdr's
/// report): every log record from `lost_from` on is lost, and only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredLoss {
    /// The first LSN the new primary does not hold.
    pub lost_from: u128,
}

impl World {
    /// Every difference between the world and the end state `expect`; empty when the
    /// procedure left what it should.
    pub fn verify(&self, expect: Expect) -> WorldResult<Vec<Difference>> {
        self.verify_declaring(expect, None)
    }

    /// As [`World::verify`], for a failover whose report declares a data loss: the
    /// messages missing on the new primary must be exactly those committed at or after
    /// the declared LSN, instead of none a surviving log backup held.
    pub fn verify_declaring(
        &self,
        expect: Expect,
        declared: Option<DeclaredLoss>,
    ) -> WorldResult<Vec<Difference>> {
        let state = self.read()?;
        let mut findings = Findings::default();
        match expect {
            Expect::FailedOver => failed_over(&state, declared, &mut findings),
            Expect::Normal => normal(&state, &mut findings),
        }
        Ok(findings.0)
    }
}

fn chat_db(state: &WorldState, instance: InstanceId) -> Option<&Database> {
    state.instance(instance).and_then(|i| i.database(CHAT_DB))
}

fn failed_over(state: &WorldState, declared: Option<DeclaredLoss>, f: &mut Findings) {
    f.check(state.pool.failed_over, "pool state", "FailedOver", "Normal");
    active_servers(state, &state.pool.backup_servers, "backup", f);
    serving_principal(state, InstanceId::Backup, f);
    let backup = state.instance(InstanceId::Backup);
    let still_secondary = backup.is_some_and(|i| {
        i.msdb
            .secondary_databases
            .iter()
            .any(|r| r.secondary_database.eq_ignore_ascii_case(CHAT_DB))
    });
    f.check(
        !still_secondary,
        "log shipping on the backup instance",
        "removed",
        "still configured",
    );
    messages(state, InstanceId::Backup, declared, f);
}

/// The messages missing on the new primary (the backup mgc) against those the lost
/// primary committed must be exactly those committed at or after the declared LSN.
fn declared_loss(state: &WorldState, backup: &Database, loss: DeclaredLoss, f: &mut Findings) {
    let Some(lost_primary) = chat_db(state, InstanceId::Primary) else {
        f.check(
            false,
            "declared data loss",
            "the lost primary mgc",
            "missing",
        );
        return;
    };
    let held: BTreeSet<u64> = backup.messages.iter().map(|m| m.id).collect();
    let committed = || lost_primary.messages.iter();
    let missing: BTreeSet<u64> = committed()
        .map(|m| m.id)
        .filter(|id| !held.contains(id))
        .collect();
    let declared: BTreeSet<u64> = committed()
        .filter(|m| m.lsn >= loss.lost_from)
        .map(|m| m.id)
        .collect();
    f.check(
        missing == declared,
        "messages of backup mgc",
        &format!(
            "missing exactly the {} the report declares lost (from LSN {})",
            declared.len(),
            loss.lost_from
        ),
        format!(
            "{} missing: {} of them not declared, and {} declared but held",
            missing.len(),
            missing.difference(&declared).count(),
            declared.difference(&missing).count()
        ),
    );
}

fn normal(state: &WorldState, f: &mut Findings) {
    f.check(
        !state.pool.failed_over,
        "pool state",
        "Normal",
        "FailedOver",
    );
    active_servers(state, &state.pool.primary_servers, "primary", f);
    serving_principal(state, InstanceId::Primary, f);
    log_shipping_running(state, f);
    let primary = chat_db(state, InstanceId::Primary);
    let backup = chat_db(state, InstanceId::Backup);
    f.check(
        backup.is_some_and(Database::accepts_logs),
        "backup mgc",
        "RESTORING or standby (a log-shipping secondary)",
        backup.map_or("missing".into(), describe),
    );
    let same_family =
        matches!((primary, backup), (Some(p), Some(b)) if p.family_guid == b.family_guid);
    f.check(
        same_family,
        "family GUID of primary and backup mgc",
        "the same",
        "different or missing",
    );
    messages(state, InstanceId::Primary, None, f);
    if let (Some(p), Some(b)) = (primary, backup) {
        let held: BTreeSet<u64> = p.messages.iter().map(|m| m.id).collect();
        let missing = b.messages.iter().filter(|m| !held.contains(&m.id)).count();
        f.check(
            missing == 0,
            "messages of backup mgc",
            "all held by primary mgc",
            format!("{missing} not held by primary mgc"),
        );
    }
}

fn describe(db: &Database) -> String {
    let (_, state) = db.state.code_and_desc();
    let standby = if db.standby { " (standby)" } else { "" };
    format!("{state}{standby}, {}", db.user_access.desc())
}

fn active_servers(state: &WorldState, site_servers: &[String], site: &str, f: &mut Findings) {
    let active = &state.pool.active;
    let in_site = active
        .iter()
        .all(|s| site_servers.iter().any(|t| t.eq_ignore_ascii_case(s)));
    f.check(
        !active.is_empty() && in_site && active.len() <= 4,
        "active servers",
        &format!("1 to 4 servers of the {site} site"),
        format!("{active:?}"),
    );
}

fn serving_principal(state: &WorldState, instance: InstanceId, f: &mut Findings) {
    let what = format!("{} mgc", instance.name());
    let db = chat_db(state, instance);
    f.check(
        db.is_some_and(|d| d.is_recovered() && d.user_access == UserAccess::MultiUser),
        &what,
        "ONLINE, not standby, MULTI_USER",
        db.map_or("missing".into(), describe),
    );
    let partner = instance.mirror_partner();
    let principal = db
        .and_then(|d| d.mirroring.as_ref())
        .is_some_and(|m| m.role == MirrorRole::Principal && m.partner == partner.endpoint());
    let mirror = chat_db(state, partner)
        .and_then(|d| d.mirroring.as_ref())
        .is_some_and(|m| m.role == MirrorRole::Mirror && m.partner == instance.endpoint());
    f.check(
        principal && mirror,
        &format!("mirroring of {what}"),
        &format!("principal, mirrored to {}", partner.name()),
        "not mirrored to its site's mirror",
    );
}

fn log_shipping_running(state: &WorldState, f: &mut Findings) {
    let primary = state.instance(InstanceId::Primary).map(|i| &i.msdb);
    let backup = state.instance(InstanceId::Backup).map(|i| &i.msdb);
    let backup_job = primary.is_some_and(|m| {
        m.primary_databases
            .iter()
            .any(|r| r.primary_database.eq_ignore_ascii_case(CHAT_DB))
            && m.jobs
                .iter()
                .any(|j| j.enabled && matches!(j.kind, JobKind::Backup(_)))
    });
    f.check(
        backup_job,
        "log shipping on the primary instance",
        "mgc configured as primary, backup job enabled",
        "missing or disabled",
    );
    let secondary = backup.is_some_and(|m| {
        let configured = m
            .secondary_databases
            .iter()
            .any(|r| r.secondary_database.eq_ignore_ascii_case(CHAT_DB));
        let enabled = |copy: bool| {
            m.jobs.iter().any(|j| {
                j.enabled
                    && match j.kind {
                        JobKind::Copy(_) => copy,
                        JobKind::Restore(_) => !copy,
                        _ => false,
                    }
            })
        };
        configured && enabled(true) && enabled(false)
    });
    f.check(
        secondary,
        "log shipping on the backup instance",
        "mgc configured as secondary, copy and restore jobs enabled",
        "missing or disabled",
    );
}

/// The ground truth on the serving chat database: nothing is held twice, nothing unknown
/// is held, and nothing a surviving log backup held is missing, or, when a data loss is
/// `declared`, exactly what it declares is missing.
fn messages(
    state: &WorldState,
    instance: InstanceId,
    declared: Option<DeclaredLoss>,
    f: &mut Findings,
) {
    let Some(db) = chat_db(state, instance) else {
        return;
    };
    let ids: Vec<u64> = db.messages.iter().map(|m| m.id).collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    f.check(
        unique.len() == ids.len(),
        &format!("messages of {} mgc", instance.name()),
        "no message held twice",
        format!("{} duplicates", ids.len() - unique.len()),
    );
    let unknown = unique
        .iter()
        .filter(|id| **id >= state.next_message_id)
        .count();
    f.check(
        unknown == 0,
        &format!("messages of {} mgc", instance.name()),
        "only messages that were committed",
        format!("{unknown} never committed"),
    );
    if let Some(loss) = declared {
        declared_loss(state, db, loss, f);
    } else if let Some(truth) = &state.ground_truth {
        let lost: Vec<u64> = (1..=truth.guaranteed_through)
            .filter(|id| !unique.contains(id))
            .collect();
        f.check(
            lost.is_empty(),
            &format!("messages of {} mgc", instance.name()),
            &format!(
                "every message up to {} (the newest surviving log backup)",
                truth.guaranteed_through
            ),
            format!("{} lost, first {:?}", lost.len(), lost.first()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldOptions;
    use crate::world::model::Site;

    #[test]
    fn a_new_world_is_normal_and_not_failed_over() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        assert_eq!(world.verify(Expect::Normal).unwrap(), vec![]);
        let differences = world.verify(Expect::FailedOver).unwrap();
        let what: Vec<&str> = differences.iter().map(|d| d.what.as_str()).collect();
        assert!(what.contains(&"pool state"), "{what:?}");
        assert!(what.contains(&"backup mgc"), "{what:?}");
        assert!(
            what.contains(&"log shipping on the backup instance"),
            "{what:?}"
        );
    }

    #[test]
    fn a_failover_that_dropped_the_backlog_loses_messages() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.disaster(Site::Primary, false).unwrap();
        let differences = world.verify(Expect::FailedOver).unwrap();
        assert!(
            differences
                .iter()
                .any(|d| d.found.contains("10 lost, first Some(11)")),
            "{differences:?}"
        );
    }

    /// The backup mgc after a disaster that dropped the backlog holds messages 1 to 10;
    /// message 11 is the first the lost primary committed past them.
    #[test]
    fn a_declared_loss_is_accepted_only_when_it_names_exactly_the_missing_messages() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.disaster(Site::Primary, false).unwrap();
        let lsn_of = |id: u64| {
            let state = world.read().unwrap();
            let primary = chat_db(&state, InstanceId::Primary).unwrap();
            primary.messages.iter().find(|m| m.id == id).unwrap().lsn
        };
        let message_findings = |lost_from: u128| {
            let declared = Some(DeclaredLoss { lost_from });
            let differences = world
                .verify_declaring(Expect::FailedOver, declared)
                .unwrap();
            differences
                .into_iter()
                .filter(|d| d.what == "messages of backup mgc")
                .collect::<Vec<_>>()
        };
        assert_eq!(message_findings(lsn_of(11)), vec![]);
        let too_late = message_findings(lsn_of(12));
        assert!(
            too_late[0].found.contains("1 of them not declared"),
            "{too_late:?}"
        );
        let too_early = message_findings(lsn_of(10));
        assert!(
            too_early[0].found.contains("1 declared but held"),
            "{too_early:?}"
        );
    }
}
